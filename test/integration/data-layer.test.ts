import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchGet } from '../../src/db/batch-get.js';
import type { Database } from '../../src/db/database.js';
import { keys } from '../../src/db/keys.js';
import { queryPage } from '../../src/db/query-pages.js';
import { ACCESS_PATTERNS } from '../../src/db/access-patterns.js';
import { transactWrite, TransactionCancelledError } from '../../src/db/transact.js';
import { AppError } from '../../src/errors.js';
import { isOrderHeader, orderToItem, orderLineToItem } from '../../src/model/order.js';
import type { User } from '../../src/model/user.js';
import { createRepositories, type Repositories } from '../../src/repositories/repositories.js';
import { countCalls, createTestDatabase, dropTestDatabase, recordCalls } from '../helpers/dynamo.js';
import { attachCapacityModel } from '../helpers/capacity-model.js';
import { injectFault } from '../helpers/faults.js';

let db: Database;
let repos: Repositories;

beforeAll(async () => {
  db = await createTestDatabase();
  repos = createRepositories(db);
});
afterAll(async () => {
  await dropTestDatabase(db);
});

async function putProducts(n: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(
      ids.slice(i, i + 25).map((id) =>
        db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: { ...keys.product(id), EntityType: 'Product', id, name: id, priceCents: 100, stock: 5, featured: false },
          }),
        ),
      ),
    );
  }
  return ids;
}

describe('batchGet', () => {
  it('reads 250 distinct keys plus duplicates and a missing key in 3 BatchGetItem calls and keeps key order', async () => {
    const ids = await putProducts(250, 'bg');
    const asked = [...ids, ...ids.slice(0, 30), 'bg-missing'].reverse();
    const rec = recordCalls(db.client);
    const { result, calls } = await countCalls(db, (c) => batchGet(c.doc, db.tableName, asked.map(keys.product)));
    rec.stop();
    expect(calls.operations).toEqual({ BatchGetItem: 3 });
    const sizes = rec.calls.map((c) => (c.input.RequestItems as Record<string, { Keys: unknown[] }>)[db.tableName]!.Keys.length);
    // 251 distinct keys (one of them missing) after removing 30 duplicates.
    expect(sizes.sort((a, b) => b - a)).toEqual([100, 100, 51]);
    expect(result.map((r) => (r ? r.id : null))).toEqual(asked.map((id) => (id === 'bg-missing' ? null : id)));
  });

  it('retries UnprocessedKeys injected on the real client until every key is read', async () => {
    const ids = await putProducts(120, 'up');
    // The first two responses hand back half of their keys as unprocessed.
    const fault = injectFault(db.client, {
      operation: 'BatchGetItem',
      times: 2,
      mutateOutput: (out) => {
        const items = out.Responses[db.tableName] as Record<string, any>[];
        const kept = items.slice(0, Math.ceil(items.length / 2));
        const dropped = items.slice(kept.length);
        out.Responses[db.tableName] = kept;
        out.UnprocessedKeys = { [db.tableName]: { Keys: dropped.map((i) => ({ PK: i.PK, SK: i.SK })) } };
      },
    });
    const { result, calls } = await countCalls(db, (c) =>
      batchGet(c.doc, db.tableName, ids.map(keys.product), { backoff: { baseMs: 1, capMs: 5 } }),
    );
    fault.remove();
    expect(fault.hits()).toBe(2);
    expect(calls.operations.BatchGetItem).toBeGreaterThan(2);
    expect(result.every((r, i) => r?.id === ids[i])).toBe(true);
  });

  it('fails loudly with SERVICE_UNAVAILABLE when keys stay unprocessed past the retries', async () => {
    const ids = await putProducts(3, 'stuck');
    const fault = injectFault(db.client, {
      operation: 'BatchGetItem',
      mutateOutput: (out, input) => {
        out.Responses[db.tableName] = [];
        const asked = input.RequestItems[db.tableName].Keys as Record<string, any>[];
        out.UnprocessedKeys = {
          // The request is marshalled at this point; the DocumentClient has already unmarshalled the response.
          [db.tableName]: { Keys: asked.map((k) => unmarshall(k)) },
        };
      },
    });
    const err = await batchGet(db.doc, db.tableName, ids.map(keys.product), {
      maxRetries: 3,
      backoff: { baseMs: 1, capMs: 2 },
    }).catch((e: unknown) => e);
    fault.remove();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('SERVICE_UNAVAILABLE');
    expect(fault.hits()).toBe(4);
  });
});

describe('queryPage', () => {
  it('pages through a partition larger than 1 MB, through an index, with every item exactly once', async () => {
    const userId = 'big-user';
    const padding = 'x'.repeat(60_000);
    const orderIds = Array.from({ length: 30 }, (_, i) => `01ORDER${String(i).padStart(4, '0')}`);
    // 30 orders with 2 lines of 60 KB each: about 3.6 MB in one GSI1 partition.
    for (const id of orderIds) {
      const order = orderToItem({ id, userId, status: 'PENDING', totalCents: 1, itemCount: 2, createdAt: 'x', updatedAt: 'x' }, db.layout.statusShards);
      await db.doc.send(new PutCommand({ TableName: db.tableName, Item: order }));
      for (const line of [1, 2]) {
        const item = orderLineToItem(userId, {
          id: `${id}-${line}`, orderId: id, line, productId: 'p', productName: 'p', unitPriceCents: 1, quantity: 1, lineTotalCents: 1,
        });
        await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { ...item, padding } }));
      }
    }
    const pattern = ACCESS_PATTERNS.userOrders;
    for (const first of [7, 30]) {
      const seen: string[] = [];
      const lines: string[] = [];
      let after: string | null = null;
      let queries = 0;
      let pages = 0;
      for (;;) {
        const { result: page, calls } = await countCalls(db, (c) =>
          queryPage(c.doc, db.tableName, pattern, userId, { first, after, isNode: isOrderHeader }),
        );
        // The bound the query cost estimate relies on holds, whatever the items' size.
        expect(calls.operations.Query).toBeLessThanOrEqual(pattern.maxCallsPerPage);
        queries += calls.operations.Query ?? 0;
        pages++;
        seen.push(...page.nodes.map((n) => n.item.id as string));
        lines.push(...page.items.filter((i) => !isOrderHeader(i) && page.nodes.some((n) => n.item.id === i.orderId)).map((i) => i.id as string));
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      expect(seen).toEqual([...orderIds].reverse());
      expect(new Set(lines).size).toBe(60);
      expect(lines).toHaveLength(60);
      // 1 MB per Query page: the 3.6 MB partition cannot be read in fewer than 4 calls.
      expect(queries).toBeGreaterThanOrEqual(4);
      // 1 MB per call and at most 2 calls per page: pages of 60 KB lines end early, never empty.
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(30 / first));
    }
  });
});

describe('transactWrite', () => {
  it('turns a failed condition into a typed error naming the item and the condition', async () => {
    await putProducts(1, 'tx');
    const err = await transactWrite(db.doc, [
      { label: 'order:new', action: { Put: { TableName: db.tableName, Item: { PK: 'ORDER#tx', SK: 'ORDER' } } } },
      {
        label: 'product:tx-0000',
        action: {
          Update: {
            TableName: db.tableName,
            Key: keys.product('tx-0000'),
            UpdateExpression: 'SET stock = stock - :q',
            ConditionExpression: 'stock >= :q',
            ExpressionAttributeValues: { ':q': 6 },
          },
        },
      },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionCancelledError);
    const reasons = (err as TransactionCancelledError).reasons;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ label: 'product:tx-0000', key: keys.product('tx-0000'), code: 'ConditionalCheckFailed' });
    expect(reasons[0]!.item).toMatchObject({ stock: 5 });
    // Nothing was half-written.
    expect((await batchGet(db.doc, db.tableName, [{ PK: 'ORDER#tx', SK: 'ORDER' }]))[0]).toBeUndefined();
  });

  it('retries a transaction that only conflicted, and gives up with SERVICE_UNAVAILABLE', async () => {
    const conflict = () =>
      Object.assign(new Error('Transaction cancelled (injected)'), {
        name: 'TransactionCanceledException',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: [{ Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }],
      });
    const once = injectFault(db.client, { operation: 'TransactWriteItems', times: 2, error: conflict });
    const item = { PK: 'CONFLICT#1', SK: 'X' };
    await transactWrite(db.doc, [{ label: 'x', action: { Put: { TableName: db.tableName, Item: item } } }]);
    once.remove();
    expect(once.hits()).toBe(2);
    expect((await batchGet(db.doc, db.tableName, [item]))[0]).toEqual(item);

    const always = injectFault(db.client, { operation: 'TransactWriteItems', error: conflict });
    const err = await transactWrite(db.doc, [{ label: 'x', action: { Put: { TableName: db.tableName, Item: { PK: 'CONFLICT#2', SK: 'X' } } } }], {
      conflictAttempts: 3,
    }).catch((e: unknown) => e);
    always.remove();
    expect((err as AppError).code).toBe('SERVICE_UNAVAILABLE');
    expect(always.hits()).toBe(3);
  });

  it('retries a transaction DynamoDB cancelled for throttling (a hot partition), and gives up with SERVICE_UNAVAILABLE', async () => {
    // The capacity model at the SDK boundary: 2 write units a second per partition key; a
    // transactional put of a small item costs 2. Its clock moves only when we say so.
    let now = 0;
    let throttles = 0;
    const model = attachCapacityModel(db.client, {
      writeUnitsPerSecond: 2,
      now: () => now,
      onThrottle: () => {
        throttles++;
        // A second passes during the backoff of the first throttled attempt only.
        if (throttles === 1) now += 1000;
      },
    });
    try {
      const put = (sk: string) => [{ label: sk, action: { Put: { TableName: db.tableName, Item: { PK: 'HOT#1', SK: sk } } } }];
      await transactWrite(db.doc, put('A'));
      await transactWrite(db.doc, put('B'));
      expect(throttles).toBe(1);
      expect((await batchGet(db.doc, db.tableName, [{ PK: 'HOT#1', SK: 'B' }]))[0]).toEqual({ PK: 'HOT#1', SK: 'B' });
      // The partition stays hot: after its attempts the write is SERVICE_UNAVAILABLE, and not written.
      const err = await transactWrite(db.doc, put('C'), { conflictAttempts: 3 }).catch((e: unknown) => e);
      expect((err as AppError).code).toBe('SERVICE_UNAVAILABLE');
      expect((err as AppError).message).toMatch(/throttling/);
      expect(throttles).toBe(4);
      expect((await batchGet(db.doc, db.tableName, [{ PK: 'HOT#1', SK: 'C' }]))[0]).toBeUndefined();
    } finally {
      model.remove();
    }
  });
});

describe('unique emails', () => {
  it('let exactly one of many concurrent sign-ups with one email (in any case) win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => repos.users.createUser({ email: i % 2 ? 'Race@Example.com' : 'race@example.COM', name: `n${i}` })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost.every((r) => r.reason instanceof AppError && r.reason.code === 'CONFLICT')).toBe(true);
  });

  it('keep reservations exact through change of email and delete', async () => {
    const a = await repos.users.createUser({ email: 'first@example.com', name: 'A' });
    await repos.users.updateUser(a.id, { email: 'second@example.com' });
    // The old email is free again, the new one is taken.
    const b = await repos.users.createUser({ email: 'FIRST@example.com', name: 'B' });
    await expect(repos.users.createUser({ email: 'second@example.com', name: 'C' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(repos.users.updateUser(b.id, { email: 'Second@Example.com' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await repos.users.deleteUser(a.id);
    const c = await repos.users.createUser({ email: 'second@example.com', name: 'C' });
    expect(c.email).toBe('second@example.com');
    const reservations = await batchGet(db.doc, db.tableName, [keys.email('first@example.com'), keys.email('second@example.com')]);
    expect(reservations.map((r) => r?.userId)).toEqual([b.id, c.id]);
  });

  it('let only one of two users racing to the same new email have it', async () => {
    const a = await repos.users.createUser({ email: 'ra@example.com', name: 'A' });
    const b = await repos.users.createUser({ email: 'rb@example.com', name: 'B' });
    const results = await Promise.allSettled([
      repos.users.updateUser(a.id, { email: 'contested@example.com' }),
      repos.users.updateUser(b.id, { email: 'contested@example.com' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [ra, rb] = (await repos.users.getUsers([a.id, b.id])) as User[];
    const holder = (await batchGet(db.doc, db.tableName, [keys.email('contested@example.com')]))[0]!.userId;
    expect([ra!.email, rb!.email].filter((e) => e === 'contested@example.com')).toHaveLength(1);
    expect(holder).toBe(ra!.email === 'contested@example.com' ? a.id : b.id);
  });
});
