import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createDynamoClient, createStreamsClient, type ClientOptions } from './client.js';
import { DEFAULT_LAYOUT, type TableLayout } from './design.js';

/** Idempotency records are kept this long by default (IDEMPOTENCY_TTL_HOURS): far longer than any client retries. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/** What repositories need (the DocumentClient, the table and its layout), and the table's stream. */
export interface Database {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The table's key layout (its status shards), as its design record says (src/db/design.ts). */
  layout: TableLayout;
  /** How long a placeOrder idempotency record answers for its key (then TTL deletes it). */
  idempotencyTtlSeconds: number;
  /** Reads the table's change stream (subscriptions); same endpoint and credentials. */
  streams: DynamoDBStreamsClient;
}

export interface DatabaseSettings {
  layout?: TableLayout;
  idempotencyTtlSeconds?: number;
}

export function createDatabase(tableName: string, opts: ClientOptions, settings: DatabaseSettings = {}): Database {
  const client = createDynamoClient(opts);
  return {
    client,
    doc: createDocumentClient(client),
    tableName,
    layout: settings.layout ?? DEFAULT_LAYOUT,
    idempotencyTtlSeconds: settings.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    streams: createStreamsClient(opts),
  };
}
