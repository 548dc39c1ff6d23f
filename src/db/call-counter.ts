import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Database } from './database.js';

/**
 * Counts the DynamoDB requests made on behalf of one GraphQL operation. It travels with the
 * request: `countedDatabase` gives the request its own view of the table whose every `send` is
 * recorded here, and the request's repositories are built on that view (src/context.ts). No
 * AsyncLocalStorage: that would turn on promise hooks for the whole process, which cost 0.6 to
 * 1.7 ms per nested request in the benchmark's profile.
 */
export class CallCounter {
  /** What the calls answer: an HTTP request, or one subscription event's answer. */
  constructor(readonly origin: 'http' | 'subscription' = 'http') {}
  calls = 0;
  readonly operations: Record<string, number> = {};
  consumedCapacityUnits = 0;
  /** The most calls the operation could make, as estimated before it ran (query-cost.ts). */
  estimate: number | undefined;

  record(operation: string): void {
    this.calls += 1;
    this.operations[operation] = (this.operations[operation] ?? 0) + 1;
  }

  addCapacity(units: number): void {
    this.consumedCapacityUnits += units;
  }

  /**
   * What clients see in `extensions.dynamodb`. Consumed capacity stays out (logs and metrics
   * have it): it grows with the size of the items read, so it would tell whether an order that
   * is not the caller's exists, which the access rules hide.
   */
  toJSON() {
    return {
      calls: this.calls,
      operations: { ...this.operations },
      ...(this.estimate !== undefined ? { estimate: this.estimate } : {}),
    };
  }
}

/** DocumentClient commands by the low-level operation DynamoDB sees (what is counted and reported). */
const OPERATIONS = new Map<unknown, string>([
  [GetCommand, 'GetItem'],
  [PutCommand, 'PutItem'],
  [UpdateCommand, 'UpdateItem'],
  [DeleteCommand, 'DeleteItem'],
  [QueryCommand, 'Query'],
  [ScanCommand, 'Scan'],
  [BatchGetCommand, 'BatchGetItem'],
  [BatchWriteCommand, 'BatchWriteItem'],
  [TransactGetCommand, 'TransactGetItems'],
  [TransactWriteCommand, 'TransactWriteItems'],
]);

type CapacityOutput = { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };

/** Told of each counted call as it starts; returns what to call when it ends (the benchmark's spans). */
export type CallTracer = (counter: CallCounter, operation: string) => () => void;
let tracer: CallTracer | undefined;

/** Installs (or with `undefined` removes) the process's call tracer; the benchmark's only. */
export function traceCountedCalls(t: CallTracer | undefined): void {
  tracer = t;
}

/**
 * The DocumentClient `doc` as seen by one request: every `send` is recorded in `counter` (once
 * per send: the SDK's own retries are not separate operations of ours) and asks for consumed
 * capacity, which the counter adds up. Everything else is `doc`'s own.
 */
export function countingDocumentClient(doc: DynamoDBDocumentClient, counter: CallCounter): DynamoDBDocumentClient {
  const counted = Object.create(doc) as DynamoDBDocumentClient;
  const send = async (command: { input: Record<string, unknown> }, options?: unknown): Promise<unknown> => {
    const operation = OPERATIONS.get(command.constructor);
    if (operation === undefined) return doc.send(command as never, options as never);
    counter.record(operation);
    command.input.ReturnConsumedCapacity ??= 'TOTAL';
    const end = tracer?.(counter, operation);
    try {
      const output = (await doc.send(command as never, options as never)) as CapacityOutput;
      const cc = output.ConsumedCapacity;
      for (const c of Array.isArray(cc) ? cc : cc ? [cc] : []) counter.addCapacity(c.CapacityUnits ?? 0);
      return output;
    } finally {
      end?.();
    }
  };
  counted.send = send as DynamoDBDocumentClient['send'];
  return counted;
}

/** `db` with its DocumentClient counting into `counter`: what one request's repositories use. */
export function countedDatabase(db: Database, counter: CallCounter): Database {
  return { ...db, doc: countingDocumentClient(db.doc, counter) };
}
