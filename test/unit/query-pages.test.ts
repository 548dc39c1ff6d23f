import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ACCESS_PATTERNS } from '../../src/db/access-patterns.js';
import { decodeCursor, encodeCursor } from '../../src/db/cursor.js';
import {
  buildQueryInput,
  cursorSpec,
  pageNode,
  pageQuery,
  partitionQuery,
  positionAttributes,
  queryPage,
  queryPartition,
  queryShardedPage,
  shardQueryInput,
} from '../../src/db/query-pages.js';
import { statusShard } from '../../src/db/keys.js';
import { INDEXES, TABLE_KEY } from '../../src/db/table.js';
import { isOrderHeader, orderLineToItem, orderToItem } from '../../src/model/order.js';
import { productToItem } from '../../src/model/product.js';

type Item = Record<string, unknown>;
const stamp = '2026-01-01T00:00:00.000Z';
const userOrders = ACCESS_PATTERNS.userOrders;
const featured = ACCESS_PATTERNS.featuredProducts;

describe('buildQueryInput', () => {
  const base = { tableName: 't', partition: 'USER#u1', forward: true };

  it('reads a whole base-table partition with no Limit and no start key', () => {
    expect(buildQueryInput(base, undefined, undefined)).toEqual({
      TableName: 't',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'PK' },
      ExpressionAttributeValues: { ':pk': 'USER#u1' },
      ScanIndexForward: true,
    });
  });

  it('restricts the sort key with begins_with when the query has a sort prefix', () => {
    const input = buildQueryInput({ ...base, sortPrefix: 'ADDRESS#' }, undefined, undefined);
    expect(input.KeyConditionExpression).toBe('#pk = :pk AND begins_with(#sk, :sk)');
    expect(input.ExpressionAttributeNames).toEqual({ '#pk': 'PK', '#sk': 'SK' });
    expect(input.ExpressionAttributeValues).toEqual({ ':pk': 'USER#u1', ':sk': 'ADDRESS#' });
  });

  it('queries an index by its own key attributes, with Limit and the start key', () => {
    const start = { PK: 'ORDER#o1', SK: 'ORDER', GSI1PK: 'USER#u1', GSI1SK: 'ORDER#o1' };
    const input = buildQueryInput({ ...base, index: INDEXES.userOrders, sortPrefix: 'ORDER#', forward: false }, 10, start);
    expect(input).toMatchObject({
      IndexName: 'GSI1',
      ExpressionAttributeNames: { '#pk': 'GSI1PK', '#sk': 'GSI1SK' },
      ScanIndexForward: false,
      Limit: 10,
      ExclusiveStartKey: start,
    });
  });

  it('asks for a consistent read on the base table only (global secondary indexes have none)', () => {
    expect(buildQueryInput({ ...base, consistentRead: true }, undefined, undefined).ConsistentRead).toBe(true);
    expect(buildQueryInput({ ...base, index: INDEXES.byStatus, consistentRead: true }, undefined, undefined)).not.toHaveProperty('ConsistentRead');
  });
});

describe('partitionQuery', () => {
  it('reads a partition pattern forward for the parent id, with its sort prefix', () => {
    expect(partitionQuery('t', ACCESS_PATTERNS.userAddresses, 'u1')).toEqual({
      tableName: 't',
      partition: 'USER#u1',
      sortPrefix: 'ADDRESS#',
      forward: true,
      consistentRead: false,
    });
  });

  it('passes a consistent read through', () => {
    expect(partitionQuery('t', ACCESS_PATTERNS.orderWithItems, 'o1', true)).toEqual({
      tableName: 't',
      partition: 'ORDER#o1',
      forward: true,
      consistentRead: true,
    });
  });
});

describe('pageQuery', () => {
  it('reads a page pattern on its index in its direction', () => {
    expect(pageQuery('t', userOrders, 'u1')).toEqual({ tableName: 't', index: INDEXES.userOrders, partition: 'USER#u1', forward: false });
  });

  it('builds the partition from the pattern, whatever it does with the id', () => {
    expect(pageQuery('t', featured, 'ignored').partition).toBe('FEATURED');
  });
});

describe('cursorSpec', () => {
  it('scopes cursors to the pattern and pins them to the partition on the index', () => {
    expect(cursorSpec(userOrders, pageQuery('t', userOrders, 'u1'))).toEqual({
      scope: 'userOrders',
      attributes: ['PK', 'SK', 'GSI1PK', 'GSI1SK'],
      fixed: { GSI1PK: 'USER#u1' },
    });
  });

  it('pins the sort key to the prefix when the query has one', () => {
    const q = { ...pageQuery('t', userOrders, 'u1'), sortPrefix: 'ORDER#' };
    expect(cursorSpec(userOrders, q).prefixes).toEqual({ GSI1SK: 'ORDER#' });
  });

  it('takes the base table’s key as the position of a table query', () => {
    expect(positionAttributes({ tableName: 't', partition: 'p', forward: true })).toEqual([TABLE_KEY.pk, TABLE_KEY.sk]);
  });
});

/**
 * In the style of graphql/dataloader's own tests: a recording fake at the DynamoDB boundary.
 * It holds one partition's items in the order the query returns them and answers each Query
 * as DynamoDB does: from after ExclusiveStartKey, at most Limit items and at most
 * `itemsPerCall` (standing for the 1 MB page), with a LastEvaluatedKey whenever it stopped at
 * either, even with nothing after.
 */
function recordingPartition(stored: readonly Item[], opts: { itemsPerCall?: number } = {}) {
  const inputs: QueryCommandInput[] = [];
  const send = async (command: { input: QueryCommandInput }) => {
    const input = command.input;
    inputs.push(input);
    const index = Object.values(INDEXES).find((i) => i.name === input.IndexName);
    const keyAttributes = index ? ['PK', 'SK', index.pk, index.sk] : ['PK', 'SK'];
    const after = input.ExclusiveStartKey;
    let start = 0;
    if (after) {
      start = stored.findIndex((item) => keyAttributes.every((a) => item[a] === after[a])) + 1;
      if (start === 0) throw new Error(`ExclusiveStartKey matches no stored item: ${JSON.stringify(after)}`);
    }
    const cap = Math.min(input.Limit ?? Infinity, opts.itemsPerCall ?? Infinity);
    const Items = stored.slice(start, start + cap);
    const last = Items.at(-1);
    const stopped = Items.length === cap && last;
    return { Items, ...(stopped ? { LastEvaluatedKey: Object.fromEntries(keyAttributes.map((a) => [a, last[a]])) } : {}) };
  };
  return { doc: { send } as unknown as DynamoDBDocumentClient, inputs };
}

/** A user's orders as GSI1 returns them, newest first: each order's lines, then its header. */
function ordersOnGsi1(userId: string, linesPerOrder: readonly number[]): Item[] {
  const items = linesPerOrder.flatMap((lines, n) => {
    const orderId = `o${String(n).padStart(3, '0')}`;
    const order = orderToItem({ id: orderId, userId, status: 'PENDING', totalCents: lines, itemCount: lines, createdAt: stamp, updatedAt: stamp }, 8);
    const orderLines = Array.from({ length: lines }, (_, i) =>
      orderLineToItem(userId, {
        id: `${orderId}-${i + 1}`,
        orderId,
        line: i + 1,
        productId: 'p',
        productName: 'p',
        unitPriceCents: 1,
        quantity: 1,
        lineTotalCents: 1,
      }),
    );
    return [order, ...orderLines] as Item[];
  });
  return items.sort((a, b) => (a.GSI1SK! < b.GSI1SK! ? 1 : -1));
}

const featuredProducts = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) =>
    productToItem({ id: `p${String(i).padStart(3, '0')}`, name: 'p', description: null, priceCents: 1, stock: 1, featured: true, createdAt: stamp, updatedAt: stamp }),
  ).sort((a, b) => ((a.GSI2SK ?? '') < (b.GSI2SK ?? '') ? 1 : -1));

const ids = (page: { nodes: { item: Item }[] }) => page.nodes.map((n) => n.item.id);

describe('pageNode', () => {
  it('encodes its cursor when first read, once', () => {
    let encoded = 0;
    const node = pageNode({ PK: 'A' }, () => `cursor ${++encoded}`);
    expect(encoded).toBe(0);
    expect(node.cursor).toBe('cursor 1');
    expect(node.cursor).toBe('cursor 1');
    expect(encoded).toBe(1);
  });
});

describe('queryPage', () => {
  it('sizes the first Query for the typical node and a follow-up for the largest', async () => {
    // 10 lines per order: the first Query (room for 7 lines per order) ends inside the third order.
    const { doc, inputs } = recordingPartition(ordersOnGsi1('u1', [10, 10, 10, 10, 10]));
    const page = await queryPage(doc, 't', userOrders, 'u1', { first: 3, isNode: isOrderHeader });

    expect(inputs.map((i) => i.Limit)).toEqual([(3 + 1) * userOrders.itemsPerNode.typical, (3 + 1 - 2) * userOrders.itemsPerNode.max]);
    expect(inputs[0]).toMatchObject({ TableName: 't', IndexName: 'GSI1', ScanIndexForward: false, ExpressionAttributeValues: { ':pk': 'USER#u1' } });
    expect(inputs[0]).not.toHaveProperty('ExclusiveStartKey');
    expect(inputs[1]?.ExclusiveStartKey).toEqual({ PK: 'ORDER#o002', SK: 'ITEM#001', GSI1PK: 'USER#u1', GSI1SK: 'ORDER#o002#ITEM#001' });
    expect(ids(page)).toEqual(['o004', 'o003', 'o002']);
    expect(page.hasNextPage).toBe(true);
    expect(page.endCursor).toBe(page.nodes.at(-1)?.cursor);
  });

  it('caps a Query’s Limit at 1,000 items', async () => {
    const { doc, inputs } = recordingPartition(ordersOnGsi1('u1', [1, 1, 1]), { itemsPerCall: 2 });
    await queryPage(doc, 't', userOrders, 'u1', { first: 100, isNode: isOrderHeader });
    expect(inputs.map((i) => i.Limit)).toEqual([808, 1000]);
  });

  it('ends the page after maxCallsPerPage calls, after its last whole node, with hasNextPage', async () => {
    // 40 items per call stands for the 1 MB page: orders of 48 lines take more than one call each.
    const { doc, inputs } = recordingPartition(ordersOnGsi1('u1', [48, 48, 48]), { itemsPerCall: 40 });
    const page = await queryPage(doc, 't', userOrders, 'u1', { first: 3, isNode: isOrderHeader });

    expect(inputs).toHaveLength(userOrders.maxCallsPerPage);
    expect(ids(page)).toEqual(['o002']);
    expect(page.hasNextPage).toBe(true);
    // The lines of the next order read by the second call are left to the next page.
    expect(page.items).toHaveLength(49);
    expect(page.items.at(-1)).toBe(page.nodes[0]?.item);
    expect(decodeCursor(page.endCursor!, cursorSpec(userOrders, pageQuery('t', userOrders, 'u1')))).toEqual({
      PK: 'ORDER#o002',
      SK: 'ORDER',
      GSI1PK: 'USER#u1',
      GSI1SK: 'ORDER#o002',
    });

    const next = await queryPage(doc, 't', userOrders, 'u1', { first: 3, after: page.endCursor, isNode: isOrderHeader });
    expect(inputs[2]?.ExclusiveStartKey).toEqual({ PK: 'ORDER#o002', SK: 'ORDER', GSI1PK: 'USER#u1', GSI1SK: 'ORDER#o002' });
    expect(ids(next)).toEqual(['o001']);
  });

  it('reads on past the call budget until the page has one node, so paging always moves on', async () => {
    const { doc, inputs } = recordingPartition(ordersOnGsi1('u1', [48, 48]), { itemsPerCall: 20 });
    const page = await queryPage(doc, 't', userOrders, 'u1', { first: 1, isNode: isOrderHeader });
    expect(inputs).toHaveLength(3);
    expect(ids(page)).toEqual(['o001']);
    expect(page.hasNextPage).toBe(true);
  });

  it('has no next page when the last page is exactly full', async () => {
    const { doc, inputs } = recordingPartition(featuredProducts(3));
    const page = await queryPage(doc, 't', featured, 'x', { first: 3 });
    expect(inputs.map((i) => i.Limit)).toEqual([4]);
    expect(page.hasNextPage).toBe(false);
    expect(ids(page)).toEqual(['p002', 'p001', 'p000']);
  });

  it('knows there is a next page from the one node read past the page', async () => {
    const { doc, inputs } = recordingPartition(featuredProducts(4));
    const page = await queryPage(doc, 't', featured, 'x', { first: 3 });
    expect(inputs).toHaveLength(1);
    expect(page.hasNextPage).toBe(true);
    expect(page.items).toHaveLength(3);
  });

  it('answers an empty partition with an empty page and no cursor', async () => {
    const { doc } = recordingPartition([]);
    expect(await queryPage(doc, 't', featured, 'x', { first: 3 })).toEqual({ nodes: [], items: [], hasNextPage: false, endCursor: null });
  });

  it('refuses an empty cursor before any call', async () => {
    const { doc, inputs } = recordingPartition(featuredProducts(3));
    await expect(queryPage(doc, 't', featured, 'x', { first: 3, after: '' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'after' } });
    expect(inputs).toEqual([]);
  });

  it('refuses a cursor of another connection or another partition before any call', async () => {
    const { doc, inputs } = recordingPartition(ordersOnGsi1('u1', [1]));
    const productCursor = encodeCursor('featuredProducts', { PK: 'PRODUCT#p', SK: 'PRODUCT', GSI2PK: 'FEATURED', GSI2SK: 'PRODUCT#p' });
    const otherUser = encodeCursor('userOrders', { PK: 'ORDER#o', SK: 'ORDER', GSI1PK: 'USER#u2', GSI1SK: 'ORDER#o' });
    await expect(queryPage(doc, 't', userOrders, 'u1', { first: 1, after: productCursor })).rejects.toThrow(/another connection/);
    await expect(queryPage(doc, 't', userOrders, 'u1', { first: 1, after: otherUser })).rejects.toThrow(/another list/);
    expect(inputs).toEqual([]);
  });

  it('returns every node exactly once, with all its lines, across pages', async () => {
    const linesPerOrder = Array.from({ length: 23 }, (_, i) => (i * 7) % 49);
    const stored = ordersOnGsi1('u1', linesPerOrder);
    const { doc, inputs } = recordingPartition(stored, { itemsPerCall: 60 });
    const seen: unknown[] = [];
    const linesSeen = new Map<unknown, number>();
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const before = inputs.length;
      const page = await queryPage(doc, 't', userOrders, 'u1', { first: 2, after, isNode: isOrderHeader });
      expect(page.nodes.length === 0 || inputs.length - before <= userOrders.maxCallsPerPage || page.nodes.length === 1).toBe(true);
      seen.push(...ids(page));
      for (const n of page.nodes) linesSeen.set(n.item.id, page.items.filter((i) => i.orderId === n.item.id && !isOrderHeader(i)).length);
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen).toEqual(stored.filter(isOrderHeader).map((o) => o.id));
    expect([...linesSeen.values()]).toEqual([...linesPerOrder].reverse());
  });
});

describe('queryPartition', () => {
  it('follows LastEvaluatedKey until the partition is read whole, without a Limit', async () => {
    const stored = Array.from({ length: 5 }, (_, i) => ({ PK: 'ORDER#o', SK: `ITEM#00${i}` }));
    const { doc, inputs } = recordingPartition(stored, { itemsPerCall: 2 });
    expect(await queryPartition(doc, partitionQuery('t', ACCESS_PATTERNS.orderWithItems, 'o'))).toEqual(stored);
    expect(inputs.map((i) => [i.Limit, i.ExclusiveStartKey])).toEqual([
      [undefined, undefined],
      [undefined, { PK: 'ORDER#o', SK: 'ITEM#001' }],
      [undefined, { PK: 'ORDER#o', SK: 'ITEM#003' }],
    ]);
  });
});

describe('queryShardedPage (a write-sharded status index)', () => {
  const byStatus = ACCESS_PATTERNS.ordersByStatus;
  const order = (n: number, shards: number) =>
    orderToItem({ id: `o${String(n).padStart(4, '0')}`, userId: 'u', status: 'PAID', totalCents: 1, itemCount: 1, createdAt: stamp, updatedAt: stamp }, shards) as Item;

  /** GSI3 as DynamoDB answers it: per shard partition, newest first, `< :after` and Limit honoured. */
  function shardedIndex(orders: Item[]) {
    const inputs: QueryCommandInput[] = [];
    const send = async (command: { input: QueryCommandInput }) => {
      const input = command.input;
      inputs.push(input);
      const values = input.ExpressionAttributeValues!;
      const after = values[':after'] as string | undefined;
      const partition = orders
        .filter((o) => o.GSI3PK === values[':pk'] && (after === undefined || (o.GSI3SK as string) < after))
        .sort((x, y) => ((x.GSI3SK as string) < (y.GSI3SK as string) ? 1 : -1));
      const Items = partition.slice(0, input.Limit);
      const full = Items.length === input.Limit;
      return { Items, ...(full ? { LastEvaluatedKey: { x: 1 } } : {}) };
    };
    return { doc: { send } as unknown as DynamoDBDocumentClient, inputs, add: (o: Item) => orders.push(o) };
  }

  const idsOf = (page: { nodes: { item: Item }[] }) => page.nodes.map((n) => n.item.id as string);

  it('queries one shard for first + 1 items, below the position when there is one', () => {
    expect(shardQueryInput('t', byStatus, 'PAID', 3, 21, undefined)).toEqual({
      TableName: 't',
      IndexName: 'GSI3',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'GSI3PK' },
      ExpressionAttributeValues: { ':pk': 'STATUS#PAID#3' },
      ScanIndexForward: false,
      Limit: 21,
    });
    expect(shardQueryInput('t', byStatus, 'PAID', 0, 5, 'ORDER#o9')).toMatchObject({
      KeyConditionExpression: '#pk = :pk AND #sk < :after',
      ExpressionAttributeNames: { '#pk': 'GSI3PK', '#sk': 'GSI3SK' },
      ExpressionAttributeValues: { ':pk': 'STATUS#PAID#0', ':after': 'ORDER#o9' },
    });
  });

  for (const shards of [1, 4, 10, 32]) {
    it(`pages newest first over ${shards} shard(s), every order exactly once, with orders placed in between`, async () => {
      const orders = Array.from({ length: 57 }, (_, n) => order(n + 100, shards));
      const index = shardedIndex([...orders]);
      const seen: string[] = [];
      let after: string | null = null;
      let calls = 0;
      for (let pageNo = 0; pageNo < 100; pageNo++) {
        const before = index.inputs.length;
        const page = await queryShardedPage(index.doc, 't', byStatus, 'PAID', shards, { first: 7, after });
        calls = index.inputs.length - before;
        // One Query per shard at most, never more.
        expect(calls).toBeLessThanOrEqual(shards);
        seen.push(...idsOf(page));
        // Newer orders arrive between pages: they are before the cursor, never on a later page.
        index.add(order(1000 + pageNo, shards));
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      const expected = orders.map((o) => o.id as string).sort().reverse();
      expect(seen).toEqual(expected);
    });
  }

  it('does not read again the shards a cursor knows to be exhausted', async () => {
    const shards = 4;
    // Orders only in one shard past the first page's reach.
    const orders = Array.from({ length: 40 }, (_, n) => order(n, shards));
    const onlyShard = statusShard(orders[0]!.id as string, shards);
    const inShard = orders.filter((o) => statusShard(o.id as string, shards) === onlyShard);
    const index = shardedIndex([...inShard]);
    const first = await queryShardedPage(index.doc, 't', byStatus, 'PAID', shards, { first: 2 });
    expect(index.inputs).toHaveLength(4);
    expect(first.hasNextPage).toBe(inShard.length > 2);
    index.inputs.length = 0;
    await queryShardedPage(index.doc, 't', byStatus, 'PAID', shards, { first: 2, after: first.endCursor });
    // The three empty shards were exhausted on the first page.
    expect(index.inputs.map((i) => i.ExpressionAttributeValues![':pk'])).toEqual([`STATUS#PAID#${onlyShard}`]);
  });

  it('ends with no next page and an exact last page', async () => {
    const index = shardedIndex(Array.from({ length: 6 }, (_, n) => order(n, 3)));
    const page = await queryShardedPage(index.doc, 't', byStatus, 'PAID', 3, { first: 6 });
    expect(page.nodes).toHaveLength(6);
    expect(page.hasNextPage).toBe(false);
  });

  it('refuses a cursor of another status, of another shard count, or tampered with', async () => {
    const index = shardedIndex(Array.from({ length: 9 }, (_, n) => order(n, 4)));
    const page = await queryShardedPage(index.doc, 't', byStatus, 'PAID', 4, { first: 2 });
    const cursor = page.endCursor!;
    await expect(queryShardedPage(index.doc, 't', byStatus, 'SHIPPED', 4, { first: 2, after: cursor })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(queryShardedPage(index.doc, 't', byStatus, 'PAID', 8, { first: 2, after: cursor })).rejects.toThrow(/made when the index had 4 shards/);
    const tampered = (json: unknown) => Buffer.from(JSON.stringify(json)).toString('base64url');
    const base = { s: 'ordersByStatus', p: 'STATUS#PAID', n: 4, k: 'ORDER#o1', x: [] as number[] };
    await expect(queryShardedPage(index.doc, 't', byStatus, 'PAID', 4, { first: 2, after: tampered(base) })).resolves.toBeDefined();
    for (const bad of [
      { ...base, k: 'USER#o1' },
      { ...base, x: [4] },
      { ...base, x: [2, 1] },
      { ...base, extra: 1 },
      { ...base, s: 'userOrders' },
      { ...base, k: 'ORDER#' + 'x'.repeat(1100) },
    ]) {
      await expect(queryShardedPage(index.doc, 't', byStatus, 'PAID', 4, { first: 2, after: tampered(bad) }), JSON.stringify(bad).slice(0, 60)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    await expect(queryShardedPage(index.doc, 't', byStatus, 'PAID', 4, { first: 2, after: '' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
