import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../helpers/factories.js';
import { startTestServer, type GqlResponse, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

describe('products', () => {
  it('creates a product that is not featured by default', async () => {
    const r = await s.gql(`mutation { createProduct(input: { name: "Lamp", priceCents: 2599, stock: 3 }) { id name description priceCents stock featured createdAt updatedAt } }`);
    expect(r.data!.createProduct).toMatchObject({ name: 'Lamp', description: null, priceCents: 2599, stock: 3, featured: false });
    const read = await s.gql(`query($id: ID!) { product(id: $id) { name } }`, { id: r.data!.createProduct.id });
    expect(read.data!.product.name).toBe('Lamp');
    expect(read.extensions!.dynamodb).toMatchObject({ calls: 1, operations: { BatchGetItem: 1 } });
  });

  it.each([
    [`{ name: "X", priceCents: -1, stock: 1 }`, /priceCents must be at least 0; got -1/],
    [`{ name: "X", priceCents: 1, stock: -5 }`, /stock must be at least 0; got -5/],
    [`{ name: "", priceCents: 1, stock: 1 }`, /name must not be empty/],
  ])('rejects %s with BAD_USER_INPUT', async (input, message) => {
    const r = await s.gql(`mutation { createProduct(input: ${input}) { id } }`);
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(message);
  });

  it('rejects a non-integer price as BAD_USER_INPUT before any call', async () => {
    const r = await s.gql(`mutation { createProduct(input: { name: "X", priceCents: 1.5, stock: 1 }) { id } }`);
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('updates fields, keeps the rest, and NOT_FOUND for a missing product', async () => {
    const p = await createProduct(s, { priceCents: 100, stock: 1 });
    const r = await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 250, description: "Nice" }) { priceCents stock description } }`, { id: p.id });
    expect(r.data!.updateProduct).toEqual({ priceCents: 250, stock: 1, description: 'Nice' });
    const missing = await s.gql(`mutation { updateProduct(id: "nope", input: { stock: 1 }) { id } }`);
    expect(missing.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    const bad = await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { stock: -1 }) { id } }`, { id: p.id });
    expect(bad.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('answers products(ids) for 250 ids in 3 BatchGetItem calls, in order, with nulls', async () => {
    const made = [];
    for (let i = 0; i < 250; i += 25) made.push(...(await Promise.all(Array.from({ length: 25 }, () => createProduct(s)))));
    const ids = made.map((p) => p.id);
    const r = await s.gql(`query($ids: [ID!]!) { products(ids: $ids) { id name } }`, { ids });
    expect(r.data!.products.map((p: { id: string }) => p.id)).toEqual(ids);
    expect(r.extensions!.dynamodb).toMatchObject({ calls: 3, operations: { BatchGetItem: 3 } });
    const some = await s.gql(`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids: ['missing', ids[0]] });
    expect(some.data!.products).toEqual([null, { id: ids[0] }]);
  });

  it('lists featured products newest first across pages, each exactly once, from the sparse index', async () => {
    const featured = [];
    for (let i = 0; i < 7; i++) featured.push(await createProduct(s, { featured: true }));
    const unfeatured = await createProduct(s, { featured: true });
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { featured: false }) { featured } }`, { id: unfeatured.id });
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const r: GqlResponse = await s.gql(
        `query($after: String) { featuredProducts(first: 3, after: $after) { edges { cursor node { id featured } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      const conn = r.data!.featuredProducts;
      expect(r.extensions!.dynamodb!.calls).toBe(1);
      seen.push(...conn.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1).cursor);
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(featured.map((p) => p.id).reverse());
  });

  it.each([0, 101, -1])('rejects first: %i as BAD_USER_INPUT', async (first) => {
    const r = await s.gql(`query($first: Int) { featuredProducts(first: $first) { edges { cursor } } }`, { first });
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/first must be between 1 and 100/);
  });

  it('rejects a tampered cursor as BAD_USER_INPUT', async () => {
    for (const after of ['garbage', Buffer.from('{"s":"userOrders","k":{}}').toString('base64url')]) {
      const r = await s.gql(`query($after: String) { featuredProducts(after: $after) { edges { cursor } } }`, { after });
      expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    }
  });

  it('deletes a product; reading it afterwards gives null', async () => {
    const p = await createProduct(s);
    expect((await s.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: p.id })).data!.deleteProduct).toBe(p.id);
    expect((await s.gql(`query($id: ID!) { product(id: $id) { id } }`, { id: p.id })).data!.product).toBeNull();
  });
});
