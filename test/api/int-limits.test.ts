import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/db/keys.js';
import { orderToItem, orderLineToItem } from '../../src/model/order.js';
import { createProduct, createUser, PLACE_ORDER, placeOrder } from '../helpers/factories.js';
import { injectFault, sdkError } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** GraphQL's Int is 32-bit: the contract says every Int in a response fits 2^31 - 1. */
const INT_MAX = 2_147_483_647;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const stockOf = async (id: string) => (await s.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id })).data!.product.stock as number;

const USER_ORDERS = `query($id: ID!) { user(id: $id) { orderCount
  orders(first: 20) { edges { node { id status totalCents items { unitPriceCents quantity lineTotalCents } } } } } }`;
const PENDING_ORDERS = `{ ordersByStatus(status: PENDING, first: 50) { edges { node { id totalCents itemCount } } } }`;

/** The user's orders and the PENDING list both answer without errors; returns the user's orders. */
async function listsStillAnswer(userId: string) {
  const mine = await s.gql(USER_ORDERS, { id: userId });
  expect(mine.errors).toBeUndefined();
  const pending = await s.gql(PENDING_ORDERS);
  expect(pending.errors).toBeUndefined();
  return { user: mine.data!.user, pending: pending.data!.ordersByStatus.edges.map((e: { node: object }) => e.node) };
}

describe('placeOrder with totals beyond the 32-bit Int', () => {
  it('refuses a line total above 2147483647 with BAD_USER_INPUT naming the line, before any write', async () => {
    const u = await createUser(s);
    const cheap = await createProduct(s, { priceCents: 100, stock: 10 });
    const dear = await createProduct(s, { priceCents: 1_000_000_000, stock: 10 });
    const r = await placeOrder(s, u.id, [
      { productId: cheap.id, quantity: 1 },
      { productId: dear.id, quantity: 3 },
    ]);
    expect(r.data?.placeOrder ?? null).toBeNull();
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.lines.1.quantity' });
    expect(r.errors![0]!.message).toContain('3000000000');
    expect(r.errors![0]!.message).toContain(String(INT_MAX));
    // Refused before the transaction: nothing was sent to be written.
    expect(r.extensions!.dynamodb!.operations.TransactWriteItems).toBeUndefined();
    expect(await stockOf(cheap.id)).toBe(10);
    expect(await stockOf(dear.id)).toBe(10);
    const { user } = await listsStillAnswer(u.id);
    expect(user.orderCount).toBe(0);
    expect(user.orders.edges).toEqual([]);
  });

  it('refuses lines that each fit but whose order total does not, naming input.lines and the total', async () => {
    const u = await createUser(s);
    const a = await createProduct(s, { priceCents: 1_000_000_000, stock: 10 });
    const b = await createProduct(s, { priceCents: 1_000_000_000, stock: 10 });
    const r = await placeOrder(s, u.id, [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 1 },
    ]);
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.lines' });
    expect(r.errors![0]!.message).toContain('3000000000');
    expect(r.extensions!.dynamodb!.operations.TransactWriteItems).toBeUndefined();
    expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([10, 10]);
    const { user } = await listsStillAnswer(u.id);
    expect(user.orderCount).toBe(0);
  });

  it('places an order whose total is exactly 2147483647', async () => {
    const u = await createUser(s);
    const a = await createProduct(s, { priceCents: 1_000_000_000, stock: 10 });
    const b = await createProduct(s, { priceCents: INT_MAX - 2_000_000_000, stock: 10 });
    const r = await placeOrder(s, u.id, [
      { productId: a.id, quantity: 2 },
      { productId: b.id, quantity: 1 },
    ]);
    expect(r.errors).toBeUndefined();
    expect(r.data!.placeOrder.totalCents).toBe(INT_MAX);
  });

  it('refuses a product whose stored price is beyond the Int range with BAD_USER_INPUT, writing nothing', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { priceCents: 100, stock: 10 });
    await s.db.doc.send(
      new UpdateCommand({ TableName: s.db.tableName, Key: keys.product(p.id), UpdateExpression: 'SET priceCents = :p', ExpressionAttributeValues: { ':p': 3_000_000_000 } }),
    );
    const r = await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }]);
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.lines.0.productId' });
    expect(r.errors![0]!.message).toContain('3000000000');
    expect(r.extensions!.dynamodb!.operations.TransactWriteItems).toBeUndefined();
    expect(await stockOf(p.id)).toBe(10);
  });
});

describe('cancelOrder putting stock back', () => {
  it('refuses with BAD_USER_INPUT when the stock would exceed 2147483647, changing nothing', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const id = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 5 }])).data!.placeOrder.id as string;
    // The API caps stock at 1e9; a script or the console can store more.
    await s.db.doc.send(
      new UpdateCommand({ TableName: s.db.tableName, Key: keys.product(p.id), UpdateExpression: 'SET stock = :s', ExpressionAttributeValues: { ':s': INT_MAX - 2 } }),
    );
    const r = await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { id status } }`, { id });
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'id', productId: p.id });
    expect(r.errors![0]!.message).toContain(String(INT_MAX));
    expect(await stockOf(p.id)).toBe(INT_MAX - 2);
    const order = await s.gql(`query($id: ID!) { order(id: $id) { status } }`, { id });
    expect(order.data!.order.status).toBe('PENDING');
  });
});

describe('stored values beyond the Int range', () => {
  it('are clamped on read: the user, their orders page and ordersByStatus keep answering', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { priceCents: 250, stock: 10 });
    const good = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 2 }])).data!.placeOrder.id as string;
    // An order as an older version or a script could have written it: total and line beyond 2^31 - 1.
    const badId = `LEGACY${good}`;
    const now = new Date().toISOString();
    const order = { id: badId, userId: u.id, status: 'PENDING' as const, totalCents: 3_000_000_000, itemCount: 1, createdAt: now, updatedAt: now };
    const line = {
      id: `${badId}-1`, orderId: badId, line: 1, productId: p.id, productName: 'Gold bar',
      unitPriceCents: 1_000_000_000, quantity: 3, lineTotalCents: 3_000_000_000,
    };
    await s.db.doc.send(new PutCommand({ TableName: s.db.tableName, Item: orderToItem(order, s.db.layout.statusShards) }));
    await s.db.doc.send(new PutCommand({ TableName: s.db.tableName, Item: orderLineToItem(u.id, line) }));
    await s.db.doc.send(
      new UpdateCommand({ TableName: s.db.tableName, Key: keys.user(u.id), UpdateExpression: 'SET orderCount = :n', ExpressionAttributeValues: { ':n': 5_000_000_000 } }),
    );
    await s.db.doc.send(
      new UpdateCommand({ TableName: s.db.tableName, Key: keys.product(p.id), UpdateExpression: 'SET stock = :s', ExpressionAttributeValues: { ':s': 4_000_000_000.5 } }),
    );

    const { user, pending } = await listsStillAnswer(u.id);
    expect(user.orderCount).toBe(INT_MAX);
    const nodes = user.orders.edges.map((e: { node: { id: string } }) => e.node);
    expect(nodes.map((n: { id: string }) => n.id).sort()).toEqual([good, badId].sort());
    expect(nodes.find((n: { id: string }) => n.id === badId)).toMatchObject({
      totalCents: INT_MAX,
      items: [{ unitPriceCents: 1_000_000_000, quantity: 3, lineTotalCents: INT_MAX }],
    });
    expect(pending).toContainEqual({ id: badId, totalCents: INT_MAX, itemCount: 1 });
    expect(pending).toContainEqual(expect.objectContaining({ id: good, totalCents: 500 }));
    expect(await stockOf(p.id)).toBe(INT_MAX);
    const one = await s.gql(`query($id: ID!) { order(id: $id) { totalCents items { lineTotalCents product { stock } } } }`, { id: badId });
    expect(one.errors).toBeUndefined();
    expect(one.data!.order).toEqual({ totalCents: INT_MAX, items: [{ lineTotalCents: INT_MAX, product: { stock: INT_MAX } }] });
  });
});

describe('a committed write whose answer fails', () => {
  it('cancelOrder: the error says the order was cancelled and names it, keeping the code', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const id = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 4 }])).data!.placeOrder.id as string;
    // cancelOrder reads the order (Query), writes (TransactWriteItems), then the answer's
    // products are read again with BatchGetItem: that read fails, past the SDK's retries.
    const fault = injectFault(s.db.client, { operation: 'BatchGetItem', error: sdkError('ServiceUnavailable', 503) });
    let r;
    try {
      r = await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { id status items { product { id stock } } } }`, { id });
    } finally {
      fault.remove();
    }
    expect(fault.hits()).toBeGreaterThan(0);
    expect(r.errors).toHaveLength(1);
    const e = r.errors![0]!;
    expect(e.path).toEqual(['cancelOrder', 'items', 0, 'product']);
    expect(e.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', committed: { typename: 'Order', id } });
    expect(e.message).toMatch(new RegExp(`^cancelOrder committed order ${id}; its answer could not be completed: `));
    // And it is true: the order is cancelled and the stock is back.
    expect((await s.gql(`query($id: ID!) { order(id: $id) { status } }`, { id })).data!.order.status).toBe('CANCELLED');
    expect(await stockOf(p.id)).toBe(10);
  });

  it('placeOrder in production: an unexpected failure behind the answer is not a bare "Unexpected error"', async () => {
    const prod = await startTestServer({ production: true });
    try {
      const u = await createUser(prod);
      const p = await createProduct(prod, { stock: 10 });
      // placeOrder itself makes no Query; the answer's user.orders does, after the commit.
      const fault = injectFault(prod.db.client, { operation: 'Query', error: () => new Error('socket hang-up in a proxy (injected)') });
      let r;
      try {
        r = await prod.gql(
          `mutation($input: PlaceOrderInput!) { order: placeOrder(input: $input) { id totalCents user { id orders(first: 5) { edges { node { id } } } } } }`,
          { input: { userId: u.id, lines: [{ productId: p.id, quantity: 3 }] } },
        );
      } finally {
        fault.remove();
      }
      const placedId = r.data!.order.id as string;
      expect(r.data!.order).toEqual({ id: placedId, totalCents: 3000, user: null });
      expect(r.errors).toHaveLength(1);
      const e = r.errors![0]!;
      expect(e.path).toEqual(['order', 'user', 'orders']);
      expect(e.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', committed: { typename: 'Order', id: placedId } });
      expect(e.message).toBe(`placeOrder committed order ${placedId}; its answer could not be completed: Unexpected error`);
      const after = await prod.gql(`query($id: ID!) { user(id: $id) { orderCount } product(id: "${p.id}") { stock } }`, { id: u.id });
      expect(after.data).toEqual({ user: { orderCount: 1 }, product: { stock: 7 } });
    } finally {
      await prod.close();
    }
  });

  it('leaves errors of a mutation that wrote nothing as they are', async () => {
    const r = await s.gql(PLACE_ORDER, { input: { userId: 'ghost', lines: [{ productId: 'nothing', quantity: 1 }] } });
    expect(r.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect(r.errors![0]!.extensions!.committed).toBeUndefined();
    expect(r.errors![0]!.message).not.toContain('committed');
  });
});
