import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectFault, sdkError } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let prod: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  prod = await startTestServer({ production: true });
});
afterAll(async () => {
  await s.close();
  await prod.close();
});

const expectRejected = (r: Awaited<ReturnType<TestServer['gql']>>, message: RegExp) => {
  expect(r.data ?? null).toBeNull();
  expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(r.errors![0]!.message).toMatch(message);
  expect(r.extensions?.dynamodb?.calls ?? 0).toBe(0);
};

describe('query limits', () => {
  /** A limit refusal reads as a limit, not as a syntax error, and says which limit, in both modes. */
  const expectLimit = (r: Awaited<ReturnType<TestServer['gql']>>, message: RegExp, extensions: Record<string, unknown>) => {
    expectRejected(r, message);
    expect(r.status).toBe(400);
    expect(r.errors![0]!.message).not.toMatch(/Syntax Error/);
    expect(r.errors![0]!.extensions).toMatchObject(extensions);
  };

  it('refuse a query nested deeper than 10 levels as a depth limit with 400, saying by how much, in both modes', async () => {
    const deep = `{ order(id: "x") { user { orders { edges { node { user { orders { edges { node { user { id } } } } } } } } } } }`;
    for (const server of [s, prod]) {
      const r = await server.gql(deep);
      expectLimit(r, /^query depth 11 exceeds the limit of 10$/, { limit: 'depth', max: 10, found: 11 });
    }
  });

  it('refuse an alias flood as an alias limit', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: ping`).join(' ');
    expectLimit(await s.gql(`{ ${aliases} }`), /^query alias count 16 exceeds the limit of 15$/, { limit: 'aliases', max: 15, found: 16 });
  });

  it('refuse too many tokens as a token limit with 400, in both modes', async () => {
    const fields = Array.from({ length: 2100 }, () => 'ping').join(' ');
    for (const server of [s, prod]) {
      const r = await server.gql(`{ ${fields} }`);
      expectLimit(r, /^query token count exceeds the limit of 2000$/, { limit: 'tokens', max: 2000 });
    }
  });

  it('refuse too many directives as a directive limit', async () => {
    const dirs = Array.from({ length: 11 }, () => '@include(if: true)').join(' ');
    expectLimit(await s.gql(`{ ping ${dirs} }`), /^query directive count 11 exceeds the limit of 10$/, {
      limit: 'directives',
      max: 10,
      found: 11,
    });
  });

  it('refuse an operation whose worst case exceeds the DynamoDB call budget, before any call', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const r = await s.gql(
      `query($ids: [ID!]!) { users(ids: $ids) { orders(first: 100) { edges { node { items { product { name } } } } } } }`,
      { ids },
    );
    expectRejected(r, /may cause up to \d+ DynamoDB calls; the limit is 300/);
    expect(r.status).toBe(400);
    expect(r.errors![0]!.extensions).toMatchObject({ limit: 'cost', max: 300 });
  });

  it('accept the documented query shapes within the budget', async () => {
    const r = await s.gql(`{ ordersByStatus(status: PAID, first: 20) { edges { node { user { name } items { product { name } } } } } }`);
    expect(r.errors).toBeUndefined();
  });

  it('answer a syntax error with 400 and BAD_USER_INPUT', async () => {
    const r = await s.gql(`{ user(id: "x") { id `);
    expect(r.status).toBe(400);
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/Syntax Error/);
  });

  it('refuse batched HTTP requests', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ ping }' }, { query: '{ ping }' }]),
    });
    expect(res.status).toBe(400);
  });

  it('refuse a body over the size limit and bad JSON with BAD_USER_INPUT', async () => {
    const big = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ ping }', variables: { x: 'y'.repeat(200_000) } }),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const bad = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('reject over-long ids and too many ids with BAD_USER_INPUT', async () => {
    const long = await s.gql(`query($id: ID!) { user(id: $id) { id } }`, { id: 'x'.repeat(129) });
    expect(long.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(long.errors![0]!.message).toMatch(/id must be at most 128 characters/);
    expect(long.extensions!.dynamodb!.calls).toBe(0);
    const many = Array.from({ length: 501 }, (_, i) => `p${i}`);
    const r = await s.gql(`query($ids: [ID!]!) { products(ids: $ids) { id } }`, { ids: many });
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });
});

describe('production mode', () => {
  it('turns introspection off', async () => {
    const r = await prod.gql(`{ __schema { types { name } } }`);
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/introspection/i);
  });

  it('serves no landing page', async () => {
    const res = await fetch(prod.url, { headers: { accept: 'text/html' } });
    expect(await res.text()).not.toMatch(/sandbox|embeddable/i);
    const dev = await fetch(s.url, { headers: { accept: 'text/html' } });
    expect(await dev.text()).toMatch(/sandbox|embeddable/i);
  });

  /** Misspellings that graphql-js answers with "Did you mean ...?", naming parts of the schema. */
  const MISSPELLED: [what: string, query: string, variables: Record<string, unknown> | undefined, hint: RegExp][] = [
    ['a misspelled field', `{ produc(id: "x") { id } }`, undefined, /"product"/],
    ['a misspelled enum value in a literal', `{ ordersByStatus(status: PENDIN) { edges { cursor } } }`, undefined, /"PENDING"/],
    ['a misspelled enum value in a variable', `query($s: OrderStatus!) { ordersByStatus(status: $s) { edges { cursor } } }`, { s: 'PENDIN' }, /"PENDING"/],
    ['a misspelled argument', `{ featuredProducts(fist: 1) { edges { cursor } } }`, undefined, /"first"/],
    ['a misspelled type in a fragment', `{ product(id: "x") { ... on Usr { id } } }`, undefined, /"User"/],
    ['a misspelled type in a variable definition', `query($s: OrderStatu) { ping }`, undefined, /"OrderStatus"/],
    ['a misspelled input field in a variable', `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }`, { i: { userId: 'u', lines: [], line: [] } }, /"lines"/],
  ];

  it.each(MISSPELLED)('hides the schema suggestion for %s, which development mode shows', async (_what, query, variables, hint) => {
    const dev = await s.gql(query, variables);
    expect(dev.errors!.map((e) => e.message).join('\n')).toMatch(/Did you mean/);
    const r = await prod.gql(query, variables);
    expect(r.status).toBe(400);
    for (const e of r.errors!) {
      expect(e.extensions!.code).toBe('BAD_USER_INPUT');
      expect(e.message).not.toMatch(/Did you mean|Suggestion hidden/);
      expect(e.message).not.toMatch(hint);
    }
  });

  it('masks unexpected errors without stack traces, and reports throttling as SERVICE_UNAVAILABLE', async () => {
    const boom = injectFault(prod.db.client, { operation: 'BatchGetItem', error: () => new Error('secret internal detail') });
    const r = await prod.gql(`{ product(id: "x") { id } }`);
    boom.remove();
    expect(r.errors![0]).toMatchObject({ message: 'Unexpected error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(r)).not.toMatch(/secret internal detail|stacktrace/);

    const throttled = injectFault(prod.db.client, { operation: 'BatchGetItem', error: sdkError('ThrottlingException', 400) });
    const t = await prod.gql(`{ product(id: "x") { id } }`);
    throttled.remove();
    expect(t.errors![0]!.extensions!.code).toBe('SERVICE_UNAVAILABLE');
    expect(throttled.hits()).toBe(3); // the SDK's own retries, then a clean error
    expect((await prod.gql(`{ product(id: "x") { id } }`)).errors).toBeUndefined();
  });

  it('keeps CSRF prevention on, answering in the contract shape', async () => {
    const res = await fetch(`${prod.url}?query=${encodeURIComponent('{ ping }')}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.extensions.dynamodb).toEqual({ calls: 0, operations: {} });
    const ok = await fetch(`${prod.url}?query=${encodeURIComponent('{ ping }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
  });
});

describe('configuration', () => {
  it('can switch extensions.dynamodb off', async () => {
    const quiet = await startTestServer({ dynamoExtensions: false, db: s.db });
    const r = await quiet.gql(`{ product(id: "x") { id } }`);
    expect(r.extensions?.dynamodb).toBeUndefined();
    await quiet.close();
  });
});
