/**
 * `npm run bench:shards`: the write-sharded status index, measured (issue "No hot partition at
 * any scale"). Runs on its own DynamoDB Local (in memory), in one process with the server
 * (createServer from src/server.ts, over HTTP), in about two minutes:
 *
 * 1. ordersByStatus at 1, 4, 10 and 32 shards: DynamoDB calls and p50/p95 of the first page
 *    (first: 20) at one client, and a walk through every page of one status (calls per page as
 *    shards run out, every order exactly once).
 * 2. placeOrder under the capacity model (test/helpers/capacity-model.ts: DynamoDB's
 *    per-partition limits enforced at the SDK boundary, scaled down so that this machine can
 *    reach them) at increasing offered orders per second, with 1 shard and with N: where
 *    throttling starts, and that sharding removes it. Consumed capacity per operation comes
 *    from the model (DynamoDB's own accounting rules).
 * 3. The README's table "orders/s → shards needed, reads per page", derived from 2 with
 *    DynamoDB's real limit (1,000 write units a second per partition key).
 *
 * Knobs (environment): BENCH_SHARDS_LIST (1,4,10,32), BENCH_SHARD_ORDERS (2000),
 * BENCH_SHARD_REQUESTS (150), BENCH_CAPACITY_WCU (4: write units a second per partition key
 * in the scaled model, so that one shard is overrun at rates DynamoDB Local sustains on a small
 * machine), BENCH_CAPACITY_SHARDS (8), BENCH_RATES (2,4,8,12), BENCH_RATE_SECONDS (5).
 * Results: bench/results/shards-latest.{json,md}.
 */
import '../src/quiet-sdk-warning.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import { ulid } from 'ulid';
import { signToken } from '../src/auth/sign.js';
import { createVerifier } from '../src/auth/verifier.js';
import { createDatabase, type Database } from '../src/db/database.js';
import { startEmbeddedDynamo } from '../src/db/embedded-dynamodb.js';
import { ensureTable } from '../src/db/ensure-table.js';
import { ORDER_STATUSES, orderToItem, type Order, type OrderStatus } from '../src/model/order.js';
import { createRepositories } from '../src/repositories/repositories.js';
import { createServer } from '../src/server.js';
import { attachCapacityModel, type CapacityStats } from '../test/helpers/capacity-model.js';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const list = (name: string, fallback: string) => env(name, fallback).split(',').map(Number);
const CFG = {
  shardsList: list('BENCH_SHARDS_LIST', '1,4,10,32'),
  orders: Number(env('BENCH_SHARD_ORDERS', '2000')),
  requests: Number(env('BENCH_SHARD_REQUESTS', '150')),
  wcu: Number(env('BENCH_CAPACITY_WCU', '4')),
  capacityShards: Number(env('BENCH_CAPACITY_SHARDS', '8')),
  rates: list('BENCH_RATES', '2,4,8,12'),
  rateSeconds: Number(env('BENCH_RATE_SECONDS', '5')),
};
/** DynamoDB's published limit per partition key value. */
const REAL_WCU = 1000;
const SECRET = 'bench-secret-of-at-least-thirty-two-characters';
const PAGE_SIZE = 20;

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Served {
  db: Database;
  url: string;
  token: string;
  /** Capacity units DynamoDB (Local) reported per request, from the server's request log, by operation name. */
  reported: Map<string, number[]>;
  stop(): Promise<void>;
}

async function serve(endpoint: string, statusShards: number): Promise<Served> {
  const tableName = `shards-${statusShards}-${randomUUID().slice(0, 8)}`;
  const db = createDatabase(
    tableName,
    { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: 30_000 },
    { layout: { statusShards } },
  );
  await ensureTable(db.client, tableName, { statusShards });
  // The request log line carries the capacity DynamoDB reported for the request (ReturnConsumedCapacity).
  const reported = new Map<string, number[]>();
  const logStream = {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string; operation?: string | null; capacityUnits?: number };
      if (entry.msg !== 'graphql request' || !entry.operation || entry.capacityUnits === undefined) return;
      const list = reported.get(entry.operation) ?? [];
      list.push(entry.capacityUnits);
      reported.set(entry.operation, list);
    },
  };
  const server = createServer({
    db,
    logger: pino({ level: 'info' }, logStream),
    verifier: createVerifier({ secret: SECRET, userClaim: 'sub', groupsClaim: 'groups', adminGroup: 'admin' }),
    production: false,
    dynamoExtensions: true,
    subscriptions: false,
    metrics: false,
  });
  const port = await server.listen(0, '127.0.0.1');
  const token = await signToken(SECRET, { userId: 'bench-admin', groups: ['admin'] });
  return { db, url: `http://127.0.0.1:${port}/graphql`, token, reported, stop: () => server.stop() };
}

interface Answer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: { dynamodb?: { calls: number; operations: Record<string, number> } };
}

async function gql(s: Served, query: string, variables: Record<string, unknown> = {}): Promise<{ ms: number; body: Answer }> {
  const t0 = performance.now();
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Answer;
  return { ms: performance.now() - t0, body };
}

const BY_STATUS = `query OrdersByStatus($st: OrderStatus!, $first: Int!, $after: String) {
  ordersByStatus(status: $st, first: $first, after: $after) { edges { node { id status totalCents } } pageInfo { hasNextPage endCursor } }
}`;

/** `n` order headers written straight to the table (no lines: the status index holds headers only). */
async function writeOrders(db: Database, n: number): Promise<Map<OrderStatus, string[]>> {
  const byStatus = new Map<OrderStatus, string[]>(ORDER_STATUSES.map((s) => [s, []]));
  const items = Array.from({ length: n }, (_, i) => {
    const status = ORDER_STATUSES[i % ORDER_STATUSES.length]!;
    const now = new Date(Date.now() - (n - i) * 1000).toISOString();
    const order: Order = { id: ulid(Date.now() - (n - i) * 1000), userId: `u${i % 50}`, status, totalCents: 100 + i, itemCount: 1, createdAt: now, updatedAt: now };
    byStatus.get(status)!.push(order.id);
    return orderToItem(order, db.layout.statusShards);
  });
  for (let i = 0; i < items.length; i += 25) {
    const chunk = items.slice(i, i + 25);
    let request: Record<string, any> | undefined = { [db.tableName]: chunk.map((Item) => ({ PutRequest: { Item } })) };
    while (request && Object.keys(request).length) {
      const out: { UnprocessedItems?: Record<string, any> } = await db.doc.send(new BatchWriteCommand({ RequestItems: request }));
      request = out.UnprocessedItems;
    }
  }
  return byStatus;
}

interface ReadRow {
  shards: number;
  orders: number;
  firstPage: { calls: number; queries: number; p50Ms: number; p95Ms: number; rcuPerPage: number; reportedPerPage: number };
  walk: { status: OrderStatus; orders: number; pages: number; calls: number; callsPerPage: number; exactlyOnce: boolean; lastPageCalls: number };
}

async function measureReads(endpoint: string, shards: number): Promise<ReadRow> {
  const s = await serve(endpoint, shards);
  try {
    const byStatus = await writeOrders(s.db, CFG.orders);
    // Warm-up, then the first page at one client.
    for (let i = 0; i < 20; i++) await gql(s, BY_STATUS, { st: 'PENDING', first: PAGE_SIZE });
    const ms: number[] = [];
    let calls = 0;
    let queries = 0;
    // The capacity model only accounts here (limits far above what one client reaches).
    const model = attachCapacityModel(s.db.client, { writeUnitsPerSecond: 1e9, readUnitsPerSecond: 1e9, tableName: s.db.tableName });
    for (let i = 0; i < CFG.requests; i++) {
      const r = await gql(s, BY_STATUS, { st: ORDER_STATUSES[i % ORDER_STATUSES.length], first: PAGE_SIZE });
      if (r.body.errors) throw new Error(`ordersByStatus failed: ${r.body.errors[0]!.message}`);
      ms.push(r.ms);
      calls = r.body.extensions!.dynamodb!.calls;
      queries = r.body.extensions!.dynamodb!.operations.Query ?? 0;
    }
    const rcuPerPage = (model.stats().consumed.byOperation.Query?.rcu ?? Number.NaN) / CFG.requests;
    model.remove();
    // Every page of one status.
    const status: OrderStatus = 'PAID';
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    let walkCalls = 0;
    let lastPageCalls = 0;
    for (;;) {
      const r = await gql(s, BY_STATUS, { st: status, first: PAGE_SIZE, after });
      const conn = r.body.data!.ordersByStatus as { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      pages++;
      lastPageCalls = r.body.extensions!.dynamodb!.calls;
      walkCalls += lastPageCalls;
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    const expected = [...byStatus.get(status)!].sort().reverse();
    return {
      shards,
      orders: CFG.orders,
      firstPage: { calls, queries, p50Ms: percentile(ms, 50), p95Ms: percentile(ms, 95), rcuPerPage, reportedPerPage: mean(s.reported.get('OrdersByStatus') ?? []) },
      walk: {
        status,
        orders: expected.length,
        pages,
        calls: walkCalls,
        callsPerPage: walkCalls / pages,
        exactlyOnce: JSON.stringify(seen) === JSON.stringify(expected),
        lastPageCalls,
      },
    };
  } finally {
    await s.stop();
  }
}

interface RateRow {
  shards: number;
  offeredPerSecond: number;
  placed: number;
  placedPerSecond: number;
  failed: number;
  errorCodes: Record<string, number>;
  throttledAttempts: number;
  throttledByReason: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  hottest: string;
}

interface CapacityRun {
  shards: number;
  rows: RateRow[];
  /** Consumed capacity per DynamoDB operation over the run, as the model accounts it. */
  consumed: CapacityStats['consumed']['byOperation'];
  /** Write units one placed order put on its status shard (GSI3), from the model. */
  gsi3WcuPerOrder: number;
  /** Capacity units DynamoDB Local reported per placed order (its own accounting, total of read and write). */
  reportedPerOrder: number;
  orders: number;
}

/** `n` calls of `fn`, ten at a time. */
async function inBatches<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => fn(i + j)))));
  return out;
}

const PLACE = `mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }`;

async function measureWrites(endpoint: string, shards: number): Promise<CapacityRun> {
  const s = await serve(endpoint, shards);
  try {
    // Many users and products, so that no user or product item is the hot key: only the status index can be.
    const repos = createRepositories(s.db);
    const users = await inBatches(200, (i) => repos.users.createUser({ email: `cap${i}@example.com`, name: `Cap ${i}` }));
    const products = await inBatches(200, (i) => repos.products.createProduct({ name: `P${i}`, priceCents: 100 + i, stock: 1_000_000, featured: false }));
    const model = attachCapacityModel(s.db.client, { writeUnitsPerSecond: CFG.wcu, readUnitsPerSecond: CFG.wcu * 3, tableName: s.db.tableName });
    const rows: RateRow[] = [];
    let placedTotal = 0;
    try {
      for (const rate of CFG.rates) {
        model.reset();
        const before = model.stats();
        const latencies: number[] = [];
        const errorCodes: Record<string, number> = {};
        let placed = 0;
        let failed = 0;
        const pending: Promise<void>[] = [];
        const t0 = performance.now();
        const total = rate * CFG.rateSeconds;
        // Open loop: orders are sent on schedule whether or not earlier ones have answered.
        for (let i = 0; i < total; i++) {
          const due = t0 + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const u = users[(i * 7) % users.length]!;
          const p = products[(i * 13) % products.length]!;
          pending.push(
            gql(s, PLACE, { input: { userId: u.id, lines: [{ productId: p.id, quantity: 1 }] } }).then(({ ms, body }) => {
              if (body.errors || !body.data?.placeOrder) {
                failed++;
                const code = body.errors?.[0]?.extensions?.code ?? 'UNKNOWN';
                errorCodes[code] = (errorCodes[code] ?? 0) + 1;
              } else {
                placed++;
                latencies.push(ms);
              }
            }),
          );
        }
        await Promise.all(pending);
        const seconds = (performance.now() - t0) / 1000;
        const after = model.stats();
        const hottest = after.hottest.find((h) => h.partition.startsWith('GSI3:')) ?? after.hottest[0];
        rows.push({
          shards,
          offeredPerSecond: rate,
          placed,
          placedPerSecond: placed / seconds,
          failed,
          errorCodes,
          throttledAttempts: after.throttled.total - before.throttled.total,
          throttledByReason: after.throttled.byReason,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          hottest: hottest ? `${hottest.partition} ${f1(hottest.wcu / seconds)} WCU/s` : '–',
        });
        placedTotal += placed;
        log(`  ${shards} shard(s), ${rate} orders/s offered: ${f1(placed / seconds)} placed/s, ${failed} failed, ${after.throttled.total} throttled attempts`);
      }
      const stats = model.stats();
      const gsi3 = Object.entries(stats.consumed.byPartition).filter(([k]) => k.startsWith('GSI3:STATUS#PENDING'));
      const gsi3Wcu = gsi3.reduce((n, [, v]) => n + v.wcu, 0);
      // Only the last rate's orders are in the stats (reset before each rate).
      const lastPlaced = rows.at(-1)!.placed;
      return {
        shards,
        rows,
        consumed: stats.consumed.byOperation,
        gsi3WcuPerOrder: lastPlaced > 0 ? gsi3Wcu / lastPlaced : Number.NaN,
        reportedPerOrder: mean(s.reported.get('PlaceOrder') ?? []),
        orders: placedTotal,
      };
    } finally {
      model.remove();
    }
  } finally {
    await s.stop();
  }
}

/** The shards a status needs for `ordersPerSecond` at DynamoDB's real limit, with 20% headroom. */
export function shardsNeeded(ordersPerSecond: number, wcuPerOrder: number): number {
  return Math.max(1, Math.ceil((ordersPerSecond * wcuPerOrder) / (REAL_WCU * 0.8)));
}

function markdown(reads: ReadRow[], writes: CapacityRun[], started: string, seconds: number): string {
  const out: string[] = [];
  out.push(`Run ${started} in ${f1(seconds / 60)} min, Node ${process.version}, DynamoDB Local in memory (\`npm run bench:shards\`).`, '');
  out.push(`### ordersByStatus by shard count (${CFG.orders.toLocaleString('en-US')} orders over 5 statuses, first: ${PAGE_SIZE}, 1 client, ${CFG.requests} requests)`, '');
  out.push('| Shards | Calls, first page | RCU per page (model) | Capacity reported by DynamoDB Local | p50 | p95 | Pages through PAID | Calls per page (mean) | Calls, last page | Every order once |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of reads) {
    out.push(
      `| ${r.shards} | ${r.firstPage.calls} (${r.firstPage.queries} Query, one wave) | ${f1(r.firstPage.rcuPerPage)} | ${f1(r.firstPage.reportedPerPage)} | ${f2(r.firstPage.p50Ms)} ms | ${f2(r.firstPage.p95Ms)} ms | ${r.walk.pages} | ${f2(r.walk.callsPerPage)} | ${r.walk.lastPageCalls} | ${r.walk.exactlyOnce ? 'yes' : '**no**'} |`,
    );
  }
  out.push('', `### placeOrder under the capacity model (${CFG.wcu} WCU/s per partition key, scaled down from DynamoDB's ${REAL_WCU.toLocaleString('en-US')}; ${CFG.rateSeconds} s per rate, open loop)`, '');
  out.push('| Shards | Offered orders/s | Placed orders/s | Failed | Throttled attempts | p50 | p99 | Hottest status partition |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const w of writes) {
    for (const r of w.rows) {
      const codes = Object.entries(r.errorCodes).map(([k, v]) => `${v} ${k}`).join(', ');
      out.push(`| ${w.shards} | ${r.offeredPerSecond} | ${f1(r.placedPerSecond)} | ${r.failed}${codes ? ` (${codes})` : ''} | ${r.throttledAttempts} | ${f1(r.p50Ms)} ms | ${f1(r.p99Ms)} ms | ${r.hottest} |`);
    }
  }
  const w1 = writes.find((w) => w.shards === 1);
  const wcuPerOrder = w1 && Number.isFinite(w1.gsi3WcuPerOrder) ? w1.gsi3WcuPerOrder : 1;
  out.push('', `### Consumed capacity per DynamoDB operation (the model's accounting, last rate of each run)`, '');
  out.push('| Shards | Operation | Calls | RCU | WCU | RCU per call | WCU per call |');
  out.push('|---|---|---|---|---|---|---|');
  for (const w of writes) {
    for (const [op, u] of Object.entries(w.consumed)) {
      out.push(`| ${w.shards} | ${op} | ${u.calls} | ${f1(u.rcu)} | ${f1(u.wcu)} | ${f2(u.rcu / u.calls)} | ${f2(u.wcu / u.calls)} |`);
    }
  }
  out.push(
    '',
    `placeOrder (one line) as DynamoDB Local reports it (\`ReturnConsumedCapacity\`, the request log's \`capacityUnits\`, mean per request, failed ones included): ` +
      writes.map((w) => `${f1(w.reportedPerOrder)} units with ${w.shards} shard(s)`).join(', ') +
      '; the model above counts what real DynamoDB charges, index writes included.',
  );
  const rcuPerShard = reads.length ? reads.reduce((n, r) => n + r.firstPage.rcuPerPage / r.shards, 0) / reads.length : 1;
  out.push(
    '',
    `### Orders per second → shards needed (derived: ${f2(wcuPerOrder)} WCU per order on its status shard, measured above; ` +
      `at steady state every order enters and later leaves each status it passes, so the busiest status takes ${f2(2 * wcuPerOrder)} WCU per order placed; ` +
      `${REAL_WCU.toLocaleString('en-US')} WCU/s per partition key with 20% headroom; ${f2(rcuPerShard)} RCU per shard read for a page of ${PAGE_SIZE})`,
    '',
  );
  out.push('| Orders placed/s | WCU/s on the busiest status | Shards needed (STATUS_SHARDS) | Queries per ordersByStatus page (one wave) | RCU per page |');
  out.push('|---|---|---|---|---|');
  for (const rate of [100, 400, 1000, 2000, 5000, 10_000, 20_000]) {
    const n = shardsNeeded(rate, 2 * wcuPerOrder);
    out.push(`| ${rate.toLocaleString('en-US')} | ${Math.round(rate * 2 * wcuPerOrder).toLocaleString('en-US')} | ${n} | ${n} | ${f1(n * rcuPerShard)} |`);
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const t0 = performance.now();
  log('bench:shards: starting DynamoDB Local (in memory)');
  const dynamo = await startEmbeddedDynamo({ port: 0 });
  try {
    const reads: ReadRow[] = [];
    for (const shards of CFG.shardsList) {
      log(`ordersByStatus with ${shards} shard(s)`);
      reads.push(await measureReads(dynamo.endpoint, shards));
    }
    const writes: CapacityRun[] = [];
    for (const shards of [1, CFG.capacityShards]) {
      log(`placeOrder under the capacity model with ${shards} shard(s)`);
      writes.push(await measureWrites(dynamo.endpoint, shards));
    }
    const seconds = (performance.now() - t0) / 1000;
    const md = markdown(reads, writes, started, seconds);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/shards-latest.json', JSON.stringify({ started, seconds, config: CFG, reads, writes }, null, 2) + '\n');
    writeFileSync('bench/results/shards-latest.md', md);
    process.stdout.write(md);
  } finally {
    await dynamo.stop();
  }
}

const isMain = process.argv[1]?.endsWith('shards.ts') || process.argv[1]?.endsWith('shards.js');
if (isMain) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error('bench:shards failed:', e);
      process.exit(1);
    },
  );
}
