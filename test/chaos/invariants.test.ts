import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/dynamo.js';
import { createProduct, createUser, PLACE_ORDER } from '../helpers/factories.js';
import { injectFault, transactionConflict } from '../helpers/faults.js';
import { checkInvariants, scanTable } from '../helpers/invariants.js';
import { startTestServer, type GqlResponse, type TestServer } from '../helpers/server.js';
import { httpGql, seededRandom, type Gql } from '../helpers/traffic.js';

const USERS = 20;
const STOCKS = [10, 15, 20, 25, 30];
const ORDERS = 240;

const CANCEL = `mutation($id: ID!) { cancelOrder(id: $id) { id status } }`;
const SET_STATUS = `mutation($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id status } }`;

let s: TestServer;
let gql: Gql;
beforeAll(async () => {
  s = await startTestServer({ db: await createTestDatabase() });
  gql = httpGql(s.url, { timeoutMs: 60_000, token: await s.token('chaos-admin', { admin: true }) });
});
afterAll(async () => {
  await s.close();
});

type Outcome = { op: string; code: string; r: GqlResponse };
const codeOf = (r: GqlResponse) => (r.errors ? String(r.errors[0]!.extensions?.code) : r.status >= 300 ? `HTTP ${r.status}` : 'ok');

describe('hundreds of concurrent orders over scarce stock, with cancels, status changes and injected TransactionConflicts', () => {
  it('keep every order whole, stock + ordered units equal to the initial stock, no stock negative and orderCount exact', async () => {
    const rand = seededRandom(424242);
    const users = await Promise.all(Array.from({ length: USERS }, () => createUser(s)));
    const products = await Promise.all(STOCKS.map((stock, i) => createProduct(s, { stock, priceCents: 100 * (i + 1) })));
    const initialStock = Object.fromEntries(products.map((p) => [p.id, p.stock]));

    // DynamoDB Local never raises TransactionConflict: one TransactWriteItems in eight gets one.
    const conflicts = injectFault(s.db.client, { operation: 'TransactWriteItems', rate: 0.125, error: transactionConflict });

    const outcomes: Outcome[] = [];
    const run = async (op: string, query: string, variables: Record<string, unknown>) => {
      const r = await gql(query, variables);
      const o = { op, code: codeOf(r), r };
      outcomes.push(o);
      return o;
    };
    /** Acknowledged orders: id and units per product. */
    const acknowledged = new Map<string, Map<string, number>>();
    /** Orders whose cancel was acknowledged. */
    const cancelled = new Set<string>();
    const racedCancels: string[] = [];

    // What happens to an order right after it is placed (drawn before anything runs, so the
    // plan is the same on every run; the interleaving is up to the machine).
    const plans = Array.from({ length: ORDERS }, () => {
      const x = rand();
      return x < 0.3 ? 'cancel' : x < 0.5 ? 'pay, then cancel racing ship' : x < 0.65 ? 'deliver, then cancel' : x < 0.75 ? 'two cancels racing' : 'keep';
    });
    const requests = Array.from({ length: ORDERS }, (_, i) => {
      const n = 1 + Math.floor(rand() * 2);
      const picked = [...products].sort(() => rand() - 0.5).slice(0, n);
      return {
        // All are started at once; each waits up to 1 s first, so cancels of early orders put
        // stock back while later orders still arrive.
        delayMs: Math.floor(rand() * 1000),
        input: {
          userId: users[i % USERS]!.id,
          lines: picked.map((p) => ({ productId: p.id, quantity: 1 + Math.floor(rand() * 3) })),
        },
      };
    });

    const started = performance.now();
    await Promise.all(
      requests.map(async ({ delayMs, input }, i) => {
        await sleep(delayMs);
        const placed = await run('placeOrder', PLACE_ORDER, { input });
        if (placed.code !== 'ok') return;
        const id = placed.r.data!.placeOrder.id as string;
        acknowledged.set(id, new Map(input.lines.map((l) => [l.productId, l.quantity])));
        const cancel = async () => {
          const c = await run('cancelOrder', CANCEL, { id });
          if (c.code === 'ok') cancelled.add(id);
          return c;
        };
        const status = (to: string) => run('updateOrderStatus', SET_STATUS, { id, status: to });
        switch (plans[i]) {
          case 'cancel':
            await cancel();
            break;
          case 'pay, then cancel racing ship':
            await status('PAID');
            await Promise.all([cancel(), status('SHIPPED')]);
            break;
          case 'deliver, then cancel':
            await status('PAID');
            await status('SHIPPED');
            await status('DELIVERED');
            await cancel();
            break;
          case 'two cancels racing':
            racedCancels.push(id);
            await Promise.all([cancel(), cancel()]);
            break;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    conflicts.remove();

    const count = (op: string, code: string) => outcomes.filter((o) => o.op === op && o.code === code).length;
    const items = await scanTable(s.db);
    const report = checkInvariants(items, initialStock, s.db.layout.statusShards);
    const numbers = {
      seconds: Number(seconds.toFixed(1)),
      placeOrderCalls: outcomes.filter((o) => o.op === 'placeOrder').length,
      placed: count('placeOrder', 'ok'),
      refusedInsufficientStock: count('placeOrder', 'INSUFFICIENT_STOCK'),
      placeOrderUnavailable: count('placeOrder', 'SERVICE_UNAVAILABLE'),
      cancels: count('cancelOrder', 'ok'),
      cancelsRefusedConflict: count('cancelOrder', 'CONFLICT'),
      statusChanges: count('updateOrderStatus', 'ok'),
      statusChangesRefusedConflict: count('updateOrderStatus', 'CONFLICT'),
      injectedTransactionConflicts: conflicts.hits(),
      initialStock: STOCKS,
      finalStock: products.map((p) => report.stock[p.id]),
      unitsInLiveOrders: products.map((p) => report.ordered[p.id] ?? 0),
      ordersByStatus: report.byStatus,
    };
    console.log(`[invariants] ${JSON.stringify(numbers)}`);

    // Only the answers the contract allows (SERVICE_UNAVAILABLE: five conflicts in a row, which
    // writes nothing).
    const allowed: Record<string, string[]> = {
      placeOrder: ['ok', 'INSUFFICIENT_STOCK', 'SERVICE_UNAVAILABLE'],
      cancelOrder: ['ok', 'CONFLICT', 'SERVICE_UNAVAILABLE'],
      updateOrderStatus: ['ok', 'CONFLICT', 'SERVICE_UNAVAILABLE'],
    };
    expect(outcomes.filter((o) => !allowed[o.op]!.includes(o.code)).map((o) => `${o.op}: ${o.code} ${o.r.errors?.[0]?.message}`)).toEqual([]);
    expect(numbers.placeOrderCalls).toBeGreaterThanOrEqual(200);
    // The stock really was scarce, the conflicts really happened and were retried away.
    expect(numbers.refusedInsufficientStock).toBeGreaterThan(0);
    expect(numbers.placed).toBeGreaterThan(0);
    expect(numbers.injectedTransactionConflicts).toBeGreaterThan(0);

    // The table is consistent (every order whole; stock + units in live orders = initial stock;
    // no negative stock; orderCount = orders per user; status index = status).
    expect(report.violations).toEqual([]);
    // ... and it matches exactly what the clients were told.
    expect(report.orders).toBe(numbers.placed);
    expect(report.byStatus.CANCELLED ?? 0).toBe(numbers.cancels);
    for (const p of products) {
      let units = 0;
      for (const [id, lines] of acknowledged) if (!cancelled.has(id)) units += lines.get(p.id) ?? 0;
      expect(report.stock[p.id], p.id).toBe(initialStock[p.id]! - units);
      expect(report.stock[p.id]).toBeGreaterThanOrEqual(0);
    }
    const perUser = new Map<string, number>();
    for (const o of outcomes) {
      if (o.op === 'placeOrder' && o.code === 'ok') perUser.set(o.r.data!.placeOrder.user.id, (perUser.get(o.r.data!.placeOrder.user.id) ?? 0) + 1);
    }
    for (const u of items.filter((i) => i.EntityType === 'User')) expect(u.orderCount ?? 0).toBe(perUser.get(u.id) ?? 0);
    // Of two racing cancels of one order, exactly one wins (the stock comes back once).
    for (const id of racedCancels) {
      const won = outcomes.filter((o) => o.op === 'cancelOrder' && o.code === 'ok' && o.r.data!.cancelOrder.id === id);
      expect(won, id).toHaveLength(1);
    }
  });
});
