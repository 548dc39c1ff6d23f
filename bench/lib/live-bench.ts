/**
 * The subscription run (bench/README.md, "Subscriptions"): N graphql-ws clients over real
 * WebSockets (ws), each signed in as an admin and subscribed to every order's events, on one
 * project server process; then a series of placeOrder mutations over HTTP, and per event and
 * subscriber the delay from the write to the client receiving the event.
 *
 * - Ready before measuring: the server's stream reader starts with the first subscriber and reads
 *   from the newest record, and registering 1,000 subscriptions takes a moment; so the harness
 *   places warm-up orders until every subscriber has received one, then waits until every
 *   subscriber has received the last of them (the queues are drained). Only then the counters are
 *   read and the measured writes begin.
 * - Latency: the event's `at` is the order's `updatedAt`, taken by the server just before it
 *   sends the write's TransactWriteItems (same machine, same clock), so it includes the commit
 *   itself. The receive time is taken in the client's `next` callback, so it includes the
 *   harness's own queueing (its CPU and event-loop delay are reported next to the figures).
 * - Calls per event: the server process counts every DynamoDB call (bench/lib/instrument.ts).
 *   Table calls made outside any HTTP request during the measured writes are the subscriptions'
 *   (nested fields of each event); cross-checked against all table calls minus the mutations' own
 *   (their `extensions.dynamodb.calls`). Stream calls (GetRecords polling) depend on time, not on
 *   events or subscribers: reported per second.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const SUBSCRIPTION_QUERY = /* GraphQL */ `
  subscription OrderEvents {
    orderEvents { kind at order { id status items { quantity product { name } } } }
  }`;

const PLACE_ORDER = /* GraphQL */ `
  mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id updatedAt } }`;

export interface LiveTarget {
  /** http://host:port/graphql of the server process. */
  url: string;
  /** Its control server (bench/lib/instrument.ts). */
  control: string;
  pid: number;
  idleRssMB: number;
}

export interface LiveConfig {
  subscribers: number;
  writes: number;
  intervalMs: number;
  /** An admin's token: subscribers see every order; mutations may name any user. */
  token: string;
  /** Users and products the orders are placed with (untouched by the other runs). */
  users: string[];
  products: string[];
  /** Lines per order. */
  lines: number;
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LiveRow {
  subscribers: number;
  /** Opening every socket (connection_init/ack) and sending the subscriptions. */
  connectSeconds: number;
  /** Warm-up orders placed until every subscriber had received one. */
  warmupWrites: number;
  warmupSeconds: number;
  writes: number;
  intervalMs: number;
  /** Measured writes per second as they happened (one at a time: a busy server answers later, so writes come further apart). */
  writesPerSecond: number;
  expectedDeliveries: number;
  delivered: number;
  /** Deliveries of measured events missing 30 s after the last write, plus errors. */
  lost: number;
  errors: number;
  /** Write (`at`) to the client receiving the event, over every event x subscriber. */
  latencyMs: Percentiles;
  /** The mutation's HTTP response arriving to the client receiving the event (can be negative: the event may come first). */
  afterResponseMs: Percentiles;
  /** The placeOrder mutations themselves, as the writer saw them. */
  mutationMs: Percentiles;
  /** Calls the mutations made (their extensions.dynamodb.calls), per write. */
  mutationCallsPerWrite: number;
  /** Table calls made outside any request (the subscriptions' nested reads), per event. */
  tableCallsPerEvent: number;
  /** Cross-check: every table call in the window minus the mutations' own, per event. */
  tableCallsPerEventBySubtraction: number;
  /** The outside-request table calls of the window by operation, per event. */
  operationsPerEvent: Record<string, number>;
  /** Stream calls in the window (GetRecords, GetShardIterator, DescribeStream) per second. */
  streamCallsPerSecond: number;
  streamOperations: Record<string, number>;
  windowSeconds: number;
  /** The server process's CPU time in the window, per event. */
  serverCpuMsPerEvent: number;
  /** Server RSS: after start-up, with every subscriber connected (before the writes), after the writes, and peak (VmHWM). */
  rssMB: { idle: number; subscribed: number; after: number; peak: number };
  /** The harness process (which runs every client and the writer) during the window. */
  harness: { cpuPercentOfOneCore: number; eventLoopDelayP99Ms: number };
}

interface Counters {
  request: Record<string, number>;
  outsideRequest: Record<string, number>;
  stream: Record<string, number>;
  cpuMs: number;
  memory: { rssMB: number; peakRssMB: number };
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const diff = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]).filter(([, n]) => (n as number) > 0)) as Record<string, number>;

function percentiles(list: number[]): Percentiles {
  const s = [...list].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : Number.NaN);
  return { p50: at(50), p95: at(95), p99: at(99), max: s.length ? s.at(-1)! : Number.NaN };
}

/** Wall-clock time in ms with sub-millisecond resolution (comparable with the server's Date). */
const now = () => performance.timeOrigin + performance.now();

async function counters(control: string): Promise<Counters> {
  return (await (await fetch(`${control}/counters`)).json()) as Counters;
}

async function until(check: () => boolean, timeoutMs: number, step = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(step);
  }
  return true;
}

export async function measureSubscribers(server: LiveTarget, cfg: LiveConfig, log: (msg: string) => void): Promise<LiveRow> {
  const wsUrl = server.url.replace(/^http/, 'ws');
  const n = cfg.subscribers;
  /** Per order id: when each subscriber received its event. */
  const arrivals = new Map<string, number[]>();
  /** The event's `at` per order id. */
  const atOf = new Map<string, number>();
  const perClient = new Array<number>(n).fill(0);
  let errors = 0;
  let lastError = '';
  const clients: Client[] = [];
  const unsubscribe: (() => void)[] = [];

  // Open the sockets in groups (1,000 handshakes at once would overflow the listen backlog and
  // cost SYN retransmits, which is the harness's doing, not the server's).
  const connectStart = now();
  const GROUP = 100;
  for (let g = 0; g < n; g += GROUP) {
    const connected: Promise<void>[] = [];
    for (let i = g; i < Math.min(n, g + GROUP); i++) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${cfg.token}` },
        lazy: true,
        retryAttempts: 0,
      });
      clients.push(client);
      connected.push(new Promise((resolve) => client.on('connected', () => resolve())));
      unsubscribe.push(
        client.subscribe(
          { query: SUBSCRIPTION_QUERY },
          {
            next: (msg) => {
              const t = now();
              const ev = (msg.data as { orderEvents?: { at: string; order: { id: string } } } | null | undefined)?.orderEvents;
              if (!ev || msg.errors?.length) {
                errors++;
                lastError = JSON.stringify(msg.errors ?? msg).slice(0, 300);
                return;
              }
              perClient[i] = perClient[i]! + 1;
              let list = arrivals.get(ev.order.id);
              if (!list) arrivals.set(ev.order.id, (list = []));
              list.push(t);
              if (!atOf.has(ev.order.id)) atOf.set(ev.order.id, Date.parse(ev.at));
            },
            error: (e) => {
              errors++;
              lastError = e instanceof Error ? e.message : JSON.stringify(e).slice(0, 300);
            },
            complete: () => undefined,
          },
        ),
      );
    }
    const ok = await Promise.race([Promise.all(connected).then(() => true), sleep(30_000).then(() => false)]);
    if (!ok) throw new Error(`subscribers ${g}..${g + GROUP}: not all connected within 30 s (${errors} errors; ${lastError})`);
  }
  const connectSeconds = (now() - connectStart) / 1000;

  let written = 0;
  const place = async () => {
    const i = written++;
    const lines = Array.from({ length: cfg.lines }, (_, k) => ({ productId: cfg.products[(i * 7 + k * 131) % cfg.products.length]!, quantity: 1 }));
    const started = now();
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.token}` },
      body: JSON.stringify({ query: PLACE_ORDER, variables: { input: { userId: cfg.users[i % cfg.users.length], lines } } }),
    });
    const body = (await res.json()) as { data?: { placeOrder?: { id: string } }; errors?: unknown; extensions?: { dynamodb?: { calls: number } } };
    const answered = now();
    const id = body.data?.placeOrder?.id;
    if (!id) throw new Error(`placeOrder failed: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
    return { id, started, answered, calls: body.extensions?.dynamodb?.calls ?? Number.NaN };
  };

  // Warm-up: orders until every subscriber has received one (all registered, reader positioned),
  // then until every subscriber has received the last one (nothing left in any queue).
  const warmStart = now();
  let warmupWrites = 0;
  let lastWarm = '';
  const everyone = () => perClient.every((c) => c > 0);
  while (!everyone()) {
    if (now() - warmStart > 90_000) throw new Error(`warm-up: ${perClient.filter((c) => c > 0).length}/${n} subscribers received an event in 90 s (${errors} errors; ${lastError})`);
    lastWarm = (await place()).id;
    warmupWrites++;
    await until(everyone, 400);
  }
  if (!(await until(() => (arrivals.get(lastWarm)?.length ?? 0) >= n, 30_000))) throw new Error('warm-up: the last warm-up event did not reach every subscriber');
  await sleep(300);
  const warmupSeconds = (now() - warmStart) / 1000;

  const before = await counters(server.control);
  const cpuBefore = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const windowStart = now();

  const measured: Awaited<ReturnType<typeof place>>[] = [];
  for (let k = 0; k < cfg.writes; k++) {
    const w = await place();
    measured.push(w);
    const wait = cfg.intervalMs - (now() - w.started);
    if (wait > 0) await sleep(wait);
  }
  await until(() => measured.every((w) => (arrivals.get(w.id)?.length ?? 0) >= n), 30_000);
  await sleep(200); // any call still in flight for the last event
  const windowSeconds = (now() - windowStart) / 1000;
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const after = await counters(server.control);
  const peak = after.memory.peakRssMB;

  for (const u of unsubscribe) u();
  await Promise.all(clients.map((c) => c.dispose()));

  const latencies: number[] = [];
  const afterResponse: number[] = [];
  let delivered = 0;
  for (const w of measured) {
    const at = atOf.get(w.id);
    for (const t of arrivals.get(w.id) ?? []) {
      delivered++;
      if (at !== undefined) latencies.push(t - at);
      afterResponse.push(t - w.answered);
    }
  }
  const events = measured.length;
  const outside = diff(before.outsideRequest, after.outsideRequest);
  const allTable = sum(diff(before.request, after.request)) + sum(outside);
  const mutationCalls = measured.reduce((s, w) => s + w.calls, 0);
  const stream = diff(before.stream, after.stream);
  const row: LiveRow = {
    subscribers: n,
    connectSeconds,
    warmupWrites,
    warmupSeconds,
    writes: events,
    intervalMs: cfg.intervalMs,
    writesPerSecond: events > 1 ? (events - 1) / ((measured.at(-1)!.started - measured[0]!.started) / 1000) : Number.NaN,
    expectedDeliveries: events * n,
    delivered,
    lost: events * n - delivered,
    errors,
    latencyMs: percentiles(latencies),
    afterResponseMs: percentiles(afterResponse),
    mutationMs: percentiles(measured.map((w) => w.answered - w.started)),
    mutationCallsPerWrite: mutationCalls / events,
    tableCallsPerEvent: sum(outside) / events,
    tableCallsPerEventBySubtraction: (allTable - mutationCalls) / events,
    operationsPerEvent: Object.fromEntries(Object.entries(outside).map(([k, v]) => [k, v / events])),
    streamCallsPerSecond: sum(stream) / windowSeconds,
    streamOperations: stream,
    windowSeconds,
    serverCpuMsPerEvent: (after.cpuMs - before.cpuMs) / events,
    rssMB: { idle: server.idleRssMB, subscribed: before.memory.rssMB, after: after.memory.rssMB, peak },
    harness: {
      cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / (windowSeconds * 1000)) * 100,
      eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    },
  };
  if (errors) log(`  ! ${errors} subscription errors, e.g. ${lastError}`);
  return row;
}
