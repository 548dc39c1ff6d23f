import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BoundedLabel, LABEL_ANONYMOUS, LABEL_NONE, LABEL_OTHER, MAX_OPERATIONS, Metrics, metricsPlugin } from '../../src/metrics.js';
import { labelValues, parsePrometheus, sampleOf } from '../helpers/prometheus.js';

let metrics: Metrics | undefined;
afterEach(() => metrics?.close());

const scrape = async (m: Metrics) => parsePrometheus(await m.registry.metrics());
const request = (operation: unknown, errors: { extensions?: Record<string, unknown> }[] = []) => ({
  operation,
  errors: errors.map((e) => ({ message: 'x', ...e })),
  seconds: 0.01,
  dynamodbCalls: 2,
});

describe('BoundedLabel', () => {
  it('keeps the first values that match, then answers (other)', () => {
    const label = new BoundedLabel(/^[a-z]+$/, 2);
    expect(label.value('a')).toBe('a');
    expect(label.value('B')).toBe(LABEL_OTHER);
    expect(label.value('b')).toBe('b');
    expect(label.value('c')).toBe(LABEL_OTHER);
    expect(label.value('a')).toBe('a');
  });
});

describe('Metrics', () => {
  it('counts requests by operation and outcome, errors by code, latency and DynamoDB calls per request', async () => {
    metrics = new Metrics();
    metrics.observeRequest(request('Ping'));
    metrics.observeRequest(request('Ping', [{ extensions: { code: 'FORBIDDEN' } }, { extensions: { code: 'FORBIDDEN' } }]));
    metrics.observeRequest(request(null));
    metrics.observeRejected({ operationName: undefined, errors: [{ message: 'bad', extensions: { code: 'BAD_USER_INPUT' } }], seconds: 0.001 });
    const m = await scrape(metrics);
    expect(sampleOf(m, 'graphql_requests_total', { operation: 'Ping', outcome: 'ok' })).toBe(1);
    expect(sampleOf(m, 'graphql_requests_total', { operation: 'Ping', outcome: 'error' })).toBe(1);
    expect(sampleOf(m, 'graphql_requests_total', { operation: LABEL_ANONYMOUS, outcome: 'ok' })).toBe(1);
    expect(sampleOf(m, 'graphql_requests_total', { operation: LABEL_NONE, outcome: 'error' })).toBe(1);
    expect(sampleOf(m, 'graphql_errors_total', { code: 'FORBIDDEN' })).toBe(2);
    expect(sampleOf(m, 'graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(1);
    expect(sampleOf(m, 'graphql_request_duration_seconds_count', { operation: 'Ping' })).toBe(2);
    expect(sampleOf(m, 'graphql_request_duration_seconds_bucket', { operation: 'Ping', le: '0.01' })).toBe(2);
    expect(sampleOf(m, 'graphql_request_dynamodb_calls_sum')).toBe(6);
    expect(sampleOf(m, 'graphql_request_dynamodb_calls_count')).toBe(4);
    // Process metrics, event-loop lag included, and the subscriptions gauge.
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(m.has('process_resident_memory_bytes')).toBe(true);
    expect(sampleOf(m, 'graphql_subscriptions')).toBe(0);
  });

  it(`bounds operation labels: GraphQL names only, at most ${MAX_OPERATIONS} distinct, the rest (other)`, async () => {
    metrics = new Metrics();
    for (let i = 0; i < MAX_OPERATIONS + 50; i++) metrics.observeRequest(request(`Op${i}`));
    for (const bad of ['has space', 'é', 'x'.repeat(65), '1abc']) metrics.observeRequest(request(bad));
    metrics.observeRequest(request('Op0'));
    const m = await scrape(metrics);
    const ops = labelValues(m, 'graphql_requests_total', 'operation');
    expect(ops.size).toBe(MAX_OPERATIONS + 1);
    expect(ops.has('Op0') && ops.has(`Op${MAX_OPERATIONS - 1}`)).toBe(true);
    expect(ops.has(`Op${MAX_OPERATIONS}`)).toBe(false);
    expect(sampleOf(m, 'graphql_requests_total', { operation: LABEL_OTHER, outcome: 'ok' })).toBe(50 + 4);
    // A name already admitted stays itself.
    expect(sampleOf(m, 'graphql_requests_total', { operation: 'Op0', outcome: 'ok' })).toBe(2);
  });

  it('bounds error codes the same way, and counts an error without a code as (none)', async () => {
    metrics = new Metrics();
    metrics.observeRequest(request('A', [{ extensions: { code: 'not a code' } }, {}, { extensions: { code: 42 } }]));
    const m = await scrape(metrics);
    expect([...labelValues(m, 'graphql_errors_total', 'code')].sort()).toEqual([LABEL_NONE, LABEL_OTHER].sort());
    expect(sampleOf(m, 'graphql_errors_total', { code: LABEL_NONE })).toBe(2);
  });

  it('reads the subscriber count when scraped', async () => {
    let open = 3;
    metrics = new Metrics({ subscribers: () => open });
    expect(sampleOf(await scrape(metrics), 'graphql_subscriptions')).toBe(3);
    open = 1;
    expect(sampleOf(await scrape(metrics), 'graphql_subscriptions')).toBe(1);
  });
});

describe('metricsPlugin', () => {
  const answer = async (plugin: ReturnType<typeof metricsPlugin>) => {
    const listener = await plugin.requestDidStart!({ request: { operationName: 'Op' } } as never);
    await listener!.willSendResponse!({ response: { body: { kind: 'single', singleResult: {} } }, contextValue: { calls: { calls: 2 } }, operationName: 'Op' } as never);
  };
  const afterTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('counts a request once its answer is on its way, in the same turn of the event loop', async () => {
    metrics = new Metrics();
    await answer(metricsPlugin(metrics, pino({ level: 'silent' })));
    await afterTurn();
    const samples = await scrape(metrics);
    expect(sampleOf(samples, 'graphql_requests_total', { operation: 'Op', outcome: 'ok' })).toBe(1);
    expect(sampleOf(samples, 'graphql_request_dynamodb_calls_sum')).toBe(2);
  });

  it('logs a request it cannot count, and the process goes on', async () => {
    metrics = new Metrics();
    metrics.observeRequest = () => {
      throw new Error('series broken');
    };
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    await answer(metricsPlugin(metrics, log));
    await afterTurn();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'a request could not be counted in the metrics', err: { message: 'series broken' } });
  });
});
