import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createDynamoClient, createStreamsClient, type ClientOptions } from './client.js';

/** What repositories need (the DocumentClient and the table name), and the table's stream. */
export interface Database {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Reads the table's change stream (subscriptions); same endpoint and credentials. */
  streams: DynamoDBStreamsClient;
}

export function createDatabase(tableName: string, opts: ClientOptions): Database {
  const client = createDynamoClient(opts);
  return { client, doc: createDocumentClient(client), tableName, streams: createStreamsClient(opts) };
}
