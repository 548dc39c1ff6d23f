/**
 * Instrumentation shared by the three server variants (each runs in its own process):
 *
 * - the request's own CallCounter (src/db/call-counter.ts, through its tracer) records every
 *   call's operation, start and end;
 * - "waves" (the longest chain of dependent calls) are measured causally, not from timing alone:
 *   a call B depends on a call A when B is started while the completion of A is being processed,
 *   i.e. in the same event-loop callback (the microtasks and nextTicks that follow the socket
 *   read that finished A; DataLoader dispatches on nextTick, so its batches count too). Event-loop
 *   callbacks are told apart with an async_hooks `before` hook on non-promise resources. Timing
 *   alone ("B started after A ended") over-counts when parallel calls finish at different times.
 *   The hook costs CPU, so it is only on while the harness measures calls, never under load;
 * - a small control server (another port) answers the harness: the last request's calls and
 *   waves, and the process's memory (VmHWM = peak RSS);
 * - running totals of every call the process makes, always on (an increment per call): table
 *   calls made inside an HTTP request (they also appear in its `extensions.dynamodb`), table
 *   calls made outside any request (subscriptions reading an event's nested fields, the stream
 *   reader's DescribeTable), and stream calls (DescribeStream, GetShardIterator, GetRecords).
 *   The subscription run reads them (`GET /counters`) to get DynamoDB calls per event.
 */
import { createHook } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { constants as perf, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { traceCountedCalls, type CallCounter } from '../../src/db/call-counter.js';
import { replayHandlerFromEnv, replayStats } from './replay.js';

export interface Span {
  op: string;
  /** ms since the request's first call. */
  start: number;
  end: number;
  /** Position in the longest causal chain ending with this call (1 = depends on no call). */
  depth: number;
}

interface RequestRecord {
  t0: number;
  spans: (Span & { endTurn: number })[];
}

let turn = 0;
let tracking = false;
const callbackResources = new Set<number>();
const hook = createHook({
  init(asyncId, type) {
    // Promises and nextTick objects run inside the callback that created them: same turn.
    if (type !== 'PROMISE' && type !== 'TickObject' && type !== 'Microtask') callbackResources.add(asyncId);
  },
  before(asyncId) {
    if (callbackResources.has(asyncId)) turn++;
  },
  destroy(asyncId) {
    callbackResources.delete(asyncId);
  },
});

const records = new WeakMap<CallCounter, RequestRecord>();
let last: RequestRecord | undefined;

export function setTracking(on: boolean): void {
  if (on === tracking) return;
  tracking = on;
  if (on) hook.enable();
  else {
    hook.disable();
    callbackResources.clear();
  }
}

/** Every call the process made, by where it was made and operation (never reset; the harness takes differences). */
const totals = { all: {} as Record<string, number>, request: {} as Record<string, number>, stream: {} as Record<string, number> };

function count(bucket: Record<string, number>, commandName: string | undefined): void {
  const op = (commandName ?? 'Unknown').replace(/Command$/, '');
  bucket[op] = (bucket[op] ?? 0) + 1;
}

/** Table calls made outside any HTTP request: every call, less those counted for a request. */
function outsideRequest(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(totals.all)) {
    const rest = n - (totals.request[op] ?? 0);
    if (rest > 0) out[op] = rest;
  }
  return out;
}

/** Counts the stream reader's calls (it has its own client). */
export function instrumentStreamsClient(client: DynamoDBStreamsClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      count(totals.stream, context.commandName);
      return next(args);
    },
    { step: 'initialize', name: 'benchStreamTotals' },
  );
}

const noop = () => undefined;

/**
 * Counts every call of the table client, and (through the request's own counter, see
 * traceCountedCalls in src/db/call-counter.ts) the calls of each HTTP request, whose spans it
 * records while tracking.
 */
export function instrumentClient(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      count(totals.all, context.commandName);
      return next(args);
    },
    { step: 'initialize', name: 'benchTotals' },
  );
  traceCountedCalls((counter, op) => {
    if (counter.origin !== 'http') return noop;
    totals.request[op] = (totals.request[op] ?? 0) + 1;
    if (!tracking) return noop;
    let rec = records.get(counter);
    if (!rec) {
      rec = { t0: performance.now(), spans: [] };
      records.set(counter, rec);
      last = rec;
    }
    const now = turn;
    let depth = 1;
    for (const s of rec.spans) if (s.endTurn === now && s.depth + 1 > depth) depth = s.depth + 1;
    const record = rec;
    const span = { op, start: performance.now() - record.t0, end: Number.NaN, depth, endTurn: -1 };
    record.spans.push(span);
    return () => {
      span.end = performance.now() - record.t0;
      span.endTurn = turn;
    };
  });
}

/** Longest chain by timing alone (B after A when B starts after A ended): an upper bound. */
function timingWaves(spans: Span[]): number {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  sorted.forEach((s, i) => {
    let d = 1;
    for (let j = 0; j < i; j++) if (sorted[j]!.end <= s.start && depth[j]! + 1 > d) d = depth[j]! + 1;
    depth.push(d);
  });
  return Math.max(0, ...depth);
}

/** This process's user + system CPU time in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function memory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
  const m = process.memoryUsage();
  return {
    pid: process.pid,
    rssMB: kb('VmRSS') / 1024,
    peakRssMB: kb('VmHWM') / 1024,
    heapUsedMB: mb(m.heapUsed),
    heapTotalMB: mb(m.heapTotal),
    externalMB: mb(m.external),
    arrayBuffersMB: mb(m.arrayBuffers),
  };
}

/** Garbage collections of this process (main-thread pauses), observed in the replay phase only. */
const gc = { count: 0, ms: 0, majorCount: 0, majorMs: 0 };

function observeGc(): void {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) {
        gc.majorCount++;
        gc.majorMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
}

/** The control server: GET /last, GET /memory, GET /counters, GET /replay, GET /now, POST /tracking?on=1|0. */
export function startControlServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (body: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/last') {
      const spans = (last?.spans ?? []).map(({ endTurn: _t, ...s }) => s);
      return send({ calls: spans.length, waves: Math.max(0, ...spans.map((s) => s.depth)), timingWaves: timingWaves(spans), spans });
    }
    if (url.pathname === '/memory') return send(memory());
    // Record / replay of DynamoDB's answers (bench/lib/replay.ts): hits, misses, entries.
    if (url.pathname === '/replay') return send({ ...replayStats(), gc, cpuMs: cpuMs(), memory: memory() });
    // The monotonic clock in µs (that of a --cpu-prof profile's timestamps), to cut a profile to a window.
    if (url.pathname === '/now') return send({ us: Number(process.hrtime.bigint() / 1000n) });
    if (url.pathname === '/counters') return send({ request: totals.request, outsideRequest: outsideRequest(), stream: totals.stream, cpuMs: cpuMs(), memory: memory() });
    if (url.pathname === '/tracking' && req.method === 'POST') {
      setTracking(url.searchParams.get('on') === '1');
      last = undefined;
      return send({ tracking });
    }
    res.statusCode = 404;
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/** What every variant prints once it listens; the harness waits for this line. */
export function announceReady(port: number, controlPort: number): void {
  process.stdout.write(`BENCH_READY ${JSON.stringify({ port, controlPort, pid: process.pid })}\n`);
}

export interface VariantEnv {
  endpoint: string;
  tableName: string;
  /**
   * The DynamoDB client's HTTP layer in the replay phase (BENCH_REPLAY_HANDLER=record:<file> |
   * replay:<file>, bench/lib/replay.ts); undefined otherwise: the SDK's own, as in production.
   */
  requestHandler: unknown;
}

/** The timeout the variants give their DynamoDB client (also the recording handler's). */
export const VARIANT_TIMEOUT_MS = 10_000;

export function variantEnv(): VariantEnv {
  const endpoint = process.env.BENCH_DYNAMODB_ENDPOINT;
  const tableName = process.env.BENCH_TABLE_NAME;
  if (!endpoint || !tableName) throw new Error('BENCH_DYNAMODB_ENDPOINT and BENCH_TABLE_NAME must be set (the harness sets them)');
  const requestHandler = replayHandlerFromEnv(VARIANT_TIMEOUT_MS);
  // GC pauses are counted in the replay phase only (the GC study reads them).
  if (requestHandler) observeGc();
  return { endpoint, tableName, requestHandler };
}
