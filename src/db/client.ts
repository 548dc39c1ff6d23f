import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { currentCallCounter } from './call-counter.js';

export interface ClientOptions {
  region: string;
  /** Unset means real AWS with the SDK's default endpoint resolution. */
  endpoint?: string | undefined;
  /** Local endpoints accept any credentials but the SDK still signs: use fixed dummy ones. */
  local: boolean;
  maxAttempts?: number;
  timeoutMs?: number;
}

/** Operations that accept ReturnConsumedCapacity. */
const CAPACITY_OPERATIONS = new Set([
  'GetItemCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
]);

type CapacityOutput = { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };

/** Endpoint, credentials, retries and bounded waits: the same for the table and its stream. */
function clientConfig(opts: ClientOptions) {
  return {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: {
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
  addCallCounting(client);
  return client;
}

/**
 * Counts every command sent through the client (also those sent via the DocumentClient) into
 * the current request's CallCounter, and asks for consumed capacity so it can be reported.
 * Counted once per `send` (SDK-internal retries are not separate operations of ours).
 */
export function addCallCounting(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const counter = currentCallCounter();
      if (!counter) return next(args);
      const commandName = context.commandName ?? 'Unknown';
      counter.record(commandName.replace(/Command$/, ''));
      const input = args.input as Record<string, unknown>;
      if (CAPACITY_OPERATIONS.has(commandName) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = 'TOTAL';
      }
      const result = await next(args);
      const cc = (result.output as CapacityOutput).ConsumedCapacity;
      const list = Array.isArray(cc) ? cc : cc ? [cc] : [];
      for (const c of list) counter.addCapacity(c.CapacityUnits ?? 0);
      return result;
    },
    { step: 'initialize', name: 'callCounting', priority: 'high' },
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
