import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DEFAULT_STATUS_SHARDS, DESIGN_VERSION, ensureTimeToLive, writeDesign } from './design.js';
import { STREAM, tableDefinition } from './table.js';

/**
 * Creates the table and its indexes when missing, with DynamoDB's TTL on and a record of the
 * current key design (`statusShards` shards in the status index); a second call changes
 * nothing. Returns whether it created the table. Safe when several instances start together
 * (the loser of the CreateTable race sees ResourceInUseException and waits like everybody else;
 * only the first design record is kept).
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, opts: { statusShards?: number } = {}): Promise<boolean> {
  if (await tableExists(client, tableName)) return false;
  let created = true;
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
    created = false;
  }
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  if (created) {
    await ensureTimeToLive(client, tableName);
    await writeDesign(client, tableName, { version: DESIGN_VERSION, statusShards: opts.statusShards ?? DEFAULT_STATUS_SHARDS }, { onlyIfAbsent: true });
  }
  return created;
}

/**
 * Turns the table's change stream on when an existing table (created before subscriptions) lacks
 * it. Returns what it found or did. Several instances may race: the loser's UpdateTable fails
 * with ResourceInUseException or a ValidationException that says the stream exists already.
 */
export async function ensureStream(client: DynamoDBClient, tableName: string): Promise<'present' | 'enabled'> {
  const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const spec = out.Table?.StreamSpecification;
  if (spec?.StreamEnabled && spec.StreamViewType === STREAM.StreamViewType) return 'present';
  try {
    await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: STREAM }));
  } catch (e) {
    const raced = e instanceof ResourceInUseException || /already has an enabled stream/i.test((e as Error).message);
    if (!raced) throw e;
  }
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  return 'enabled';
}

export async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table !== undefined;
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return false;
    throw e;
  }
}
