/**
 * `npm run migrate` (scripts/migrate.ts): brings an existing table to the current key design
 * (design.ts, DESIGN_VERSION) by scanning it once, in parallel segments, and rewriting what the
 * current design says differently:
 *   - order headers: GSI3PK is the status index key of `statusShards` shards (version 1 had one
 *     unsharded `STATUS#<status>`; a re-shard changes the count);
 *   - per-user idempotency records without `expiresAt` get one (createdAt + the TTL);
 *   - legacy idempotency records (`IDEMPOTENCY#<key>` / `IDEMPOTENCY`) become per-user records of
 *     their order's owner (dropped when the order is gone);
 *   - DynamoDB's TTL on `expiresAt`; and, once every segment has finished, the design record.
 *
 * Every change is conditional on what was read and idempotent, so a run may meet a serving
 * server, a crash, or a second run of itself. Progress is checkpointed in the table itself
 * (one item under `META#MIGRATION`) after every page of every segment: a run stopped or killed
 * continues where each segment stopped, from any machine.
 */
import { ConditionalCheckFailedException, DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseArgs } from 'node:util';
import { IDEMPOTENCY_ENTITY, ORDER_ENTITY } from '../model/order.js';
import type { Database } from './database.js';
import {
  DEFAULT_STATUS_SHARDS,
  DESIGN_VERSION,
  DesignError,
  MAX_STATUS_SHARDS,
  TTL_ATTRIBUTE,
  ensureTimeToLive,
  readDesign,
  writeDesign,
  type TableDesign,
} from './design.js';
import { PREFIX, SORT, keys, type TableKey } from './keys.js';
import { transactWrite, TransactionCancelledError } from './transact.js';

/** Items under this prefix (the design record, the checkpoint) are the table's own, never data. */
export const META_PREFIX = 'META#';
export const MIGRATION_PARTITION = `${META_PREFIX}MIGRATION`;

/** The checkpoint of a migration to `version` with `statusShards` shards (one per target). */
export const checkpointKey = (version: number, statusShards: number): TableKey => ({
  PK: MIGRATION_PARTITION,
  SK: `TO#${version}#SHARDS#${statusShards}`,
});

export const DEFAULT_SEGMENTS = 4;
export const MAX_SEGMENTS = 64;
export const DEFAULT_PAGE_SIZE = 500;
export const MAX_PAGE_SIZE = 10_000;
/** Writes in flight per segment while a page is applied. */
export const WRITE_CONCURRENCY = 8;
/** Writes of one item at most when a server keeps changing it under us. */
export const CHANGE_ATTEMPTS = 5;
/** Example keys kept per kind of change (keys only, never attribute values). */
export const MAX_EXAMPLES = 5;

/** What a run changes (or, dry, would change), per kind. */
export const CHANGE_KINDS = ['ordersResharded', 'keysGivenExpiry', 'legacyConverted', 'legacyDuplicatesRemoved', 'legacyDropped'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface MigrationCounts extends Record<ChangeKind, number> {
  /** Items read by the scan, but for the table's own META# items (the design record, the checkpoint). */
  scanned: number;
  /** Orders or idempotency records that cannot be migrated as they are (listed in examples). */
  malformed: number;
  /** Conditional writes that found the item changed meanwhile (by a server), read again and retried. */
  retries: number;
}

export const COUNT_NAMES = ['scanned', ...CHANGE_KINDS, 'malformed', 'retries'] as const satisfies readonly (keyof MigrationCounts)[];

export const emptyCounts = (): MigrationCounts => ({
  scanned: 0,
  ordersResharded: 0,
  keysGivenExpiry: 0,
  legacyConverted: 0,
  legacyDuplicatesRemoved: 0,
  legacyDropped: 0,
  malformed: 0,
  retries: 0,
});

export const changesIn = (c: MigrationCounts): number => CHANGE_KINDS.reduce((n, k) => n + c[k], 0);

function addCounts(into: MigrationCounts, delta: MigrationCounts): void {
  for (const k of COUNT_NAMES) into[k] += delta[k];
}

/** Stopped by a rule of the migration (a newer table, a vanished checkpoint, ...): the message says it all. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

// ---------------------------------------------------------------------------------------------
// What to do with one item (pure)

type Item = Record<string, unknown>;

export type ItemPlan =
  /** Not one of the three kinds (users, lines, products, ...), or the table's own META# items. */
  | { action: 'skip'; kind: 'meta' | 'other' }
  /** One of the three kinds, already as the current design wants it. */
  | { action: 'none'; kind: 'order' | 'idempotency' }
  | { action: 'malformed'; kind: 'order' | 'idempotency' | 'legacy'; key: TableKey; reason: string }
  | {
      action: 'reshard';
      key: TableKey;
      orderId: string;
      status: string;
      /** GSI3PK as read (the write's condition); undefined when the item had none. */
      oldGSI3PK: string | undefined;
      GSI3PK: string;
      GSI3SK: string;
    }
  | { action: 'expire'; key: TableKey; expiresAt: number }
  | {
      action: 'convertLegacy';
      key: TableKey;
      /** The client's idempotency key (the legacy PK without its prefix). */
      idempotencyKey: string;
      orderId: string;
      fingerprint: string;
      createdAt: string;
      expiresAt: number;
    };

/** Whole seconds since the epoch of an ISO time, or undefined when it is not one. */
export function epochSecondsOf(iso: unknown): number | undefined {
  if (typeof iso !== 'string') return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** When a record created at `createdAt` stops answering for its key (and TTL may delete it). */
export function expiryOf(createdAt: unknown, ttlSeconds: number): number | undefined {
  const s = epochSecondsOf(createdAt);
  return s === undefined ? undefined : s + ttlSeconds;
}

/**
 * Pure: what the current design (status index of `targetShards` shards, records expiring
 * `ttlSeconds` after their creation) asks of one scanned item. Legacy records still need their
 * order's owner, which the plan cannot know: `convertLegacy` is resolved when applied.
 */
export function planItemChange(item: Item, targetShards: number, ttlSeconds: number): ItemPlan {
  const PK = item.PK;
  const SK = item.SK;
  if (typeof PK !== 'string' || typeof SK !== 'string') return { action: 'skip', kind: 'other' };
  if (PK.startsWith(META_PREFIX)) return { action: 'skip', kind: 'meta' };
  const key = { PK, SK };

  if (SK === SORT.order && PK.startsWith(PREFIX.order) && item.EntityType === ORDER_ENTITY) {
    const orderId = PK.slice(PREFIX.order.length);
    const status = item.status;
    if (typeof status !== 'string' || status === '') return { action: 'malformed', kind: 'order', key, reason: 'no status' };
    const target = keys.statusIndex(status, orderId, targetShards);
    const old = item.GSI3PK;
    if (old === target.GSI3PK && item.GSI3SK === target.GSI3SK) return { action: 'none', kind: 'order' };
    if (old !== undefined && typeof old !== 'string') return { action: 'malformed', kind: 'order', key, reason: 'GSI3PK is not a string' };
    return { action: 'reshard', key, orderId, status, oldGSI3PK: old, GSI3PK: target.GSI3PK, GSI3SK: target.GSI3SK };
  }

  if (PK.startsWith(PREFIX.idempotency) && SK.startsWith(PREFIX.idempotencyKey)) {
    if (item[TTL_ATTRIBUTE] !== undefined) return { action: 'none', kind: 'idempotency' };
    const expiresAt = expiryOf(item.createdAt, ttlSeconds);
    if (expiresAt === undefined) return { action: 'malformed', kind: 'idempotency', key, reason: 'createdAt is not a time' };
    return { action: 'expire', key, expiresAt };
  }

  if (PK.startsWith(PREFIX.idempotency) && SK === SORT.idempotency) {
    const { orderId, fingerprint, createdAt } = item;
    if (typeof orderId !== 'string' || orderId === '') return { action: 'malformed', kind: 'legacy', key, reason: 'no orderId' };
    if (typeof fingerprint !== 'string') return { action: 'malformed', kind: 'legacy', key, reason: 'no fingerprint' };
    // A record that somehow has an expiry keeps it.
    const own = item[TTL_ATTRIBUTE];
    const expiresAt = typeof own === 'number' ? own : expiryOf(createdAt, ttlSeconds);
    if (expiresAt === undefined || typeof createdAt !== 'string') return { action: 'malformed', kind: 'legacy', key, reason: 'createdAt is not a time' };
    return { action: 'convertLegacy', key, idempotencyKey: PK.slice(PREFIX.idempotency.length), orderId, fingerprint, createdAt, expiresAt };
  }

  return { action: 'skip', kind: 'other' };
}

/**
 * Pure: the status shards to lay out: `--shards`, else STATUS_SHARDS, else the count the table
 * records, else the default.
 */
export function resolveTargetShards(flag: number | undefined, configured: number | undefined, recorded: number | undefined): number {
  return flag ?? configured ?? recorded ?? DEFAULT_STATUS_SHARDS;
}

/** Pure: refuses a table this code cannot migrate (newer than it). */
export function checkMigratable(tableName: string, design: TableDesign | undefined): void {
  if (design && design.version > DESIGN_VERSION) {
    throw new MigrationError(
      `Table ${tableName} uses key design version ${design.version}, newer than this code's version ${DESIGN_VERSION}: ` +
        'nothing to migrate here; run the migration (and the server) of a newer version of the project.',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The checkpoint

/** Where one segment stands: not begun, finished, or after this key (LastEvaluatedKey). */
export type SegmentPosition = { state: 'start' } | { state: 'done' } | { state: 'after'; key: Record<string, unknown> };

export interface Checkpoint {
  version: number;
  statusShards: number;
  segments: number;
  positions: SegmentPosition[];
  /** Counts of the runs so far (changes made, items scanned). */
  counts: MigrationCounts;
  startedAt: string;
  updatedAt: string;
  runs: number;
}

/** Pure: how a position is stored: `start`, `done`, or the LastEvaluatedKey as a JSON string. */
export function encodePosition(p: SegmentPosition): string {
  return p.state === 'after' ? JSON.stringify(p.key) : p.state;
}

export function decodePosition(s: unknown): SegmentPosition {
  if (s === 'start' || s === 'done') return { state: s };
  if (typeof s === 'string') {
    try {
      const key = JSON.parse(s) as unknown;
      if (key && typeof key === 'object' && !Array.isArray(key)) return { state: 'after', key: key as Record<string, unknown> };
    } catch {
      // fall through
    }
  }
  throw new MigrationError(`The migration checkpoint holds an unreadable segment position (${JSON.stringify(s)}); run again with --restart`);
}

/** Pure: the checkpoint item. */
export function checkpointToItem(c: Checkpoint): Item {
  return {
    ...checkpointKey(c.version, c.statusShards),
    version: c.version,
    statusShards: c.statusShards,
    segments: c.segments,
    positions: Object.fromEntries(c.positions.map((p, i) => [String(i), encodePosition(p)])),
    counts: { ...c.counts },
    startedAt: c.startedAt,
    updatedAt: c.updatedAt,
    runs: c.runs,
  };
}

/** Pure: the checkpoint an item holds; a MigrationError (run with --restart) when it is unreadable. */
export function checkpointFromItem(item: Item): Checkpoint {
  const bad = (why: string) => new MigrationError(`The migration checkpoint (${String(item.SK)}) is unreadable: ${why}; run again with --restart`);
  const { version, statusShards, segments, positions, counts } = item;
  if (typeof version !== 'number' || typeof statusShards !== 'number') throw bad('no target');
  if (typeof segments !== 'number' || !Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) throw bad('no segment count');
  if (!positions || typeof positions !== 'object') throw bad('no positions');
  const pos = positions as Record<string, unknown>;
  const c = emptyCounts();
  for (const k of COUNT_NAMES) {
    const v = (counts as Record<string, unknown> | undefined)?.[k];
    if (typeof v === 'number') c[k] = v;
  }
  return {
    version,
    statusShards,
    segments,
    positions: Array.from({ length: segments }, (_, i) => decodePosition(pos[String(i)] ?? 'start')),
    counts: c,
    startedAt: String(item.startedAt ?? ''),
    updatedAt: String(item.updatedAt ?? ''),
    runs: typeof item.runs === 'number' ? item.runs : 1,
  };
}

// ---------------------------------------------------------------------------------------------
// Throughput

/**
 * A token bucket: `take(n)` resolves once n writes fit in `perSecond` (bursts of a tenth of a
 * second's worth). Callers are served in order.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  readonly capacity: number;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    if (!(perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.capacity = Math.max(1, perSecond / 10);
    this.tokens = this.capacity;
    this.last = now();
  }

  take(n = 1): Promise<void> {
    const turn = this.queue.then(() => this.acquire(n));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async acquire(n: number): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
      this.last = t;
      // More than the bucket holds at once: wait for a full bucket, then go into debt.
      const need = Math.min(n, this.capacity);
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      await this.sleep(((need - this.tokens) / this.perSecond) * 1000);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

export interface MigrationProgress {
  dryRun: boolean;
  /** Counts so far, resumed runs' included. */
  counts: MigrationCounts;
  segments: number;
  segmentsDone: number;
  /** DescribeTable's ItemCount when the run began (approximate; DynamoDB updates it about every 6 hours). */
  estimatedItems: number | undefined;
  /** Every segment has finished (the design record comes next). */
  done: boolean;
}

export interface MigrateOptions {
  targetShards: number;
  ttlSeconds: number;
  dryRun?: boolean;
  /** Parallel scan segments (1..64); a resumed run keeps its checkpoint's count. */
  segments?: number;
  /** Scan page size (Limit). */
  pageSize?: number;
  /** Ignore a saved checkpoint and scan from the start. */
  restart?: boolean;
  /** Caps item writes per second (the checkpoint's own writes not counted). */
  maxWritesPerSecond?: number;
  onProgress?: (p: MigrationProgress) => void;
  /** One-line notices: resuming, a checkpoint of another target, ... */
  onNotice?: (message: string) => void;
  /** Stops the run after each segment's current page (its checkpoint saved). */
  signal?: AbortSignal;
}

export interface MigrationReport {
  table: string;
  dryRun: boolean;
  /** The design the table had when the run began (version 1 when it has no record). */
  from: { version: number; statusShards: number | null; unreadable?: true };
  to: { version: number; statusShards: number };
  segments: number;
  pageSize: number;
  /** Every segment finished (false: stopped by the signal, the checkpoint saved). */
  completed: boolean;
  /** Set when this run continued a checkpoint: what the earlier runs had done. */
  resumed: { counts: MigrationCounts; segmentsDone: number; runs: number; startedAt: string } | null;
  /** This run's counts (a dry run: what it would change). */
  counts: MigrationCounts;
  /** Counts of this migration, the resumed runs' included. */
  totals: MigrationCounts;
  /** Item changes of this run (a dry run: that it would make); the sum of the change kinds. */
  changes: number;
  /** Up to 5 keys per kind of change, and of malformed items. */
  examples: Record<ChangeKind | 'malformed', TableKey[]>;
  ttl: 'present' | 'enabled' | 'would enable';
  design: 'written' | 'unchanged' | 'would write' | 'not yet';
  /** A dry run found a migration in progress (its checkpoint); never set otherwise. */
  inProgress: { statusShards: number; scanned: number; segmentsDone: number; segments: number } | null;
  durationMs: number;
}

interface RunContext {
  db: Database;
  opts: MigrateOptions;
  dryRun: boolean;
  bucket: TokenBucket | undefined;
  counts: MigrationCounts;
  examples: MigrationReport['examples'];
}

function example(ctx: RunContext, kind: ChangeKind | 'malformed', key: TableKey): void {
  const list = ctx.examples[kind];
  if (list.length < MAX_EXAMPLES) list.push({ PK: key.PK, SK: key.SK });
}

async function write(ctx: RunContext, n = 1): Promise<void> {
  await ctx.bucket?.take(n);
}

async function getItem(db: Database, key: TableKey): Promise<Item | undefined> {
  const out = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: { PK: key.PK, SK: key.SK }, ConsistentRead: true }));
  return out.Item as Item | undefined;
}

/** Applies one item's plan (or, dry, works out what it would do); adds to `delta`. */
async function applyPlan(ctx: RunContext, first: ItemPlan, delta: MigrationCounts): Promise<void> {
  let plan = first;
  if (plan.action === 'malformed') {
    delta.malformed++;
    example(ctx, 'malformed', plan.key);
    return;
  }
  if (plan.action === 'expire') {
    if (!ctx.dryRun) {
      await write(ctx);
      try {
        await ctx.db.doc.send(
          new UpdateCommand({
            TableName: ctx.db.tableName,
            Key: plan.key,
            UpdateExpression: 'SET #ttl = :e',
            ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(#ttl)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':e': plan.expiresAt },
          }),
        );
      } catch (e) {
        // It has an expiry now (a server rewrote the record), or it is gone.
        if (e instanceof ConditionalCheckFailedException) return;
        throw e;
      }
    }
    delta.keysGivenExpiry++;
    example(ctx, 'keysGivenExpiry', plan.key);
    return;
  }
  if (plan.action === 'convertLegacy') return convertLegacy(ctx, plan, delta);
  if (plan.action !== 'reshard') return;

  if (ctx.dryRun) {
    delta.ordersResharded++;
    example(ctx, 'ordersResharded', plan.key);
    return;
  }
  for (let attempt = 1; ; attempt++) {
    await write(ctx);
    try {
      await ctx.db.doc.send(
        new UpdateCommand({
          TableName: ctx.db.tableName,
          Key: plan.key,
          UpdateExpression: 'SET GSI3PK = :new, GSI3SK = :sk',
          // Only the item as read: a server that changed the status meanwhile wrote its own key.
          ConditionExpression:
            plan.oldGSI3PK === undefined ? '#status = :status AND attribute_not_exists(GSI3PK)' : '#status = :status AND GSI3PK = :old',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':new': plan.GSI3PK,
            ':sk': plan.GSI3SK,
            ':status': plan.status,
            ...(plan.oldGSI3PK === undefined ? {} : { ':old': plan.oldGSI3PK }),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      delta.ordersResharded++;
      example(ctx, 'ordersResharded', plan.key);
      return;
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      delta.retries++;
      // The item as it is now: from the failed write itself, else one consistent read.
      const current = e.Item ? (unmarshall(e.Item) as Item) : await getItem(ctx.db, plan.key);
      if (!current) return; // deleted meanwhile
      const again = planItemChange(current, ctx.opts.targetShards, ctx.opts.ttlSeconds);
      if (again.action === 'malformed') {
        delta.malformed++;
        example(ctx, 'malformed', again.key);
        return;
      }
      if (again.action !== 'reshard') return; // a server running the current design wrote the right key
      if (attempt >= CHANGE_ATTEMPTS) {
        throw new MigrationError(`Order ${plan.orderId} kept changing while its status index key was rewritten (${attempt} attempts); run the migration again`);
      }
      plan = again;
    }
  }
}

/**
 * A legacy record becomes the per-user record of its order's owner, in one transaction with
 * its deletion; when the per-user record exists already only the legacy one goes, and so it
 * does when its order is gone (nobody can replay it any more).
 */
async function convertLegacy(ctx: RunContext, plan: Extract<ItemPlan, { action: 'convertLegacy' }>, delta: MigrationCounts): Promise<void> {
  const { db } = ctx;
  const deleteLegacy = async (): Promise<boolean> => {
    await write(ctx);
    try {
      await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: plan.key, ConditionExpression: 'attribute_exists(PK)' }));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false; // someone else removed it
      throw e;
    }
  };
  const order = await getItem(db, keys.order(plan.orderId));
  if (!order) {
    if (ctx.dryRun || (await deleteLegacy())) {
      delta.legacyDropped++;
      example(ctx, 'legacyDropped', plan.key);
    }
    return;
  }
  const owner = order.userId;
  if (typeof owner !== 'string' || owner === '') {
    delta.malformed++;
    example(ctx, 'malformed', plan.key);
    return;
  }
  const perUser = keys.idempotency(owner, plan.idempotencyKey);
  if (ctx.dryRun) {
    const twin = await getItem(db, perUser);
    const kind = twin ? 'legacyDuplicatesRemoved' : 'legacyConverted';
    delta[kind]++;
    example(ctx, kind, plan.key);
    return;
  }
  await write(ctx, 2);
  try {
    await transactWrite(db.doc, [
      {
        label: 'put',
        action: {
          Put: {
            TableName: db.tableName,
            Item: {
              ...perUser,
              EntityType: IDEMPOTENCY_ENTITY,
              userId: owner,
              orderId: plan.orderId,
              fingerprint: plan.fingerprint,
              createdAt: plan.createdAt,
              [TTL_ATTRIBUTE]: plan.expiresAt,
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
      },
      { label: 'delete', action: { Delete: { TableName: db.tableName, Key: plan.key, ConditionExpression: 'attribute_exists(PK)' } } },
    ]);
    delta.legacyConverted++;
    example(ctx, 'legacyConverted', plan.key);
  } catch (e) {
    if (!(e instanceof TransactionCancelledError)) throw e;
    if (e.find('delete')) return; // converted (or dropped) by someone else meanwhile
    if (!e.find('put')) throw e;
    // The per-user record exists already (written by the server, or an earlier run): only the legacy one goes.
    if (await deleteLegacy()) {
      delta.legacyDuplicatesRemoved++;
      example(ctx, 'legacyDuplicatesRemoved', plan.key);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure wins (after the rest settle). */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.e;
}

async function estimateItems(db: Database): Promise<number | undefined> {
  try {
    const out = await db.client.send(new DescribeTableCommand({ TableName: db.tableName }));
    return out.Table?.ItemCount;
  } catch {
    return undefined; // only the progress bar's percentage needs it
  }
}

async function readCheckpoints(db: Database): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': MIGRATION_PARTITION },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

const vanished = () =>
  new MigrationError(
    'The migration checkpoint disappeared during the run: another `npm run migrate` finished or restarted this migration meanwhile. Run it again to check the table.',
  );

/**
 * Brings `db`'s table to the current key design with `opts.targetShards` status shards; see the
 * module comment. Resumes a checkpoint of the same target unless `restart`. A dry run writes
 * nothing (not the TTL, not a checkpoint) and reports what it would change.
 */
export async function migrateTable(db: Database, opts: MigrateOptions): Promise<MigrationReport> {
  const began = performance.now();
  const dryRun = opts.dryRun ?? false;
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  const target = { version: DESIGN_VERSION, statusShards: opts.targetShards };
  if (!Number.isInteger(target.statusShards) || target.statusShards < 1 || target.statusShards > MAX_STATUS_SHARDS) {
    throw new MigrationError(`The status shards must be a whole number from 1 to ${MAX_STATUS_SHARDS}; got ${opts.targetShards}`);
  }
  let segments = opts.segments ?? DEFAULT_SEGMENTS;
  const askedSegments = opts.segments;
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) {
    throw new MigrationError(`The scan segments must be a whole number from 1 to ${MAX_SEGMENTS}; got ${segments}`);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new MigrationError(`The page size must be a whole number from 1 to ${MAX_PAGE_SIZE}; got ${pageSize}`);
  }
  const notice = (m: string) => opts.onNotice?.(m);

  let design: TableDesign | undefined;
  let unreadable = false;
  try {
    design = await readDesign(db.client, db.tableName);
  } catch (e) {
    if (!(e instanceof DesignError)) throw e;
    unreadable = true; // rewritten at the end
  }
  checkMigratable(db.tableName, design);
  const from: MigrationReport['from'] = unreadable
    ? { version: 0, statusShards: null, unreadable: true }
    : { version: design?.version ?? 1, statusShards: design?.statusShards ?? null };

  // The checkpoint of this target, and any left by an unfinished run towards another one.
  const myKey = checkpointKey(target.version, target.statusShards);
  const saved = await readCheckpoints(db);
  const mine = saved.find((i) => i.SK === myKey.SK);
  const others = saved.filter((i) => i.SK !== myKey.SK);
  let checkpoint: Checkpoint | undefined;
  let inProgress: MigrationReport['inProgress'] = null;
  let resumed: MigrationReport['resumed'] = null;

  if (dryRun) {
    const found = mine ?? others[0];
    let c: Checkpoint | undefined;
    try {
      c = found && checkpointFromItem(found);
    } catch (e) {
      if (!(e instanceof MigrationError)) throw e;
      notice(`${e.message} (this dry run scans the whole table regardless)`);
    }
    if (c) {
      inProgress = {
        statusShards: c.statusShards,
        scanned: c.counts.scanned,
        segmentsDone: c.positions.filter((p) => p.state === 'done').length,
        segments: c.segments,
      };
      notice(
        `A migration to ${c.statusShards} status shards is in progress (${c.counts.scanned.toLocaleString('en-US')} items scanned, ` +
          `${inProgress.segmentsDone}/${c.segments} segments done); this dry run scans the whole table regardless.`,
      );
    }
  } else {
    for (const o of others) {
      notice(`Found the checkpoint of an unfinished migration to another target (${String(o.SK)}); this run starts from the beginning and removes it when it completes.`);
    }
    const now = new Date().toISOString();
    if (mine && !opts.restart) {
      checkpoint = checkpointFromItem(mine);
      // A scan's segments are fixed for its whole length: the checkpoint's positions belong to its count.
      if (askedSegments !== undefined && askedSegments !== checkpoint.segments) {
        notice(`Using the checkpoint's ${checkpoint.segments} scan segments, not ${askedSegments} (--restart starts over with ${askedSegments}).`);
      }
      segments = checkpoint.segments;
      const segmentsDone = checkpoint.positions.filter((p) => p.state === 'done').length;
      resumed = { counts: { ...checkpoint.counts }, segmentsDone, runs: checkpoint.runs, startedAt: checkpoint.startedAt };
      notice(
        `Resuming the migration started ${checkpoint.startedAt}: ${checkpoint.counts.scanned.toLocaleString('en-US')} items scanned so far, ` +
          `${segmentsDone}/${checkpoint.segments} segments done (--restart starts over).`,
      );
      try {
        await db.doc.send(
          new UpdateCommand({
            TableName: db.tableName,
            Key: myKey,
            UpdateExpression: 'SET runs = runs + :one, updatedAt = :now',
            ConditionExpression: 'attribute_exists(PK)',
            ExpressionAttributeValues: { ':one': 1, ':now': now },
          }),
        );
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException) throw vanished();
        throw e;
      }
    } else {
      if (mine) notice('Ignoring the saved checkpoint (--restart): scanning from the beginning.');
      checkpoint = {
        ...target,
        segments,
        positions: Array.from({ length: segments }, () => ({ state: 'start' as const })),
        counts: emptyCounts(),
        startedAt: now,
        updatedAt: now,
        runs: 1,
      };
      try {
        await db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: checkpointToItem(checkpoint),
            // --restart replaces the checkpoint it saw; otherwise there was none a moment ago.
            ...(mine ? {} : { ConditionExpression: 'attribute_not_exists(PK)' }),
          }),
        );
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        throw new MigrationError('Another `npm run migrate` started this migration at the same moment: let it finish, or run again to continue from its checkpoint.');
      }
    }
  }

  // TTL first: a missing permission shows before a long scan, not after it.
  let ttl: MigrationReport['ttl'];
  if (dryRun) {
    const d = (await db.client.send(new DescribeTimeToLiveCommand({ TableName: db.tableName }))).TimeToLiveDescription;
    const on = (d?.TimeToLiveStatus === 'ENABLED' || d?.TimeToLiveStatus === 'ENABLING') && d.AttributeName === TTL_ATTRIBUTE;
    ttl = on ? 'present' : 'would enable';
  } else {
    ttl = await ensureTimeToLive(db.client, db.tableName);
  }

  const ctx: RunContext = {
    db,
    opts,
    dryRun,
    bucket: opts.maxWritesPerSecond ? new TokenBucket(opts.maxWritesPerSecond) : undefined,
    counts: emptyCounts(),
    examples: { ordersResharded: [], keysGivenExpiry: [], legacyConverted: [], legacyDuplicatesRemoved: [], legacyDropped: [], malformed: [] },
  };
  const previous = checkpoint ? { ...checkpoint.counts } : emptyCounts();
  const positions: SegmentPosition[] = checkpoint ? [...checkpoint.positions] : Array.from({ length: segments }, () => ({ state: 'start' }));
  const estimatedItems = await estimateItems(db);
  const progress = (): MigrationProgress => {
    const counts = { ...previous };
    addCounts(counts, ctx.counts);
    const segmentsDone = positions.filter((p) => p.state === 'done').length;
    return { dryRun, counts, segments, segmentsDone, estimatedItems, done: segmentsDone === segments };
  };
  opts.onProgress?.(progress());

  // One failing segment stops the others after their current page (each saves its position).
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();

  const saveProgress = async (segment: number, position: SegmentPosition, delta: MigrationCounts) => {
    const names: Record<string, string> = { '#seg': String(segment) };
    const values: Record<string, unknown> = { ':pos': encodePosition(position), ':now': new Date().toISOString() };
    const sets = ['positions.#seg = :pos', 'updatedAt = :now'];
    COUNT_NAMES.forEach((k, i) => {
      if (delta[k] === 0) return;
      names[`#c${i}`] = k;
      values[`:c${i}`] = delta[k];
      sets.push(`counts.#c${i} = counts.#c${i} + :c${i}`);
    });
    try {
      await db.doc.send(
        new UpdateCommand({
          TableName: db.tableName,
          Key: myKey,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) throw vanished();
      throw e;
    }
  };

  const runSegment = async (segment: number): Promise<void> => {
    const at = positions[segment]!;
    if (at.state === 'done') return;
    let start = at.state === 'after' ? at.key : undefined;
    while (!stop.signal.aborted) {
      const out = await db.doc.send(
        new ScanCommand({ TableName: db.tableName, Segment: segment, TotalSegments: segments, Limit: pageSize, ExclusiveStartKey: start }),
      );
      const plans = ((out.Items ?? []) as Item[]).map((i) => planItemChange(i, opts.targetShards, opts.ttlSeconds));
      const delta = emptyCounts();
      delta.scanned = plans.filter((p) => !(p.action === 'skip' && p.kind === 'meta')).length;
      const work = plans.filter((p) => p.action !== 'skip' && p.action !== 'none');
      await eachLimited(work, WRITE_CONCURRENCY, (p) => applyPlan(ctx, p, delta));
      start = out.LastEvaluatedKey;
      const position: SegmentPosition = start ? { state: 'after', key: start } : { state: 'done' };
      // After the page's changes: a crash re-reads at most this page, whose changes are conditional.
      if (!dryRun) await saveProgress(segment, position, delta);
      positions[segment] = position;
      addCounts(ctx.counts, delta);
      opts.onProgress?.(progress());
      if (!start) return;
    }
  };

  let failure: unknown;
  await Promise.all(
    Array.from({ length: segments }, (_, s) =>
      runSegment(s).catch((e: unknown) => {
        failure ??= e;
        stop.abort();
      }),
    ),
  );
  opts.signal?.removeEventListener('abort', onAbort);
  if (failure) throw failure;

  const completed = positions.every((p) => p.state === 'done');
  let designState: MigrationReport['design'] = 'not yet';
  const designDiffers = unreadable || !design || design.version !== target.version || design.statusShards !== target.statusShards;
  if (completed) {
    if (dryRun) designState = designDiffers ? 'would write' : 'unchanged';
    else {
      // Only now: every order is in its shard of the new layout, every record has its expiry.
      if (designDiffers) {
        await writeDesign(db.client, db.tableName, target);
        designState = 'written';
      } else designState = 'unchanged';
      for (const k of [myKey, ...others.map((o) => ({ PK: String(o.PK), SK: String(o.SK) }))]) {
        await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: k }));
      }
    }
  }

  const totals = { ...previous };
  addCounts(totals, ctx.counts);
  return {
    table: db.tableName,
    dryRun,
    from,
    to: target,
    segments,
    pageSize,
    completed,
    resumed,
    counts: ctx.counts,
    totals,
    changes: changesIn(ctx.counts),
    examples: ctx.examples,
    ttl,
    design: designState,
    inProgress,
    durationMs: Math.round(performance.now() - began),
  };
}

// ---------------------------------------------------------------------------------------------
// What the command shows (pure)

const LABELS: Record<ChangeKind, [done: string, dry: string]> = {
  ordersResharded: ['orders re-sharded', 'orders to re-shard'],
  keysGivenExpiry: ['keys given an expiry', 'keys to give an expiry'],
  legacyConverted: ['legacy keys converted', 'legacy keys to convert'],
  legacyDuplicatesRemoved: ['legacy keys removed (per-user twin existed)', 'legacy keys to remove (per-user twin exists)'],
  legacyDropped: ['legacy keys dropped (order gone)', 'legacy keys to drop (order gone)'],
};

const n = (x: number) => x.toLocaleString('en-US');

/** Pure: the percentage to show: capped at 99 until done (the item count is approximate), undefined when unknown. */
export function progressPercent(p: Pick<MigrationProgress, 'counts' | 'estimatedItems' | 'done'>): number | undefined {
  if (p.done) return 100;
  if (!p.estimatedItems) return undefined;
  return Math.min(99, Math.floor((p.counts.scanned / p.estimatedItems) * 100));
}

/**
 * Pure: one progress line, e.g. `migrate [#####-----] 52% 12,345 scanned · 3,210 orders
 * re-sharded · 12 keys given an expiry · 3 legacy keys converted · 2/4 segments done`.
 */
export function formatProgress(p: MigrationProgress, width = 10): string {
  const pct = progressPercent(p);
  const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const parts = [`${n(p.counts.scanned)} scanned`];
  for (const k of CHANGE_KINDS) {
    // The three main kinds always (so the line does not jump about), the rare ones when they occur.
    if (p.counts[k] > 0 || k === 'ordersResharded' || k === 'keysGivenExpiry' || k === 'legacyConverted') {
      parts.push(`${n(p.counts[k])} ${LABELS[k][p.dryRun ? 1 : 0]}`);
    }
  }
  if (p.counts.malformed > 0) parts.push(`${n(p.counts.malformed)} malformed`);
  parts.push(`${p.segmentsDone}/${p.segments} segments done`);
  return `${p.dryRun ? 'migrate (dry run)' : 'migrate'} ${bar} ${pct === undefined ? '?' : pct}% ${parts.join(' · ')}`;
}

const describeDesign = (d: MigrationReport['from']) =>
  d.unreadable ? 'an unreadable design record' : d.version === 1 && d.statusShards === null ? 'key design version 1 (no design record)' : `key design version ${d.version} with ${d.statusShards} status shards`;

/** Pure: the summary lines a run prints on stdout. */
export function formatSummary(r: MigrationReport): string[] {
  const lines: string[] = [];
  const secs = (r.durationMs / 1000).toFixed(1);
  const target = `key design version ${r.to.version} with ${r.to.statusShards} status shards`;
  const scanned = `${n(r.counts.scanned)} items scanned in ${secs} s (${r.segments} segments, pages of ${r.pageSize})`;
  if (r.dryRun) {
    lines.push(`Dry run on table ${r.table}: nothing was written. The table has ${describeDesign(r.from)}; the target is ${target}.`);
    lines.push(`${scanned}; ${r.changes === 0 ? 'no item would change' : `${n(r.changes)} items would change`}.`);
    for (const k of CHANGE_KINDS) {
      if (r.counts[k] === 0) continue;
      lines.push(`  ${n(r.counts[k])} ${LABELS[k][1]}, e.g. ${r.examples[k].map((e) => `${e.PK} ${e.SK}`).join(', ')}`);
    }
    if (r.ttl === 'would enable') lines.push(`  TTL on ${TTL_ATTRIBUTE} would be enabled`);
    if (r.design === 'would write') lines.push(`  the design record would be set to version ${r.to.version}, ${r.to.statusShards} status shards`);
  } else {
    const head = r.completed
      ? `Table ${r.table} is at ${target}.`
      : `Stopped: table ${r.table} is not migrated yet; the checkpoint is saved and \`npm run migrate\` continues from it.`;
    lines.push(head);
    if (r.resumed) {
      lines.push(`Resumed a checkpoint: the earlier run(s) had scanned ${n(r.resumed.counts.scanned)} items and made ${n(changesIn(r.resumed.counts))} changes.`);
    }
    lines.push(`This run: ${scanned}; ${n(r.changes)} items changed.`);
    for (const k of CHANGE_KINDS) if (r.counts[k] > 0) lines.push(`  ${n(r.counts[k])} ${LABELS[k][0]}`);
    if (r.ttl === 'enabled') lines.push(`  TTL on ${TTL_ATTRIBUTE} enabled`);
    if (r.design === 'written') lines.push(`  design record written (was: ${describeDesign(r.from)})`);
    if (r.completed && r.changes === 0 && r.design === 'unchanged' && r.ttl === 'present') {
      lines.push('Nothing to change: every item was scanned to check that it already follows the current design.');
    }
  }
  if (r.counts.retries > 0) lines.push(`  ${n(r.counts.retries)} items had changed meanwhile and were read again`);
  // Of the whole migration (a resumed run's earlier pages included); examples from this run.
  if (r.totals.malformed > 0) {
    const eg = r.examples.malformed.length > 0 ? `, e.g. ${r.examples.malformed.map((e) => `${e.PK} ${e.SK}`).join(', ')}` : '';
    lines.push(`  ${n(r.totals.malformed)} items are malformed and were left as they are${eg}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// The command line (pure)

export const MIGRATE_USAGE = `usage: npm run migrate [-- options]
Brings the table to key design version ${DESIGN_VERSION}; resumable, idempotent.
  --dry-run                    scan and report what would change; write nothing
  --shards N                   status index shards (1..${MAX_STATUS_SHARDS}); default STATUS_SHARDS, else the table's, else ${DEFAULT_STATUS_SHARDS}
  --segments N                 parallel scan segments (1..${MAX_SEGMENTS}, default ${DEFAULT_SEGMENTS}); a resumed run keeps its checkpoint's
  --page-size N                items per scan page (1..${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE})
  --restart                    ignore a saved checkpoint: scan from the beginning
  --max-writes-per-second N    cap the item writes (default: no cap)
  --json                       print the report as JSON on stdout
  -h, --help                   this text`;

export interface MigrateArgs {
  help: boolean;
  dryRun: boolean;
  shards: number | undefined;
  /** Undefined when not given: the checkpoint's count when resuming, else the default. */
  segments: number | undefined;
  pageSize: number;
  restart: boolean;
  maxWritesPerSecond: number | undefined;
  json: boolean;
}

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new MigrationError(`--${flag} accepts a whole number from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** Pure: the command's flags; a MigrationError naming the flag for a bad one. */
export function parseMigrateArgs(argv: readonly string[]): MigrateArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        'dry-run': { type: 'boolean', default: false },
        shards: { type: 'string' },
        segments: { type: 'string' },
        'page-size': { type: 'string' },
        restart: { type: 'boolean', default: false },
        'max-writes-per-second': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new MigrationError(`${(e as Error).message.replace(/\s*\n[\s\S]*$/, '')} (--help lists the options)`);
  }
  return {
    help: values.help,
    dryRun: values['dry-run'],
    shards: wholeNumber('shards', values.shards, 1, MAX_STATUS_SHARDS),
    segments: wholeNumber('segments', values.segments, 1, MAX_SEGMENTS),
    pageSize: wholeNumber('page-size', values['page-size'], 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE,
    restart: values.restart,
    maxWritesPerSecond: wholeNumber('max-writes-per-second', values['max-writes-per-second'], 1, 1_000_000),
    json: values.json,
  };
}
