import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, PutCommand, QueryCommand as DocQueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, dropTestDatabase, dynamoEndpoint } from '../helpers/dynamo.js';
import {
  attachCapacityModel,
  itemSize,
  numberSize,
  parseUpdateExpression,
  readUnits,
  writeUnits,
  type CapacityModel,
  type CapacityModelOptions,
} from '../helpers/capacity-model.js';

let db: Database;
let table: string;
let model: CapacityModel | undefined;
/** The fake clock (ms): tests advance it by hand, so they count units and never wait. */
let t = 0;
const clock = { now: () => t, advance: (ms: number) => void (t += ms) };

const tableArn = () => `arn:aws:dynamodb:us-east-1:000000000000:table/${table}`;
const indexArn = (index: string) => `${tableArn()}/index/${index}`;

beforeAll(async () => {
  db = await createTestDatabase({ maxAttempts: 1 });
  table = db.tableName;
});

afterAll(async () => {
  await dropTestDatabase(db);
});

afterEach(() => {
  model?.remove();
  model = undefined;
});

function attach(opts: CapacityModelOptions = {}, client = db.client): CapacityModel {
  model = attachCapacityModel(client, { writeUnitsPerSecond: 10, readUnitsPerSecond: 30, now: clock.now, ...opts });
  return model;
}

const put = (item: Record<string, unknown>, client = db.client) =>
  client.send(new PutItemCommand({ TableName: table, Item: marshall(item) }));

const getItem = async (PK: string, SK: string) =>
  (await db.client.send(new GetItemCommand({ TableName: table, Key: marshall({ PK, SK }), ConsistentRead: true }))).Item;

/** The error `p` fails with (the test fails if it does not). */
async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

/** Runs `n` calls one after the other; returns how many passed before the first throttle. */
async function passesBeforeThrottle(n: number, call: (i: number) => Promise<unknown>): Promise<{ passed: number; error: any }> {
  for (let i = 0; i < n; i++) {
    try {
      await call(i);
    } catch (e) {
      return { passed: i, error: e };
    }
  }
  return { passed: n, error: undefined };
}

describe('sizes and units', () => {
  it('computes item sizes and units as DynamoDB documents them', () => {
    expect(numberSize('12345')).toBe(4); // 5 significant digits: 3 bytes + 1
    expect(numberSize('-0.00100')).toBe(2);
    expect(itemSize(marshall({ PK: 'ab', n: 12, ok: true, nil: null }))).toBe(2 + 2 + 1 + 2 + 2 + 1 + 3 + 1);
    // A list: 3 bytes + 1 per element + the elements; a map also counts its element names.
    expect(itemSize(marshall({ l: ['ab', 'c'], m: { k: 'v' } }))).toBe(1 + (3 + 1 + 2 + 1 + 1) + 1 + (3 + 1 + 1 + 1));
    expect(itemSize(marshall({ s: new Set(['a', 'bc']) }))).toBe(1 + 3);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(2500, true)).toBe(6);
    expect(readUnits(4096, { consistent: true })).toBe(1);
    expect(readUnits(4097, { consistent: true })).toBe(2);
    expect(readUnits(100)).toBe(0.5);
    expect(readUnits(100, { transactional: true })).toBe(2);
    expect(parseUpdateExpression('SET #s = :s, GSI3PK = if_not_exists(GSI3PK, :p) REMOVE #a, b.c ADD n :one')).toEqual({
      set: [
        { path: '#s', value: ':s' },
        { path: 'GSI3PK', value: 'if_not_exists(GSI3PK, :p)' },
      ],
      remove: ['#a', 'b.c'],
      add: [{ path: 'n', value: ':one' }],
      delete: [],
    });
  });

  it('charges writes per KB and reads per 4 KB, Query summed once per call', async () => {
    const m = attach();
    const big = 'x'.repeat(2500); // PK + SK + data: 2 + 6 + 2 + 1 + 4 + 2500 = 2515 bytes
    await put({ PK: 'SIZE#1', SK: 'A', data: big });
    await db.client.send(new GetItemCommand({ TableName: table, Key: marshall({ PK: 'SIZE#1', SK: 'A' }), ConsistentRead: true }));
    await db.client.send(new GetItemCommand({ TableName: table, Key: marshall({ PK: 'SIZE#1', SK: 'A' }) }));
    expect(m.stats().consumed.byPartition['table:SIZE#1']).toEqual({ wcu: 3, rcu: 1.5 });

    // A failed condition still costs the write of the existing item (3 WCU here), nothing on indexes.
    const failed = await failure(
      db.client.send(
        new PutItemCommand({ TableName: table, Item: marshall({ PK: 'SIZE#1', SK: 'A', GSI3PK: 'STATUS#X', GSI3SK: 'x' }), ConditionExpression: 'attribute_not_exists(PK)' }),
      ),
    );
    expect(failed.name).toBe('ConditionalCheckFailedException');
    expect(m.stats().consumed.byPartition['table:SIZE#1']).toEqual({ wcu: 6, rcu: 1.5 });
    expect(m.stats().consumed.byPartition['GSI3:STATUS#X']).toBeUndefined();
    expect(m.tokens('write', 'GSI3', 'STATUS#X')).toBe(10);

    // Three items of ~2 KB: three strongly consistent GetItems cost 3 RCU, one Query 2 (6 KB rounded once).
    for (const sk of ['1', '2', '3']) await put({ PK: 'SIZE#2', SK: sk, data: 'y'.repeat(2000) });
    m.reset();
    const out = await db.client.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: marshall({ ':pk': 'SIZE#2' }), ConsistentRead: true }),
    );
    expect(out.Items).toHaveLength(3);
    expect(m.stats().consumed.byOperation.Query).toEqual({ rcu: 2, wcu: 0, calls: 1 });
    expect(m.stats().consumed.byPartition['table:SIZE#2']).toEqual({ rcu: 2, wcu: 0 });
  });
});

describe('per-partition write limit', () => {
  it('throttles one hot key past its limit within a second, and not the same load over distinct keys', async () => {
    const m = attach();
    for (let i = 0; i < 10; i++) await put({ PK: 'HOT#1', SK: `S#${i}` });
    const e = await failure(put({ PK: 'HOT#1', SK: 'S#10' }));
    expect(e).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(e.name).toBe('ProvisionedThroughputExceededException');
    expect(e.$fault).toBe('client');
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.$retryable).toEqual({ throttling: true });
    expect(e.ThrottlingReasons).toEqual([{ reason: 'TableWriteKeyRangeThroughputExceeded', resource: tableArn() }]);
    expect(await getItem('HOT#1', 'S#10')).toBeUndefined();

    // The bucket refills continuously: 100 ms later, exactly one more unit.
    clock.advance(100);
    await put({ PK: 'HOT#1', SK: 'S#10' });
    await expect(put({ PK: 'HOT#1', SK: 'S#11' })).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);

    // One second later, a whole second's worth again (and no more).
    clock.advance(1000);
    const again = await passesBeforeThrottle(11, (i) => put({ PK: 'HOT#1', SK: `T#${i}` }));
    expect(again.passed).toBe(10);
    expect(again.error.ThrottlingReasons[0].reason).toBe('TableWriteKeyRangeThroughputExceeded');

    // The same 11 writes over distinct keys (no fake time passes).
    for (let i = 0; i < 11; i++) await put({ PK: `COLD#${i}`, SK: 'S' });

    const s = m.stats();
    expect(s.throttled).toMatchObject({ total: 3, requests: 3, unprocessed: 0 });
    expect(s.throttled.byReason).toEqual({ TableWriteKeyRangeThroughputExceeded: 3 });
    expect(s.throttled.byPartition).toEqual({ 'table:HOT#1': 3 });
    // Throttled attempts consume nothing: 10 + 1 + 10 units on the hot key (and the GetItem 1 RCU).
    expect(s.consumed.byPartition['table:HOT#1']).toEqual({ wcu: 21, rcu: 1 });
    expect(s.consumed.byOperation.PutItem).toEqual({ calls: 32, wcu: 32, rcu: 0 });
    expect(s.hottest[0]).toEqual({ partition: 'table:HOT#1', wcu: 21, rcu: 1 });
  });
});

describe('index back-pressure', () => {
  const order = (id: string, status: string) => ({ PK: `ORDER#${id}`, SK: 'ORDER', status, GSI3PK: `STATUS#${status}`, GSI3SK: `ORDER#${id}` });

  it('throttles base writes to distinct keys once their common GSI3 partition is over its limit', async () => {
    const m = attach();
    for (let i = 0; i < 10; i++) await put(order(`bp${i}`, 'HOT'));
    const e = await failure(put(order('bp10', 'HOT')));
    expect(e).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(e.ThrottlingReasons).toEqual([{ reason: 'IndexWriteKeyRangeThroughputExceeded', resource: indexArn('GSI3') }]);
    // The base write itself was refused: not stored, and its own partition was not charged.
    expect(await getItem('ORDER#bp10', 'ORDER')).toBeUndefined();
    expect(m.tokens('write', 'table', 'ORDER#bp10')).toBe(10);
    expect(m.stats().consumed.byPartition['GSI3:STATUS#HOT']).toEqual({ wcu: 10, rcu: 0 });

    const inIndex = await db.client.send(
      new QueryCommand({ TableName: table, IndexName: 'GSI3', KeyConditionExpression: 'GSI3PK = :pk', ExpressionAttributeValues: marshall({ ':pk': 'STATUS#HOT' }) }),
    );
    expect(inIndex.Count).toBe(10);
  });

  it('passes the same load when the index key is spread over four values', async () => {
    const m = attach();
    for (let i = 0; i < 40; i++) await put(order(`sp${i}`, `SPREAD#${i % 4}`));
    const s = m.stats();
    expect(s.throttled.total).toBe(0);
    for (let k = 0; k < 4; k++) expect(s.consumed.byPartition[`GSI3:STATUS#SPREAD#${k}`]).toEqual({ wcu: 10, rcu: 0 });
    expect(s.consumed.byOperation.PutItem).toEqual({ calls: 40, wcu: 80, rcu: 0 });
  });

  it('charges an UpdateItem that moves an item between GSI3 partitions to both of them', async () => {
    const m = attach();
    await put(order('mv1', 'PENDING'));
    m.reset();
    // Through the DocumentClient: the model reads the marshalled input.
    await db.doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { PK: 'ORDER#mv1', SK: 'ORDER' },
        UpdateExpression: 'SET #status = :s, GSI3PK = :pk',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': 'SHIPPED', ':pk': 'STATUS#SHIPPED' },
      }),
    );
    let s = m.stats();
    expect(s.consumed.byPartition).toEqual({
      'table:ORDER#mv1': { wcu: 1, rcu: 0 },
      'GSI3:STATUS#PENDING': { wcu: 1, rcu: 0 }, // the delete from the old partition
      'GSI3:STATUS#SHIPPED': { wcu: 1, rcu: 0 }, // the put into the new one
    });
    expect(s.consumed.byOperation.UpdateItem).toEqual({ calls: 1, wcu: 3, rcu: 0 });

    // A non-key change stays in its partition (projection ALL: the index entry is rewritten).
    await db.client.send(
      new UpdateItemCommand({ TableName: table, Key: marshall({ PK: 'ORDER#mv1', SK: 'ORDER' }), UpdateExpression: 'SET note = :n', ExpressionAttributeValues: marshall({ ':n': 'hi' }) }),
    );
    // Removing the index key deletes the entry.
    await db.client.send(new UpdateItemCommand({ TableName: table, Key: marshall({ PK: 'ORDER#mv1', SK: 'ORDER' }), UpdateExpression: 'REMOVE GSI3PK, GSI3SK' }));
    s = m.stats();
    expect(s.consumed.byPartition['GSI3:STATUS#SHIPPED']).toEqual({ wcu: 3, rcu: 0 });
    expect(s.consumed.byPartition['GSI3:STATUS#PENDING']).toEqual({ wcu: 1, rcu: 0 });

    // Moving out of a partition that is over its limit is throttled too (the old partition's delete).
    for (let i = 0; i < 10; i++) await put(order(`full${i}`, 'FULL'));
    const e = await failure(
      db.client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: marshall({ PK: 'ORDER#full0', SK: 'ORDER' }),
          UpdateExpression: 'SET GSI3PK = :pk',
          ExpressionAttributeValues: marshall({ ':pk': 'STATUS#ELSEWHERE' }),
        }),
      ),
    );
    expect(e.ThrottlingReasons).toEqual([{ reason: 'IndexWriteKeyRangeThroughputExceeded', resource: indexArn('GSI3') }]);
    expect((await getItem('ORDER#full0', 'ORDER'))?.GSI3PK).toEqual({ S: 'STATUS#FULL' });
  });

  it('reports consumed capacity as DynamoDB would when asked to', async () => {
    attach({ rewriteConsumedCapacity: true });
    const out = await db.doc.send(new PutCommand({ TableName: table, Item: order('cc1', 'CC'), ReturnConsumedCapacity: 'INDEXES' }));
    expect(out.ConsumedCapacity).toEqual({
      TableName: table,
      CapacityUnits: 2,
      WriteCapacityUnits: 2,
      Table: { CapacityUnits: 1, WriteCapacityUnits: 1 },
      GlobalSecondaryIndexes: { GSI3: { CapacityUnits: 1, WriteCapacityUnits: 1 } },
    });
  });
});

describe('transactions', () => {
  it('cancels a whole TransactWriteItems that touches a throttled partition, and writes nothing', async () => {
    const m = attach();
    for (let i = 0; i < 10; i++) await put({ PK: 'HOTTX', SK: `S#${i}` });
    const e = await failure(
      db.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: marshall({ PK: 'TXA', SK: 'A' }) } },
            { Put: { TableName: table, Item: marshall({ PK: 'HOTTX', SK: 'NEW' }) } },
            { Update: { TableName: table, Key: marshall({ PK: 'TXC', SK: 'C' }), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: marshall({ ':v': 1 }) } },
          ],
        }),
      ),
    );
    expect(e).toBeInstanceOf(TransactionCanceledException);
    expect(e.name).toBe('TransactionCanceledException');
    expect(e.message).toContain('[None, ThrottlingError, None]');
    expect(e.CancellationReasons.map((r: { Code: string }) => r.Code)).toEqual(['None', 'ThrottlingError', 'None']);
    expect(e.CancellationReasons[1].Message).toMatch(/hot key/);
    expect(await getItem('TXA', 'A')).toBeUndefined();
    expect(await getItem('HOTTX', 'NEW')).toBeUndefined();
    expect(await getItem('TXC', 'C')).toBeUndefined();
    // Nothing was consumed by the cancelled transaction.
    expect(m.tokens('write', 'table', 'TXA')).toBe(10);
    expect(m.stats().consumed.byOperation.TransactWriteItems).toBeUndefined();
    expect(m.stats().throttled.byReason).toEqual({ TableWriteKeyRangeThroughputExceeded: 1 });

    // A transaction whose index partition is over its limit is cancelled the same way.
    for (let i = 0; i < 10; i++) await put({ PK: `IX#${i}`, SK: 'S', GSI3PK: 'STATUS#TXHOT', GSI3SK: `${i}` });
    const ix = await failure(
      db.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { ConditionCheck: { TableName: table, Key: marshall({ PK: 'IX#0', SK: 'S' }), ConditionExpression: 'attribute_exists(PK)' } },
            { Put: { TableName: table, Item: marshall({ PK: 'IX#new', SK: 'S', GSI3PK: 'STATUS#TXHOT', GSI3SK: 'new' }) } },
          ],
        }),
      ),
    );
    expect(ix.CancellationReasons.map((r: { Code: string }) => r.Code)).toEqual(['None', 'ThrottlingError']);
    expect(m.stats().throttled.byReason).toEqual({ TableWriteKeyRangeThroughputExceeded: 1, IndexWriteKeyRangeThroughputExceeded: 1 });

    // A transaction that passes costs twice: 2 WCU per small item, the ConditionCheck 2 RCU.
    await db.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { ConditionCheck: { TableName: table, Key: marshall({ PK: 'IX#0', SK: 'S' }), ConditionExpression: 'attribute_exists(PK)' } },
          { Put: { TableName: table, Item: marshall({ PK: 'TXOK', SK: '1' }) } },
          { Put: { TableName: table, Item: marshall({ PK: 'TXOK', SK: '2' }) } },
        ],
      }),
    );
    expect(m.stats().consumed.byOperation.TransactWriteItems).toEqual({ calls: 1, wcu: 4, rcu: 2 });
  });
});

describe('batches', () => {
  it('returns BatchGetItem keys on a throttled partition as UnprocessedKeys and the others as Responses', async () => {
    for (const [PK, SK] of [['HOTR', '1'], ['HOTR', '2'], ['COLDR#1', 'A'], ['COLDR#2', 'A']] as const) await put({ PK, SK, v: 1 });
    const m = attach({ readUnitsPerSecond: 3 });
    // Drain HOTR: three strongly consistent reads of a small item, 1 RCU each.
    for (let i = 0; i < 3; i++) await getItem('HOTR', '1');
    expect(m.tokens('read', 'table', 'HOTR')).toBe(0);

    const keys = [
      { PK: 'HOTR', SK: '1' },
      { PK: 'COLDR#1', SK: 'A' },
      { PK: 'HOTR', SK: '2' },
      { PK: 'COLDR#2', SK: 'A' },
    ];
    // DocumentClient: the answer is unmarshalled, and so are the keys the model adds to it.
    const out = await db.doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys } } }));
    expect(out.Responses?.[table]?.map((i) => i.PK).sort()).toEqual(['COLDR#1', 'COLDR#2']);
    expect(out.UnprocessedKeys?.[table]?.Keys).toEqual([
      { PK: 'HOTR', SK: '1' },
      { PK: 'HOTR', SK: '2' },
    ]);

    // Low-level client: DynamoDB JSON, with the table's other request parameters kept.
    const low = await db.client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys.map((k) => marshall(k)), ConsistentRead: true } } }));
    expect(low.Responses?.[table]).toHaveLength(2);
    expect(low.UnprocessedKeys?.[table]).toEqual({ ConsistentRead: true, Keys: [marshall(keys[0]!), marshall(keys[2]!)] });

    // Only throttled keys: the whole call is refused.
    const e = await failure(db.client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [marshall(keys[0]!)] } } })));
    expect(e).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(e.ThrottlingReasons).toEqual([{ reason: 'TableReadKeyRangeThroughputExceeded', resource: tableArn() }]);

    const s = m.stats();
    expect(s.throttled).toMatchObject({ total: 5, requests: 1, unprocessed: 4 });
    expect(s.throttled.byOperation).toEqual({ BatchGetItem: 5 });
    // Eventually consistent 0.5 + 0.5, then strongly consistent 1 + 1.
    expect(s.consumed.byOperation.BatchGetItem).toEqual({ calls: 2, rcu: 3, wcu: 0 });

    // A second later the unprocessed keys are served.
    clock.advance(1000);
    const retry = await db.doc.send(new BatchGetCommand({ RequestItems: out.UnprocessedKeys! }));
    expect(retry.Responses?.[table]).toHaveLength(2);
    expect(retry.UnprocessedKeys ?? {}).toEqual({});
  });

  it('returns BatchWriteItem items on a throttled partition as UnprocessedItems and writes the others', async () => {
    const m = attach();
    for (let i = 0; i < 10; i++) await put({ PK: 'HOTW', SK: `S#${i}` });
    const out = await db.client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: [{ PutRequest: { Item: marshall({ PK: 'HOTW', SK: 'NEW' }) } }, { PutRequest: { Item: marshall({ PK: 'COLDW', SK: 'NEW' }) } }],
        },
      }),
    );
    expect(out.UnprocessedItems?.[table]).toEqual([{ PutRequest: { Item: marshall({ PK: 'HOTW', SK: 'NEW' }) } }]);
    expect(await getItem('COLDW', 'NEW')).toBeDefined();
    expect(await getItem('HOTW', 'NEW')).toBeUndefined();
    expect(m.stats().throttled).toMatchObject({ total: 1, requests: 0, unprocessed: 1 });
    expect(m.stats().consumed.byOperation.BatchWriteItem).toEqual({ calls: 1, wcu: 1, rcu: 0 });
  });
});

describe('per-partition read limit', () => {
  it('throttles a Query on an exhausted index partition or table partition', async () => {
    for (let i = 0; i < 2; i++) await put({ PK: 'RQ', SK: `${i}`, GSI3PK: 'STATUS#READ', GSI3SK: `${i}` });
    const m = attach({ readUnitsPerSecond: 3 });

    // GSI queries are eventually consistent: 0.5 RCU each for a small answer, so 6 pass.
    const index = await passesBeforeThrottle(10, () =>
      db.doc.send(
        new DocQueryCommand({ TableName: table, IndexName: 'GSI3', KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': 'GSI3PK' }, ExpressionAttributeValues: { ':pk': 'STATUS#READ' } }),
      ),
    );
    expect(index.passed).toBe(6);
    expect(index.error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(index.error.ThrottlingReasons).toEqual([{ reason: 'IndexReadKeyRangeThroughputExceeded', resource: indexArn('GSI3') }]);

    // The base table's partition has its own bucket: strongly consistent, 1 RCU each, so 3 pass.
    const base = await passesBeforeThrottle(10, () =>
      db.client.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: marshall({ ':pk': 'RQ' }), ConsistentRead: true })),
    );
    expect(base.passed).toBe(3);
    expect(base.error.ThrottlingReasons).toEqual([{ reason: 'TableReadKeyRangeThroughputExceeded', resource: tableArn() }]);

    const s = m.stats();
    expect(s.consumed.byPartition).toEqual({ 'GSI3:STATUS#READ': { rcu: 3, wcu: 0 }, 'table:RQ': { rcu: 3, wcu: 0 } });
    expect(s.throttled.byReason).toEqual({ IndexReadKeyRangeThroughputExceeded: 1, TableReadKeyRangeThroughputExceeded: 1 });
  });
});

describe('SDK retries', () => {
  let retrying: Database;
  beforeAll(() => {
    retrying = createDatabase(table, { region: 'us-east-1', endpoint: dynamoEndpoint(), local: true, maxAttempts: 3 });
  });
  afterAll(() => {
    retrying.client.destroy();
    retrying.streams.destroy();
  });

  it('checks every attempt: a retry after the bucket refilled passes', async () => {
    // Each throttled attempt moves the fake clock on by a second, as the SDK's backoff would.
    const m = attach({ onThrottle: () => clock.advance(1000) }, retrying.client);
    for (let i = 0; i < 10; i++) await put({ PK: 'RETRY', SK: `S#${i}` }, retrying.client);
    const out = await put({ PK: 'RETRY', SK: 'S#10' }, retrying.client);
    expect(out.$metadata.attempts).toBe(2);
    expect(m.stats().throttled.requests).toBe(1);
    expect(m.stats().consumed.byOperation.PutItem).toEqual({ calls: 11, wcu: 11, rcu: 0 });
  });

  it('gives up after maxAttempts throttled attempts', async () => {
    const m = attach({}, retrying.client);
    for (let i = 0; i < 10; i++) await put({ PK: 'RETRY2', SK: `S#${i}` }, retrying.client);
    const e = await failure(put({ PK: 'RETRY2', SK: 'S#10' }, retrying.client));
    expect(e).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(e.$metadata.attempts).toBe(3);
    expect(m.stats().throttled.requests).toBe(3);
  });
});
