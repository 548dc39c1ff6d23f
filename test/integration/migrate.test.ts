/**
 * `npm run migrate` (src/db/migrate.ts, scripts/migrate.ts) on tables laid out as version 1 of
 * the key design (no design record, unsharded status index, idempotency records without an
 * expiry, legacy global keys) and as version 2 with another shard count, then served.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { DESIGN_KEY, DESIGN_VERSION, readDesign, TTL_ATTRIBUTE, writeDesign } from '../../src/db/design.js';
import { keys, statusShard } from '../../src/db/keys.js';
import { checkpointKey, migrateTable, MIGRATION_PARTITION, type MigrationProgress, type MigrationReport } from '../../src/db/migrate.js';
import {
  IDEMPOTENCY_ENTITY,
  ORDER_ENTITY,
  ORDER_STATUSES,
  orderLineToItem,
  orderToItem,
  type Order,
  type OrderStatus,
} from '../../src/model/order.js';
import { productToItem } from '../../src/model/product.js';
import { userToItem } from '../../src/model/user.js';
import { orderFingerprint } from '../../src/repositories/order-repository.js';
import { createTestDatabase, dropTestDatabase, dynamoEndpoint } from '../helpers/dynamo.js';
import { placeOrder } from '../helpers/factories.js';
import { startTestServer } from '../helpers/server.js';
import { cleanUp, root, runScript, tempDataDir } from './processes.js';

type Item = Record<string, any>;

const TTL_SECONDS = 24 * 3600;
const PRODUCT_ID = 'product-migrate';
const LIVE_LINES = [{ productId: PRODUCT_ID, quantity: 2 }];

// ------------------------------------------------------------------------------------------
// Fixtures, written straight into the table (BatchWriteItem)

async function batchPut(db: Database, items: Item[]): Promise<void> {
  const chunks: Item[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      let requests = chunks[next++]!.map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[db.tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

async function scanAll(db: Database): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.doc.send(new ScanCommand({ TableName: db.tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => (a.PK + '\u0000' + a.SK < b.PK + '\u0000' + b.SK ? -1 : 1));
}

async function getItem(db: Database, key: { PK: string; SK: string }): Promise<Item | undefined> {
  return (await db.doc.send(new GetCommand({ TableName: db.tableName, Key: key, ConsistentRead: true }))).Item as Item | undefined;
}

async function ttlOf(db: Database) {
  return (await db.client.send(new DescribeTimeToLiveCommand({ TableName: db.tableName }))).TimeToLiveDescription;
}

interface Fixture {
  db: Database;
  orders: Order[];
  /** Keys of the per-user records written without an expiry. */
  unexpiring: { PK: string; SK: string }[];
  liveOrder: Order;
  twinOrder: Order;
  /** Data items in the table (the design record not counted, as the migration does not count it). */
  total: number;
}

/**
 * A table with `orders` orders laid out for `shards` status shards. `v1`: as version 1 left it:
 * no design record, no TTL, unsharded status keys, per-user idempotency records without an
 * expiry and three legacy records (one whose order exists, one whose order is gone, one whose
 * per-user twin exists already).
 */
async function buildTable(opts: { orders: number; v1: boolean; shards?: number }): Promise<Fixture> {
  const shards = opts.shards ?? 4;
  const db = await createTestDatabase({ statusShards: shards, idempotencyTtlSeconds: TTL_SECONDS });
  const items: Item[] = [];
  const now = new Date().toISOString();
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  for (const id of users) {
    items.push(userToItem({ id, email: `${id}@example.com`, name: id, orderCount: 0, addressCount: 0, createdAt: now, updatedAt: now }));
  }
  items.push(productToItem({ id: PRODUCT_ID, name: 'Widget', description: null, priceCents: 500, stock: 1000, featured: true, createdAt: now, updatedAt: now }));
  const base = Date.parse('2024-01-01T00:00:00.000Z');
  const orders: Order[] = [];
  for (let i = 0; i < opts.orders; i++) {
    const time = base + i * 60_000;
    const createdAt = new Date(time).toISOString();
    const o: Order = {
      id: ulid(time),
      userId: users[i % users.length]!,
      status: ORDER_STATUSES[i % ORDER_STATUSES.length]!,
      totalCents: 1000,
      itemCount: 1,
      createdAt,
      updatedAt: createdAt,
    };
    orders.push(o);
    const item = orderToItem(o, shards);
    items.push(opts.v1 ? { ...item, GSI3PK: `STATUS#${o.status}` } : item);
    if (i % 20 === 0 || i === 2) {
      items.push(
        orderLineToItem(o.userId, {
          id: `${o.id}-1`,
          orderId: o.id,
          line: 1,
          productId: PRODUCT_ID,
          productName: 'Widget',
          unitPriceCents: 500,
          quantity: 2,
          lineTotalCents: 1000,
        }),
      );
    }
  }
  const liveOrder = orders[2]!; // user-2, one line of 2 × PRODUCT_ID
  const twinOrder = orders[3]!; // user-3
  const unexpiring: { PK: string; SK: string }[] = [];
  if (opts.v1) {
    for (let j = 0; j < 8; j++) {
      const key = keys.idempotency('user-1', `per-user-${j}`);
      unexpiring.push(key);
      // Half of them long past their expiry: they get it all the same (TTL deletes them).
      const createdAt = j % 2 === 0 ? '2020-01-01T00:00:00.000Z' : now;
      items.push({ ...key, EntityType: IDEMPOTENCY_ENTITY, userId: 'user-1', orderId: orders[(13 + j * 12) % orders.length]!.id, fingerprint: `fp-${j}`, createdAt });
    }
    const legacy = (key: string, orderId: string, fingerprint: string) => ({
      ...keys.legacyIdempotency(key),
      EntityType: IDEMPOTENCY_ENTITY,
      orderId,
      fingerprint,
      createdAt: now,
    });
    items.push(legacy('legacy-live', liveOrder.id, orderFingerprint('user-2', LIVE_LINES)));
    items.push(legacy('legacy-gone', 'ORDER-THAT-IS-GONE', 'fp-gone'));
    items.push(legacy('legacy-twin', twinOrder.id, 'fp-twin'));
    items.push({
      ...keys.idempotency('user-3', 'legacy-twin'),
      EntityType: IDEMPOTENCY_ENTITY,
      userId: 'user-3',
      orderId: twinOrder.id,
      fingerprint: 'fp-twin',
      createdAt: now,
      [TTL_ATTRIBUTE]: Math.floor(Date.now() / 1000) + 3600,
    });
  }
  await batchPut(db, items);
  if (opts.v1) {
    await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: DESIGN_KEY }));
    await db.client.send(new UpdateTimeToLiveCommand({ TableName: db.tableName, TimeToLiveSpecification: { Enabled: false, AttributeName: TTL_ATTRIBUTE } }));
  }
  return { db, orders, unexpiring, liveOrder, twinOrder, total: items.length };
}

/** Every order header carries its status index key for `shards` shards. */
async function expectShardedOrders(db: Database, fixture: Fixture, shards: number): Promise<void> {
  const headers = (await scanAll(db)).filter((i) => i.EntityType === ORDER_ENTITY && i.SK === 'ORDER');
  expect(headers).toHaveLength(fixture.orders.length);
  const wrong = headers.filter((h) => h.GSI3PK !== keys.statusIndex(h.status, h.id, shards).GSI3PK || h.GSI3SK !== `ORDER#${h.id}`);
  expect(wrong.map((h) => `${h.id} ${h.GSI3PK}`)).toEqual([]);
}

const BY_STATUS = `query($status: OrderStatus!, $after: String) {
  ordersByStatus(status: $status, first: 100, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } } }`;

/** The server lists exactly the orders of each status, newest first, across pages. */
async function expectServedByStatus(db: Database, orders: Order[]): Promise<void> {
  const s = await startTestServer({ db });
  try {
    for (const status of ORDER_STATUSES) {
      const ids: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 100; page++) {
        const r: { data?: any; errors?: unknown } = await s.gql(BY_STATUS, { status, after });
        expect(r.errors).toBeUndefined();
        const conn: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = r.data.ordersByStatus;
        ids.push(...conn.edges.map((e) => e.node.id));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      const expected = orders.filter((o) => o.status === status).map((o) => o.id).sort().reverse();
      expect(ids, status).toEqual(expected);
    }
  } finally {
    await s.close();
  }
}

// ------------------------------------------------------------------------------------------
// The command as a child process

const children = new Set<ChildProcess>();

function migrateEnv(db: Database, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DYNAMODB_TARGET: 'endpoint',
    DYNAMODB_ENDPOINT: dynamoEndpoint(),
    TABLE_NAME: db.tableName,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    IDEMPOTENCY_TTL_HOURS: String(TTL_SECONDS / 3600),
    ...extra,
  };
}

/** Starts `scripts/migrate.ts` in its own process group; `done` resolves with its exit and output. */
function startMigrate(db: Database, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...migrateEnv(db, env) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, done, output: () => output };
}

/** Polls the checkpoint until `check` holds (or the time is up): its item then. */
async function waitForCheckpoint(db: Database, shards: number, check: (item: Item) => boolean, timeoutMs = 20_000): Promise<Item> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const item = await getItem(db, checkpointKey(DESIGN_VERSION, shards));
    if (item && check(item)) return item;
    if (Date.now() > deadline) throw new Error(`checkpoint never got there: ${JSON.stringify(item)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const positionsOf = (item: Item) => Object.values(item.positions as Record<string, string>);
const reportOf = (output: string): MigrationReport => JSON.parse(output.slice(output.indexOf('{\n'), output.lastIndexOf('\n}') + 2)) as MigrationReport;

afterAll(() => {
  for (const c of children) {
    try {
      if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  cleanUp();
});

// ------------------------------------------------------------------------------------------

describe('migrate: a version 1 table', () => {
  let f: Fixture;
  let db: Database;
  const ORDERS = 1200;

  beforeAll(async () => {
    f = await buildTable({ orders: ORDERS, v1: true });
    db = f.db;
  });
  afterAll(async () => {
    await dropTestDatabase(db);
  });

  it('dry run: reports exactly what it would change, with example keys, and writes nothing', async () => {
    const before = await scanAll(db);
    const report = await migrateTable(db, { targetShards: 4, ttlSeconds: TTL_SECONDS, dryRun: true, segments: 4, pageSize: 50 });
    expect(report.counts).toEqual({
      scanned: f.total,
      ordersResharded: ORDERS,
      keysGivenExpiry: 8,
      legacyConverted: 1,
      legacyDuplicatesRemoved: 1,
      legacyDropped: 1,
      malformed: 0,
      retries: 0,
    });
    expect(report.changes).toBe(ORDERS + 11);
    expect(report).toMatchObject({ dryRun: true, completed: true, ttl: 'would enable', design: 'would write', from: { version: 1, statusShards: null } });
    expect(report.examples.ordersResharded).toHaveLength(5);
    expect(report.examples.legacyDropped).toEqual([keys.legacyIdempotency('legacy-gone')]);
    expect(report.examples.legacyDuplicatesRemoved).toEqual([keys.legacyIdempotency('legacy-twin')]);
    for (const list of Object.values(report.examples)) for (const k of list) expect(Object.keys(k).sort()).toEqual(['PK', 'SK']);
    expect(await scanAll(db)).toEqual(before);
    expect((await ttlOf(db))?.TimeToLiveStatus).toBe('DISABLED');
  });

  it('full run: shards every order, gives every key an expiry, converts or drops legacy keys, enables TTL, records the design', async () => {
    const before = await scanAll(db);
    const progress: MigrationProgress[] = [];
    const report = await migrateTable(db, { targetShards: 4, ttlSeconds: TTL_SECONDS, segments: 4, pageSize: 50, onProgress: (p) => progress.push(p) });
    expect(report).toMatchObject({
      completed: true,
      resumed: null,
      ttl: 'enabled',
      design: 'written',
      changes: ORDERS + 11,
      counts: { ordersResharded: ORDERS, keysGivenExpiry: 8, legacyConverted: 1, legacyDuplicatesRemoved: 1, legacyDropped: 1, malformed: 0 },
    });
    // Every item once; the converted legacy key's new record too when it lands where the scan has not been yet.
    expect(report.counts.scanned).toBeGreaterThanOrEqual(f.total);
    expect(report.counts.scanned).toBeLessThanOrEqual(f.total + 1);
    // Progress came page by page (50 items a page over 4 segments) and ended done.
    expect(progress.length).toBeGreaterThan(f.total / 50);
    expect(progress.at(-1)).toMatchObject({ done: true, segmentsDone: 4, counts: { scanned: report.counts.scanned } });

    await expectShardedOrders(db, f, 4);
    const after = await scanAll(db);
    expect(after.filter((i) => i.SK === 'IDEMPOTENCY')).toEqual([]);
    const now = Math.floor(Date.now() / 1000);
    for (const key of f.unexpiring) {
      const was = before.find((i) => i.PK === key.PK && i.SK === key.SK)!;
      expect(await getItem(db, key)).toEqual({ ...was, [TTL_ATTRIBUTE]: Math.floor(Date.parse(was.createdAt) / 1000) + TTL_SECONDS });
    }
    const legacyLive = before.find((i) => i.PK === 'IDEMPOTENCY#legacy-live')!;
    expect(await getItem(db, keys.idempotency('user-2', 'legacy-live'))).toEqual({
      ...keys.idempotency('user-2', 'legacy-live'),
      EntityType: IDEMPOTENCY_ENTITY,
      userId: 'user-2',
      orderId: f.liveOrder.id,
      fingerprint: legacyLive.fingerprint,
      createdAt: legacyLive.createdAt,
      [TTL_ATTRIBUTE]: Math.floor(Date.parse(legacyLive.createdAt) / 1000) + TTL_SECONDS,
    });
    expect((await getItem(db, keys.idempotency('user-2', 'legacy-live')))![TTL_ATTRIBUTE]).toBeGreaterThan(now);
    // The twin is as it was; the dropped key left nothing behind.
    const twin = keys.idempotency('user-3', 'legacy-twin');
    expect(await getItem(db, twin)).toEqual(before.find((i) => i.PK === twin.PK && i.SK === twin.SK));
    expect(after.filter((i) => JSON.stringify(i).includes('legacy-gone'))).toEqual([]);
    // Everything that is not an order header or an idempotency record is untouched.
    const others = (items: Item[]) => items.filter((i) => !(i.EntityType === ORDER_ENTITY && i.SK === 'ORDER') && !String(i.PK).startsWith('IDEMPOTENCY#') && !String(i.PK).startsWith('META#'));
    expect(others(after)).toEqual(others(before));

    expect(await ttlOf(db)).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: TTL_ATTRIBUTE });
    expect(await readDesign(db.client, db.tableName)).toEqual({ version: 2, statusShards: 4 });
    expect(after.filter((i) => i.PK === MIGRATION_PARTITION)).toEqual([]);
  });

  it('the migrated table is served: ordersByStatus pages every status, a converted legacy key replays its order', async () => {
    await expectServedByStatus(db, f.orders);
    const s = await startTestServer({ db });
    try {
      const replay = await placeOrder(s, 'user-2', LIVE_LINES, 'legacy-live');
      expect(replay.errors).toBeUndefined();
      expect(replay.data!.placeOrder.id).toBe(f.liveOrder.id);
    } finally {
      await s.close();
    }
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = await scanAll(db);
    const report = await migrateTable(db, { targetShards: 4, ttlSeconds: TTL_SECONDS, segments: 4, pageSize: 50 });
    expect(report).toMatchObject({ completed: true, changes: 0, ttl: 'present', design: 'unchanged', from: { version: 2, statusShards: 4 } });
    // Every item but the design record (the table's own, like the checkpoint).
    expect(report.counts.scanned).toBe(before.length - 1);
    expect(await scanAll(db)).toEqual(before);
  });
});

describe('migrate: meeting a server', () => {
  it('an order changed between the scan and the write is read again: its new status re-sharded, or a current key kept', async () => {
    const f = await buildTable({ orders: 10, v1: true });
    const { db } = f;
    const [old, current] = [f.orders[0]!, f.orders[1]!];
    const serverWrites: Record<string, { status: OrderStatus; GSI3PK: string }> = {
      // A server still running version 1 cancels one order (unsharded key) ...
      [old.id]: { status: 'CANCELLED', GSI3PK: 'STATUS#CANCELLED' },
      // ... and one running version 2 ships another (its key is already the right one).
      [current.id]: { status: 'SHIPPED', GSI3PK: keys.statusIndex('SHIPPED', current.id, 4).GSI3PK },
    };
    const raced = new Set<string>();
    // Right before the migration's write of each of the two orders, the "server" writes first.
    db.client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { UpdateExpression?: string; Key?: { PK?: string | { S?: string } } };
        const pk = input.Key?.PK;
        const id = String(typeof pk === 'object' ? pk.S : pk).slice('ORDER#'.length);
        const change = serverWrites[id];
        if (input.UpdateExpression?.startsWith('SET GSI3PK') && change && !raced.has(id)) {
          raced.add(id);
          await db.doc.send(
            new UpdateCommand({
              TableName: db.tableName,
              Key: keys.order(id),
              UpdateExpression: 'SET #status = :s, GSI3PK = :pk',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':s': change.status, ':pk': change.GSI3PK },
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'serverRace' },
    );
    try {
      const report = await migrateTable(db, { targetShards: 4, ttlSeconds: TTL_SECONDS, segments: 2, pageSize: 5 });
      expect([...raced].sort()).toEqual([old.id, current.id].sort());
      expect(report.counts).toMatchObject({ ordersResharded: 9, retries: 2, malformed: 0 });
      expect(await getItem(db, keys.order(old.id))).toMatchObject({ status: 'CANCELLED', GSI3PK: keys.statusIndex('CANCELLED', old.id, 4).GSI3PK });
      expect(await getItem(db, keys.order(current.id))).toMatchObject({ status: 'SHIPPED', GSI3PK: keys.statusIndex('SHIPPED', current.id, 4).GSI3PK });
      await expectShardedOrders(db, f, 4);
    } finally {
      db.client.middlewareStack.remove('serverRace');
      await dropTestDatabase(db);
    }
  });
});

describe('migrate: the command', () => {
  it('resumes after being killed and after Ctrl-C, and ends with the table fully migrated', async () => {
    const f = await buildTable({ orders: 240, v1: true });
    const { db } = f;
    try {
      // STATUS_SHARDS picks the target (the table records none). The write cap slows the run
      // down so the kill lands in the middle of it.
      const env = { STATUS_SHARDS: '4' };
      const slow = ['--page-size', '20', '--segments', '2', '--max-writes-per-second', '60'];
      const first = startMigrate(db, slow, env);
      const seen = await waitForCheckpoint(db, 4, (i) => positionsOf(i).some((p) => p.startsWith('{')));
      process.kill(-first.child.pid!, 'SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      const killedAt = await getItem(db, checkpointKey(DESIGN_VERSION, 4));
      expect(killedAt!.counts.scanned).toBeGreaterThanOrEqual(seen.counts.scanned);
      expect(killedAt!.counts.scanned).toBeLessThan(f.total);
      expect(await readDesign(db.client, db.tableName)).toBeUndefined();

      // Ctrl-C: stops after the current pages with the checkpoint saved, exit code 130.
      const second = startMigrate(db, slow, env);
      await waitForCheckpoint(db, 4, (i) => i.counts.scanned > killedAt!.counts.scanned);
      process.kill(second.child.pid!, 'SIGINT');
      const stopped = await second.done;
      expect(stopped.code, stopped.output).toBe(130);
      expect(stopped.output).toMatch(/Resuming the migration .*items scanned so far/);
      expect(stopped.output).toMatch(/Stopped: table .* is not migrated yet; the checkpoint is saved/);
      const interrupted = await getItem(db, checkpointKey(DESIGN_VERSION, 4));
      expect(interrupted!.runs).toBe(2);
      expect(await readDesign(db.client, db.tableName)).toBeUndefined();

      const last = await startMigrate(db, ['--page-size', '20', '--json'], env).done;
      expect(last.code, last.output).toBe(0);
      expect(last.output).toMatch(/Resuming the migration/);
      const report = reportOf(last.output);
      expect(report.completed).toBe(true);
      expect(report.segments).toBe(2); // the checkpoint's
      expect(report.resumed!.counts.scanned).toBe(interrupted!.counts.scanned);
      expect(report.counts.scanned).toBeLessThan(f.total);
      // Together every item, but for legacy records deleted on a page the kill kept from its checkpoint
      // (processed again, they are gone by then).
      expect(report.counts.scanned + report.resumed!.counts.scanned).toBeGreaterThanOrEqual(f.total - 3);

      await expectShardedOrders(db, f, 4);
      const after = await scanAll(db);
      expect(after.filter((i) => i.SK === 'IDEMPOTENCY' || i.PK === MIGRATION_PARTITION)).toEqual([]);
      expect(after.filter((i) => String(i.PK).startsWith('IDEMPOTENCY#') && typeof i[TTL_ATTRIBUTE] !== 'number')).toEqual([]);
      expect(await getItem(db, keys.idempotency('user-2', 'legacy-live'))).toMatchObject({ userId: 'user-2', orderId: f.liveOrder.id });
      expect(await ttlOf(db)).toMatchObject({ TimeToLiveStatus: 'ENABLED' });
      expect(await readDesign(db.client, db.tableName)).toEqual({ version: 2, statusShards: 4 });
    } finally {
      await dropTestDatabase(db);
    }
  });

  it('re-shards a version 2 table (--shards 8), which the server then pages correctly', async () => {
    const f = await buildTable({ orders: 200, v1: false, shards: 4 });
    const { db } = f;
    try {
      const moving = f.orders.filter((o) => statusShard(o.id, 4) !== statusShard(o.id, 8)).length;
      expect(moving).toBeGreaterThan(0);
      const r = await runScript('migrate', ['--shards', '8', '--json', '--page-size', '50'], tempDataDir('migrate-'), migrateEnv(db));
      expect(r.code, r.output).toBe(0);
      const report = reportOf(r.output);
      expect(report).toMatchObject({ from: { version: 2, statusShards: 4 }, to: { version: 2, statusShards: 8 }, design: 'written' });
      expect(report.counts).toMatchObject({ ordersResharded: moving, keysGivenExpiry: 0, legacyConverted: 0 });
      expect(await readDesign(db.client, db.tableName)).toEqual({ version: 2, statusShards: 8 });
      await expectShardedOrders(db, f, 8);
      await expectServedByStatus({ ...db, layout: { statusShards: 8 } }, f.orders);
    } finally {
      await dropTestDatabase(db);
    }
  });

  it('reports nothing to change on a current table, and says that it scanned to know', async () => {
    const f = await buildTable({ orders: 20, v1: false, shards: 4 });
    try {
      const r = await runScript('migrate', [], tempDataDir('migrate-'), migrateEnv(f.db));
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/0 items changed/);
      expect(r.output).toMatch(/Nothing to change: every item was scanned to check/);
      expect(await readDesign(f.db.client, f.db.tableName)).toEqual({ version: 2, statusShards: 4 });
    } finally {
      await dropTestDatabase(f.db);
    }
  });

  it('refuses a table with a newer design (version 3): exit code 1, one line naming the version, nothing changed', async () => {
    const db = await createTestDatabase({ statusShards: 4 });
    try {
      await writeDesign(db.client, db.tableName, { version: 3, statusShards: 4 });
      const o: Order = { id: ulid(), userId: 'u', status: 'PAID' as OrderStatus, totalCents: 1, itemCount: 1, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() };
      await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { ...orderToItem(o, 4), GSI3PK: 'STATUS#PAID' } }));
      const before = await scanAll(db);
      const r = await runScript('migrate', [], tempDataDir('migrate-'), migrateEnv(db));
      expect(r.code).toBe(1);
      expect(r.output.trim().split('\n')).toHaveLength(1);
      expect(r.output).toMatch(/^migrate failed \(endpoint .*\): Table \S+ uses key design version 3, newer than this code's version 2/);
      expect(await scanAll(db)).toEqual(before);
    } finally {
      await dropTestDatabase(db);
    }
  });
});
