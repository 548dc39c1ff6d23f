import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { keys, statusShard } from '../../src/db/keys.js';
import { createTestDatabase } from '../helpers/dynamo.js';
import { createProduct, createUser, placeOrder } from '../helpers/factories.js';
import { startTestServer, type GqlResponse, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const PAGE = `query($st: OrderStatus!, $first: Int!, $after: String) {
  ordersByStatus(status: $st, first: $first, after: $after) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } }
}`;

async function placeMany(s: TestServer, userId: string, productId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  // A few at a time: ids (ULIDs) still increase with time, so "newest first" is well defined.
  for (let i = 0; i < n; i += 5) {
    const batch = await Promise.all(Array.from({ length: Math.min(5, n - i) }, () => placeOrder(s, userId, [{ productId, quantity: 1 }])));
    ids.push(...batch.map((r) => r.data!.placeOrder.id as string));
  }
  return ids;
}

describe.each([1, 4, 10])('ordersByStatus on a status index with %i shard(s)', (shards) => {
  it('pages newest first, every order exactly once, with orders placed between pages, at one Query per shard at most', async () => {
    const s = await startTestServer({ db: await createTestDatabase({ statusShards: shards }) });
    servers.push(s);
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10_000 });
    const placed = await placeMany(s, u.id, p.id, 17);

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const r: GqlResponse = await s.gql(PAGE, { st: 'PENDING', first: 4, after });
      expect(r.errors).toBeUndefined();
      const conn = r.data!.ordersByStatus as { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      seen.push(...conn.edges.map((e: { node: { id: string } }) => e.node.id));
      const { calls, operations, estimate } = r.extensions!.dynamodb!;
      expect(calls).toBeLessThanOrEqual(shards);
      expect(operations).toEqual(calls ? { Query: calls } : {});
      expect(estimate).toBe(shards);
      // New orders are newer than every cursor: they belong before it, never on a later page.
      await placeMany(s, u.id, p.id, 2);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...placed].sort().reverse());
  });

  it('keeps an order in its shard when its status changes, and lists it under the new status only', async () => {
    const s = await startTestServer({ db: await createTestDatabase({ statusShards: shards }) });
    servers.push(s);
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 100 });
    const [id] = await placeMany(s, u.id, p.id, 1);
    const shard = statusShard(id!, shards);
    const stored = async () =>
      (await s.db.doc.send(new GetCommand({ TableName: s.db.tableName, Key: keys.order(id!), ConsistentRead: true }))).Item!;
    expect((await stored()).GSI3PK).toBe(`STATUS#PENDING#${shard}`);
    await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }`, { id });
    expect((await stored()).GSI3PK).toBe(`STATUS#PAID#${shard}`);
    await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id });
    expect((await stored()).GSI3PK).toBe(`STATUS#CANCELLED#${shard}`);
    const list = async (st: string) => (await s.gql(PAGE, { st, first: 10 })).data!.ordersByStatus.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(await list('CANCELLED')).toEqual([id]);
    expect(await list('PAID')).toEqual([]);
    expect(await list('PENDING')).toEqual([]);
  });
});

describe('ordersByStatus cursors', () => {
  it('are opaque and refused across statuses, and an edge cursor continues right after its order', async () => {
    const s = await startTestServer({ db: await createTestDatabase({ statusShards: 4 }) });
    servers.push(s);
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 100 });
    const placed = (await placeMany(s, u.id, p.id, 9)).sort().reverse();
    const first = (await s.gql(PAGE, { st: 'PENDING', first: 6 })).data!.ordersByStatus;
    expect(first.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(placed.slice(0, 6));
    // From the third edge's cursor: the fourth order onwards.
    const fromEdge = await s.gql(PAGE, { st: 'PENDING', first: 6, after: first.edges[2].cursor });
    expect(fromEdge.data!.ordersByStatus.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(placed.slice(3, 9));
    expect(fromEdge.data!.ordersByStatus.pageInfo.hasNextPage).toBe(false);
    const foreign = await s.gql(PAGE, { st: 'PAID', first: 6, after: first.pageInfo.endCursor });
    expect(foreign.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
    expect(foreign.errors![0]!.path).toEqual(['ordersByStatus']);
    expect(foreign.extensions!.dynamodb!.calls).toBe(0);
  });
});
