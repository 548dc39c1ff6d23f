import { describe, expect, it } from 'vitest';
import { DEFAULT_STATUS_SHARDS } from '../../src/db/design.js';
import { keys, statusShard } from '../../src/db/keys.js';
import {
  checkMigratable,
  checkpointFromItem,
  checkpointKey,
  checkpointToItem,
  decodePosition,
  emptyCounts,
  formatProgress,
  formatSummary,
  MigrationError,
  parseMigrateArgs,
  planItemChange,
  progressPercent,
  resolveTargetShards,
  TokenBucket,
  type Checkpoint,
  type MigrationProgress,
  type MigrationReport,
} from '../../src/db/migrate.js';
import { orderToItem, type Order } from '../../src/model/order.js';

const TTL = 24 * 3600;
const CREATED = '2024-05-01T10:00:00.000Z';
const CREATED_S = Date.parse(CREATED) / 1000;

const order = (over: Partial<Order> = {}): Order => ({
  id: '01HZZZZZZZZZZZZZZZZZZZZZZZ',
  userId: 'u1',
  status: 'PAID',
  totalCents: 100,
  itemCount: 1,
  createdAt: CREATED,
  updatedAt: CREATED,
  ...over,
});

describe('planItemChange', () => {
  it('re-shards a version 1 order header (unsharded STATUS#<status>), conditioned on what it read', () => {
    const o = order();
    const item = { ...orderToItem(o, 4), GSI3PK: 'STATUS#PAID' };
    const plan = planItemChange(item, 4, TTL);
    expect(plan).toEqual({
      action: 'reshard',
      key: keys.order(o.id),
      orderId: o.id,
      status: 'PAID',
      oldGSI3PK: 'STATUS#PAID',
      GSI3PK: `STATUS#PAID#${statusShard(o.id, 4)}`,
      GSI3SK: `ORDER#${o.id}`,
    });
  });

  it('leaves an order already in its shard alone, and re-shards it for another count', () => {
    // Ids whose shard differs between 4 and 8 shards, and one whose shard does not.
    const ids = Array.from({ length: 40 }, (_, i) => `01HZZZZZZZZZZZZZZZZZZZZZ${String(i).padStart(2, '0')}`);
    const moving = ids.find((id) => statusShard(id, 4) !== statusShard(id, 8))!;
    const staying = ids.find((id) => statusShard(id, 4) === statusShard(id, 8))!;
    expect(planItemChange(orderToItem(order({ id: moving }), 4), 4, TTL)).toEqual({ action: 'none', kind: 'order' });
    expect(planItemChange(orderToItem(order({ id: moving }), 4), 8, TTL)).toMatchObject({
      action: 'reshard',
      oldGSI3PK: `STATUS#PAID#${statusShard(moving, 4)}`,
      GSI3PK: `STATUS#PAID#${statusShard(moving, 8)}`,
    });
    expect(planItemChange(orderToItem(order({ id: staying }), 4), 8, TTL)).toEqual({ action: 'none', kind: 'order' });
  });

  it('gives an order without any status index key one, conditioned on its absence', () => {
    const { GSI3PK: _pk, GSI3SK: _sk, ...item } = orderToItem(order(), 4);
    expect(planItemChange(item, 4, TTL)).toMatchObject({ action: 'reshard', oldGSI3PK: undefined });
  });

  it('reports an order without a status as malformed', () => {
    const { status: _s, ...item } = orderToItem(order(), 4);
    expect(planItemChange(item, 4, TTL)).toEqual({ action: 'malformed', kind: 'order', key: keys.order(order().id), reason: 'no status' });
  });

  it('gives a per-user idempotency record without an expiry createdAt + the TTL (also when that is past)', () => {
    const item = { ...keys.idempotency('u1', 'k1'), userId: 'u1', orderId: 'o1', fingerprint: 'f', createdAt: CREATED };
    expect(planItemChange(item, 4, TTL)).toEqual({ action: 'expire', key: keys.idempotency('u1', 'k1'), expiresAt: CREATED_S + TTL });
    expect(planItemChange({ ...item, createdAt: '2024-05-01T10:00:00.999Z' }, 4, 60)).toMatchObject({ expiresAt: CREATED_S + 60 });
    expect(planItemChange({ ...item, expiresAt: 1 }, 4, TTL)).toEqual({ action: 'none', kind: 'idempotency' });
    expect(planItemChange({ ...item, createdAt: 'yesterday' }, 4, TTL)).toMatchObject({ action: 'malformed', kind: 'idempotency' });
  });

  it('plans the conversion of a legacy record (its owner comes from its order when applied)', () => {
    const item = { ...keys.legacyIdempotency('key#with#hashes'), EntityType: 'IdempotencyRecord', orderId: 'o1', fingerprint: 'f', createdAt: CREATED };
    expect(planItemChange(item, 4, TTL)).toEqual({
      action: 'convertLegacy',
      key: keys.legacyIdempotency('key#with#hashes'),
      idempotencyKey: 'key#with#hashes',
      orderId: 'o1',
      fingerprint: 'f',
      createdAt: CREATED,
      expiresAt: CREATED_S + TTL,
    });
    expect(planItemChange({ ...item, orderId: undefined }, 4, TTL)).toMatchObject({ action: 'malformed', kind: 'legacy' });
    expect(planItemChange({ ...item, fingerprint: 3 }, 4, TTL)).toMatchObject({ action: 'malformed', kind: 'legacy' });
  });

  it('skips the table\'s own META# items and every other kind of item', () => {
    expect(planItemChange({ PK: 'META#DESIGN', SK: 'DESIGN', version: 1 }, 4, TTL)).toEqual({ action: 'skip', kind: 'meta' });
    expect(planItemChange({ ...checkpointKey(2, 4) }, 4, TTL)).toEqual({ action: 'skip', kind: 'meta' });
    for (const item of [
      { ...keys.user('u1'), EntityType: 'User' },
      { ...keys.orderItem('o1', 1), EntityType: 'OrderItem' },
      { ...keys.product('p1'), EntityType: 'Product' },
      { ...keys.email('a@b.c'), EntityType: 'EmailReservation' },
      // An ORDER item without the Order entity type is not an order header.
      { ...keys.order('o1'), EntityType: 'Something', status: 'PAID' },
      { SK: 'x' },
    ]) {
      expect(planItemChange(item, 4, TTL)).toEqual({ action: 'skip', kind: 'other' });
    }
  });
});

describe('resolveTargetShards and checkMigratable', () => {
  it('takes --shards, else STATUS_SHARDS, else the recorded count, else the default', () => {
    expect(resolveTargetShards(16, 4, 2)).toBe(16);
    expect(resolveTargetShards(undefined, 4, 2)).toBe(4);
    expect(resolveTargetShards(undefined, undefined, 2)).toBe(2);
    expect(resolveTargetShards(undefined, undefined, undefined)).toBe(DEFAULT_STATUS_SHARDS);
  });

  it('refuses a table newer than this code, naming its version', () => {
    expect(() => checkMigratable('t', { version: 3, statusShards: 4 })).toThrow(MigrationError);
    expect(() => checkMigratable('t', { version: 3, statusShards: 4 })).toThrow(/version 3/);
    expect(() => checkMigratable('t', { version: 2, statusShards: 4 })).not.toThrow();
    expect(() => checkMigratable('t', undefined)).not.toThrow();
  });
});

describe('the checkpoint', () => {
  it('stores each segment as start, done or its LastEvaluatedKey as JSON, and reads back what it stored', () => {
    const c: Checkpoint = {
      version: 2,
      statusShards: 4,
      segments: 3,
      positions: [{ state: 'start' }, { state: 'done' }, { state: 'after', key: { PK: 'ORDER#1', SK: 'ORDER' } }],
      counts: { ...emptyCounts(), scanned: 40, ordersResharded: 7 },
      startedAt: CREATED,
      updatedAt: CREATED,
      runs: 2,
    };
    const item = checkpointToItem(c);
    expect(item).toMatchObject({
      PK: 'META#MIGRATION',
      SK: 'TO#2#SHARDS#4',
      segments: 3,
      positions: { '0': 'start', '1': 'done', '2': '{"PK":"ORDER#1","SK":"ORDER"}' },
      counts: { scanned: 40, ordersResharded: 7 },
    });
    expect(checkpointFromItem(item)).toEqual(c);
  });

  it('refuses an unreadable checkpoint with a pointer to --restart', () => {
    expect(() => decodePosition('{not json')).toThrow(/--restart/);
    expect(() => checkpointFromItem({ ...checkpointKey(2, 4), version: 2, statusShards: 4, positions: {} })).toThrow(/--restart/);
  });
});

describe('progress and summary', () => {
  const p = (over: Partial<MigrationProgress> = {}): MigrationProgress => ({
    dryRun: false,
    counts: { ...emptyCounts(), scanned: 12_345, ordersResharded: 3_210, keysGivenExpiry: 12, legacyConverted: 3 },
    segments: 4,
    segmentsDone: 2,
    estimatedItems: 23_740,
    done: false,
    ...over,
  });

  it('shows a bar, a percentage and the counts on one line', () => {
    expect(formatProgress(p())).toBe(
      'migrate [#####-----] 52% 12,345 scanned · 3,210 orders re-sharded · 12 keys given an expiry · 3 legacy keys converted · 2/4 segments done',
    );
    expect(formatProgress(p({ dryRun: true }))).toMatch(/^migrate \(dry run\) .* 3,210 orders to re-shard/);
  });

  it('caps the percentage at 99 until done (the item count is approximate) and shows ? without one', () => {
    expect(progressPercent(p({ estimatedItems: 100 }))).toBe(99);
    expect(progressPercent(p({ estimatedItems: 100, done: true }))).toBe(100);
    expect(progressPercent(p({ estimatedItems: 0 }))).toBeUndefined();
    expect(formatProgress(p({ estimatedItems: undefined }))).toMatch(/^migrate \[-{10}\] \?% /);
  });

  it('summarises a dry run with example keys, and says so when nothing would change', () => {
    const report: MigrationReport = {
      table: 't',
      dryRun: true,
      from: { version: 1, statusShards: null },
      to: { version: 2, statusShards: 4 },
      segments: 4,
      pageSize: 500,
      completed: true,
      resumed: null,
      counts: { ...emptyCounts(), scanned: 10, legacyDropped: 1 },
      totals: { ...emptyCounts(), scanned: 10, legacyDropped: 1 },
      changes: 1,
      examples: { ordersResharded: [], keysGivenExpiry: [], legacyConverted: [], legacyDuplicatesRemoved: [], legacyDropped: [{ PK: 'IDEMPOTENCY#k', SK: 'IDEMPOTENCY' }], malformed: [] },
      ttl: 'would enable',
      design: 'would write',
      inProgress: null,
      durationMs: 1234,
    };
    const text = formatSummary(report).join('\n');
    expect(text).toMatch(/nothing was written/);
    expect(text).toMatch(/1 legacy keys to drop \(order gone\), e\.g\. IDEMPOTENCY#k IDEMPOTENCY/);
    expect(text).toMatch(/TTL on expiresAt would be enabled/);
    const none = formatSummary({ ...report, dryRun: false, counts: emptyCounts(), changes: 0, ttl: 'present', design: 'unchanged' }).join('\n');
    expect(none).toMatch(/0 items changed/);
    expect(none).toMatch(/every item was scanned to check/);
  });
});

describe('parseMigrateArgs', () => {
  it('reads the flags with their defaults', () => {
    expect(parseMigrateArgs([])).toEqual({
      help: false,
      dryRun: false,
      shards: undefined,
      segments: undefined,
      pageSize: 500,
      restart: false,
      maxWritesPerSecond: undefined,
      json: false,
    });
    expect(
      parseMigrateArgs(['--dry-run', '--shards', '8', '--segments', '2', '--page-size', '20', '--restart', '--json', '--max-writes-per-second', '50']),
    ).toEqual({ help: false, dryRun: true, shards: 8, segments: 2, pageSize: 20, restart: true, maxWritesPerSecond: 50, json: true });
  });

  it('names the flag and its range for a bad value or an unknown flag', () => {
    expect(() => parseMigrateArgs(['--segments', '65'])).toThrow('--segments accepts a whole number from 1 to 64; got "65"');
    expect(() => parseMigrateArgs(['--shards', '0'])).toThrow(/--shards accepts a whole number from 1 to 64/);
    expect(() => parseMigrateArgs(['--page-size', 'lots'])).toThrow(/--page-size/);
    expect(() => parseMigrateArgs(['--shard', '8'])).toThrow(/--shard.*--help/);
  });
});

describe('TokenBucket', () => {
  it('lets a tenth of a second\'s writes through at once, then paces them', async () => {
    let now = 0;
    const waits: number[] = [];
    const bucket = new TokenBucket(100, () => now, async (ms) => {
      waits.push(ms);
      now += ms;
    });
    for (let i = 0; i < 10; i++) await bucket.take();
    expect(waits).toEqual([]);
    await bucket.take();
    expect(now).toBeCloseTo(10, 5);
    await bucket.take(5);
    expect(now).toBeCloseTo(60, 5);
  });
});
