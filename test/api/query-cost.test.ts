import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUERIES, type OperationName } from '../../bench/lib/operations.js';
import { createProduct, createUser, placeOrder } from '../helpers/factories.js';
import { injectFault, transactionConflict } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
const users: string[] = [];
const products: string[] = [];
const productAt = (i: number) => products[i]!;
const orders: string[] = [];

beforeAll(async () => {
  s = await startTestServer();
  for (let i = 0; i < 6; i++) products.push((await createProduct(s, { featured: i % 2 === 0, stock: 1000 })).id);
  for (let u = 0; u < 4; u++) {
    const user = await createUser(s);
    users.push(user.id);
    for (let a = 0; a < 2; a++) {
      await s.gql(`mutation($id: ID!) { addAddress(userId: $id, input: { street: "1 Main St", city: "Lyon", postalCode: "69001", country: "FR" }) { id } }`, { id: user.id });
    }
    for (let o = 0; o < 3; o++) {
      const lines = products.slice(o, o + 1 + ((u + o) % 4)).map((productId) => ({ productId, quantity: 1 }));
      const r = await placeOrder(s, user.id, lines);
      if (r.errors) throw new Error(JSON.stringify(r.errors));
      orders.push(r.data!.placeOrder.id);
    }
  }
  await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }`, { id: orders[0] });
});
afterAll(async () => {
  await s.close();
});

interface Measured {
  calls: number;
  estimate: number;
  errors: unknown[] | undefined;
}

async function measure(query: string, variables: Record<string, unknown> = {}): Promise<Measured> {
  const r = await s.gql(query, variables);
  return { calls: r.extensions!.dynamodb!.calls, estimate: r.extensions!.dynamodb!.estimate as number, errors: r.errors };
}

describe('the call budget', () => {
  it('counts the default of a variable definition: a query over the budget with `$f: Int = 100` is refused before it runs', async () => {
    const byStatus = (alias: string, status: string) =>
      `${alias}: ordersByStatus(status: ${status}, first: $f) { edges { node { items { quantity } } } }`;
    const q = `query($f: Int = 100) { ${byStatus('a', 'PENDING')} ${byStatus('b', 'PAID')} ${byStatus('c', 'SHIPPED')} }`;
    const r = await s.gql(q);
    expect(r.status).toBe(400);
    // Each page: one Query per status shard, then one Query per order for its lines.
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'cost', max: 300, found: 3 * (s.db.layout.statusShards + 100) });
    expect(r.extensions!.dynamodb!.calls).toBe(0);
    // Sent variables count the same way.
    expect((await s.gql(q, { f: 100 })).errors![0]!.extensions).toMatchObject({ limit: 'cost' });
    expect((await s.gql(q, { f: 5 })).errors).toBeUndefined();
  });

  it('never reports fewer calls than were made, and stays within 2x for the common shapes of the benchmark', async () => {
    const vars: Record<OperationName, Record<string, unknown>> = {
      Ping: {},
      UserWithAddresses: { id: users[0] },
      UserOrders: { id: users[1] },
      OrderWithItems: { id: orders[2] },
      UsersWithOrderTotals: { ids: users },
      Products: { ids: products },
      FeaturedProducts: {},
      OrdersByStatus: { status: 'PENDING' },
      PlaceOrder: { input: { userId: users[2], lines: [{ productId: products[0], quantity: 1 }] } },
    };
    const ratios: Record<string, string> = {};
    for (const [op, query] of Object.entries(QUERIES) as [OperationName, string][]) {
      const m = await measure(query, vars[op]);
      expect(m.errors, op).toBeUndefined();
      expect(m.calls, op).toBeLessThanOrEqual(m.estimate);
      ratios[op] = `${m.estimate}/${m.calls}`;
      // Reads whose worst case is their usual case. UserOrders may meet 10 orders of 48 lines
      // (5 product batches), and writes are costed with every retry they may make.
      if (op !== 'UserOrders' && op !== 'PlaceOrder' && m.calls > 0) expect(m.estimate / m.calls, op).toBeLessThanOrEqual(2);
    }
    expect(Object.keys(ratios)).toHaveLength(Object.keys(QUERIES).length);
  });

  it('costs each write with every retry it may make, so retried transactions stay within the estimate', async () => {
    const user = await createUser(s);
    const address = (await s.gql(`mutation($id: ID!) { addAddress(userId: $id, input: { street: "2 Rue", city: "Nice", postalCode: "06000", country: "FR" }) { id } }`, { id: user.id })).data!.addAddress.id;
    const order = (await placeOrder(s, user.id, [{ productId: productAt(1), quantity: 1 }])).data!.placeOrder.id;
    const writes: [string, Record<string, unknown>][] = [
      [`mutation($p: ID!, $u: ID!) { placeOrder(input: { userId: $u, lines: [{ productId: $p, quantity: 1 }] }) { id items { product { name } } user { name } } }`, { p: productAt(0), u: user.id }],
      [`mutation($id: ID!) { cancelOrder(id: $id) { id items { product { stock } } } }`, { id: order }],
      [`mutation($id: ID!) { updateUser(id: $id, input: { email: "moved-${Date.now()}@example.com" }) { id } }`, { id: user.id }],
      [`mutation($id: ID!, $a: ID!) { removeAddress(userId: $id, addressId: $a) }`, { id: user.id, a: address }],
      [`mutation { createUser(input: { email: "c-${Date.now()}@example.com", name: "C" }) { id addresses { city } } }`, {}],
      [`mutation($id: ID!) { deleteUser(id: $id) }`, { id: user.id }],
    ];
    // Every transaction conflicts: each write retries until it gives up (SERVICE_UNAVAILABLE).
    const fault = injectFault(s.db.client, { operation: 'TransactWriteItems', error: transactionConflict });
    try {
      for (const [query, variables] of writes) {
        const m = await measure(query, variables);
        expect(m.errors?.length, query).toBe(1);
        // Far more than the flat 3 calls mutations used to be costed at, and never above the bound.
        expect(m.calls, query).toBeGreaterThanOrEqual(5);
        expect(m.calls, query).toBeLessThanOrEqual(m.estimate);
      }
    } finally {
      fault.remove();
    }
  });

  it('is an upper bound for random valid queries (fast-check)', async () => {
    const first = fc.integer({ min: 1, max: 5 });
    const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
    const skip = fc.constantFrom('', ' @skip(if: $s)', ' @include(if: $s)');
    const product = fc.constant('product { id name }');
    const item = fc.tuple(skip, fc.boolean()).map(([d, withProduct]) => `items${d} { quantity ${withProduct ? 'product { name }' : ''} }`);
    const order = (depth: number): fc.Arbitrary<string> =>
      fc
        .tuple(fc.boolean(), depth > 0 ? fc.option(user(depth - 1), { nil: undefined }) : fc.constant(undefined), fc.option(item, { nil: undefined }))
        .map(([total, u, i]) => ['id', total ? 'totalCents' : '', u ? `user { ${u} }` : '', i ?? ''].join(' '));
    const user = (depth: number): fc.Arbitrary<string> =>
      fc
        .tuple(skip, fc.boolean(), depth > 0 ? fc.option(fc.tuple(first, order(depth - 1)), { nil: undefined }) : fc.constant(undefined))
        .map(([d, addresses, o]) =>
          ['id name', addresses ? `addresses${d} { city }` : '', o ? `orders(first: ${o[0]}) { edges { node { ${o[1]} } } pageInfo { hasNextPage } }` : ''].join(' '),
        );
    const root = fc.oneof(
      fc.tuple(pick(users), user(2)).map(([id, sel]) => `user(id: "${id}") { ${sel} }`),
      fc.tuple(fc.subarray(users, { minLength: 1 }), user(1)).map(([ids, sel]) => `users(ids: ${JSON.stringify(ids)}) { ${sel} }`),
      fc.tuple(pick(orders), order(1)).map(([id, sel]) => `order(id: "${id}") { ${sel} }`),
      fc.tuple(pick(['PENDING', 'PAID']), first, order(1)).map(([st, n, sel]) => `ordersByStatus(status: ${st}, first: ${n}) { edges { node { ${sel} } } }`),
      first.map((n) => `featuredProducts(first: ${n}) { edges { node { id name } } pageInfo { hasNextPage endCursor } }`),
      fc.subarray(products, { minLength: 1 }).map((ids) => `products(ids: ${JSON.stringify(ids)}) { id stock }`),
      product.map(() => `product(id: "${products[0]}") { id name }`),
    );
    const query = fc
      .tuple(fc.array(root, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean())
      .map(([roots, asFragment, s]) => ({
        text: asFragment
          ? `query($s: Boolean!) { ping @include(if: $s) ...Roots } fragment Roots on Query { ${roots.map((r, i) => `r${i}: ${r}`).join(' ')} }`
          : `query($s: Boolean!) { ping @include(if: $s) ${roots.map((r, i) => `r${i}: ${r}`).join(' ')} }`,
        s,
      }));

    await fc.assert(
      fc.asyncProperty(query, async ({ text, s: flag }) => {
        const m = await measure(text, { s: flag });
        expect(m.errors, text).toBeUndefined();
        expect(m.calls, text).toBeLessThanOrEqual(m.estimate);
      }),
      { numRuns: 60, seed: 9 },
    );
  });
});
