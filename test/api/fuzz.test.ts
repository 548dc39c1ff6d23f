import { connect } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/db/cursor.js';
import { ERROR_CODES } from '../../src/errors.js';
import { createUser } from '../helpers/factories.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { seededRandom } from '../helpers/traffic.js';

/**
 * A seeded fuzz run of hostile requests against the real HTTP server (production mode). Every
 * request is invalid by construction, so each must be refused: a 4xx, or a GraphQL error with
 * a contract code. INTERNAL_SERVER_ERROR, a 5xx, an accepted request or a dead server is a bug.
 */

const TOTAL = 1200;
const CONCURRENCY = 8;
const SEED = 0xf022;

let s: TestServer;
let adminToken: string;
let gc: (() => void) | undefined;
beforeAll(async () => {
  s = await startTestServer({ production: true });
  adminToken = await s.token('fuzz-admin', { admin: true });
  userId = (await createUser(s)).id;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    gc = undefined;
  }
});
afterAll(async () => {
  await s.close();
});

interface HttpCase {
  kind: 'http';
  method?: string;
  /** Path and query string; default /graphql. */
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
/** Bytes written straight to a socket: for requests fetch cannot send. */
interface RawCase {
  kind: 'raw';
  data: string;
}
type Case = HttpCase | RawCase;

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const json = 'application/json';
const post = (body: unknown, headers: Record<string, string> = { 'content-type': json }): HttpCase => ({
  kind: 'http',
  method: 'POST',
  headers,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const junk = (r: Rand, n: number) => Array.from({ length: n }, () => String.fromCharCode(int(r, 0, 0xffff))).join('');
const ascii = (r: Rand, n: number) => Array.from({ length: n }, () => String.fromCharCode(int(r, 0x21, 0x7e))).join('');

/** Valid operations, the raw material that generators break. No string literals inside. */
const VALID = [
  `query Q($id: ID!) { user(id: $id) { id email orders(first: 5) { edges { cursor node { id status items { quantity product { name } } } } } } }`,
  `query Q($ids: [ID!]!) { products(ids: $ids) { id name stock } }`,
  `query Q { featuredProducts(first: 10) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }`,
  `query Q { ordersByStatus(status: PAID, first: 20) { edges { node { id user { name } items { product { name } } } } } }`,
  `mutation M($input: PlaceOrderInput!) { placeOrder(input: $input) { id totalCents items { quantity } } }`,
  `mutation M($input: CreateUserInput!) { createUser(input: $input) { id email } }`,
];

/** A user that exists, so that its orders connection really reads the cursor. */
let userId = '';
const cursorQueries = () => [
  `query($c: String) { featuredProducts(first: 5, after: $c) { edges { cursor } } }`,
  `query($c: String) { ordersByStatus(status: PENDING, after: $c) { edges { cursor } } }`,
  `query($c: String) { user(id: "${userId}") { orders(after: $c) { edges { cursor } } } }`,
];

/** The hostile families, each a generator of requests that must all be refused. */
const FAMILIES: Record<string, (r: Rand) => Case> = {
  'bad JSON': (r) => {
    const valid = JSON.stringify({ query: pick(r, VALID), variables: { id: 'x' } });
    const variants = [
      () => valid.slice(0, int(r, 1, valid.length - 1)),
      () => valid + pick(r, ['}', ']', ',', 'x', '{}']),
      () => valid.replace(/"/g, "'"),
      () => `{"query": ${pick(r, VALID)}}`,
      () => junk(r, int(r, 1, 200)),
      () => '\u0000'.repeat(int(r, 1, 64)),
      () => `{"query":"{ ping }",}`,
      () => `{"query":"{ ping }" "variables":{}}`,
      () => 'NaN',
      () => '[' + '{'.repeat(int(r, 1, 5000)),
    ];
    return post(pick(r, variants)());
  },
  'wrong content type': (r) => {
    const type = pick(r, [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/graphql',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'image/png',
      'application/jsonx',
      'a'.repeat(int(r, 1, 300)),
    ]);
    const body = pick(r, [JSON.stringify({ query: 'query { ping }' }), 'query=%7Bping%7D', '{ ping }', '<query>ping</query>']);
    return post(body, type ? { 'content-type': type } : {});
  },
  'no content type or no body': (r) =>
    pick(r, [
      { kind: 'http', method: 'POST', headers: {}, body: JSON.stringify({ query: '{ ping }' }) },
      { kind: 'http', method: 'POST', headers: { 'content-type': json } },
      { kind: 'http', method: 'POST', headers: { 'content-type': json }, body: '' },
      post({}),
      post([]),
      post(null),
      post('"just a string"'),
      post(String(int(r, -1e6, 1e6))),
    ] satisfies HttpCase[]),
  'huge variables': (r) => {
    const variants = [
      // Over the 100 KB body limit.
      () => post({ query: VALID[1], variables: { ids: Array.from({ length: int(r, 12_000, 40_000) }, (_, i) => `p-${i}`) } }),
      () => post({ query: '{ ping }', variables: { blob: 'x'.repeat(int(r, 110_000, 400_000)) } }),
      // Under the body limit but over the input limits.
      () => post({ query: VALID[1], variables: { ids: Array.from({ length: int(r, 501, 5000) }, (_, i) => `p-${i}`) } }),
      () => post({ query: VALID[0], variables: { id: 'u'.repeat(int(r, 129, 60_000)) } }),
      () => post({ query: VALID[5], variables: { input: { email: `${'a'.repeat(int(r, 300, 5000))}@example.com`, name: 'A' } } }),
      () => post({ query: VALID[5], variables: { input: { email: 'a@example.com', name: 'n'.repeat(int(r, 201, 20_000)) } } }),
      // Deeply nested JSON where an ID list is expected.
      () => `{"query":${JSON.stringify(VALID[1])},"variables":{"ids":${'['.repeat(int(r, 100, 20_000))}${']'.repeat(0)}}}`,
    ];
    const v = pick(r, variants)();
    return typeof v === 'string' ? post(v) : v;
  },
  'deep nesting': (r) => {
    const depth = int(r, 6, 40);
    const variants = [
      () => `{ user(id: "x") { ${'orders { edges { node { user { '.repeat(depth)} id ${'} } } } '.repeat(depth)} } }`,
      () => `{ ${'a { '.repeat(int(r, 50, 20_000))}b${' }'.repeat(int(r, 0, 50))} }`,
      () => `query($x: Int = ${'['.repeat(int(r, 20, 5000))}1${']'.repeat(int(r, 0, 20))}) { ping }`,
      () => `{ products(ids: ${'['.repeat(int(r, 2, 3000))}"p"${']'.repeat(int(r, 0, 20))}) { id } }`,
      () => {
        // Balanced, but far over the token limit.
        const n = int(r, 600, 3000);
        return `{ ${'...on Query { '.repeat(n)}ping${' }'.repeat(n)} }`;
      },
    ];
    return post({ query: pick(r, variants)() });
  },
  'alias flood': (r) => {
    const n = int(r, 16, 3000);
    // (Not __typename: graphql-armor leaves it out of the alias count on purpose; the token limit bounds it.)
    const field = pick(r, ['ping', 'product(id: "p") { id }', 'user(id: "u") { id }', 'featuredProducts { edges { cursor } }']);
    return post({ query: `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }` });
  },
  'field and directive floods': (r) =>
    pick(r, [
      () => post({ query: `{ ${'ping '.repeat(int(r, 2001, 30_000))}}` }),
      () => post({ query: `{ ping ${'@include(if: true) '.repeat(int(r, 11, 2000))}}` }),
      () => post({ query: `{ ping @skip(if: false) @skip(if: false) }` }),
      () => post({ query: `{ ping @nope }` }),
    ])(),
  'cyclic fragments': (r) => {
    const n = int(r, 1, 6);
    const names = Array.from({ length: n }, (_, i) => `F${i}`);
    const frags = names.map((f, i) => `fragment ${f} on Query { ping ...${names[(i + 1) % n]} }`).join(' ');
    return post({ query: `query { ...F0 } ${frags}` });
  },
  'unknown operations': (r) =>
    pick(r, [
      () => post({ query: 'query A { ping } query B { ping }' }),
      () => post({ query: 'query A { ping }', operationName: pick(r, ['B', '', 'a'.repeat(int(r, 1, 1000))]) }),
      () => post({ query: `{ ${pick(r, ['nope', 'users', 'order', 'productz', '__schema { types { name } }', '__type(name: "User") { name }'])} }` }),
      () => post({ query: 'subscription { ping }' }),
      () => post({ query: 'subscription S { orders { id } }' }),
      () => post({ query: 'mutation { ping }' }),
      () => post({ query: 'mutation { dropTable }' }),
      () => post({ query: 'query($x: Nope) { ping }', variables: { x: 1 } }),
      () => post({ query: 'fragment F on Query { ping }' }),
      () => post({ query: '{ ...Missing }' }),
      () => post({ query: '{ user { id } }' }),
      () => post({ query: '{ user(id: "x", nope: 1) { id } }' }),
      () => post({ query: '{ user(id: "x") }' }),
      () => post({ query: '{ ping { id } }' }),
      () => post({ query: '{ product(id: "x") { ... on User { id } } }' }),
      () => post({ query: '' }),
      () => post({ query: ' \n\t ' }),
      () => post({ query: '# only a comment' }),
      () => post({ extensions: { persistedQuery: { version: 1, sha256Hash: junk(r, 10) } } }),
      () => post({ query: '{ ping }', extensions: { persistedQuery: { version: 1, sha256Hash: 'deadbeef' } } }),
      () => post({ query: '{ ping }', extensions: { persistedQuery: { version: 2, sha256Hash: 'deadbeef' } } }),
    ])(),
  'broken syntax': (r) => {
    const q = pick(r, VALID);
    // Each variant breaks every operation in VALID (all have braces and parentheses).
    const variants = [
      () => q.slice(0, int(r, 1, q.length - 2)),
      () => q.replace(/\}/, ''),
      () => q + ' }',
      () => q.replace(/\(/, '(('),
      () => q.replace(/\{/, '{ $$ '),
      () => `{ user(id: "${'\\u'}${ascii(r, 2)}") { id } }`,
      () => `{ user(id: "unterminated) { id } }`,
      () => `{ ping } x${junk(r, int(r, 1, 20))}`,
      () => `{ ping ${pick(r, ['!', '@', '&', '|', '=', '%', '^'])} }`,
      () => '"""' + 'x'.repeat(int(r, 1, 1000)),
    ];
    return post({ query: pick(r, variants)(), variables: { id: 'x' } });
  },
  'wrong shapes': (r) =>
    pick(r, [
      () => post({ query: int(r, -10, 10) }),
      () => post({ query: ['{ ping }'] }),
      () => post({ query: { ping: true } }),
      () => post({ query: '{ ping }', variables: pick(r, ['{}', '[]', 'x', 1, [1, 2]]) }),
      () => post({ query: '{ ping }', extensions: pick(r, ['{}', 'x', 1, [1]]) }),
      () => post({ query: '{ ping }', operationName: pick(r, [1, true, {}, []]) }),
      () => post([{ query: '{ ping }' }, { query: '{ ping }' }]),
      () => post(Array.from({ length: int(r, 1, 200) }, () => ({ query: '{ ping }' }))),
    ])(),
  'wrong variable types': (r) =>
    pick(r, [
      () => post({ query: VALID[0], variables: { id: pick(r, [null, 1.5, {}, [], true]) } }),
      () => post({ query: VALID[0], variables: {} }),
      // (Not a bare 'p': GraphQL coerces a single value into a list of one.)
      () => post({ query: VALID[1], variables: { ids: pick(r, [null, [null], [{}], [1.5], { 0: 'p' }]) } }),
      () => post({ query: `query($f: Int) { featuredProducts(first: $f) { edges { cursor } } }`, variables: { f: pick(r, [2 ** 31, -(2 ** 31) - 1, 1.5, '10', 1e308]) } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [{ productId: 'p', quantity: pick(r, ['1', 1.5, 2 ** 40, null]) }] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: pick(r, [null, 'x', [null]]) } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [], extra: 1 } } }),
      () => post({ query: `{ ordersByStatus(status: ${pick(r, ['LOST', '"PAID"', 'paid', '1'])}) { edges { cursor } } }` }),
    ])(),
  'invalid cursors': (r) => {
    const q = pick(r, cursorQueries());
    const cursor = pick(r, [
      () => junk(r, int(r, 1, 100)),
      () => 'a'.repeat(int(r, 2049, 20_000)),
      () => Buffer.from(junk(r, int(r, 1, 200))).toString('base64url'),
      () => Buffer.from(JSON.stringify({ s: 'featuredProducts' })).toString('base64url'),
      () => Buffer.from(JSON.stringify({ s: 'userOrders', k: { PK: 1 } })).toString('base64url'),
      () => Buffer.from(JSON.stringify([1, 2, 3])).toString('base64url'),
      () => Buffer.from('null').toString('base64url'),
      () => encodeCursor('someoneElse', { PK: 'USER#x', SK: 'PROFILE' }),
      () => encodeCursor('featuredProducts', { PK: 'PRODUCT#x', SK: 'PRODUCT', GSI2PK: 'NOT_FEATURED', GSI2SK: 'PRODUCT#x' }),
      () => encodeCursor('ordersByStatus:PENDING', { PK: 'ORDER#x', SK: 'ORDER', GSI3PK: 'STATUS#PAID', GSI3SK: 'ORDER#x' }),
      () => encodeCursor('userOrders', { PK: 'ORDER#x', SK: 'ORDER', GSI1PK: 'USER#someone-else', GSI1SK: 'ORDER#x' }),
      () => encodeCursor('featuredProducts', { PK: 'PRODUCT#x', SK: 'PRODUCT', GSI2PK: 'FEATURED', GSI2SK: 'PRODUCT#x', extra: 'y' }),
      () => '',
    ])();
    return post({ query: q, variables: { c: cursor } });
  },
  'out-of-range numbers': (r) =>
    pick(r, [
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [{ productId: 'p', quantity: int(r, -1_000_000_000, 0) }] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [{ productId: 'p', quantity: int(r, 10_001, 2_000_000_000) }] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [{ productId: 'p', quantity: 1 }, { productId: 'p', quantity: 1 }] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: '', lines: [{ productId: 'p', quantity: 1 }] } } }),
      () => post({ query: VALID[4], variables: { input: { userId: 'u', lines: [{ productId: 'p', quantity: 1 }], idempotencyKey: pick(r, ['', 'k'.repeat(129)]) } } }),
      () => post({ query: `mutation { createProduct(input: { name: "x", priceCents: ${int(r, -1e9, -1)}, stock: 1 }) { id } }` }),
      () => post({ query: `mutation { createProduct(input: { name: "x", priceCents: 1, stock: ${int(r, -1e9, -1)} }) { id } }` }),
      () => post({ query: `mutation { createProduct(input: { name: "${pick(r, ['', '   '])}", priceCents: 1, stock: 1 }) { id } }` }),
      () => post({ query: `mutation { updateProduct(id: "p", input: { stock: ${int(r, -1e9, -1)} }) { id } }` }),
      () => post({ query: `{ featuredProducts(first: ${pick(r, [0, -1, 101, 1000, -(2 ** 31)])}) { edges { cursor } } }` }),
      () => post({ query: `{ ordersByStatus(status: PAID, first: ${int(r, 101, 100_000)}) { edges { cursor } } }` }),
      () => post({ query: `mutation { createUser(input: { email: "${pick(r, ['', 'no-at', '@x', 'a@', 'a b@c.d'])}", name: "A" }) { id } }` }),
      () => post({ query: `mutation { addAddress(userId: "u", input: { street: "", city: "c", postalCode: "p", country: "c" }) { id } }` }),
    ])(),
  'not found': (r) =>
    pick(r, [
      () => post({ query: `mutation { cancelOrder(id: "missing-${int(r, 0, 1e6)}") { id } }` }),
      () => post({ query: `mutation { updateOrderStatus(id: "missing-${int(r, 0, 1e6)}", status: PAID) { id } }` }),
      () => post({ query: `mutation { updateUser(id: "missing-${int(r, 0, 1e6)}", input: { name: "x" }) { id } }` }),
      () => post({ query: `mutation { placeOrder(input: { userId: "missing", lines: [{ productId: "missing", quantity: 1 }] }) { id } }` }),
      () => post({ query: `mutation { updateOrderStatus(id: "missing", status: CANCELLED) { id } }` }),
    ])(),
  'wrong methods and CSRF': (r) =>
    pick(r, [
      (): HttpCase => ({ kind: 'http', method: 'GET', path: `/graphql?query=${encodeURIComponent('{ ping }')}` }),
      (): HttpCase => ({
        kind: 'http',
        method: 'GET',
        path: `/graphql?query=${encodeURIComponent('mutation { deleteUser(id: "x") }')}`,
        headers: { 'apollo-require-preflight': 'true' },
      }),
      (): HttpCase => ({
        kind: 'http',
        method: 'GET',
        path: `/graphql?query=${encodeURIComponent('{ ping }')}&variables=${encodeURIComponent(`{${ascii(r, 5)}`)}`,
        headers: { 'apollo-require-preflight': 'true' },
      }),
      (): HttpCase => ({ kind: 'http', method: 'GET', path: '/graphql?query=', headers: { 'apollo-require-preflight': 'true' } }),
      (): HttpCase => ({ kind: 'http', method: pick(r, ['PUT', 'DELETE', 'PATCH']), headers: { 'content-type': json }, body: '{"query":"{ ping }"}' }),
      (): HttpCase => ({ kind: 'http', method: 'POST', path: pick(r, ['/nope', '/graphql/x', '/health/live', '/%%']), headers: { 'content-type': json }, body: '{}' }),
      (): HttpCase => post({ query: '{ ping }' }, { 'content-type': json, accept: pick(r, ['text/html', 'application/xml', 'image/*']) }),
      (): HttpCase => post({ query: '{ ping }' }, { 'content-type': json, 'content-encoding': pick(r, ['gzip', 'br', 'deflate', 'x-nope']) }),
    ])(),
  'malformed HTTP': (r) =>
    pick(r, [
      (): RawCase => ({ kind: 'raw', data: `${junk(r, 20).replace(/\r|\n/g, '')}\r\n\r\n` }),
      (): RawCase => ({ kind: 'raw', data: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n' }),
      (): RawCase => ({ kind: 'raw', data: 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello' }),
      (): RawCase => ({ kind: 'raw', data: 'POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n' }),
      (): RawCase => ({ kind: 'raw', data: `GET /graphql HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n` }),
      (): RawCase => ({ kind: 'raw', data: 'GET /graphql HTTP/9.9\r\nHost: x\r\n\r\n' }),
    ])(),
};

interface Answer {
  family: string;
  status: number;
  /** Codes of the GraphQL errors, when the body is GraphQL JSON. */
  codes: string[];
  detail: string;
}

async function send(c: Case): Promise<{ status: number; body: string }> {
  if (c.kind === 'raw') {
    return new Promise((resolve, reject) => {
      const url = new URL(s.url);
      const socket = connect(Number(url.port), url.hostname);
      let out = '';
      socket.setTimeout(10_000, () => socket.destroy(new Error('raw request: no answer within 10 s')));
      socket.on('data', (d) => (out += d.toString('latin1')));
      socket.on('error', (e) => (out ? resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), body: out }) : reject(e)));
      socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), body: out }));
      socket.end(c.data);
    });
  }
  const res = await fetch(new URL(c.path ?? '/graphql', s.url), {
    method: c.method ?? 'POST',
    // Signed in as an admin, so hostile input reaches the resolvers rather than stopping at the
    // access rules (requests that set their own Authorization keep it).
    headers: { authorization: `Bearer ${adminToken}`, ...(c.headers ?? {}) },
    ...(c.body !== undefined && c.method !== 'GET' ? { body: c.body } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: await res.text() };
}

function classify(family: string, status: number, body: string): Answer {
  let codes: string[] = [];
  try {
    const parsed = JSON.parse(body) as { errors?: { extensions?: { code?: string } }[] };
    codes = (parsed.errors ?? []).map((e) => String(e.extensions?.code ?? 'NO_CODE'));
  } catch {
    codes = [];
  }
  return { family, status, codes, detail: body.slice(0, 160) };
}

describe('fuzzing with hostile requests', () => {
  it(`refuses ${TOTAL} malformed or hostile requests with a 4xx or a contract error code, stays up and keeps its memory bounded`, async () => {
    const rand = seededRandom(SEED);
    const families = Object.keys(FAMILIES);
    // The cases are drawn up front from the seed: the same requests on every run.
    const cases = Array.from({ length: TOTAL }, (_, i) => {
      const family = families[i % families.length]!;
      return { family, c: FAMILIES[family]!(rand) };
    });

    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const answers: Answer[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const { family, c } = cases[next++]!;
          const { status, body } = await send(c);
          answers.push(classify(family, status, body));
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    gc?.();
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

    // The tally: by HTTP status and code, and by family.
    const byAnswer: Record<string, number> = {};
    const byFamily: Record<string, Record<string, number>> = {};
    for (const a of answers) {
      const key = `${a.status} ${a.codes.length ? [...new Set(a.codes)].join('+') : a.status >= 400 ? '(no GraphQL body)' : '(no errors)'}`;
      byAnswer[key] = (byAnswer[key] ?? 0) + 1;
      const f = (byFamily[a.family] ??= {});
      f[key] = (f[key] ?? 0) + 1;
    }
    // A passing run is quiet; VERBOSE_TESTS=1 prints the tallies (the figures in the notes).
    if (process.env.VERBOSE_TESTS) {
      console.log(`[fuzz] ${answers.length} requests in ${seconds.toFixed(1)} s (seed ${SEED}); heap growth ${heapGrowthMb.toFixed(1)} MB${gc ? ' after gc' : ''}`);
      console.log(`[fuzz] by answer ${JSON.stringify(byAnswer, null, 1)}`);
      console.log(`[fuzz] by family ${JSON.stringify(byFamily, null, 1)}`);
    }

    expect(answers).toHaveLength(TOTAL);
    const contract = ERROR_CODES.filter((c) => c !== 'INTERNAL_SERVER_ERROR') as readonly string[];
    const bugs = answers.filter(
      (a) =>
        a.status >= 500 ||
        a.status < 200 ||
        a.codes.some((c) => !contract.includes(c)) ||
        (a.status < 400 && a.codes.length === 0),
    );
    // Grouped, with one example each, so a failure says what broke.
    const grouped: Record<string, string> = {};
    for (const b of bugs) grouped[`${b.family} -> ${b.status} ${b.codes.join('+')}`] ??= b.detail;
    expect(grouped).toEqual({});

    // Still up, still serving, memory bounded.
    const ping = await s.gql('{ ping }');
    expect(ping.data).toEqual({ ping: true });
    expect(heapGrowthMb).toBeLessThan(gc ? 64 : 256);
  });
});
