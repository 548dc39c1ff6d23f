import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/db/database.js';
import { findFreePort, startEmbeddedDynamo, type EmbeddedDynamo } from '../../src/db/embedded-dynamodb.js';
import { ensureTable } from '../../src/db/ensure-table.js';
import { keys } from '../../src/db/keys.js';
import { signToken } from '../../src/auth/sign.js';
import { createVerifier } from '../../src/auth/verifier.js';
import { createServer, type AppServer } from '../../src/server.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/dynamo.js';
import { createProduct, createUser, placeOrder } from '../helpers/factories.js';
import {
  injectFault,
  injectHang,
  lostResponse,
  sdkError,
  startBlackhole,
  transactionConflict,
  unprocessedKeys,
} from '../helpers/faults.js';
import { checkInvariants, scanTable } from '../helpers/invariants.js';
import { startTestServer, TEST_AUTH, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { contractBreaches, httpGql, seededRandom, tally, Traffic, type Gql } from '../helpers/traffic.js';

// No fault may surface as an unhandled rejection or an uncaught exception (either would take a
// production process down).
const escaped: unknown[] = [];
const onEscaped = (e: unknown) => {
  escaped.push(e);
};
beforeAll(() => {
  process.on('unhandledRejection', onEscaped);
  process.on('uncaughtException', onEscaped);
});
afterAll(() => {
  process.off('unhandledRejection', onEscaped);
  process.off('uncaughtException', onEscaped);
});
afterEach(() => {
  expect(escaped).toEqual([]);
});

const STOCK = 1000;

async function storedStock(db: Database, productId: string): Promise<number> {
  const out = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.product(productId), ConsistentRead: true }));
  return out.Item!.stock as number;
}
async function storedOrderCount(db: Database, userId: string): Promise<number> {
  const out = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.user(userId), ConsistentRead: true }));
  return (out.Item!.orderCount as number | undefined) ?? 0;
}
async function ordersOf(db: Database, userId: string) {
  return (await scanTable(db)).filter((i) => i.EntityType === 'Order' && i.userId === userId);
}

describe('faults injected into the real SDK client', () => {
  let db: Database;
  let s: TestServer;
  /** The server's API with a client-side deadline: a hung request fails the test instead of hanging it. */
  let api: TestServer;
  let blackhole: Awaited<ReturnType<typeof startBlackhole>>;
  const initialStock: Record<string, number> = {};

  beforeAll(async () => {
    // Short timeouts, so that a hung connection costs a second, not the default three.
    db = await createTestDatabase({ maxAttempts: 3, timeoutMs: 1000 });
    s = await startTestServer({ db });
    api = { ...s, gql: httpGql(s.url, { timeoutMs: 15_000, token: await s.token('chaos-admin', { admin: true }) }) as TestServer['gql'] };
    blackhole = await startBlackhole();
  });
  afterAll(async () => {
    // The black hole first: it lets go of any request still waiting on it.
    await blackhole.close();
    await s.close();
    await dropTestDatabase(db);
  });

  /** A fresh user and product, so each case can check exactly what it wrote. */
  async function fresh() {
    const u = await createUser(api);
    const p = await createProduct(api, { stock: STOCK, priceCents: 250 });
    initialStock[p.id] = STOCK;
    return { u, p };
  }

  const always: [string, () => { hits: () => number; remove: () => void }][] = [
    ['throttling (ThrottlingException, 400)', () => injectFault(db.client, { error: sdkError('ThrottlingException', 400) })],
    ['a 500 (InternalServerError)', () => injectFault(db.client, { error: sdkError('InternalServerError', 500) })],
    ['a 503 (ServiceUnavailable)', () => injectFault(db.client, { error: sdkError('ServiceUnavailable', 503) })],
    ['a connection that never answers (the SDK request timeout)', () => injectHang(db.client, { blackholePort: blackhole.port })],
    [
      'BatchGetItem leaving keys unprocessed',
      () => injectFault(db.client, { operation: 'BatchGetItem', mutateOutput: unprocessedKeys(db.tableName) }),
    ],
    ['TransactionConflict on every TransactWriteItems', () => injectFault(db.client, { operation: 'TransactWriteItems', error: transactionConflict })],
  ];

  it.each(always)('turns %s on every call into a clean SERVICE_UNAVAILABLE that writes nothing', async (_name, inject) => {
    const { u, p } = await fresh();
    const fault = inject();
    const started = performance.now();
    const r = await placeOrder(api, u.id, [{ productId: p.id, quantity: 2 }]).finally(() => fault.remove());
    const ms = performance.now() - started;
    expect(fault.hits()).toBeGreaterThan(0);
    expect(r.status).toBe(200);
    expect(r.data).toBeNull();
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]!.extensions!.code).toBe('SERVICE_UNAVAILABLE');
    expect(r.errors![0]!.message).not.toMatch(/injected|Unexpected/);
    // Bounded: 3 attempts of at most 1 s each plus backoff, not a hung request.
    expect(ms).toBeLessThan(10_000);
    expect(await storedStock(db, p.id)).toBe(STOCK);
    expect(await storedOrderCount(db, u.id)).toBe(0);
    expect(await ordersOf(db, u.id)).toHaveLength(0);
    // And full service as soon as the fault is gone.
    const again = await placeOrder(api, u.id, [{ productId: p.id, quantity: 2 }]);
    expect(again.errors).toBeUndefined();
    expect(await storedStock(db, p.id)).toBe(STOCK - 2);
  });

  it('retries a throttled or failing call inside the SDK and answers with data', async () => {
    const { u, p } = await fresh();
    const throttled = injectFault(db.client, { operation: 'BatchGetItem', times: 2, error: sdkError('ThrottlingException', 400) });
    const failed = injectFault(db.client, { operation: 'TransactWriteItems', times: 1, error: sdkError('InternalServerError', 500) });
    const r = await placeOrder(api, u.id, [{ productId: p.id, quantity: 1 }]);
    throttled.remove();
    failed.remove();
    expect(r.errors).toBeUndefined();
    expect(throttled.hits()).toBe(2);
    expect(failed.hits()).toBe(1);
    // SDK retries are attempts of one call: the API made one BatchGetItem and one TransactWriteItems.
    expect(r.extensions!.dynamodb!.operations).toEqual({ BatchGetItem: 1, TransactWriteItems: 1 });
    expect(await storedStock(db, p.id)).toBe(STOCK - 1);
    expect(await storedOrderCount(db, u.id)).toBe(1);
  });

  it('retries a placeOrder and a cancelOrder that hit a TransactionConflict, and writes each exactly once', async () => {
    const { u, p } = await fresh();
    const conflict = injectFault(db.client, { operation: 'TransactWriteItems', times: 2, error: transactionConflict });
    const r = await placeOrder(api, u.id, [{ productId: p.id, quantity: 3 }]);
    conflict.remove();
    expect(r.errors).toBeUndefined();
    expect(conflict.hits()).toBe(2);
    // Two conflicts, then the write that went through: three TransactWriteItems of the API.
    expect(r.extensions!.dynamodb!.operations).toEqual({ BatchGetItem: 1, TransactWriteItems: 3 });
    expect(await storedStock(db, p.id)).toBe(STOCK - 3);
    expect(await storedOrderCount(db, u.id)).toBe(1);
    expect(await ordersOf(db, u.id)).toHaveLength(1);

    const again = injectFault(db.client, { operation: 'TransactWriteItems', times: 3, error: transactionConflict });
    const c = await api.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: r.data!.placeOrder.id });
    again.remove();
    expect(c.errors).toBeUndefined();
    expect(c.data!.cancelOrder.status).toBe('CANCELLED');
    expect(again.hits()).toBe(3);
    expect(c.extensions!.dynamodb!.operations.TransactWriteItems).toBe(4);
    expect(await storedStock(db, p.id)).toBe(STOCK);
  });

  it('answers a response lost after the write with SERVICE_UNAVAILABLE; a retry with the idempotency key gets the order written once', async () => {
    const { u, p } = await fresh();
    const lost = injectFault(db.client, {
      operation: 'TransactWriteItems',
      mutateOutput: () => {
        throw lostResponse();
      },
    });
    const r = await placeOrder(api, u.id, [{ productId: p.id, quantity: 4 }], 'chaos-lost-response-1');
    lost.remove();
    expect(r.errors![0]!.extensions!.code).toBe('SERVICE_UNAVAILABLE');
    // The SDK sent the transaction three times with one ClientRequestToken: applied once.
    expect(lost.hits()).toBe(3);
    expect(await storedStock(db, p.id)).toBe(STOCK - 4);
    expect(await storedOrderCount(db, u.id)).toBe(1);
    const written = await ordersOf(db, u.id);
    expect(written).toHaveLength(1);

    const retry = await placeOrder(api, u.id, [{ productId: p.id, quantity: 4 }], 'chaos-lost-response-1');
    expect(retry.errors).toBeUndefined();
    expect(retry.data!.placeOrder.id).toBe(written[0]!.id);
    expect(await storedStock(db, p.id)).toBe(STOCK - 4);
    expect(await storedOrderCount(db, u.id)).toBe(1);
  });

  it('places one order, not two, when the response of its committed transaction is lost and the SDK retry then conflicts', async () => {
    const { u, p } = await fresh();
    // Attempt 1 commits but its answer is lost; the SDK's retry (same ClientRequestToken) meets a
    // TransactionConflict, as it can on a busy product. Later attempts go through untouched.
    let attempt = 0;
    db.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        attempt++;
        if (attempt === 1) {
          await next(args);
          throw lostResponse();
        }
        if (attempt === 2) throw transactionConflict((args as { input: Record<string, any> }).input);
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'lost-then-conflict' },
    );
    const r = await placeOrder(api, u.id, [{ productId: p.id, quantity: 5 }]).finally(() =>
      db.client.middlewareStack.remove('lost-then-conflict'),
    );
    expect(attempt).toBeGreaterThanOrEqual(2);
    const stored = await ordersOf(db, u.id);
    // Whatever the answer, the customer asked for one order of 5 units.
    expect(stored.map((o) => o.totalCents)).toEqual([5 * 250]);
    expect(await storedStock(db, p.id)).toBe(STOCK - 5);
    expect(await storedOrderCount(db, u.id)).toBe(1);
    if (!r.errors) expect(r.data!.placeOrder.id).toBe(stored[0]!.id);
    else expect(r.errors[0]!.extensions!.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('keeps serving a stream of mixed operations with every fault at a rate, with no partial write', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => createUser(api)));
    const products = await Promise.all(Array.from({ length: 5 }, () => createProduct(api, { stock: 300, priceCents: 199 })));
    for (const p of products) initialStock[p.id] = 300;

    const faults = {
      throttling: injectFault(db.client, { rate: 0.05, error: sdkError('ThrottlingException', 400) }),
      '5xx': injectFault(db.client, { rate: 0.03, error: sdkError('InternalServerError', 500) }),
      timeout: injectHang(db.client, { blackholePort: blackhole.port, rate: 0.02 }),
      unprocessedKeys: injectFault(db.client, { operation: 'BatchGetItem', rate: 0.3, mutateOutput: unprocessedKeys(db.tableName) }),
      lostTransactWrite: injectFault(db.client, {
        operation: 'TransactWriteItems',
        rate: 0.05,
        mutateOutput: () => {
          throw lostResponse();
        },
      }),
      lostUpdate: injectFault(db.client, {
        operation: 'UpdateItem',
        rate: 0.05,
        mutateOutput: () => {
          throw lostResponse();
        },
      }),
      transactionConflict: injectFault(db.client, { operation: 'TransactWriteItems', rate: 0.15, error: transactionConflict }),
    };
    const traffic = new Traffic(
      api.gql as Gql,
      users.map((u) => u.id),
      products.map((p) => p.id),
      seededRandom(20261124),
    );
    const started = performance.now();
    const results = await traffic.run({ workers: 8, total: 500 });
    const seconds = (performance.now() - started) / 1000;
    for (const f of Object.values(faults)) f.remove();

    const hits = Object.fromEntries(Object.entries(faults).map(([k, f]) => [k, f.hits()]));
    console.log(`[faults at a rate] ${results.length} operations in ${seconds.toFixed(1)} s; fault hits ${JSON.stringify(hits)}`);
    console.log(`[faults at a rate] answers ${JSON.stringify(tally(results))}`);

    expect(results).toHaveLength(500);
    for (const [name, n] of Object.entries(hits)) expect(n, name).toBeGreaterThan(0);
    expect(contractBreaches(results)).toEqual([]);
    expect(results.filter((r) => r.outcome === 'ok').length).toBeGreaterThan(results.length / 2);

    const report = checkInvariants(await scanTable(db), initialStock, db.layout.statusShards);
    console.log(`[faults at a rate] table: ${report.orders} orders, ${report.lines} lines, by status ${JSON.stringify(report.byStatus)}`);
    expect(report.violations).toEqual([]);
    // Every acknowledged order is stored; an unacknowledged one (lost response) may be too.
    const placedOk = results.filter((r) => r.kind === 'placeOrder' && r.outcome === 'ok').length;
    const placedUnknown = results.filter((r) => r.kind === 'placeOrder' && r.outcome === 'SERVICE_UNAVAILABLE').length;
    const ordersOfStream = (await scanTable(db)).filter((i) => i.EntityType === 'Order' && users.some((u) => u.id === i.userId));
    expect(ordersOfStream.length).toBeGreaterThanOrEqual(placedOk);
    expect(ordersOfStream.length).toBeLessThanOrEqual(placedOk + placedUnknown);

    // Full service without faults: nothing but data and business answers.
    const clean = await traffic.run({ workers: 4, total: 40 });
    expect(clean.filter((r) => r.outcome === 'SERVICE_UNAVAILABLE')).toEqual([]);
    expect(contractBreaches(clean)).toEqual([]);
  });
});

describe('DynamoDB Local killed and restarted mid-run', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gql-ddb-chaos-'));
  const tableName = 'chaos-kill-restart';
  let port: number;
  let dynamo: EmbeddedDynamo;
  let db: Database;
  let server: AppServer;
  let base: string;
  let gql: Gql;

  beforeAll(async () => {
    port = await findFreePort();
    dynamo = await startEmbeddedDynamo({ port, dataDir });
    db = createDatabase(tableName, { region: 'us-east-1', endpoint: dynamo.endpoint, local: true, timeoutMs: 1000, maxAttempts: 2 });
    await ensureTable(db.client, tableName);
    server = createServer({ db, logger: pino({ level: 'silent' }), production: true, verifier: createVerifier(TEST_AUTH) });
    const httpPort = await server.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${httpPort}`;
    gql = httpGql(`${base}/graphql`, { token: await signToken(TEST_SECRET, { userId: 'chaos-admin', groups: ['admin'] }) });
  });
  afterAll(async () => {
    await server?.stop();
    db?.client.destroy();
    await dynamo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const health = async (path: string) => (await fetch(`${base}${path}`)).status;

  it('answers SERVICE_UNAVAILABLE while it is down and serves fully once it is back, without a server restart or a partial write', async () => {
    const ts = { gql: (q: string, v?: Record<string, unknown>) => gql(q, v) } as unknown as TestServer;
    const users = await Promise.all(Array.from({ length: 8 }, () => createUser(ts)));
    const products = await Promise.all(Array.from({ length: 4 }, () => createProduct(ts, { stock: 400, priceCents: 300 })));
    const initialStock = Object.fromEntries(products.map((p) => [p.id, 400]));
    const traffic = new Traffic(
      gql,
      users.map((u) => u.id),
      products.map((p) => p.id),
      seededRandom(7),
    );
    expect(await health('/health/ready')).toBe(200);

    // A stream of mixed operations (4 workers) that keeps running through the kill and the restart.
    let phase: 'up' | 'down' | 'back' = 'up';
    let stop = false;
    const phaseOf = new Map<object, string>();
    const workers = Array.from({ length: 4 }, async () => {
      const out = [];
      while (!stop && out.length < 5000) {
        const before = phase;
        const r = await traffic.step();
        phaseOf.set(r, `${before}->${phase}`);
        out.push(r);
      }
      return out;
    });

    // Let it place some orders first.
    for (let i = 0; i < 200 && traffic.results.filter((r) => r.outcome === 'ok').length < 60; i++) await sleep(50);
    const okBeforeKill = traffic.results.filter((r) => r.outcome === 'ok').length;
    expect(okBeforeKill).toBeGreaterThanOrEqual(60);

    const killAt = performance.now();
    const exited = new Promise((resolve) => dynamo.process.once('exit', resolve));
    expect(dynamo.process.kill('SIGKILL')).toBe(true);
    await exited;
    phase = 'down';
    const downAt = traffic.results.length;

    // While it is down: clean SERVICE_UNAVAILABLE for every kind of operation, quickly.
    const probes: [string, Record<string, unknown>][] = [
      [`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }`, { input: { userId: users[0]!.id, lines: [{ productId: products[0]!.id, quantity: 1 }] } }],
      [`query($id: ID!) { user(id: $id) { id orders { edges { node { id } } } } }`, { id: users[1]!.id }],
      [`query($ids: [ID!]!) { products(ids: $ids) { id stock } }`, { ids: products.map((p) => p.id) }],
      [`{ ordersByStatus(status: PENDING) { edges { node { id } } } }`, {}],
      [`mutation { createUser(input: { email: "down@example.com", name: "Down" }) { id } }`, {}],
      [`mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id: traffic.placed[0]! }],
    ];
    for (const [q, v] of probes) {
      const started = performance.now();
      const r = await gql(q, v);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(r.status).toBe(200);
      // No data: null, null in the (nullable) root field, or a list whose every item is null
      // with its own error (each id of products(ids) fails at its own path).
      const values = Object.values(r.data ?? {}).flatMap((v) => (Array.isArray(v) ? v : [v]));
      expect(values.filter((v) => v !== null)).toEqual([]);
      expect(new Set(r.errors!.map((e) => e.extensions?.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    }
    expect(await health('/health/ready')).toBe(503);
    expect(await health('/health/live')).toBe(200);
    expect((await gql('{ ping }')).data).toEqual({ ping: true });
    await sleep(1500);
    const downResults = traffic.results.slice(downAt);
    expect(downResults.length).toBeGreaterThan(0);

    // Back on the same port and data folder; the server is the same process and client.
    dynamo = await startEmbeddedDynamo({ port, dataDir });
    phase = 'back';
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await health('/health/ready');
      if (ready !== 200) await sleep(100);
    }
    expect(ready).toBe(200);
    const backAt = traffic.results.length;
    for (let i = 0; i < 300 && traffic.results.slice(backAt).filter((r) => r.outcome === 'ok').length < 60; i++) await sleep(50);
    stop = true;
    const results = (await Promise.all(workers)).flat();
    const after = traffic.results.slice(backAt);

    console.log(
      `[kill/restart] ${results.length} operations: up ${downAt}, during the outage ${backAt - downAt}, after ${after.length}; ` +
        `answers ${JSON.stringify(tally(results))}`,
    );
    // Once it is back: full service again (the first call on a dead pooled socket may still fail).
    const lateAfter = after.slice(Math.min(after.length, 8));
    expect(lateAfter.filter((r) => r.outcome === 'SERVICE_UNAVAILABLE')).toEqual([]);
    for (const [q, v] of probes.slice(0, 4)) {
      const r = await gql(q, v);
      expect(r.errors).toBeUndefined();
    }

    // On disk: every order acknowledged before the kill survived it, except that DynamoDB Local
    // acknowledges a write a moment before it is on disk, so a SIGKILL can lose the very last
    // ones (measured: 3 of 1,208 acknowledged transactions over 8 kills, never half of one).
    // Real DynamoDB does not; here only orders acknowledged in the last second may be missing.
    const items = await scanTable(db);
    const stored = new Set(items.filter((i) => i.EntityType === 'Order').map((i) => i.id as string));
    const lost = results.filter((r) => r.orderId && !stored.has(r.orderId));
    console.log(`[kill/restart] acknowledged orders lost by DynamoDB Local in the kill: ${lost.length}`);
    expect.soft(lost.filter((r) => r.at < killAt - 1000).map((r) => `${r.orderId} [${phaseOf.get(r)}]`)).toEqual([]);
    const lostIds = new Set(lost.map((r) => r.orderId!));

    // Nothing outside the contract, in any phase (NOT_FOUND only for an order that was lost).
    const breaches = results
      .filter((r) => !(r.codes.every((c) => c === 'NOT_FOUND') && r.codes.length > 0 && lostIds.has(String(r.response.errors?.[0]?.extensions?.orderId))))
      .flatMap((r) => contractBreaches([r]).map((b) => `[${phaseOf.get(r)}] ${b}`));
    expect.soft(breaches).toEqual([]);
    // Operations that started and ended while it was down: all SERVICE_UNAVAILABLE.
    const fullyDown = results.filter((r) => phaseOf.get(r) === 'down->down');
    expect(fullyDown.length).toBeGreaterThan(0);
    expect(new Set(fullyDown.map((r) => r.outcome))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    // Nothing is half-written.
    const report = checkInvariants(items, initialStock, db.layout.statusShards);
    console.log(`[kill/restart] table: ${report.orders} orders, ${report.lines} lines, by status ${JSON.stringify(report.byStatus)}, stock ${JSON.stringify(Object.values(report.stock))}`);
    expect(report.violations).toEqual([]);
  });
});
