import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createDynamoClient, type ClientOptions } from './client.js';

/** What repositories need: the DocumentClient and the table name. */
export interface Database {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export function createDatabase(tableName: string, opts: ClientOptions): Database {
  const client = createDynamoClient(opts);
  return { client, doc: createDocumentClient(client), tableName };
}
