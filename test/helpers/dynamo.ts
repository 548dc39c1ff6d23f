import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createDatabase, type Database } from '../../src/db/database.js';
import { ensureTable } from '../../src/db/ensure-table.js';
import { DEFAULT_STATUS_SHARDS } from '../../src/db/design.js';
import { CallCounter, countedDatabase } from '../../src/db/call-counter.js';

export function dynamoEndpoint(): string {
  return inject('dynamoEndpoint');
}

/**
 * A database on the run's DynamoDB Local with a fresh table of its own, laid out with
 * `statusShards` status shards (default: the server's default) and the design record saying so.
 */
export async function createTestDatabase(
  opts: { maxAttempts?: number; timeoutMs?: number; statusShards?: number; idempotencyTtlSeconds?: number } = {},
): Promise<Database> {
  const tableName = `test-${randomBytes(6).toString('hex')}`;
  const db = createDatabase(
    tableName,
    {
      region: 'us-east-1',
      endpoint: dynamoEndpoint(),
      local: true,
      maxAttempts: opts.maxAttempts ?? 3,
      timeoutMs: opts.timeoutMs ?? 5000,
    },
    {
      layout: { statusShards: opts.statusShards ?? DEFAULT_STATUS_SHARDS },
      ...(opts.idempotencyTtlSeconds !== undefined ? { idempotencyTtlSeconds: opts.idempotencyTtlSeconds } : {}),
    },
  );
  await ensureTable(db.client, tableName, { statusShards: db.layout.statusShards });
  return db;
}

export async function dropTestDatabase(db: Database): Promise<void> {
  await db.client.send(new DeleteTableCommand({ TableName: db.tableName })).catch(() => undefined);
  db.client.destroy();
  db.streams.destroy();
}

/** Runs fn on a view of `db` that counts its calls; returns what fn returned with those calls. */
export async function countCalls<T>(db: Database, fn: (counted: Database) => Promise<T>): Promise<{ result: T; calls: CallCounter }> {
  const calls = new CallCounter();
  const result = await fn(countedDatabase(db, calls));
  return { result, calls };
}

export interface RecordedCall {
  operation: string;
  input: Record<string, unknown>;
}

/** Records every command sent through the client (operation name and input). */
export function recordCalls(client: DynamoDBClient): { calls: RecordedCall[]; stop: () => void } {
  const calls: RecordedCall[] = [];
  const name = `record-${randomBytes(4).toString('hex')}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push({
        operation: (context.commandName ?? '').replace(/Command$/, ''),
        input: structuredClone(args.input as Record<string, unknown>),
      });
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { calls, stop: () => client.middlewareStack.remove(name) };
}
