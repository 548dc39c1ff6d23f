import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, createUser, PLACE_ORDER, placeOrder } from '../helpers/factories.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const stockOf = async (id: string) => (await s.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id })).data!.product.stock as number;
const orderCountOf = async (id: string) => (await s.gql(`query($id: ID!) { user(id: $id) { orderCount } }`, { id })).data!.user.orderCount as number;

describe('placeOrder', () => {
  it('writes the order, its lines, the counter and the stock in one transaction, priced from the store', async () => {
    const u = await createUser(s);
    const a = await createProduct(s, { name: 'Kettle', priceCents: 2500, stock: 10 });
    const b = await createProduct(s, { name: 'Mug', priceCents: 450, stock: 5 });
    const r = await placeOrder(s, u.id, [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 3 },
    ]);
    expect(r.errors).toBeUndefined();
    const order = r.data!.placeOrder;
    expect(order).toMatchObject({ status: 'PENDING', totalCents: 2 * 2500 + 3 * 450, itemCount: 2, user: { id: u.id, orderCount: 1 } });
    expect(order.items).toEqual([
      { id: expect.any(String), productId: a.id, productName: 'Kettle', unitPriceCents: 2500, quantity: 2, lineTotalCents: 5000, product: { id: a.id, stock: 8 } },
      { id: expect.any(String), productId: b.id, productName: 'Mug', unitPriceCents: 450, quantity: 3, lineTotalCents: 1350, product: { id: b.id, stock: 2 } },
    ]);
    // One BatchGetItem (user, products) and one TransactWriteItems; the response's user, lines
    // and products come from what the mutation read and wrote.
    expect(r.extensions!.dynamodb).toMatchObject({ calls: 2, operations: { BatchGetItem: 1, TransactWriteItems: 1 } });
    expect(await stockOf(a.id)).toBe(8);
    expect(await orderCountOf(u.id)).toBe(1);
  });

  it('keeps the name and price of the lines when the product changes later', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { name: 'Old name', priceCents: 100 });
    const id = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id;
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { name: "New name", priceCents: 999 }) { id } }`, { id: p.id });
    const r = await s.gql(`query($id: ID!) { order(id: $id) { items { productName unitPriceCents product { name priceCents } } } }`, { id });
    expect(r.data!.order.items[0]).toEqual({ productName: 'Old name', unitPriceCents: 100, product: { name: 'New name', priceCents: 999 } });
  });

  it('refuses more units than in stock with INSUFFICIENT_STOCK naming the product, and writes nothing', async () => {
    const u = await createUser(s);
    const ok = await createProduct(s, { stock: 10 });
    const scarce = await createProduct(s, { name: 'Scarce', stock: 1 });
    const r = await placeOrder(s, u.id, [
      { productId: ok.id, quantity: 1 },
      { productId: scarce.id, quantity: 2 },
    ]);
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'INSUFFICIENT_STOCK', productId: scarce.id });
    expect(r.errors![0]!.message).toContain(scarce.id);
    expect(await stockOf(ok.id)).toBe(10);
    expect(await orderCountOf(u.id)).toBe(0);
  });

  it('answers NOT_FOUND for an unknown user or product', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const noUser = await placeOrder(s, 'ghost', [{ productId: p.id, quantity: 1 }]);
    expect(noUser.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    const noProduct = await placeOrder(s, u.id, [{ productId: 'ghost', quantity: 1 }]);
    expect(noProduct.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', productId: 'ghost' });
  });

  it.each([
    ['no lines', []],
    ['a zero quantity', [{ productId: 'P', quantity: 0 }]],
    ['a negative quantity', [{ productId: 'P', quantity: -3 }]],
    ['duplicate product lines', [{ productId: 'P', quantity: 1 }, { productId: 'P', quantity: 2 }]],
    ['more lines than one transaction holds', Array.from({ length: 49 }, (_, i) => ({ productId: `P${i}`, quantity: 1 }))],
  ])('refuses %s with BAD_USER_INPUT before any DynamoDB call', async (_name, lines) => {
    const r = await s.gql(PLACE_ORDER, { input: { userId: 'U', lines } });
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it('never oversells when many orders race for scarce stock', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => createUser(s)));
    const p = await createProduct(s, { stock: 7 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => placeOrder(s, users[i % 5]!.id, [{ productId: p.id, quantity: 1 }])),
    );
    const placed = results.filter((r) => r.data?.placeOrder);
    expect(placed).toHaveLength(7);
    expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'INSUFFICIENT_STOCK')).toHaveLength(13);
    expect(await stockOf(p.id)).toBe(0);
    const counts = await Promise.all(users.map((u) => orderCountOf(u.id)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('replays a retry with the same idempotency key: same order, nothing written twice', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const lines = [{ productId: p.id, quantity: 2 }];
    const first = await placeOrder(s, u.id, lines, 'key-replay-1');
    const again = await placeOrder(s, u.id, lines, 'key-replay-1');
    expect(again.errors).toBeUndefined();
    expect(again.data!.placeOrder.id).toBe(first.data!.placeOrder.id);
    expect(again.data!.placeOrder.items).toEqual(first.data!.placeOrder.items.map((i: object) => ({ ...i, product: expect.any(Object) })));
    expect(await stockOf(p.id)).toBe(8);
    expect(await orderCountOf(u.id)).toBe(1);
  });

  it('places one order for concurrent retries with one idempotency key', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const lines = [{ productId: p.id, quantity: 1 }];
    const results = await Promise.all(Array.from({ length: 6 }, () => placeOrder(s, u.id, lines, 'key-race-1')));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(new Set(results.map((r) => r.data!.placeOrder.id)).size).toBe(1);
    expect(await stockOf(p.id)).toBe(9);
    expect(await orderCountOf(u.id)).toBe(1);
  });

  it('refuses an idempotency key reused for different lines with CONFLICT', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'key-reuse-1');
    const r = await placeOrder(s, u.id, [{ productId: p.id, quantity: 2 }], 'key-reuse-1');
    expect(r.errors![0]!.extensions!.code).toBe('CONFLICT');
    expect(await stockOf(p.id)).toBe(9);
  });
});

describe('reading orders', () => {
  it('reads order(id) with items and products in 2 calls', async () => {
    const u = await createUser(s);
    const ps = await Promise.all([1, 2, 3].map(() => createProduct(s)));
    const id = (await placeOrder(s, u.id, ps.map((p) => ({ productId: p.id, quantity: 1 })))).data!.placeOrder.id;
    const r = await s.gql(`query($id: ID!) { order(id: $id) { id status items { quantity product { name } } } }`, { id });
    expect(r.data!.order.items).toHaveLength(3);
    expect(r.extensions!.dynamodb).toMatchObject({ calls: 2, operations: { Query: 1, BatchGetItem: 1 } });
    const header = await s.gql(`query($id: ID!) { order(id: $id) { status totalCents user { email } } }`, { id });
    expect(header.data!.order.user.email).toBe(u.email);
    expect(header.extensions!.dynamodb).toMatchObject({ calls: 2, operations: { BatchGetItem: 2 } });
    expect((await s.gql(`{ order(id: "nope") { id } }`)).data!.order).toBeNull();
  });

  it("pages a user's orders newest first with their items and products in 3 calls", async () => {
    const u = await createUser(s);
    const ps = await Promise.all([1, 2, 3, 4].map(() => createProduct(s)));
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const lines = ps.slice(0, 1 + (i % 4)).map((p) => ({ productId: p.id, quantity: 1 }));
      ids.push((await placeOrder(s, u.id, lines)).data!.placeOrder.id);
    }
    const Q = `query($id: ID!, $after: String) { user(id: $id) { orders(first: 5, after: $after) {
      edges { cursor node { id itemCount items { productId product { id } } } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await s.gql(Q, { id: u.id, after });
      const conn = r.data.user.orders;
      for (const e of conn.edges) expect(e.node.items).toHaveLength(e.node.itemCount);
      expect(r.extensions.dynamodb).toMatchObject({ calls: 3, operations: { BatchGetItem: 2, Query: 1 } });
      seen.push(...conn.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
    const other = await createUser(s);
    const foreign = await s.gql(Q, { id: other.id, after: (await s.gql(Q, { id: u.id })).data!.user.orders.pageInfo.endCursor });
    expect(foreign.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('lists orders by status newest first and moves them between statuses', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id);
    for (const id of ids.slice(0, 3)) {
      const r = await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { status updatedAt } }`, { id });
      expect(r.data!.updateOrderStatus.status).toBe('PAID');
    }
    const byStatus = async (status: string) => {
      const r = await s.gql(`query($st: OrderStatus!) { ordersByStatus(status: $st, first: 100) { edges { node { id status } } } }`, { st: status });
      return r.data!.ordersByStatus.edges.map((e: { node: { id: string } }) => e.node.id) as string[];
    };
    const withUsers = await s.gql(`{ ordersByStatus(status: PAID, first: 3) { edges { node { user { id } } } } }`);
    // The users of all orders on the page are read together in one BatchGetItem.
    // One Query per shard of the status index (all in parallel), then the users in one BatchGetItem.
    const shards = s.db.layout.statusShards;
    expect(withUsers.extensions!.dynamodb).toMatchObject({ calls: shards + 1, operations: { Query: shards, BatchGetItem: 1 } });
    const paid = await byStatus('PAID');
    expect(paid.filter((id) => ids.includes(id))).toEqual(ids.slice(0, 3).reverse());
    expect((await byStatus('PENDING')).filter((id) => ids.includes(id))).toEqual([ids[3]]);
  });
});

describe('order status', () => {
  async function newOrder(qty = 2) {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const id = (await placeOrder(s, u.id, [{ productId: p.id, quantity: qty }])).data!.placeOrder.id as string;
    return { id, productId: p.id, userId: u.id };
  }
  const setStatus = (id: string, status: string) =>
    s.gql(`mutation($id: ID!, $st: OrderStatus!) { updateOrderStatus(id: $id, status: $st) { status } }`, { id, st: status });

  it('follows PENDING -> PAID -> SHIPPED -> DELIVERED and refuses anything else with CONFLICT', async () => {
    const { id } = await newOrder();
    expect((await setStatus(id, 'SHIPPED')).errors![0]!.extensions!.code).toBe('CONFLICT');
    for (const st of ['PAID', 'SHIPPED', 'DELIVERED']) expect((await setStatus(id, st)).data!.updateOrderStatus.status).toBe(st);
    for (const st of ['PENDING', 'PAID', 'DELIVERED', 'CANCELLED']) {
      const r = await setStatus(id, st);
      expect(r.errors![0]!.extensions!.code).toBe('CONFLICT');
      expect(r.errors![0]!.message).toMatch(/DELIVERED/);
    }
    expect((await setStatus('nope', 'PAID')).errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });

  it('lets only one of two racing transitions win', async () => {
    const { id } = await newOrder();
    const results = await Promise.all([setStatus(id, 'PAID'), setStatus(id, 'PAID')]);
    expect(results.filter((r) => r.data?.updateOrderStatus)).toHaveLength(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(1);
  });

  it('cancels PENDING and PAID orders and puts the stock back in the same transaction', async () => {
    const pending = await newOrder(3);
    expect(await stockOf(pending.productId)).toBe(7);
    const r = await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status items { quantity } } }`, { id: pending.id });
    expect(r.data!.cancelOrder).toEqual({ status: 'CANCELLED', items: [{ quantity: 3 }] });
    expect(await stockOf(pending.productId)).toBe(10);
    const again = await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: pending.id });
    expect(again.errors![0]!.extensions!.code).toBe('CONFLICT');
    expect(await stockOf(pending.productId)).toBe(10);

    const paid = await newOrder(1);
    await setStatus(paid.id, 'PAID');
    expect((await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: paid.id })).data!.cancelOrder.status).toBe('CANCELLED');
    expect(await stockOf(paid.productId)).toBe(10);
    expect(await orderCountOf(paid.userId)).toBe(1);
  });

  it('refuses to cancel a shipped order or a missing one', async () => {
    const o = await newOrder(1);
    await setStatus(o.id, 'PAID');
    await setStatus(o.id, 'SHIPPED');
    expect((await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: o.id })).errors![0]!.extensions!.code).toBe('CONFLICT');
    expect(await stockOf(o.productId)).toBe(9);
    expect((await s.gql(`mutation { cancelOrder(id: "nope") { status } }`)).errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });

  it('shows a deleted user as null on its orders', async () => {
    const o = await newOrder(1);
    await s.gql(`mutation($id: ID!) { deleteUser(id: $id) }`, { id: o.userId });
    const r = await s.gql(`query($id: ID!) { order(id: $id) { id user { id } } }`, { id: o.id });
    expect(r.data!.order).toEqual({ id: o.id, user: null });
  });
});
