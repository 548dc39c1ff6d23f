import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { LABEL_NONE } from '../../src/metrics.js';
import { createServer } from '../../src/server.js';
import { createProduct } from '../helpers/factories.js';
import { injectFault, sdkError, unprocessedKeys } from '../helpers/faults.js';
import { parsePrometheus, sampleOf } from '../helpers/prometheus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let prod: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  prod = await startTestServer({ production: true, dynamoExtensions: false, db: s.db });
});
afterAll(async () => {
  await prod.close();
  await s.close();
});

const base = (server: TestServer) => server.url.replace(/\/graphql$/, '');
const scrape = async (server: TestServer = s) => {
  const res = await fetch(`${base(server)}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
};
/** How much each series moved while `fn` ran. */
async function delta(fn: () => Promise<unknown>): Promise<(name: string, labels?: Record<string, string>) => number> {
  const before = await scrape();
  await fn();
  const after = await scrape();
  return (name, labels) => sampleOf(after, name, labels) - sampleOf(before, name, labels);
}
const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('GET /metrics', () => {
  it('serves Prometheus text with process metrics (event-loop lag) on the API port', async () => {
    const m = await scrape();
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes']) {
      expect(m.has(name), name).toBe(true);
    }
    expect(sampleOf(m, 'graphql_subscriptions')).toBe(0);
  });

  it('counts requests by operation and outcome, errors by code, latency and DynamoDB calls per request', async () => {
    const p = await createProduct(s, { name: 'Metered' });
    const d = await delta(async () => {
      await s.gql('query Ping { ping }');
      await s.gql('query Ping { ping }');
      await s.gql('query Product($id: ID!) { product(id: $id) { name } }', { id: p.id });
      await s.gql('query Me { me { id } }', {}, { token: null });
    });
    expect(d('graphql_requests_total', { operation: 'Ping', outcome: 'ok' })).toBe(2);
    expect(d('graphql_requests_total', { operation: 'Product', outcome: 'ok' })).toBe(1);
    expect(d('graphql_requests_total', { operation: 'Me', outcome: 'error' })).toBe(1);
    expect(d('graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(d('graphql_request_duration_seconds_count', { operation: 'Ping' })).toBe(2);
    expect(d('graphql_request_dynamodb_calls_count')).toBe(4);
    expect(d('graphql_request_dynamodb_calls_sum')).toBe(1);
    expect(d('dynamodb_calls_total', { operation: 'BatchGetItem', outcome: 'ok' })).toBe(1);
    expect(d('dynamodb_consumed_capacity_units_total', { operation: 'BatchGetItem' })).toBeGreaterThan(0);
  });

  it('counts requests refused before Apollo runs once, under the name they sent or (none)', async () => {
    const d = await delta(async () => {
      expect((await post('{"query": "{ ping ')).status).toBe(400); // bad JSON
      expect((await post('{"query":"query Ping { ping }","operationName":"Ping"}', { authorization: 'Bearer nope' })).status).toBe(401);
      expect((await fetch(`${s.url}?query=${encodeURIComponent('{ ping }')}`)).status).toBe(400); // CSRF
      expect((await post('{"query":"query Broken { ping "}')).status).toBe(400); // parse error: inside the pipeline
    });
    expect(d('graphql_requests_total', { operation: LABEL_NONE, outcome: 'error' })).toBe(2);
    expect(d('graphql_requests_total', { operation: 'Ping', outcome: 'error' })).toBe(1);
    expect(d('graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(d('graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBe(3);
    expect(d('graphql_request_dynamodb_calls_count')).toBe(4);
  });

  it('counts SDK retries and throttled attempts, and unprocessed keys, by DynamoDB operation', async () => {
    const [a, b] = [await createProduct(s, { name: 'A' }), await createProduct(s, { name: 'B' })];
    const query = 'query Two($ids: [ID!]!) { products(ids: $ids) { name } }';
    const throttle = injectFault(s.db.client, { operation: 'BatchGetItem', times: 1, error: sdkError('ThrottlingException', 400) });
    const throttled = await delta(() => s.gql(query, { ids: [a.id, b.id] }));
    throttle.remove();
    expect(throttle.hits()).toBe(1);
    expect(throttled('dynamodb_throttles_total', { operation: 'BatchGetItem' })).toBe(1);
    expect(throttled('dynamodb_retries_total', { operation: 'BatchGetItem' })).toBe(1);
    expect(throttled('dynamodb_calls_total', { operation: 'BatchGetItem', outcome: 'ok' })).toBe(1);

    const partial = injectFault(s.db.client, { operation: 'BatchGetItem', times: 1, mutateOutput: unprocessedKeys(s.db.tableName) });
    const left = await delta(() => s.gql(query, { ids: [a.id, b.id] }));
    partial.remove();
    expect(left('dynamodb_unprocessed_keys_total', { operation: 'BatchGetItem' })).toBe(1);
    // batch-get.ts asked again for the key left over: two calls, one request.
    expect(left('dynamodb_calls_total', { operation: 'BatchGetItem', outcome: 'ok' })).toBe(2);
    expect(left('graphql_requests_total', { operation: 'Two', outcome: 'ok' })).toBe(1);
  });

  it('is absent when switched off (METRICS_ENABLED=false)', async () => {
    const off = createServer({ db: s.db, logger: pino({ level: 'silent' }), production: false, metrics: false, subscriptions: false });
    const port = await off.listen(0, '127.0.0.1');
    try {
      expect(off.metrics).toBeUndefined();
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});

describe('production HTTP', () => {
  const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('answers a browser opening /graphql with a page saying what the endpoint is', async () => {
    const res = await fetch(prod.url, { headers: html });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).toContain('This is the GraphQL endpoint');
    expect(page).toMatch(/POST.*application\/json/s);
    expect(page).toMatch(/explorer and introspection are off in production/);
    // limits.test.ts: nothing in production reads like a landing page.
    expect(page).not.toMatch(/sandbox|embeddable/i);
  });

  it('leaves GraphQL over GET and JSON clients to Apollo', async () => {
    // A JSON client without a query still gets the contract's JSON refusal.
    const json = await fetch(prod.url);
    expect(json.status).toBe(400);
    expect(((await json.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // A query in the URL is GraphQL, whatever the Accept header.
    const q = await fetch(`${prod.url}?query=${encodeURIComponent('{ ping }')}`, { headers: { ...html, 'apollo-require-preflight': 'true' } });
    expect(q.status).toBe(200);
    expect(((await q.json()) as any).data).toEqual({ ping: true });
  });

  it('keeps Sandbox in development', async () => {
    const res = await fetch(s.url, { headers: html });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain('This is the GraphQL endpoint');
  });

  it('answers errors of the request pipeline unchanged when extensions.dynamodb is off (the production default)', async () => {
    const r = await prod.gql('query Broken { ping ', {}, { token: await prod.token('ada') });
    expect(r.status).toBe(400);
    expect(r.extensions?.dynamodb).toBeUndefined();
    // Shaped once, by the plugins: whom the server took the caller to be is still there.
    expect(r.extensions?.caller).toEqual({ userId: 'ada', admin: false });
  });
});

describe('bind address', () => {
  it('listens on loopback only with the development defaults', async () => {
    const config = loadConfig({});
    const server = createServer({ db: s.db, logger: pino({ level: 'silent' }), production: false, subscriptions: false });
    await server.listen(0, config.host);
    try {
      expect(server.httpServer.address()).toMatchObject({ address: '127.0.0.1' });
    } finally {
      await server.stop();
    }
  });
});
