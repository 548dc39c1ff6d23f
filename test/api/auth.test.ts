import { randomBytes } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { signToken } from '../../src/auth/sign.js';
import { createVerifier } from '../../src/auth/verifier.js';
import { createServer } from '../../src/server.js';
import { keys } from '../../src/db/keys.js';
import { orderFingerprint } from '../../src/repositories/order-repository.js';
import { createProduct } from '../helpers/factories.js';
import { startTestServer, TEST_AUTH, TEST_SECRET, type GqlResponse, type TestServer } from '../helpers/server.js';

let s: TestServer;
const suffix = randomBytes(4).toString('hex');
const A = `alice-${suffix}`;
const B = `bob-${suffix}`;
const tokens: Record<string, string | null> = {};
let product: string;
let orderOfA: string;
let orderOfB: string;

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

const codes = (r: GqlResponse) => r.errors?.map((e) => e.extensions?.code) ?? [];
const as = (who: string) => ({ token: tokens[who] ?? null });

beforeAll(async () => {
  s = await startTestServer();
  tokens.anonymous = null;
  tokens.A = await s.token(A);
  tokens.B = await s.token(B);
  tokens.admin = await s.token(`root-${suffix}`, { admin: true });
  for (const [who, id] of [['A', A], ['B', B]] as const) {
    const r = await s.gql(`mutation { createUser(input: { email: "${id}@example.com", name: "${who}" }) { id } }`, {}, as(who));
    expect(r.data?.createUser.id).toBe(id);
  }
  product = (await createProduct(s, { stock: 1000, priceCents: 100 })).id;
  const place = (who: string) =>
    s.gql(`mutation($p: ID!) { placeOrder(input: { lines: [{ productId: $p, quantity: 1 }] }) { id user { id } } }`, { p: product }, as(who));
  orderOfA = (await place('A')).data!.placeOrder.id;
  orderOfB = (await place('B')).data!.placeOrder.id;
});
afterAll(async () => {
  await s.close();
});

describe('tokens', () => {
  const invalid: [string, () => Promise<string> | string][] = [
    ['signed with another secret', () => signToken('another-secret-of-at-least-thirty-two-chars', { userId: A })],
    ['unsigned (alg "none")', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: A, exp: now() + 600 })}.`],
    ['expired (past the 30 s tolerance)', () => signToken(TEST_SECRET, { userId: A, expiresInSeconds: -120 })],
    ['not valid yet', async () => {
      const { SignJWT } = await import('jose');
      return new SignJWT({ sub: A }).setProtectedHeader({ alg: 'HS256' }).setNotBefore(now() + 300).setExpirationTime(now() + 900).sign(new TextEncoder().encode(TEST_SECRET));
    }],
    ['without an expiry', async () => {
      const { SignJWT } = await import('jose');
      return new SignJWT({ sub: A }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_SECRET));
    }],
    ['garbage', () => 'not.a.token'],
    ['with a user id holding the key separator', () => signToken(TEST_SECRET, { userId: `${A}#ADDRESS#x` })],
    ['with an empty user id', () => signToken(TEST_SECRET, { userId: '' })],
    ['with a user id over 128 characters', () => signToken(TEST_SECRET, { userId: 'u'.repeat(129) })],
  ];

  it.each(invalid)('refuses a token %s: HTTP 401, one UNAUTHENTICATED error, no data, no reason given', async (_name, make) => {
    const r = await s.gql(`{ ping product(id: "${product}") { id } }`, {}, { token: await make() });
    expect(r.status).toBe(401);
    expect(r.data).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatchObject({ message: 'Invalid token', extensions: { code: 'UNAUTHENTICATED' } });
  });

  it.each([['Basic dXNlcjpwYXNz'], ['Bearer'], ['Bearer a b c'], ['bearer  ']])('answers the header "%s" with 401, never a 500', async (header) => {
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: header }, body: '{"query":"{ ping }"}' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as GqlResponse;
    expect(codes(body)).toEqual(['UNAUTHENTICATED']);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  });
});

/** One operation and what each caller gets: 'ok', a code, or 'null' (no error, no data). */
type Outcome = 'ok' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND';
interface Case {
  name: string;
  query: () => string;
  field: string;
  expect: Record<'anonymous' | 'A' | 'B' | 'admin', Outcome>;
}

const CASES: Case[] = [
  { name: 'ping', query: () => `{ ping }`, field: 'ping', expect: { anonymous: 'ok', A: 'ok', B: 'ok', admin: 'ok' } },
  { name: 'product', query: () => `{ product(id: "${product}") { id } }`, field: 'product', expect: { anonymous: 'ok', A: 'ok', B: 'ok', admin: 'ok' } },
  { name: 'products', query: () => `{ products(ids: ["${product}"]) { id } }`, field: 'products', expect: { anonymous: 'ok', A: 'ok', B: 'ok', admin: 'ok' } },
  { name: 'featuredProducts', query: () => `{ featuredProducts { edges { cursor } } }`, field: 'featuredProducts', expect: { anonymous: 'ok', A: 'ok', B: 'ok', admin: 'ok' } },
  { name: 'me', query: () => `{ me { id } }`, field: 'me', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'ok', admin: 'null' } },
  { name: "user(A's id)", query: () => `{ user(id: "${A}") { id } }`, field: 'user', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'FORBIDDEN', admin: 'ok' } },
  { name: "users([A's id])", query: () => `{ users(ids: ["${A}"]) { id } }`, field: 'users', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'FORBIDDEN', admin: 'ok' } },
  { name: "order(A's order)", query: () => `{ order(id: "${orderOfA}") { id user { email } items { product { name } } } }`, field: 'order', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'null', admin: 'ok' } },
  { name: 'ordersByStatus', query: () => `{ ordersByStatus(status: PENDING) { edges { cursor } } }`, field: 'ordersByStatus', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'ok' } },
  { name: "updateUser(A)", query: () => `mutation { updateUser(id: "${A}", input: { name: "A" }) { id } }`, field: 'updateUser', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'FORBIDDEN', admin: 'ok' } },
  { name: 'addAddress(A)', query: () => `mutation { addAddress(userId: "${A}", input: { street: "s", city: "c", postalCode: "1", country: "FR" }) { id } }`, field: 'addAddress', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'FORBIDDEN', admin: 'ok' } },
  { name: 'removeAddress(A)', query: () => `mutation { removeAddress(userId: "${A}", addressId: "missing") }`, field: 'removeAddress', expect: { anonymous: 'UNAUTHENTICATED', A: 'NOT_FOUND', B: 'FORBIDDEN', admin: 'NOT_FOUND' } },
  { name: 'deleteUser(A)', query: () => `mutation { deleteUser(id: "${A}-never") }`, field: 'deleteUser', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'NOT_FOUND' } },
  { name: 'placeOrder for A', query: () => `mutation { placeOrder(input: { userId: "${A}", lines: [{ productId: "${product}", quantity: 1 }] }) { id } }`, field: 'placeOrder', expect: { anonymous: 'UNAUTHENTICATED', A: 'ok', B: 'FORBIDDEN', admin: 'ok' } },
  { name: "cancelOrder(B's order)", query: () => `mutation { cancelOrder(id: "${orderOfB}-missing") { id } }`, field: 'cancelOrder', expect: { anonymous: 'UNAUTHENTICATED', A: 'NOT_FOUND', B: 'NOT_FOUND', admin: 'NOT_FOUND' } },
  { name: 'createProduct', query: () => `mutation { createProduct(input: { name: "P", priceCents: 1, stock: 1 }) { id } }`, field: 'createProduct', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'ok' } },
  { name: 'updateProduct', query: () => `mutation { updateProduct(id: "${product}", input: { priceCents: 100 }) { id } }`, field: 'updateProduct', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'ok' } },
  { name: 'deleteProduct', query: () => `mutation { deleteProduct(id: "never-${suffix}") }`, field: 'deleteProduct', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'NOT_FOUND' } },
  { name: 'updateOrderStatus', query: () => `mutation { updateOrderStatus(id: "${orderOfB}", status: PENDING) { id } }`, field: 'updateOrderStatus', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'FORBIDDEN', admin: 'CONFLICT' as Outcome } },
  { name: 'createUser', query: () => `mutation { createUser(input: { id: "${B}", email: "x-${suffix}@example.com", name: "X" }) { id } }`, field: 'createUser', expect: { anonymous: 'UNAUTHENTICATED', A: 'FORBIDDEN', B: 'CONFLICT' as Outcome, admin: 'CONFLICT' as Outcome } },
];

describe('access rules', () => {
  for (const c of CASES) {
    for (const who of ['anonymous', 'A', 'B', 'admin'] as const) {
      it(`${c.name} as ${who}: ${c.expect[who]}`, async () => {
        const r = await s.gql(c.query(), {}, as(who));
        expect(r.status).toBe(200);
        const outcome = c.expect[who];
        if (outcome === 'ok') {
          expect(r.errors).toBeUndefined();
          expect(r.data![c.field]).not.toBeNull();
        } else if (outcome === 'null') {
          expect(r.errors).toBeUndefined();
          expect(r.data![c.field]).toBeNull();
        } else {
          expect(codes(r)).toEqual([outcome]);
          expect(r.errors![0]!.path).toEqual([c.field]);
        }
        // Refusals that follow from the caller or an id are decided before any read.
        if (outcome === 'UNAUTHENTICATED' || outcome === 'FORBIDDEN') expect(r.extensions!.dynamodb!.calls).toBe(0);
      });
    }
  }

  it("makes another user's order look exactly like a missing one", async () => {
    const other = await s.gql(`{ order(id: "${orderOfB}") { id } }`, {}, as('A'));
    const missing = await s.gql(`{ order(id: "never-${suffix}") { id } }`, {}, as('A'));
    expect(other.data).toEqual({ order: null });
    expect(missing.data).toEqual({ order: null });
    expect(other.errors).toBeUndefined();
    const cancelOther = await s.gql(`mutation { cancelOrder(id: "${orderOfB}") { id } }`, {}, as('A'));
    const cancelMissing = await s.gql(`mutation { cancelOrder(id: "never-${suffix}") { id } }`, {}, as('A'));
    expect(cancelOther.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect(cancelOther.errors![0]!.message.replace(orderOfB, 'X')).toBe(cancelMissing.errors![0]!.message.replace(`never-${suffix}`, 'X'));
    // B's order is untouched.
    expect((await s.gql(`{ order(id: "${orderOfB}") { status } }`)).data!.order.status).toBe('PENDING');
  });

  it('refuses a field and leaves its siblings alone', async () => {
    const r = await s.gql(`{ ping mine: user(id: "${A}") { id } theirs: user(id: "${B}") { id } }`, {}, as('A'));
    expect(r.data).toEqual({ ping: true, mine: { id: A }, theirs: null });
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatchObject({ path: ['theirs'], extensions: { code: 'FORBIDDEN' } });
  });

  it("refuses users(ids) naming anyone else's id, before any read", async () => {
    const r = await s.gql(`{ users(ids: ["${A}", "${B}"]) { id } }`, {}, as('A'));
    expect(codes(r)).toEqual(['FORBIDDEN']);
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it("lets a customer read their own order's user and products (nested fields follow their parent)", async () => {
    const r = await s.gql(`{ me { orders { edges { node { id user { id } items { product { id } } } } } } }`, {}, as('A'));
    expect(r.errors).toBeUndefined();
    expect(r.data!.me.orders.edges.map((e: any) => e.node.user.id)).toContain(A);
  });

  it('places an order for the caller when input.userId is left out', async () => {
    const r = await s.gql(`mutation { placeOrder(input: { lines: [{ productId: "${product}", quantity: 1 }] }) { user { id } } }`, {}, as('B'));
    expect(r.data!.placeOrder.user.id).toBe(B);
  });

  it("creates a customer's profile with their user id, and CONFLICT the second time", async () => {
    const C = `carol-${suffix}`;
    const token = await s.token(C);
    const first = await s.gql(`mutation { createUser(input: { email: "${C}@example.com", name: "C" }) { id } }`, {}, { token });
    expect(first.data!.createUser.id).toBe(C);
    const again = await s.gql(`mutation { createUser(input: { email: "${C}-2@example.com", name: "C" }) { id } }`, {}, { token });
    expect(codes(again)).toEqual(['CONFLICT']);
    expect((await s.gql(`{ me { id email } }`, {}, { token })).data!.me).toEqual({ id: C, email: `${C}@example.com` });
  });

  it('lets an admin create a user with a new id, or with the id they name', async () => {
    const made = await s.gql(`mutation { createUser(input: { email: "n-${suffix}@example.com", name: "N" }) { id } }`, {}, as('admin'));
    expect(made.data!.createUser.id).toMatch(/^[0-9A-Z]{26}$/);
    const named = await s.gql(`mutation { createUser(input: { id: "named-${suffix}", email: "m-${suffix}@example.com", name: "M" }) { id } }`, {}, as('admin'));
    expect(named.data!.createUser.id).toBe(`named-${suffix}`);
  });
});

describe('logs and extensions', () => {
  it("name the caller's user id, never the token", async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const server = createServer({ db: s.db, logger, production: true, verifier: createVerifier(TEST_AUTH), subscriptions: false });
    const port = await server.listen(0, '127.0.0.1');
    const token = tokens.A!;
    const post = (auth: string | undefined) =>
      fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ query: `{ me { id } }` }),
      }).then((r) => r.json() as Promise<GqlResponse>);
    expect((await post(`Bearer ${token}`)).extensions!.caller).toEqual({ userId: A, admin: false });
    expect((await post(undefined)).extensions!.caller).toBeNull();
    await post(`Bearer ${token}x`);
    await server.stop();
    const requestLine = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'graphql request' && l.userId);
    expect(requestLine).toMatchObject({ userId: A });
    const refused = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'invalid token refused');
    expect(refused.reason).toMatch(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    expect(lines.join('\n')).not.toContain(token.split('.')[2]);
  });
});

describe('idempotency keys', () => {
  const PLACE = `mutation($k: String) { placeOrder(input: { lines: [{ productId: "${'$'}{P}", quantity: 2 }], idempotencyKey: $k }) { id user { id } } }`;
  const place = (who: string, key: string) => s.gql(PLACE.replace('${P}', product), { k: key }, as(who));

  it('belong to the user: the same key from two users makes two orders', async () => {
    const key = `shared-${suffix}`;
    const a1 = await place('A', key);
    const b1 = await place('B', key);
    const a2 = await place('A', key);
    expect(a1.data!.placeOrder.id).not.toBe(b1.data!.placeOrder.id);
    expect(a2.data!.placeOrder.id).toBe(a1.data!.placeOrder.id);
    expect(b1.data!.placeOrder.user.id).toBe(B);
  });

  it('honour a record written before keys were per user, for the user and lines it was written for', async () => {
    const key = `legacy-${suffix}`;
    await s.db.doc.send(
      new PutCommand({
        TableName: s.db.tableName,
        Item: { ...keys.legacyIdempotency(key), EntityType: 'IdempotencyRecord', orderId: orderOfA, fingerprint: orderFingerprint(A, [{ productId: product, quantity: 2 }]), createdAt: 'x' },
      }),
    );
    expect((await place('A', key)).data!.placeOrder.id).toBe(orderOfA);
    const b = await place('B', key);
    expect(b.errors).toBeUndefined();
    expect(b.data!.placeOrder.id).not.toBe(orderOfA);
  });

  it('refuse a version 1 key its owner reuses for other lines (CONFLICT, as before)', async () => {
    const key = `legacy-other-${suffix}`;
    await s.db.doc.send(
      new PutCommand({
        TableName: s.db.tableName,
        Item: { ...keys.legacyIdempotency(key), EntityType: 'IdempotencyRecord', orderId: orderOfA, fingerprint: orderFingerprint(A, [{ productId: product, quantity: 9 }]), createdAt: 'x' },
      }),
    );
    expect(codes(await place('A', key))).toEqual(['CONFLICT']);
  });
});
