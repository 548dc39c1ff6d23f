import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/db/keys.js';
import { onMalformedStoredItem, type StoredItemError } from '../../src/model/stored-item.js';
import { createProduct, createUser, placeOrder } from '../helpers/factories.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Items written by something other than this API (an older version, a script, the console) that
 * lack a required attribute or hold one of the wrong type: an error at their own path when read
 * by id, left out (and reported) when they are one item of a page or list.
 */

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

type Item = Record<string, unknown>;

/** Rewrites a stored item as `change` makes it, with the raw SDK (attributes set to undefined are removed). */
async function corrupt(server: TestServer, key: { PK: string; SK: string }, change: (item: Item) => Item): Promise<void> {
  const { Item: stored } = await server.db.doc.send(new GetCommand({ TableName: server.db.tableName, Key: key }));
  const item = Object.fromEntries(Object.entries(change(stored!)).filter(([, v]) => v !== undefined));
  await server.db.doc.send(new PutCommand({ TableName: server.db.tableName, Item: item }));
}

const withoutName = (i: Item): Item => ({ ...i, name: undefined });

describe('a malformed product read by id', () => {
  it('is an INTERNAL_SERVER_ERROR at its own path, naming the item and attribute; its sibling in the same batch resolves', async () => {
    const good = await createProduct(s);
    const bad = await createProduct(s);
    await corrupt(s, keys.product(bad.id), withoutName);
    const r = await s.gql(`query($ids: [ID!]!, $bad: ID!) { products(ids: $ids) { id name } one: product(id: $bad) { id name } }`, {
      ids: [good.id, bad.id],
      bad: bad.id,
    });
    expect(r.data).toEqual({ products: [{ id: good.id, name: good.name }, null], one: null });
    // Both ids were read with one BatchGetItem: the malformed item failed its own key only.
    expect(r.extensions!.dynamodb!.operations.BatchGetItem).toBe(1);
    const byPath = Object.fromEntries(r.errors!.map((e) => [JSON.stringify(e.path), e]));
    expect(Object.keys(byPath).sort()).toEqual([JSON.stringify(['one']), JSON.stringify(['products', 1])]);
    for (const e of r.errors!) {
      expect(e.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
      expect(e.message).toContain(`stored Product PRODUCT#${bad.id} is malformed: name: expected a string, got nothing`);
    }
  });

  it("under a user's orders page, is an error at its own line's product only: the page's products are still one BatchGetItem", async () => {
    const user = await createUser(s);
    const good = await createProduct(s);
    const bad = await createProduct(s);
    expect((await placeOrder(s, user.id, [{ productId: good.id, quantity: 1 }, { productId: bad.id, quantity: 1 }])).errors).toBeUndefined();
    expect((await placeOrder(s, user.id, [{ productId: bad.id, quantity: 2 }])).errors).toBeUndefined();
    await corrupt(s, keys.product(bad.id), withoutName);
    const r = await s.gql(`query($id: ID!) { user(id: $id) { orders(first: 10) { edges { node { items { quantity product { id name } } } } } } }`, {
      id: user.id,
    });
    const orders = r.data!.user.orders.edges.map((e: { node: unknown }) => e.node);
    // Newest first: the order of the bad product alone, then the order with both lines.
    expect(orders).toEqual([
      { items: [{ quantity: 2, product: null }] },
      { items: [{ quantity: 1, product: { id: good.id, name: good.name } }, { quantity: 1, product: null }] },
    ]);
    expect(r.errors!.map((e) => e.path)).toEqual([
      ['user', 'orders', 'edges', 0, 'node', 'items', 0, 'product'],
      ['user', 'orders', 'edges', 1, 'node', 'items', 1, 'product'],
    ]);
    for (const e of r.errors!) expect(e.message).toContain(`stored Product PRODUCT#${bad.id} is malformed`);
    expect(r.extensions!.dynamodb).toMatchObject({ calls: 3, operations: { BatchGetItem: 2, Query: 1 } });
  });

  it('is masked in production', async () => {
    const prod = await startTestServer({ production: true });
    try {
      const bad = await createProduct(prod);
      await corrupt(prod, keys.product(bad.id), withoutName);
      const r = await prod.gql(`query($id: ID!) { product(id: $id) { id name } }`, { id: bad.id });
      expect(r.data).toEqual({ product: null });
      expect(r.errors).toEqual([{ message: 'Unexpected error', path: ['product'], locations: expect.any(Array), extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    } finally {
      await prod.close();
    }
  });
});

describe('a malformed item in a page or a list', () => {
  it('an order whose status is not one of the statuses is left out of its user orders page and of ordersByStatus', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const first = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id as string;
    const bad = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 2 }])).data!.placeOrder.id as string;
    const last = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 3 }])).data!.placeOrder.id as string;
    // Still in the PENDING index and in the user's, with a status the API does not know.
    await corrupt(s, keys.order(bad), (i) => ({ ...i, status: 'REFUNDED' }));

    const mine = await s.gql(`query($id: ID!) { user(id: $id) { orders(first: 10) { edges { node { id status items { quantity } } } } } }`, { id: u.id });
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.user.orders.edges.map((e: { node: object }) => e.node)).toEqual([
      { id: last, status: 'PENDING', items: [{ quantity: 3 }] },
      { id: first, status: 'PENDING', items: [{ quantity: 1 }] },
    ]);

    const pending = await s.gql(`{ ordersByStatus(status: PENDING, first: 100) { edges { node { id } } } }`);
    expect(pending.errors).toBeUndefined();
    const ids = pending.data!.ordersByStatus.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toEqual(expect.arrayContaining([first, last]));
    expect(ids).not.toContain(bad);

    // Read by id, the same order is its own error.
    const one = await s.gql(`query($id: ID!) { order(id: $id) { id } }`, { id: bad });
    expect(one.data).toEqual({ order: null });
    expect(one.errors![0]!.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
    expect(one.errors![0]!.message).toContain(`stored Order ORDER#${bad} is malformed: status: expected one of PENDING`);
  });

  it('paging moves past a left-out order: its cursor still ends the page it was on', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const older = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id as string;
    const newer = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id as string;
    await corrupt(s, keys.order(newer), (i) => ({ ...i, totalCents: 'lots' }));
    const page = `query($id: ID!, $after: String) { user(id: $id) { orders(first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`;
    const one = await s.gql(page, { id: u.id });
    expect(one.errors).toBeUndefined();
    expect(one.data!.user.orders.edges).toEqual([]);
    expect(one.data!.user.orders.pageInfo).toMatchObject({ hasNextPage: true, endCursor: expect.any(String) });
    const two = await s.gql(page, { id: u.id, after: one.data!.user.orders.pageInfo.endCursor });
    expect(two.errors).toBeUndefined();
    expect(two.data!.user.orders).toEqual({ edges: [{ node: { id: older } }], pageInfo: { hasNextPage: false, endCursor: expect.any(String) } });
  });

  it('an order line without its product name is left out of the order lines', async () => {
    const u = await createUser(s);
    const a = await createProduct(s);
    const b = await createProduct(s);
    const id = (
      await placeOrder(s, u.id, [
        { productId: a.id, quantity: 1 },
        { productId: b.id, quantity: 2 },
      ])
    ).data!.placeOrder.id as string;
    await corrupt(s, keys.orderItem(id, 1), (i) => ({ ...i, productName: undefined }));
    const r = await s.gql(
      `query($id: ID!, $user: ID!) { order(id: $id) { id items { productId } }
        user(id: $user) { orders(first: 5) { edges { node { id items { productId } } } } } }`,
      { id, user: u.id },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.order).toEqual({ id, items: [{ productId: b.id }] });
    expect(r.data!.user.orders.edges).toEqual([{ node: { id, items: [{ productId: b.id }] } }]);
  });

  it('an address without a city is left out of the user addresses, read with the profile or on its own', async () => {
    const u = await createUser(s);
    const add = `mutation($u: ID!, $city: String!) { addAddress(userId: $u, input: { street: "1 Main St", city: $city, postalCode: "12345", country: "US" }) { id } }`;
    const kept = (await s.gql(add, { u: u.id, city: 'Springfield' })).data!.addAddress.id as string;
    const bad = (await s.gql(add, { u: u.id, city: 'Shelbyville' })).data!.addAddress.id as string;
    await corrupt(s, keys.address(u.id, bad), (i) => ({ ...i, city: undefined }));
    const p = await createProduct(s);
    const orderId = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id as string;

    // user(id) reads the profile and addresses with one Query; order.user reads the profile by
    // id, then the addresses with a Query of their own.
    const r = await s.gql(
      `query($u: ID!, $o: ID!) { user(id: $u) { id addresses { id city } } order(id: $o) { user { addresses { id city } } } }`,
      { u: u.id, o: orderId },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({
      user: { id: u.id, addresses: [{ id: kept, city: 'Springfield' }] },
      order: { user: { addresses: [{ id: kept, city: 'Springfield' }] } },
    });
  });

  it('a featured product without a name is left out of featuredProducts', async () => {
    const good = await createProduct(s, { featured: true });
    const bad = await createProduct(s, { featured: true });
    await corrupt(s, keys.product(bad.id), withoutName);
    const r = await s.gql(`{ featuredProducts(first: 100) { edges { node { id name } } } }`);
    expect(r.errors).toBeUndefined();
    const ids = r.data!.featuredProducts.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toContain(good.id);
    expect(ids).not.toContain(bad.id);
  });
});

describe('the report of a malformed item', () => {
  it('names its entity, key and problems, whether it failed a read by id or was left out of a list', async () => {
    const reports: StoredItemError[] = [];
    // Replaces the server's logger hook (committed-writes.ts) for the rest of this file.
    onMalformedStoredItem((e) => reports.push(e));
    const u = await createUser(s);
    const p = await createProduct(s);
    const bad = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id as string;
    await corrupt(s, keys.order(bad), (i) => ({ ...i, createdAt: undefined, itemCount: '1' }));
    await corrupt(s, keys.product(p.id), withoutName);

    await s.gql(`query($u: ID!, $p: ID!) { user(id: $u) { orders { edges { node { id } } } } product(id: $p) { id } }`, { u: u.id, p: p.id });
    expect(reports.map((e) => ({ entity: e.entity, key: e.key, problems: e.problems })).sort((a, b) => a.entity.localeCompare(b.entity))).toEqual([
      {
        entity: 'Order',
        key: `ORDER#${bad}`,
        problems: [
          { attribute: 'itemCount', expected: 'a number', got: 'a string' },
          { attribute: 'createdAt', expected: 'a string', got: 'nothing' },
        ],
      },
      { entity: 'Product', key: `PRODUCT#${p.id}`, problems: [{ attribute: 'name', expected: 'a string', got: 'nothing' }] },
    ]);
  });
});
