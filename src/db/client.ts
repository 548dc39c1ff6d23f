import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ClientOptions {
  region: string;
  /** Unset means real AWS with the SDK's default endpoint resolution. */
  endpoint?: string | undefined;
  /** Local endpoints accept any credentials but the SDK still signs: use fixed dummy ones. */
  local: boolean;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Replaces the HTTP layer (a smithy HttpHandler; the bench's record/replay). Unset: the SDK's own, with the bounded waits below. */
  requestHandler?: unknown;
}

type CapacityOutput = { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };

/** Endpoint, credentials, retries and bounded waits: the same for the table and its stream. */
function clientConfig(opts: ClientOptions) {
  return {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: (opts.requestHandler as Record<string, unknown> | undefined) ?? {
      // Bounded waits: a stuck connection becomes a TimeoutError, which the API reports as
      // SERVICE_UNAVAILABLE instead of hanging the request.
      connectionTimeout: Math.min(opts.timeoutMs ?? 3000, 2000),
      requestTimeout: opts.timeoutMs ?? 3000,
      // Since @smithy/node-http-handler 4.14, requestTimeout only logs a warning unless this is set.
      throwOnRequestTimeout: true,
    },
  };
}

export function createDynamoClient(opts: ClientOptions): DynamoDBClient {
  const client = new DynamoDBClient(clientConfig(opts));
  // The SDK's logger middleware copies every input and output through its log filter even
  // with no logger configured (about 0.06 ms per call in the benchmark's profile). This client
  // has no logger: calls are logged and measured by our own middleware and request log.
  client.middlewareStack.remove('loggerMiddleware');
  addCallObservation(client);
  return client;
}

/** What the process's metrics (src/metrics.ts) see of every call made through a table client. */
export interface DynamoCallObserver {
  /** One `send` ended, after the SDK's own retries (`attempts` is theirs: retries = attempts - 1). */
  onCall(call: DynamoCallRecord): void;
  /** One attempt came back throttled, whether the SDK then retried it or gave up. */
  onThrottle(operation: string): void;
}

export interface DynamoCallRecord {
  /** Low-level operation name, e.g. `BatchGetItem`. */
  operation: string;
  attempts: number;
  /** Capacity the answer reports (only asked for on calls made while serving a request). */
  capacityUnits: number;
  /** Keys (BatchGetItem) or requests (BatchWriteItem) the answer left unprocessed. */
  unprocessed: number;
  failed: boolean;
}

const observers = new Set<DynamoCallObserver>();

/** Registers `observer` for the calls of every table client; returns its removal. */
export function observeDynamoCalls(observer: DynamoCallObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

const THROTTLES = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException']);

type ObservedOutput = CapacityOutput & {
  $metadata?: { attempts?: number };
  UnprocessedKeys?: Record<string, { Keys?: unknown[] }>;
  UnprocessedItems?: Record<string, unknown[]>;
};

const countUnprocessed = (o: ObservedOutput): number =>
  Object.values(o.UnprocessedKeys ?? {}).reduce((n, t) => n + (t.Keys?.length ?? 0), 0) +
  Object.values(o.UnprocessedItems ?? {}).reduce((n, list) => n + list.length, 0);

/**
 * Two observing middlewares, no-ops while nothing observes: one around each `send` (outside
 * the SDK's retries: attempts, capacity, unprocessed keys) and one around each attempt (inside
 * the retries, where a throttled attempt that is later retried is still visible).
 */
function addCallObservation(client: DynamoDBClient): void {
  const operationOf = (context: { commandName?: string }) => (context.commandName ?? 'Unknown').replace(/Command$/, '');
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (observers.size === 0) return next(args);
      const operation = operationOf(context);
      const report = (output: ObservedOutput | undefined, failed: boolean) => {
        const cc = output?.ConsumedCapacity;
        const record: DynamoCallRecord = {
          operation,
          attempts: output?.$metadata?.attempts ?? 1,
          capacityUnits: (Array.isArray(cc) ? cc : cc ? [cc] : []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0),
          unprocessed: output ? countUnprocessed(output) : 0,
          failed,
        };
        for (const o of observers) o.onCall(record);
      };
      try {
        const result = await next(args);
        report(result.output as ObservedOutput, false);
        return result;
      } catch (e) {
        report({ $metadata: (e as ObservedOutput).$metadata ?? {} }, true);
        throw e;
      }
    },
    { step: 'initialize', name: 'callObservation', priority: 'low' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (e) {
        if (observers.size > 0 && THROTTLES.has((e as Error).name)) {
          for (const o of observers) o.onThrottle(operationOf(context));
        }
        throw e;
      }
    },
    // After the retry middleware (finalizeRequest, high): each attempt passes here.
    { step: 'finalizeRequest', name: 'throttleObservation', priority: 'normal' },
  );
}

/**
 * The DynamoDB Streams client, with the same endpoint, credentials and bounded waits. Its calls
 * are the stream reader's own, never a request's (they are not counted in extensions).
 */
export function createStreamsClient(opts: ClientOptions): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient(clientConfig(opts));
}

export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}
