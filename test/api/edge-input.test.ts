import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/db/cursor.js';
import { keys } from '../../src/db/keys.js';
import { ORDER_ENTITY } from '../../src/model/order.js';
import { createProduct, createUser, PLACE_ORDER, placeOrder } from '../helpers/factories.js';
import { sdkError } from '../helpers/faults.js';
import { startTestServer, type GqlResponse, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

/** Fails every attempt of the matching DynamoDB commands with `error` (inside the SDK's retries). */
function failCalls(client: DynamoDBClient, matches: (operation: string, input: Record<string, any>) => boolean, error: () => Error) {
  const name = `edge-fault-${randomBytes(4).toString('hex')}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      if (matches(op, (args as { input?: Record<string, any> }).input ?? {})) throw error();
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name },
  );
  return () => client.middlewareStack.remove(name);
}

/** A hot partition: DynamoDB throttles reads of it past the SDK's retries. */
const throttled = sdkError('ProvisionedThroughputExceededException', 400);

const errorsAt = (r: GqlResponse) => (r.errors ?? []).map((e) => ({ path: e.path, code: e.extensions?.code, argument: e.extensions?.argument }));

const queryOps = (r: GqlResponse) => r.extensions!.dynamodb!.operations.Query ?? 0;

describe('one key of a batch', () => {
  it("keeps a bad cursor on one user's orders at that alias's path; the sibling alias's orders resolve", async () => {
    const a = await createUser(s);
    const b = await createUser(s);
    const p = await createProduct(s);
    const bOrder = (await placeOrder(s, b.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id;
    const r = await s.gql(
      `query($a: ID!, $b: ID!, $bad: String) {
        a: user(id: $a) { id orders(after: $bad) { edges { node { id } } } }
        b: user(id: $b) { id orders { edges { node { id } } } } }`,
      { a: a.id, b: b.id, bad: 'garbage' },
    );
    expect(errorsAt(r)).toEqual([{ path: ['a', 'orders'], code: 'BAD_USER_INPUT', argument: 'after' }]);
    expect(r.data!.a).toBeNull();
    expect(r.data!.b).toEqual({ id: b.id, orders: { edges: [{ node: { id: bOrder } }] } });
  });

  // Both fields are non-null roots, so `data` is null once one fails, and graphql-js reports
  // the first root error only: with the good alias first, a shared failure shows at b's path.
  it.each([
    ['ordersByStatus', `b: ordersByStatus(status: PENDING) { edges { cursor } } a: ordersByStatus(status: PENDING, after: $bad) { edges { cursor } }`],
    ['featuredProducts', `b: featuredProducts { edges { cursor } } a: featuredProducts(after: $bad) { edges { cursor } }`],
  ])('keeps a bad cursor on one %s alias at its own path and fails nothing else', async (_name, fields) => {
    const r = await s.gql(`query($bad: String) { ${fields} }`, { bad: 'garbage' });
    expect(errorsAt(r)).toEqual([{ path: ['a'], code: 'BAD_USER_INPUT', argument: 'after' }]);
  });

  it('gives one user whose partition read fails in users(ids) its own null and error; the others resolve', async () => {
    const users = [await createUser(s), await createUser(s), await createUser(s)];
    const hot = `USER#${users[1]!.id}`;
    const stop = failCalls(s.db.client, (op, input) => op === 'Query' && input.ExpressionAttributeValues?.[':pk']?.S === hot, throttled);
    try {
      const r = await s.gql(`query($ids: [ID!]!) { users(ids: $ids) { id addresses { city } } }`, { ids: users.map((u) => u.id) });
      expect(errorsAt(r)).toEqual([{ path: ['users', 1], code: 'SERVICE_UNAVAILABLE', argument: undefined }]);
      expect(r.data!.users).toEqual([{ id: users[0]!.id, addresses: [] }, null, { id: users[2]!.id, addresses: [] }]);
    } finally {
      stop();
    }
  });

  it.each(['users', 'products'])(
    'fails only the ids of the one BatchGetItem that failed in %s(ids), each at its own path',
    async (field) => {
      const poisoned = field === 'users' ? (await createUser(s)).id : (await createProduct(s)).id;
      const present = field === 'users' ? (await createUser(s)).id : (await createProduct(s)).id;
      // 100 ids fill one BatchGetItem; the 101st goes in a call of its own, which fails.
      const ids = [present, ...Array.from({ length: 99 }, (_, i) => `missing-${i}`), poisoned];
      const stop = failCalls(
        s.db.client,
        (op, input) => op === 'BatchGetItem' && JSON.stringify(input).includes(poisoned),
        sdkError('InternalServerError', 500),
      );
      try {
        const r = await s.gql(`query($ids: [ID!]!) { ${field}(ids: $ids) { id } }`, { ids });
        expect(errorsAt(r)).toEqual([{ path: [field, 100], code: 'SERVICE_UNAVAILABLE', argument: undefined }]);
        const list = r.data![field] as ({ id: string } | null)[];
        expect(list).toHaveLength(101);
        expect(list[0]).toEqual({ id: present });
        expect(list.slice(1)).toEqual(Array.from({ length: 100 }, () => null));
      } finally {
        stop();
      }
    },
  );

  it("fails only the user of an order stored with a user id too long to be a key, not its page's other users", async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const good = (await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }])).data!.placeOrder.id;
    // Written by something other than this API (a script, a console edit): no GSI1 entry, as
    // DynamoDB would refuse its over-long index key.
    const bad = `bad-${randomBytes(4).toString('hex')}`;
    const now = new Date().toISOString();
    await s.db.doc.send(
      new PutCommand({
        TableName: s.db.tableName,
        Item: {
          ...keys.order(bad),
          ...keys.statusIndex('SHIPPED', bad, s.db.layout.statusShards),
          EntityType: ORDER_ENTITY,
          id: bad,
          userId: 'x'.repeat(3000),
          status: 'SHIPPED',
          totalCents: 1,
          itemCount: 0,
          createdAt: now,
          updatedAt: now,
        },
      }),
    );
    await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }`, { id: good });
    await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { id } }`, { id: good });
    const r = await s.gql(`{ ordersByStatus(status: SHIPPED, first: 100) { edges { node { id user { id } } } } }`);
    const nodes = r.data!.ordersByStatus.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toEqual([
      { id: bad, user: null },
      { id: good, user: { id: u.id } },
    ]);
    expect(errorsAt(r)).toEqual([{ path: ['ordersByStatus', 'edges', 0, 'node', 'user'], code: 'INTERNAL_SERVER_ERROR', argument: undefined }]);
  });
});

describe('an empty cursor', () => {
  it('on a user’s orders is BAD_USER_INPUT naming after, and no Query is made', async () => {
    const u = await createUser(s);
    const r = await s.gql(`query($id: ID!) { user(id: $id) { orders(after: "") { edges { cursor } } } }`, { id: u.id });
    expect(errorsAt(r)).toEqual([{ path: ['user', 'orders'], code: 'BAD_USER_INPUT', argument: 'after' }]);
    expect(r.errors![0]!.message).toMatch(/after/);
    expect(queryOps(r)).toBe(0);
  });

  it.each([
    ['ordersByStatus', `{ ordersByStatus(status: PAID, after: "") { edges { cursor } } }`],
    ['featuredProducts', `{ featuredProducts(after: "") { edges { cursor } } }`],
  ])('on %s is BAD_USER_INPUT naming after, before any DynamoDB call', async (field, query) => {
    const r = await s.gql(query);
    expect(errorsAt(r)).toEqual([{ path: [field], code: 'BAD_USER_INPUT', argument: 'after' }]);
    expect(r.errors![0]!.message).toMatch(/after.*empty/);
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });
});

describe('a cursor holding a key value over DynamoDB’s 1,024-byte limit', () => {
  /** A real cursor of the connection with its SK stretched to 1,100 bytes: valid in every other way. */
  const stretched = (cursor: string) => {
    const json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s: string; k: Record<string, string> | string };
    if (typeof json.k === 'string') {
      // A cursor of a write-sharded connection holds the sort key of its position.
      const k = json.k + 'x'.repeat(1100 - Buffer.byteLength(json.k));
      return Buffer.from(JSON.stringify({ ...json, k }), 'utf8').toString('base64url');
    }
    const { s: scope, k } = json as { s: string; k: Record<string, string> };
    const key = { ...k, SK: k.SK! + 'x'.repeat(1100 - Buffer.byteLength(k.SK!)) };
    expect(Buffer.byteLength(key.SK)).toBe(1100);
    return encodeCursor(scope, key);
  };
  let userId: string;
  beforeAll(async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { featured: true });
    await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }]);
    userId = u.id;
  });

  it.each([
    ['featuredProducts', `query($c: String) { featuredProducts(first: 1, after: $c) { pageInfo { endCursor } } }`, (d: any) => d.featuredProducts],
    ['ordersByStatus', `query($c: String) { ordersByStatus(status: PENDING, first: 1, after: $c) { pageInfo { endCursor } } }`, (d: any) => d.ordersByStatus],
  ])('is BAD_USER_INPUT naming after on %s, before any Query', async (field, query, conn) => {
    const real = conn((await s.gql(query, { c: null })).data).pageInfo.endCursor as string;
    const r = await s.gql(query, { c: stretched(real) });
    expect(errorsAt(r)).toEqual([{ path: [field], code: 'BAD_USER_INPUT', argument: 'after' }]);
    expect(r.errors![0]!.message).toMatch(/1,024 bytes/);
    expect(queryOps(r)).toBe(0);
  });

  it("is BAD_USER_INPUT naming after on a user's orders, before any Query", async () => {
    const Q = `query($id: ID!, $c: String) { user(id: $id) { orders(first: 1, after: $c) { pageInfo { endCursor } } } }`;
    const real = (await s.gql(Q, { id: userId, c: null })).data!.user.orders.pageInfo.endCursor as string;
    const r = await s.gql(Q, { id: userId, c: stretched(real) });
    expect(errorsAt(r)).toEqual([{ path: ['user', 'orders'], code: 'BAD_USER_INPUT', argument: 'after' }]);
    expect(queryOps(r)).toBe(0);
  });
});

describe('strings that are not well-formed UTF-16', () => {
  const lone = 'a\ud800';

  it.each([
    ['user(id)', `query($v: ID!) { user(id: $v) { id } }`, 'id'],
    ['product(id)', `query($v: ID!) { product(id: $v) { id } }`, 'id'],
    ['order(id)', `query($v: ID!) { order(id: $v) { id } }`, 'id'],
    ['deleteUser(id)', `mutation($v: ID!) { deleteUser(id: $v) }`, 'id'],
  ])('are refused as an id in %s with BAD_USER_INPUT naming it, before any DynamoDB call', async (_name, query, argument) => {
    const r = await s.gql(query, { v: lone });
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(r.errors![0]!.message).toMatch(/well-formed/);
    expect(r.errors![0]!.message).toContain('\\ud800');
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it('are refused in users(ids) naming the one item', async () => {
    const r = await s.gql(`query($ids: [ID!]!) { users(ids: $ids) { id } }`, { ids: ['fine', 'b\udc00'] });
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'ids.1' });
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it('are refused as idempotency keys: "a\\ud800" and "a\\udbff" never return the same order', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const first = await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'a\ud800');
    const second = await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'a\udbff');
    // Both become "a\ufffd" in UTF-8: accepted, the second would replay the first one's order.
    expect([first, second].map((r) => r.data?.placeOrder?.id ?? null)).toEqual([null, null]);
    for (const r of [first, second]) {
      expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.idempotencyKey' });
      expect(r.extensions!.dynamodb!.calls).toBe(0);
    }
    const stock = await s.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id: p.id });
    expect(stock.data!.product.stock).toBe(10);
  });

  it.each([
    ['placeOrder userId', PLACE_ORDER, () => ({ input: { userId: lone, lines: [{ productId: 'p', quantity: 1 }] } }), 'input.userId'],
    ['placeOrder productId', PLACE_ORDER, () => ({ input: { userId: 'u', lines: [{ productId: lone, quantity: 1 }] } }), 'input.lines.0.productId'],
    ['createUser name', `mutation($v: CreateUserInput!) { createUser(input: $v) { id } }`, () => ({ v: { email: 'ok@example.com', name: lone } }), 'input.name'],
    ['createUser email', `mutation($v: CreateUserInput!) { createUser(input: $v) { id } }`, () => ({ v: { email: `a\udfff@example.com`, name: 'ok' } }), 'input.email'],
    ['updateUser name', `mutation($v: UpdateUserInput!) { updateUser(id: "u", input: $v) { id } }`, () => ({ v: { name: lone } }), 'input.name'],
    ['address label', `mutation($v: AddressInput!) { addAddress(userId: "u", input: $v) { id } }`, () => ({ v: { label: lone, street: 's', city: 'c', postalCode: 'p', country: 'x' } }), 'input.label'],
    ['address street', `mutation($v: AddressInput!) { addAddress(userId: "u", input: $v) { id } }`, () => ({ v: { street: lone, city: 'c', postalCode: 'p', country: 'x' } }), 'input.street'],
    ['address city', `mutation($v: AddressInput!) { addAddress(userId: "u", input: $v) { id } }`, () => ({ v: { street: 's', city: lone, postalCode: 'p', country: 'x' } }), 'input.city'],
    ['address postalCode', `mutation($v: AddressInput!) { addAddress(userId: "u", input: $v) { id } }`, () => ({ v: { street: 's', city: 'c', postalCode: lone, country: 'x' } }), 'input.postalCode'],
    ['address country', `mutation($v: AddressInput!) { addAddress(userId: "u", input: $v) { id } }`, () => ({ v: { street: 's', city: 'c', postalCode: 'p', country: lone } }), 'input.country'],
    ['createProduct name', `mutation($v: CreateProductInput!) { createProduct(input: $v) { id } }`, () => ({ v: { name: lone, priceCents: 1, stock: 1 } }), 'input.name'],
    ['createProduct description', `mutation($v: CreateProductInput!) { createProduct(input: $v) { id } }`, () => ({ v: { name: 'ok', description: lone, priceCents: 1, stock: 1 } }), 'input.description'],
    ['updateProduct description', `mutation($v: UpdateProductInput!) { updateProduct(id: "p", input: $v) { id } }`, () => ({ v: { description: lone } }), 'input.description'],
  ])('are refused in %s with BAD_USER_INPUT naming the field, before any DynamoDB call', async (_name, query, variables, argument) => {
    const r = await s.gql(query, variables());
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(r.errors![0]!.message).toMatch(/well-formed/);
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it('leave well-formed text with astral characters alone', async () => {
    const name = 'Zoë 🦄 𝒜';
    const r = await s.gql(`mutation($v: CreateUserInput!) { createUser(input: $v) { id name } }`, {
      v: { email: `astral-${randomBytes(3).toString('hex')}@example.com`, name },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data!.createUser.name).toBe(name);
  });
});
