import { DeleteItemCommand, DeleteTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { DESIGN_KEY, DESIGN_VERSION, readDesign, writeDesign } from '../../src/db/design.js';
import { createTestDatabase, dropTestDatabase, dynamoEndpoint } from '../helpers/dynamo.js';
import { adminToken as adminTokenFor, cleanUp, exitOf, gql as gqlIn, javaProcessesFor, startServer, tempDataDir } from './processes.js';

const dataDir = tempDataDir('gql-ddb-start-');

// A failed test must not leave the server or its java child behind.
afterAll(cleanUp);

/** Runs the server the way `npm start` does, with its data in a temporary folder. */
const start = (env: Record<string, string> = {}) => startServer(dataDir, env);

/** An admin token signed with the running server's development secret, as `npm run token -- --admin` makes. */
const adminToken = () => adminTokenFor(dataDir);

const gql = (port: number, query: string) => gqlIn(port, dataDir, query);

describe('npm start', () => {
  it('serves on an embedded DynamoDB Local, keeps data across restarts and leaves no java process on Ctrl-C', async () => {
    const first = await start();
    expect((await fetch(`http://127.0.0.1:${first.port}/health/ready`)).status).toBe(200);
    // The AWS SDK's Node-version warning (plain text, 9 lines) stays out of the JSON logs.
    expect(first.output()).not.toMatch(/NodeVersionSupportWarning/);
    const created = await gql(first.port, `mutation { createUser(input: { email: "kept@example.com", name: "Kept" }) { id } }`);
    const id = created.data.createUser.id as string;
    expect(javaProcessesFor(dataDir)).toHaveLength(1);
    first.child.kill('SIGINT');
    expect(await exitOf(first.child)).toBe(0);
    expect(javaProcessesFor(dataDir)).toEqual([]);

    const second = await start();
    expect(second.output()).toContain('table exists');
    const read = await gql(second.port, `{ user(id: "${id}") { email } }`);
    expect(read.data.user).toEqual({ email: 'kept@example.com' });
    second.child.kill('SIGTERM');
    expect(await exitOf(second.child)).toBe(0);
    expect(javaProcessesFor(dataDir)).toEqual([]);
  });

  it('drains an in-flight request on SIGTERM before it exits', async () => {
    const server = await start({ QUERY_MAX_CALLS: '1000', SHUTDOWN_TIMEOUT_MS: '20000' });
    const ids = Array.from({ length: 400 }, (_, i) => `missing-${i}`);
    // 400 single-partition Queries: long enough to be in flight when SIGTERM arrives.
    const pending = fetch(`http://127.0.0.1:${server.port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken()}` },
      body: JSON.stringify({ query: 'query($ids: [ID!]!) { users(ids: $ids) { addresses { id } } }', variables: { ids } }),
    });
    await new Promise((r) => setTimeout(r, 150));
    server.child.kill('SIGTERM');
    const res = await pending;
    const body = (await res.json()) as { data: { users: unknown[] } };
    expect(res.status).toBe(200);
    expect(body.data.users).toHaveLength(400);
    expect(await exitOf(server.child)).toBe(0);
    expect(server.output()).toMatch(/draining in-flight requests/);
    expect(javaProcessesFor(dataDir)).toEqual([]);
  });

  it('without Java fails with one message naming the three ways out', async () => {
    const err = (await start({ PATH: '/nonexistent' }).catch((e: unknown) => e)) as { output: string; code: number };
    expect(err.code).toBe(1);
    expect(err.output).toMatch(/Java was not found/);
    expect(err.output).toMatch(/install Java 17/);
    expect(err.output).toMatch(/docker compose up/);
    expect(err.output).toMatch(/DYNAMODB_ENDPOINT/);
  });

  it('stops with one line naming a bad variable', async () => {
    const err = (await start({ PORT: 'eighty' }).catch((e: unknown) => e)) as { output: string; code: number };
    expect(err.code).toBe(1);
    expect(err.output.trim()).toMatch(/^Invalid configuration: PORT accepts a whole number from 0 to 65535 \(got "eighty"\)$/m);
  });
});

describe('the key design check at start', () => {
  const onEndpoint = (tableName: string, env: Record<string, string> = {}) =>
    start({ DYNAMODB_ENDPOINT: dynamoEndpoint(), TABLE_NAME: tableName, ...env });

  it('refuses a table of an older key design, naming npm run migrate, and serves it once migrated', async () => {
    const db = await createTestDatabase({ statusShards: 4 });
    try {
      // A version 1 table: no design record, and data in the old layout.
      await db.client.send(new DeleteItemCommand({ TableName: db.tableName, Key: { PK: { S: DESIGN_KEY.PK }, SK: { S: DESIGN_KEY.SK } } }));
      await db.client.send(
        new PutItemCommand({
          TableName: db.tableName,
          Item: { PK: { S: 'ORDER#o1' }, SK: { S: 'ORDER' }, EntityType: { S: 'Order' }, GSI3PK: { S: 'STATUS#PENDING' }, GSI3SK: { S: 'ORDER#o1' } },
        }),
      );
      const err = (await onEndpoint(db.tableName).catch((e: unknown) => e)) as { output: string; code: number };
      expect(err.code).toBe(1);
      expect(err.output).toMatch(/uses key design version 1; this server needs version 2/);
      expect(err.output).toMatch(/npm run migrate/);

      await writeDesign(db.client, db.tableName, { version: DESIGN_VERSION, statusShards: 4 });
      // STATUS_SHARDS must match the table's layout, or the server would write orders where no page reads them.
      const mismatch = (await onEndpoint(db.tableName, { STATUS_SHARDS: '8' }).catch((e: unknown) => e)) as { output: string; code: number };
      expect(mismatch.code).toBe(1);
      expect(mismatch.output).toMatch(/STATUS_SHARDS is 8 but table \S+ is laid out for 4 status shards/);

      const served = await onEndpoint(db.tableName, { STATUS_SHARDS: '4' });
      expect(served.output()).toMatch(/"statusShards":4/);
      served.child.kill('SIGTERM');
      expect(await exitOf(served.child)).toBe(0);
    } finally {
      await dropTestDatabase(db);
    }
  });

  it('gives an empty table without a design record (made by CloudFormation) the current design, and serves it', async () => {
    const db = await createTestDatabase();
    try {
      await db.client.send(new DeleteItemCommand({ TableName: db.tableName, Key: { PK: { S: DESIGN_KEY.PK }, SK: { S: DESIGN_KEY.SK } } }));
      const served = await onEndpoint(db.tableName, { STATUS_SHARDS: '5' });
      expect(await readDesign(db.client, db.tableName)).toEqual({ version: DESIGN_VERSION, statusShards: 5 });
      served.child.kill('SIGTERM');
      expect(await exitOf(served.child)).toBe(0);
    } finally {
      await dropTestDatabase(db);
    }
  });

  it('lays out a new table with STATUS_SHARDS, TTL on and the design recorded', async () => {
    const tableName = `start-${Date.now().toString(36)}`;
    const served = await onEndpoint(tableName, { STATUS_SHARDS: '3' });
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamoEndpoint(), credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      expect(await readDesign(client, tableName)).toEqual({ version: DESIGN_VERSION, statusShards: 3 });
      const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
      expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'expiresAt' });
      expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toMatch(/ENABL/);
    } finally {
      served.child.kill('SIGTERM');
      await exitOf(served.child);
      await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      client.destroy();
    }
  });
});
