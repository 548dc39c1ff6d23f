import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallCounter } from './db/call-counter.js';
import { observeDynamoCalls } from './db/client.js';
import { sendText } from './http-basics.js';
import type { RejectedRequest } from './http-graphql.js';

/**
 * Prometheus metrics (prom-client, served as `GET /metrics`; README "Operations" lists every
 * series). Label values are bounded: operation names come from clients, so only names GraphQL
 * allows (up to 64 characters) and only the first MAX_OPERATIONS distinct ones become labels.
 */
export const MAX_OPERATIONS = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MAX_CODES = 30;

/** Label values no client can send as a name (GraphQL names have no parentheses). */
export const LABEL_ANONYMOUS = '(anonymous)';
export const LABEL_OTHER = '(other)';
export const LABEL_NONE = '(none)';

/** A label's values: those that match `valid`, the first `max` distinct ones; others are `(other)`. */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly valid: RegExp,
    private readonly max: number,
  ) {}

  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (!this.valid.test(v) || this.seen.size >= this.max) return LABEL_OTHER;
    this.seen.add(v);
    return v;
  }
}

let processRegistry: Registry | undefined;

/** CPU, memory, heap, GC and event-loop lag: collected once per process, however many servers it runs. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface RequestRecord {
  /** The operation's name (null or undefined: anonymous); anything else a client sent is bounded here. */
  operation: unknown;
  errors: readonly GraphQLFormattedError[] | undefined;
  seconds: number;
  dynamodbCalls: number;
}

/** One server's metrics in their own Registry (never prom-client's global one), plus the process's. */
export class Metrics {
  readonly registry: Registry;
  private readonly operations = new BoundedLabel(OPERATION_NAME, MAX_OPERATIONS);
  private readonly codes = new BoundedLabel(ERROR_CODE, MAX_CODES);
  private readonly requests: Counter<'operation' | 'outcome'>;
  private readonly errors: Counter<'code'>;
  private readonly duration: Histogram<'operation'>;
  private readonly callsPerRequest: Histogram;
  private readonly stopObserving: () => void;

  constructor(opts: { subscribers?: () => number } = {}) {
    const registers = [new Registry()];
    this.requests = new Counter({
      name: 'graphql_requests_total',
      help: 'GraphQL HTTP requests by operation name and outcome (error: the answer carries at least one error)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'graphql_errors_total',
      help: 'GraphQL errors returned, by contract code (extensions.code)',
      labelNames: ['code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'graphql_request_duration_seconds',
      help: 'Time to answer a GraphQL HTTP request, by operation name',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.callsPerRequest = new Histogram({
      name: 'graphql_request_dynamodb_calls',
      help: 'DynamoDB calls made to answer one GraphQL HTTP request',
      buckets: [0, 1, 2, 3, 5, 10, 25, 50, 100, 300],
      registers,
    });
    const subscribers = opts.subscribers ?? (() => 0);
    new Gauge({
      name: 'graphql_subscriptions',
      help: 'Subscriptions open on this instance',
      registers,
      collect() {
        this.set(subscribers());
      },
    });
    const dynamoCalls = new Counter({
      name: 'dynamodb_calls_total',
      help: 'DynamoDB calls by operation (one per SDK send, retries not included)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    const byOperation = (name: string, help: string) => new Counter({ name, help, labelNames: ['operation'], registers });
    const retries = byOperation('dynamodb_retries_total', 'DynamoDB attempts the SDK retried ($metadata.attempts - 1), by operation');
    const throttles = byOperation(
      'dynamodb_throttles_total',
      'DynamoDB attempts answered with ThrottlingException or ProvisionedThroughputExceededException, by operation',
    );
    const unprocessed = byOperation(
      'dynamodb_unprocessed_keys_total',
      'Keys (BatchGetItem) or writes (BatchWriteItem) DynamoDB left unprocessed, to be retried',
    );
    const capacity = byOperation(
      'dynamodb_consumed_capacity_units_total',
      'Capacity units DynamoDB reported as consumed (calls made while serving a request), by operation',
    );
    this.registry = Registry.merge([processMetrics(), ...registers]);
    // DynamoDB operation names come from the SDK's commands: a small closed set.
    this.stopObserving = observeDynamoCalls({
      onCall: ({ operation, attempts, capacityUnits, unprocessed: left, failed }) => {
        dynamoCalls.inc({ operation, outcome: failed ? 'error' : 'ok' });
        if (attempts > 1) retries.inc({ operation }, attempts - 1);
        if (capacityUnits > 0) capacity.inc({ operation }, capacityUnits);
        if (left > 0) unprocessed.inc({ operation }, left);
      },
      onThrottle: (operation) => throttles.inc({ operation }),
    });
  }

  observeRequest(r: RequestRecord, unnamed = LABEL_ANONYMOUS): void {
    const operation = r.operation === undefined || r.operation === null || r.operation === '' ? unnamed : this.operations.value(String(r.operation));
    this.requests.inc({ operation, outcome: r.errors?.length ? 'error' : 'ok' });
    for (const e of r.errors ?? []) {
      const code = e.extensions?.code;
      this.errors.inc({ code: typeof code === 'string' ? this.codes.value(code) : LABEL_NONE });
    }
    this.duration.observe({ operation }, r.seconds);
    this.callsPerRequest.observe(r.dynamodbCalls);
  }

  /** A request refused before Apollo's pipeline (http-graphql.ts): no operation ran, no DynamoDB call. */
  observeRejected(r: RejectedRequest): void {
    this.observeRequest({ operation: r.operationName, errors: r.errors, seconds: r.seconds, dynamodbCalls: 0 }, LABEL_NONE);
  }

  /** Stops observing DynamoDB calls (the server stopped). */
  close(): void {
    this.stopObserving();
  }
}

/** Every GraphQL request that reaches Apollo's pipeline: name, outcome, error codes, duration, DynamoDB calls. */
export function metricsPlugin(metrics: Metrics, log: Logger): ApolloServerPlugin<{ calls: CallCounter }> {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, contextValue, operationName }) {
          const record: RequestRecord = {
            // The executed operation's name; before parsing succeeds, the one the client sent.
            operation: operationName === undefined ? request.operationName : operationName,
            errors: response.body.kind === 'single' ? response.body.singleResult.errors : undefined,
            seconds: (performance.now() - started) / 1000,
            dynamodbCalls: contextValue.calls.calls,
          };
          // Counted once the answer has been written (the rest of this turn writes it): the
          // client does not wait for the series to be updated. A scrape that arrives after the
          // answer still sees it.
          setImmediate(() => {
            try {
              metrics.observeRequest(record);
            } catch (e) {
              // Outside the request now: a series that cannot be updated must not stop the process.
              log.error({ err: e }, 'a request could not be counted in the metrics');
            }
          });
        },
      };
    },
  };
}

/** `GET /metrics` in the Prometheus text format. */
export function metricsHandler(metrics: Metrics, log: Logger): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const text = await metrics.registry.metrics();
      sendText(req, res, text, metrics.registry.contentType);
    } catch (e) {
      log.error({ err: e }, 'metrics could not be collected');
      res.statusCode = 500;
      sendText(req, res, 'metrics could not be collected\n', 'text/plain; charset=utf-8');
    }
  };
}
