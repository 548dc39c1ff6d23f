import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/db/database.js';
import { ensureStream } from '../../src/db/ensure-table.js';
import { tableDefinition } from '../../src/db/table.js';
import { dynamoEndpoint } from '../helpers/dynamo.js';

let db: Database;
const tableName = `nostream-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = createDatabase(tableName, { region: 'us-east-1', endpoint: dynamoEndpoint(), local: true });
  // A table as created before subscriptions: no stream.
  const { StreamSpecification: _none, ...withoutStream } = tableDefinition(tableName);
  await db.client.send(new CreateTableCommand(withoutStream));
});
afterAll(async () => {
  await db.client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  db.client.destroy();
  db.streams.destroy();
});

describe('the table stream', () => {
  it('is enabled at start-up on a table that lacks it, and left alone when present', async () => {
    expect((await db.client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.StreamSpecification?.StreamEnabled).not.toBe(true);
    expect(await ensureStream(db.client, tableName)).toBe('enabled');
    const table = (await db.client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    expect(table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(table?.LatestStreamArn).toBeTruthy();
    expect(await ensureStream(db.client, tableName)).toBe('present');
  });
});
