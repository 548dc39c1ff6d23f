import { randomBytes } from 'node:crypto';
import {
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
  type ThrottlingReason,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { INDEXES, TABLE_KEY, tableDefinition } from '../../src/db/table.js';

/**
 * A capacity model you can run: a middleware on a real SDK client that enforces DynamoDB's
 * per-partition throughput limits (1,000 WCU and 3,000 RCU per second per partition key value,
 * on the base table and on every global secondary index, whatever the billing mode) and answers
 * throttling the way DynamoDB does. The requests that pass still go to the real DynamoDB
 * (Local); a throttled request is answered by the model and consumes no capacity.
 *
 * Buckets: one token bucket per (table or index, partition key value) for writes and one for
 * reads, refilled continuously at the limit per second, holding at most one second's worth (a
 * burst of `writeUnitsPerSecond` units passes, the next unit within that second throttles).
 *
 * - A write passes when every bucket it touches (the base partition and the index partitions it
 *   writes) holds at least its cost (or is full, for a write larger than a whole bucket); it is
 *   debited before it is sent and refunded if DynamoDB does not do it.
 * - A read passes when its bucket is not empty (tokens > 0): its cost is only known from the
 *   answer, so an estimate is debited before it is sent and the difference after.
 *
 * Sizes and units (see `itemSize`, `writeUnits`, `readUnits`):
 * - item size = sum over attributes of UTF-8 name length + value size; strings are UTF-8 bytes,
 *   binaries their bytes, numbers 1 byte per 2 significant digits + 1, booleans and null 1,
 *   lists and maps 3 + 1 per element + the elements (map elements also their name), sets the sum
 *   of their elements.
 * - write: ceil(size / 1 KB), at least 1; the larger of the item before and after (PutItem,
 *   UpdateItem); DeleteItem the deleted item (1 if unknown); x2 in TransactWriteItems.
 * - index write (projection ALL here): ceil(index entry size / 1 KB), once for the new entry and
 *   once for the old one when the index key changed (a delete there), once when the entry stays
 *   but a projected attribute changed; never doubled for transactions (indexes are updated
 *   after the commit).
 * - read: ceil(size / 4 KB), at least 1, halved unless ConsistentRead is true; Query sums the
 *   sizes of the items it returned before rounding (one rounding per call); x2 in
 *   TransactGetItems; a ConditionCheck in a transaction is charged as a transactional read
 *   (2 RCU per 4 KB) and never throttled.
 *
 * What the model knows of stored items (their sizes and index key values) it learns from the
 * traffic it sees: items written (PutItem, BatchWriteItem, transactions), UpdateItem
 * expressions (`SET a = :v`, `if_not_exists`, `list_append`, `REMOVE`, `ADD`, `DELETE`) applied
 * to what it knew, items returned by reads and by ReturnValues ALL_NEW. Items it never saw are
 * estimated from the request alone (an UpdateItem of an unknown item costs the size of its key
 * and new values; a DeleteItem of one costs 1 WCU and touches no index).
 *
 * Place: finalizeRequest, low priority (like injectFault), so each attempt the SDK's retry
 * strategy makes is checked, and the client's throttle observation (src/db/client.ts) sees the
 * model's throttles. There the input is DynamoDB JSON even for DocumentClient commands, while
 * the output of a DocumentClient command is already unmarshalled: both are handled.
 */

export interface CapacityModelOptions {
  /** Per partition key value, per second (DynamoDB: 1,000). */
  writeUnitsPerSecond?: number;
  /** Per partition key value, per second (DynamoDB: 3,000). */
  readUnitsPerSecond?: number;
  /** Clock in milliseconds (default performance.now): pass a fake one to count, not time. */
  now?: () => number;
  /** Model only this table (default: every table the client talks to). */
  tableName?: string;
  /** Index definitions (default: INDEXES of src/db/table.ts with their projections). */
  indexes?: IndexSpec[];
  /** For the ARNs of ThrottlingReasons (default: the client's region, account 000000000000). */
  region?: string;
  accountId?: string;
  /**
   * When a request asks for ReturnConsumedCapacity (TOTAL or INDEXES), replace what DynamoDB
   * Local answered with the model's numbers (default false: the answer is left alone).
   */
  rewriteConsumedCapacity?: boolean;
  /** Called for every throttled attempt or key (e.g. to advance a fake clock in tests). */
  onThrottle?: (event: ThrottleEvent) => void;
}

export interface IndexSpec {
  name: string;
  pk: string;
  sk: string;
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  /** NonKeyAttributes of an INCLUDE projection. */
  include?: readonly string[];
}

export interface ThrottleEvent {
  operation: string;
  /** Partition labels, e.g. `table:USER#u1`, `GSI3:STATUS#PENDING`. */
  partitions: string[];
  reasons: ThrottlingReason[];
  /** `request`: the whole attempt was refused; `unprocessed`: keys/items were left unprocessed. */
  kind: 'request' | 'unprocessed';
  /** Keys or items left unprocessed (kind `unprocessed`), else 0. */
  count: number;
}

export interface Units {
  rcu: number;
  wcu: number;
}

export interface CapacityStats {
  throttled: {
    /** Refused attempts + keys/items returned unprocessed because of throttling. */
    total: number;
    /** Attempts refused whole (ProvisionedThroughputExceededException, TransactionCanceledException). */
    requests: number;
    /** Keys (BatchGetItem) and items (BatchWriteItem) returned unprocessed. */
    unprocessed: number;
    byReason: Record<string, number>;
    byPartition: Record<string, number>;
    byOperation: Record<string, number>;
  };
  consumed: {
    total: Units;
    /** Per operation, as DynamoDB would report it (index writes included); calls = attempts answered by DynamoDB. */
    byOperation: Record<string, Units & { calls: number }>;
    byPartition: Record<string, Units>;
  };
  /** The ten partitions that consumed the most, by WCU then RCU. */
  hottest: { partition: string; wcu: number; rcu: number }[];
}

export interface CapacityModel {
  stats(): CapacityStats;
  /** Forgets the statistics and refills every bucket (keeps what it learnt of the items). */
  reset(opts?: { forgetItems?: boolean }): void;
  /** Takes the middleware off the client. */
  remove(): void;
  /** Tokens left in a bucket now, e.g. `tokens('write', 'GSI3', 'STATUS#PENDING')`. */
  tokens(kind: 'read' | 'write', resource: string, partitionKey: string, table?: string): number;
}

export const THROTTLING_REASON = {
  tableWrite: 'TableWriteKeyRangeThroughputExceeded',
  tableRead: 'TableReadKeyRangeThroughputExceeded',
  indexWrite: 'IndexWriteKeyRangeThroughputExceeded',
  indexRead: 'IndexReadKeyRangeThroughputExceeded',
} as const;

/** DynamoDB's message for a hot key (key range throughput exceeded). */
const HOT_KEY_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or ' +
  'index so please try again shortly. If exceptions persist, check if you have a hot key: ' +
  'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html';

/** `table:<pk>` for the base table, `<IndexName>:<pk>` for an index. */
export function partitionLabel(resource: string, partitionKey: string): string {
  return `${resource}:${partitionKey}`;
}

// ---------------------------------------------------------------------------------------------
// Sizes and units

type AV = AttributeValue | Record<string, any>;
type Item = Record<string, AV>;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

const binarySize = (b: unknown): number => {
  if (b instanceof Uint8Array) return b.byteLength;
  if (typeof b === 'string') return Buffer.from(b, 'base64').byteLength;
  if (b instanceof ArrayBuffer) return b.byteLength;
  return 0;
};

/** 1 byte per two significant digits, + 1. */
export function numberSize(n: string): number {
  const digits = String(n)
    .trim()
    .replace(/^[+-]/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** Size of one DynamoDB JSON value (without its attribute name). */
export function valueSize(v: AV | undefined): number {
  if (!v || typeof v !== 'object') return 0;
  const a = v as Record<string, any>;
  if (a.S !== undefined) return utf8(a.S);
  if (a.N !== undefined) return numberSize(a.N);
  if (a.B !== undefined) return binarySize(a.B);
  if (a.BOOL !== undefined || a.NULL !== undefined) return 1;
  if (a.SS !== undefined) return (a.SS as string[]).reduce((n, s) => n + utf8(s), 0);
  if (a.NS !== undefined) return (a.NS as string[]).reduce((n, s) => n + numberSize(s), 0);
  if (a.BS !== undefined) return (a.BS as unknown[]).reduce<number>((n, b) => n + binarySize(b), 0);
  if (a.L !== undefined) return 3 + (a.L as AV[]).reduce<number>((n, e) => n + 1 + valueSize(e), 0);
  if (a.M !== undefined) {
    return 3 + Object.entries(a.M as Item).reduce((n, [k, e]) => n + utf8(k) + 1 + valueSize(e), 0);
  }
  return 0;
}

/** Approximate stored size of an item in DynamoDB JSON (names + values), in bytes. */
export function itemSize(item: Item): number {
  return Object.entries(item).reduce((n, [k, v]) => n + utf8(k) + valueSize(v), 0);
}

/** Write capacity units of a write of `sizeBytes` (1 per KB, at least 1; x2 transactional). */
export function writeUnits(sizeBytes: number, transactional = false): number {
  return Math.max(1, Math.ceil(sizeBytes / 1024)) * (transactional ? 2 : 1);
}

/** Read capacity units of reading `sizeBytes` (1 per 4 KB, at least 1; /2 eventually consistent; x2 transactional). */
export function readUnits(sizeBytes: number, opts: { consistent?: boolean; transactional?: boolean } = {}): number {
  const units = Math.max(1, Math.ceil(sizeBytes / 4096));
  if (opts.transactional) return units * 2;
  return opts.consistent ? units : units / 2;
}

const AV_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M']);

/** True if `item` looks like DynamoDB JSON (every value a one-key AttributeValue). */
function looksMarshalled(item: Record<string, unknown>): boolean {
  return Object.values(item).every(
    (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && AV_TYPES.has(Object.keys(v)[0]!),
  );
}

/** An item of an answer in DynamoDB JSON, whether the command was a DocumentClient one or not. */
function asMarshalled(item: Record<string, unknown>, doc: boolean): Item {
  if (!doc) return item as Item;
  return marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true }) as Item;
}

/** The string form of a scalar key value (S, N or B). */
function scalar(v: AV | undefined): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const a = v as Record<string, any>;
  if (typeof a.S === 'string') return a.S;
  if (typeof a.N === 'string') return a.N;
  if (a.B !== undefined) return Buffer.from(a.B instanceof Uint8Array ? a.B : Buffer.from(String(a.B), 'base64')).toString('base64');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Update expressions

export interface UpdateActions {
  set: { path: string; value: string }[];
  remove: string[];
  add: { path: string; value: string }[];
  delete: { path: string; value: string }[];
}

/** Splits `s` on `sep` outside parentheses and brackets. */
function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** A small parser for `SET a = :v, #b = if_not_exists(#b, :w) REMOVE #c ADD n :one DELETE s :x`. */
export function parseUpdateExpression(expr: string): UpdateActions {
  const out: UpdateActions = { set: [], remove: [], add: [], delete: [] };
  const re = /(?<![#:\w.])\b(SET|REMOVE|ADD|DELETE)\b/gi;
  const marks: { kw: string; at: number; end: number }[] = [];
  for (let m = re.exec(expr); m; m = re.exec(expr)) marks.push({ kw: m[1]!.toUpperCase(), at: m.index, end: m.index + m[0].length });
  marks.forEach((mark, i) => {
    const body = expr.slice(mark.end, marks[i + 1]?.at ?? expr.length);
    for (const action of splitTopLevel(body, ',')) {
      if (mark.kw === 'SET') {
        const eq = splitTopLevel(action, '=');
        const eqAt = action.indexOf('=');
        if (eq.length < 2 || eqAt < 0) continue;
        out.set.push({ path: action.slice(0, eqAt).trim(), value: action.slice(eqAt + 1).trim() });
      } else if (mark.kw === 'REMOVE') {
        out.remove.push(action);
      } else {
        const [path, ...rest] = action.split(/\s+/);
        const entry = { path: path ?? '', value: rest.join(' ') };
        (mark.kw === 'ADD' ? out.add : out.delete).push(entry);
      }
    }
  });
  return out;
}

/** The top-level attribute a document path names, and whether the path goes deeper. */
function topAttribute(path: string, names: Record<string, string> | undefined): { attr: string; nested: boolean } {
  const m = /^\s*(#?[\w-]+)/.exec(path);
  const token = m?.[1] ?? path.trim();
  const attr = token.startsWith('#') ? (names?.[token] ?? token) : token;
  return { attr, nested: path.trim().length > token.length };
}

// ---------------------------------------------------------------------------------------------
// What the model knows of an item

interface ShadowItem {
  /** Attribute name → its size in bytes (name + value). */
  sizes: Map<string, number>;
  /** String values of the table's and indexes' key attributes the item has. */
  keys: Map<string, string>;
  /** True when the model never saw the whole item (it learnt it from an UpdateItem only). */
  partial: boolean;
}

const shadowSize = (s: ShadowItem | undefined): number => {
  if (!s) return 0;
  let n = 0;
  for (const v of s.sizes.values()) n += v;
  return n;
};

interface Charge {
  table: string;
  /** `table` or an index name. */
  resource: string;
  pk: string;
  kind: 'read' | 'write';
  units: number;
}

interface WritePlan {
  table: string;
  id: string;
  charges: Charge[];
  before: ShadowItem | undefined;
  /** null: the item is deleted. */
  after: ShadowItem | null;
  /** For a failed condition: the cost of the base write then (the existing item's size). */
  conditionFailUnits: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

type Handler = (next: (args: any) => Promise<any>, args: any, ctx: CallContext) => Promise<any>;

interface CallContext {
  op: string;
  doc: boolean;
}

const EPSILON = 1e-9;

function defaultIndexes(): IndexSpec[] {
  const def = tableDefinition('capacity-model');
  return Object.values(INDEXES).map((i) => {
    const gsi = def.GlobalSecondaryIndexes?.find((g) => g.IndexName === i.name);
    const projection = (gsi?.Projection?.ProjectionType ?? 'ALL') as IndexSpec['projection'];
    return { name: i.name, pk: i.pk, sk: i.sk, projection, include: gsi?.Projection?.NonKeyAttributes ?? [] };
  });
}

/** Attaches the capacity model to `client` (and so to every DocumentClient built on it). */
export function attachCapacityModel(client: DynamoDBClient, opts: CapacityModelOptions = {}): CapacityModel {
  const writeRate = opts.writeUnitsPerSecond ?? 1000;
  const readRate = opts.readUnitsPerSecond ?? 3000;
  const now = opts.now ?? (() => performance.now());
  const indexes = opts.indexes ?? defaultIndexes();
  const keyAttrs = new Set<string>([TABLE_KEY.pk, TABLE_KEY.sk, ...indexes.flatMap((i) => [i.pk, i.sk])]);
  const accountId = opts.accountId ?? '000000000000';
  let region = opts.region;

  const buckets = new Map<string, Bucket>();
  const shadow = new Map<string, ShadowItem>();

  // ---- statistics
  let stats = emptyStats();
  function emptyStats() {
    return {
      throttledRequests: 0,
      throttledUnprocessed: 0,
      byReason: new Map<string, number>(),
      throttledByPartition: new Map<string, number>(),
      throttledByOperation: new Map<string, number>(),
      byOperation: new Map<string, Units & { calls: number }>(),
      byPartition: new Map<string, Units>(),
    };
  }
  const inc = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

  function recordCall(op: string, charges: Charge[]): void {
    const o = stats.byOperation.get(op) ?? { rcu: 0, wcu: 0, calls: 0 };
    o.calls++;
    for (const c of charges) {
      if (c.units === 0) continue;
      const p = stats.byPartition.get(partitionLabel(c.resource, c.pk)) ?? { rcu: 0, wcu: 0 };
      if (c.kind === 'read') {
        o.rcu += c.units;
        p.rcu += c.units;
      } else {
        o.wcu += c.units;
        p.wcu += c.units;
      }
      stats.byPartition.set(partitionLabel(c.resource, c.pk), p);
    }
    stats.byOperation.set(op, o);
  }

  function recordThrottle(op: string, blocked: Charge[], kind: 'request' | 'unprocessed', count: number): ThrottlingReason[] {
    const reasons = reasonsFor(blocked);
    if (kind === 'request') stats.throttledRequests++;
    else stats.throttledUnprocessed += count;
    inc(stats.throttledByOperation, op, kind === 'request' ? 1 : count);
    for (const r of reasons) inc(stats.byReason, r.reason!);
    const partitions = [...new Set(blocked.map((c) => partitionLabel(c.resource, c.pk)))];
    for (const p of partitions) inc(stats.throttledByPartition, p);
    opts.onThrottle?.({ operation: op, partitions, reasons, kind, count });
    return reasons;
  }

  // ---- buckets
  const bucketKey = (c: Pick<Charge, 'table' | 'resource' | 'pk' | 'kind'>) => `${c.table}\u0000${c.resource}\u0000${c.pk}\u0000${c.kind}`;
  const rateOf = (kind: 'read' | 'write') => (kind === 'read' ? readRate : writeRate);

  function bucket(c: Pick<Charge, 'table' | 'resource' | 'pk' | 'kind'>): Bucket {
    const key = bucketKey(c);
    const t = now();
    const cap = rateOf(c.kind);
    let b = buckets.get(key);
    if (!b) {
      b = { tokens: cap, last: t };
      buckets.set(key, b);
    } else if (t > b.last) {
      b.tokens = Math.min(cap, b.tokens + ((t - b.last) * cap) / 1000);
      b.last = t;
    }
    return b;
  }

  const debit = (c: Charge, units = c.units) => {
    const b = bucket(c);
    b.tokens = Math.min(rateOf(c.kind), b.tokens - units);
  };

  /** Sums charges per bucket. */
  function grouped(charges: Charge[]): Charge[] {
    const m = new Map<string, Charge>();
    for (const c of charges) {
      const k = bucketKey(c);
      const g = m.get(k);
      if (g) g.units += c.units;
      else m.set(k, { ...c });
    }
    return [...m.values()];
  }

  /**
   * Writes: every bucket must hold the units (or be full). Reads: every bucket must not be empty.
   * Debits all or nothing; returns the charges (per bucket) that were refused.
   */
  function tryReserve(charges: Charge[]): Charge[] {
    const groups = grouped(charges);
    const blocked = groups.filter((g) => {
      const b = bucket(g);
      if (g.kind === 'read') return b.tokens <= EPSILON;
      return b.tokens + EPSILON < Math.min(g.units, rateOf(g.kind));
    });
    if (blocked.length === 0) for (const g of groups) debit(g);
    return blocked;
  }

  const refund = (charges: Charge[]) => {
    for (const c of charges) debit(c, -c.units);
  };

  // ---- errors
  const arn = (table: string, resource: string) =>
    `arn:aws:dynamodb:${region ?? 'us-east-1'}:${accountId}:table/${table}${resource === 'table' ? '' : `/index/${resource}`}`;

  function reasonsFor(blocked: Charge[]): ThrottlingReason[] {
    const seen = new Set<string>();
    const out: ThrottlingReason[] = [];
    // The base table's reasons first, then the indexes'.
    const sorted = [...blocked].sort((a, b) => Number(a.resource !== 'table') - Number(b.resource !== 'table'));
    for (const c of sorted) {
      const reason =
        c.resource === 'table'
          ? c.kind === 'read'
            ? THROTTLING_REASON.tableRead
            : THROTTLING_REASON.tableWrite
          : c.kind === 'read'
            ? THROTTLING_REASON.indexRead
            : THROTTLING_REASON.indexWrite;
      const resource = arn(c.table, c.resource);
      if (seen.has(reason + resource)) continue;
      seen.add(reason + resource);
      out.push({ reason, resource });
    }
    return out;
  }

  const metadata = () => ({
    httpStatusCode: 400,
    requestId: randomBytes(18).toString('base64url').toUpperCase(),
    attempts: 1,
    totalRetryDelay: 0,
  });

  function throttled(reasons: ThrottlingReason[]): ProvisionedThroughputExceededException {
    const e = new ProvisionedThroughputExceededException({ message: HOT_KEY_MESSAGE, $metadata: metadata(), ThrottlingReasons: reasons });
    // The SDK retries it by name; faults.ts's sdkError marks throttles the same way.
    e.$retryable = { throttling: true };
    return e;
  }

  function cancelled(codes: ('None' | 'ThrottlingError')[]): TransactionCanceledException {
    const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`;
    const reasons: CancellationReason[] = codes.map((code) =>
      code === 'None' ? { Code: 'None' } : { Code: 'ThrottlingError', Message: HOT_KEY_MESSAGE },
    );
    return new TransactionCanceledException({ message, Message: message, $metadata: metadata(), CancellationReasons: reasons });
  }

  // ---- the shadow of the table
  const itemId = (table: string, key: Item) => `${table}\u0000${scalar(key[TABLE_KEY.pk]) ?? ''}\u0000${scalar(key[TABLE_KEY.sk]) ?? ''}`;

  function shadowOf(item: Item, partial = false): ShadowItem {
    const s: ShadowItem = { sizes: new Map(), keys: new Map(), partial };
    for (const [k, v] of Object.entries(item)) {
      s.sizes.set(k, utf8(k) + valueSize(v));
      if (keyAttrs.has(k)) {
        const sv = scalar(v);
        if (sv !== undefined) s.keys.set(k, sv);
      }
    }
    return s;
  }

  const cloneShadow = (s: ShadowItem): ShadowItem => ({ sizes: new Map(s.sizes), keys: new Map(s.keys), partial: s.partial });

  const learn = (table: string, item: Item) => shadow.set(itemId(table, item), shadowOf(item));

  const inIndex = (s: ShadowItem, idx: IndexSpec) => s.keys.has(idx.pk) && (s.keys.has(idx.sk) || s.partial);

  function entrySize(s: ShadowItem, idx: IndexSpec): number {
    if (idx.projection === 'ALL') return shadowSize(s);
    const attrs = [TABLE_KEY.pk, TABLE_KEY.sk, idx.pk, idx.sk, ...(idx.projection === 'INCLUDE' ? (idx.include ?? []) : [])];
    return attrs.reduce((n, a) => n + (s.sizes.get(a) ?? 0), 0);
  }

  function projectionChanged(idx: IndexSpec, changed: Set<string> | 'all'): boolean {
    if (changed === 'all') return true;
    if (idx.projection === 'ALL') return changed.size > 0;
    if (idx.projection === 'INCLUDE') return (idx.include ?? []).some((a) => changed.has(a));
    return false;
  }

  /** The index writes of a base write that turns `before` into `after`. */
  function indexCharges(table: string, before: ShadowItem | undefined, after: ShadowItem | null, changed: Set<string> | 'all'): Charge[] {
    const out: Charge[] = [];
    for (const idx of indexes) {
      const o = before && inIndex(before, idx) ? before.keys.get(idx.pk) : undefined;
      const n = after && inIndex(after, idx) ? after.keys.get(idx.pk) : undefined;
      const write = (pk: string, size: number) => out.push({ table, resource: idx.name, pk, kind: 'write', units: writeUnits(size) });
      if (o !== undefined && n !== undefined && o === n && before!.keys.get(idx.sk) === after!.keys.get(idx.sk)) {
        if (projectionChanged(idx, changed)) write(n, Math.max(entrySize(before!, idx), entrySize(after!, idx)));
      } else {
        if (o !== undefined) write(o, entrySize(before!, idx));
        if (n !== undefined) write(n, entrySize(after!, idx));
      }
    }
    return out;
  }

  function planPut(table: string, item: Item, transactional: boolean): WritePlan {
    const id = itemId(table, item);
    const before = shadow.get(id);
    const after = shadowOf(item);
    const base: Charge = {
      table,
      resource: 'table',
      pk: scalar(item[TABLE_KEY.pk]) ?? '',
      kind: 'write',
      units: writeUnits(Math.max(shadowSize(before), shadowSize(after)), transactional),
    };
    return {
      table,
      id,
      before,
      after,
      charges: [base, ...indexCharges(table, before, after, 'all')],
      conditionFailUnits: writeUnits(shadowSize(before)),
    };
  }

  function planDelete(table: string, key: Item, transactional: boolean): WritePlan {
    const id = itemId(table, key);
    const before = shadow.get(id);
    const base: Charge = { table, resource: 'table', pk: scalar(key[TABLE_KEY.pk]) ?? '', kind: 'write', units: writeUnits(shadowSize(before), transactional) };
    return { table, id, before, after: null, charges: [base, ...indexCharges(table, before, null, 'all')], conditionFailUnits: writeUnits(shadowSize(before)) };
  }

  function planUpdate(table: string, input: Record<string, any>, transactional: boolean): WritePlan {
    const key = (input.Key ?? {}) as Item;
    const id = itemId(table, key);
    const before = shadow.get(id);
    const after = before ? cloneShadow(before) : shadowOf(key, true);
    const changed = new Set<string>();
    const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
    const values = (input.ExpressionAttributeValues ?? {}) as Item;
    const valueOf = (token: string) => values[token.trim()];
    const placeholderSizes = (s: string) => (s.match(/:[\w]+/g) ?? []).reduce((n, t) => n + valueSize(valueOf(t)), 0);
    const oldValueSize = (attr: string) => {
      const s = after.sizes.get(attr);
      return s === undefined ? undefined : s - utf8(attr);
    };
    const setAttr = (attr: string, size: number, keyValue: string | undefined) => {
      changed.add(attr);
      after.sizes.set(attr, utf8(attr) + size);
      if (keyAttrs.has(attr)) {
        if (keyValue !== undefined) after.keys.set(attr, keyValue);
        else after.keys.delete(attr);
      }
    };
    const removeAttr = (attr: string) => {
      changed.add(attr);
      after.sizes.delete(attr);
      after.keys.delete(attr);
    };

    if (typeof input.UpdateExpression === 'string') {
      const actions = parseUpdateExpression(input.UpdateExpression);
      for (const { path, value } of actions.set) {
        const { attr, nested } = topAttribute(path, names);
        const old = oldValueSize(attr);
        if (nested) {
          setAttr(attr, (old ?? 3) + placeholderSizes(value), undefined);
          continue;
        }
        const v = value.trim();
        const ine = /^if_not_exists\s*\(\s*([^,]+?)\s*,\s*(:[\w]+)\s*\)$/i.exec(v);
        if (/^:[\w]+$/.test(v)) {
          setAttr(attr, valueSize(valueOf(v)), scalar(valueOf(v)));
        } else if (ine) {
          const target = topAttribute(ine[1]!, names).attr;
          if (after.sizes.has(target)) {
            if (target !== attr) setAttr(attr, oldValueSize(target) ?? 0, after.keys.get(target));
          } else {
            setAttr(attr, valueSize(valueOf(ine[2]!)), scalar(valueOf(ine[2]!)));
          }
        } else if (/^list_append\s*\(/i.test(v)) {
          setAttr(attr, (old ?? 3) + placeholderSizes(v), undefined);
        } else {
          // Arithmetic (`a + :n`) or anything else: at least as large as its operands.
          setAttr(attr, Math.max(old ?? 0, placeholderSizes(v)), undefined);
        }
      }
      for (const path of actions.remove) {
        const { attr, nested } = topAttribute(path, names);
        if (nested) changed.add(attr);
        else removeAttr(attr);
      }
      for (const { path, value } of actions.add) {
        const { attr } = topAttribute(path, names);
        const v = valueOf(value) as Record<string, any> | undefined;
        const old = oldValueSize(attr);
        const size = v?.N !== undefined ? Math.max(old ?? 0, valueSize(v)) : (old ?? 0) + valueSize(v);
        setAttr(attr, size, undefined);
      }
      for (const { path, value } of actions.delete) {
        const { attr } = topAttribute(path, names);
        const size = (oldValueSize(attr) ?? 0) - valueSize(valueOf(value));
        if (size <= 0) removeAttr(attr);
        else setAttr(attr, size, undefined);
      }
    } else if (input.AttributeUpdates) {
      for (const [attr, u] of Object.entries(input.AttributeUpdates as Record<string, { Action?: string; Value?: AV }>)) {
        const action = u.Action ?? 'PUT';
        if (action === 'PUT' && u.Value) setAttr(attr, valueSize(u.Value), scalar(u.Value));
        else if (action === 'DELETE' && !u.Value) removeAttr(attr);
        else setAttr(attr, Math.max(oldValueSize(attr) ?? 0, valueSize(u.Value)), undefined);
      }
    }

    const base: Charge = {
      table,
      resource: 'table',
      pk: scalar(key[TABLE_KEY.pk]) ?? '',
      kind: 'write',
      units: writeUnits(Math.max(shadowSize(before), shadowSize(after)), transactional),
    };
    return { table, id, before, after, charges: [base, ...indexCharges(table, before, after, changed)], conditionFailUnits: writeUnits(shadowSize(before)) };
  }

  const commit = (plan: WritePlan) => {
    if (plan.after === null) shadow.delete(plan.id);
    else shadow.set(plan.id, plan.after);
  };

  // ---- consumed capacity in answers
  function consumedCapacity(mode: unknown, charges: Charge[]): Record<string, any>[] | undefined {
    if (!opts.rewriteConsumedCapacity || (mode !== 'TOTAL' && mode !== 'INDEXES')) return undefined;
    const units = (cs: Charge[]) => {
      const r = cs.filter((c) => c.kind === 'read').reduce((n, c) => n + c.units, 0);
      const w = cs.filter((c) => c.kind === 'write').reduce((n, c) => n + c.units, 0);
      return { CapacityUnits: r + w, ...(r ? { ReadCapacityUnits: r } : {}), ...(w ? { WriteCapacityUnits: w } : {}) };
    };
    const tables = [...new Set(charges.map((c) => c.table))];
    return tables.map((table) => {
      const cs = charges.filter((c) => c.table === table);
      const out: Record<string, any> = { TableName: table, ...units(cs) };
      if (mode === 'INDEXES') {
        out.Table = units(cs.filter((c) => c.resource === 'table'));
        const gsis = [...new Set(cs.filter((c) => c.resource !== 'table').map((c) => c.resource))];
        if (gsis.length) out.GlobalSecondaryIndexes = Object.fromEntries(gsis.map((g) => [g, units(cs.filter((c) => c.resource === g))]));
      }
      return out;
    });
  }

  function reportCapacity(result: any, input: Record<string, any>, charges: Charge[], asList: boolean, tableName?: string) {
    const cc = consumedCapacity(input.ReturnConsumedCapacity, charges);
    if (!cc || !result?.output) return;
    if (cc.length === 0 && tableName) cc.push({ TableName: tableName, CapacityUnits: 0 });
    result.output.ConsumedCapacity = asList ? cc : cc[0];
  }

  // ---- request bodies (the request is already serialized here)
  function rewriteBody(request: any, mutate: (body: any) => void): any {
    const raw = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body as Uint8Array);
    const body = JSON.parse(raw);
    mutate(body);
    const text = JSON.stringify(body);
    const headers: Record<string, string> = { ...request.headers };
    for (const h of Object.keys(headers)) if (h.toLowerCase() === 'content-length') headers[h] = String(Buffer.byteLength(text));
    // A copy: the retry middleware sends the same request object again on the next attempt.
    return Object.assign(Object.create(Object.getPrototypeOf(request)), request, { body: text, headers });
  }

  const modelled = (table: unknown): table is string => typeof table === 'string' && (!opts.tableName || table === opts.tableName);

  // ---- single-item writes
  async function singleWrite(next: (a: any) => Promise<any>, args: any, ctx: CallContext, plan: WritePlan): Promise<any> {
    const blocked = tryReserve(plan.charges);
    if (blocked.length) throw throttled(recordThrottle(ctx.op, blocked, 'request', 1));
    let result: any;
    try {
      result = await next(args);
    } catch (e) {
      refund(plan.charges);
      const err = e as { name?: string; Item?: Record<string, unknown> };
      if (err.name === 'ConditionalCheckFailedException') {
        // A failed condition still costs the write of the existing item (1 WCU if none).
        let units = plan.conditionFailUnits;
        if (err.Item && looksMarshalled(err.Item)) {
          learn(plan.table, err.Item as Item);
          units = writeUnits(itemSize(err.Item as Item));
        }
        const charge: Charge = { ...plan.charges[0]!, units };
        debit(charge);
        recordCall(ctx.op, [charge]);
      }
      throw e;
    }
    commit(plan);
    const input = args.input as Record<string, any>;
    const attrs = result?.output?.Attributes as Record<string, unknown> | undefined;
    if (input.ReturnValues === 'ALL_NEW' && attrs) learn(plan.table, asMarshalled(attrs, ctx.doc));
    recordCall(ctx.op, plan.charges);
    reportCapacity(result, input, plan.charges, false, plan.table);
    return result;
  }

  // ---- reads
  const readCharge = (table: string, resource: string, pk: string, units: number): Charge => ({ table, resource, pk, kind: 'read', units });

  /** Size of an item read: the full item's when the answer was projected and the model knows it. */
  function readSize(table: string, item: Item, projected: boolean): number {
    const size = itemSize(item);
    if (!projected) {
      return size;
    }
    return Math.max(size, shadowSize(shadow.get(itemId(table, item))));
  }

  const isProjected = (input: Record<string, any>) => Boolean(input.ProjectionExpression || input.AttributesToGet || (input.Select && input.Select !== 'ALL_ATTRIBUTES'));

  function partitionKeyOfQuery(input: Record<string, any>, pkAttr: string): string | undefined {
    const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
    const values = (input.ExpressionAttributeValues ?? {}) as Item;
    if (typeof input.KeyConditionExpression === 'string') {
      const re = /(#?[\w]+|:[\w]+)\s*=\s*(#?[\w]+|:[\w]+)/g;
      for (let m = re.exec(input.KeyConditionExpression); m; m = re.exec(input.KeyConditionExpression)) {
        for (const [a, b] of [
          [m[1]!, m[2]!],
          [m[2]!, m[1]!],
        ] as const) {
          if (a.startsWith(':') || !b.startsWith(':')) continue;
          const attr = a.startsWith('#') ? names?.[a] : a;
          if (attr === pkAttr) return scalar(values[b]);
        }
      }
    }
    const legacy = input.KeyConditions?.[pkAttr];
    if (legacy?.ComparisonOperator === 'EQ') return scalar(legacy.AttributeValueList?.[0]);
    return undefined;
  }

  const handlers: Record<string, Handler> = {
    PutItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      if (!modelled(input.TableName)) return next(args);
      return singleWrite(next, args, ctx, planPut(input.TableName, input.Item ?? {}, false));
    },
    UpdateItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      if (!modelled(input.TableName)) return next(args);
      return singleWrite(next, args, ctx, planUpdate(input.TableName, input, false));
    },
    DeleteItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      if (!modelled(input.TableName)) return next(args);
      return singleWrite(next, args, ctx, planDelete(input.TableName, input.Key ?? {}, false));
    },

    GetItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const table = input.TableName;
      if (!modelled(table)) return next(args);
      const key = (input.Key ?? {}) as Item;
      const consistent = input.ConsistentRead === true;
      const estimate = readCharge(table, 'table', scalar(key[TABLE_KEY.pk]) ?? '', readUnits(shadowSize(shadow.get(itemId(table, key))), { consistent }));
      const blocked = tryReserve([estimate]);
      if (blocked.length) throw throttled(recordThrottle(ctx.op, blocked, 'request', 1));
      let result: any;
      try {
        result = await next(args);
      } catch (e) {
        refund([estimate]);
        throw e;
      }
      const raw = result?.output?.Item as Record<string, unknown> | undefined;
      const item = raw ? asMarshalled(raw, ctx.doc) : undefined;
      const projected = isProjected(input);
      if (item && !projected) learn(table, item);
      if (!raw) shadow.delete(itemId(table, key));
      const actual = { ...estimate, units: readUnits(item ? readSize(table, item, projected) : 0, { consistent }) };
      debit(actual, actual.units - estimate.units);
      recordCall(ctx.op, [actual]);
      reportCapacity(result, input, [actual], false, table);
      return result;
    },

    Query: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const table = input.TableName;
      if (!modelled(table)) return next(args);
      const idx = input.IndexName ? indexes.find((i) => i.name === input.IndexName) : undefined;
      const resource = idx?.name ?? 'table';
      const pk = partitionKeyOfQuery(input, idx?.pk ?? TABLE_KEY.pk);
      if (pk === undefined || (input.IndexName && !idx)) return next(args);
      const consistent = input.ConsistentRead === true;
      const estimate = readCharge(table, resource, pk, readUnits(0, { consistent }));
      const blocked = tryReserve([estimate]);
      if (blocked.length) throw throttled(recordThrottle(ctx.op, blocked, 'request', 1));
      let result: any;
      try {
        result = await next(args);
      } catch (e) {
        refund([estimate]);
        throw e;
      }
      const out = result?.output ?? {};
      const projected = isProjected(input) || (idx !== undefined && idx.projection !== 'ALL');
      const items = ((out.Items ?? []) as Record<string, unknown>[]).map((i) => asMarshalled(i, ctx.doc));
      let size = items.reduce((n, i) => n + readSize(table, i, projected), 0);
      // A filter drops items after they were read (and paid for): scale by what was scanned.
      const count = Number(out.Count ?? items.length);
      const scanned = Number(out.ScannedCount ?? count);
      if (items.length > 0 && scanned > count) size = (size / items.length) * scanned;
      if (!projected) for (const i of items) learn(table, i);
      const actual = { ...estimate, units: readUnits(size, { consistent }) };
      debit(actual, actual.units - estimate.units);
      recordCall(ctx.op, [actual]);
      reportCapacity(result, input, [actual], false, table);
      return result;
    },

    Scan: async (next, args, ctx) => {
      // Accounted (it reads every partition), not throttled per partition.
      const input = args.input as Record<string, any>;
      const table = input.TableName;
      if (!modelled(table)) return next(args);
      const result = await next(args);
      const items = ((result?.output?.Items ?? []) as Record<string, unknown>[]).map((i) => asMarshalled(i, ctx.doc));
      const charge = readCharge(table, input.IndexName ?? 'table', '*', readUnits(items.reduce((n, i) => n + itemSize(i), 0), { consistent: input.ConsistentRead === true }));
      recordCall(ctx.op, [charge]);
      return result;
    },

    BatchGetItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const requestItems = (input.RequestItems ?? {}) as Record<string, { Keys?: Item[]; ConsistentRead?: boolean; ProjectionExpression?: string; AttributesToGet?: string[] }>;
      if (!Object.keys(requestItems).some(modelled)) return next(args);
      const reserved = new Map<string, Charge>(); // itemId → estimate
      const throttledKeys = new Map<string, number[]>(); // table → indexes of throttled keys
      const blockedAll: Charge[] = [];
      let total = 0;
      for (const [table, req] of Object.entries(requestItems)) {
        if (!modelled(table)) {
          total += req.Keys?.length ?? 0;
          continue;
        }
        const consistent = req.ConsistentRead === true;
        (req.Keys ?? []).forEach((key, i) => {
          total++;
          const id = itemId(table, key);
          const estimate = readCharge(table, 'table', scalar(key[TABLE_KEY.pk]) ?? '', readUnits(shadowSize(shadow.get(id)), { consistent }));
          const blocked = tryReserve([estimate]);
          if (blocked.length) {
            blockedAll.push(...blocked);
            throttledKeys.set(table, [...(throttledKeys.get(table) ?? []), i]);
          } else {
            reserved.set(id, estimate);
          }
        });
      }
      const nThrottled = [...throttledKeys.values()].reduce((n, l) => n + l.length, 0);
      if (nThrottled > 0 && nThrottled === total) throw throttled(recordThrottle(ctx.op, blockedAll, 'request', 1));
      if (nThrottled > 0) recordThrottle(ctx.op, blockedAll, 'unprocessed', nThrottled);

      let sendArgs = args;
      if (nThrottled > 0) {
        const filteredInput = { ...input, RequestItems: { ...requestItems } };
        for (const [table, idxs] of throttledKeys) {
          const req = requestItems[table]!;
          const keep = (req.Keys ?? []).filter((_, i) => !idxs.includes(i));
          if (keep.length) filteredInput.RequestItems[table] = { ...req, Keys: keep };
          else delete filteredInput.RequestItems[table];
        }
        const request = rewriteBody(args.request, (body) => {
          for (const [table, idxs] of throttledKeys) {
            const keep = (body.RequestItems[table].Keys as unknown[]).filter((_, i) => !idxs.includes(i));
            if (keep.length) body.RequestItems[table].Keys = keep;
            else delete body.RequestItems[table];
          }
        });
        sendArgs = { ...args, input: filteredInput, request };
      }

      let result: any;
      try {
        result = await next(sendArgs);
      } catch (e) {
        refund([...reserved.values()]);
        throw e;
      }
      const out = result.output as Record<string, any>;
      // Keys DynamoDB itself left unprocessed were not read.
      for (const [table, u] of Object.entries((out.UnprocessedKeys ?? {}) as Record<string, { Keys?: Record<string, unknown>[] }>)) {
        for (const k of u.Keys ?? []) {
          const id = itemId(table, asMarshalled(k, ctx.doc));
          const c = reserved.get(id);
          if (c) {
            refund([c]);
            reserved.delete(id);
          }
        }
      }
      const actuals = new Map<string, Charge>();
      for (const [table, items] of Object.entries((out.Responses ?? {}) as Record<string, Record<string, unknown>[]>)) {
        if (!modelled(table)) continue;
        const req0 = requestItems[table];
        const projected = isProjected(req0 ?? {});
        for (const raw of items) {
          const item = asMarshalled(raw, ctx.doc);
          const id = itemId(table, item);
          const estimate = reserved.get(id);
          if (!estimate) continue;
          if (!projected) learn(table, item);
          actuals.set(id, { ...estimate, units: readUnits(readSize(table, item, projected), { consistent: req0?.ConsistentRead === true }) });
        }
      }
      const charges: Charge[] = [];
      for (const [id, estimate] of reserved) {
        // Keys not found cost the minimum read.
        const actual = actuals.get(id) ?? { ...estimate, units: readUnits(0, { consistent: requestItems[estimate.table]?.ConsistentRead === true }) };
        debit(actual, actual.units - estimate.units);
        charges.push(actual);
      }
      recordCall(ctx.op, charges);
      if (nThrottled > 0) {
        out.UnprocessedKeys ??= {};
        for (const [table, idxs] of throttledKeys) {
          const req1 = requestItems[table]!;
          const keys = idxs.map((i) => req1.Keys![i]!).map((k) => (ctx.doc ? unmarshall(k as Record<string, AttributeValue>) : k));
          const existing = out.UnprocessedKeys[table];
          const { Keys: _unused, ...rest } = req1;
          out.UnprocessedKeys[table] = existing ? { ...existing, Keys: [...(existing.Keys ?? []), ...keys] } : { ...rest, Keys: keys };
        }
      }
      reportCapacity(result, input, charges, true);
      return result;
    },

    BatchWriteItem: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const requestItems = (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>;
      if (!Object.keys(requestItems).some(modelled)) return next(args);
      const plans = new Map<string, WritePlan>();
      const throttledIdx = new Map<string, number[]>();
      const blockedAll: Charge[] = [];
      let total = 0;
      for (const [table, reqs] of Object.entries(requestItems)) {
        if (!modelled(table)) {
          total += reqs.length;
          continue;
        }
        reqs.forEach((r, i) => {
          total++;
          const plan = r.PutRequest ? planPut(table, r.PutRequest.Item, false) : planDelete(table, r.DeleteRequest?.Key ?? {}, false);
          const blocked = tryReserve(plan.charges);
          if (blocked.length) {
            blockedAll.push(...blocked);
            throttledIdx.set(table, [...(throttledIdx.get(table) ?? []), i]);
          } else {
            plans.set(plan.id, plan);
          }
        });
      }
      const nThrottled = [...throttledIdx.values()].reduce((n, l) => n + l.length, 0);
      if (nThrottled > 0 && nThrottled === total) throw throttled(recordThrottle(ctx.op, blockedAll, 'request', 1));
      if (nThrottled > 0) recordThrottle(ctx.op, blockedAll, 'unprocessed', nThrottled);

      let sendArgs = args;
      if (nThrottled > 0) {
        const filtered: Record<string, unknown[]> = { ...requestItems };
        for (const [table, idxs] of throttledIdx) {
          const keep = requestItems[table]!.filter((_, i) => !idxs.includes(i));
          if (keep.length) filtered[table] = keep;
          else delete filtered[table];
        }
        const request = rewriteBody(args.request, (body) => {
          for (const [table, idxs] of throttledIdx) {
            const keep = (body.RequestItems[table] as unknown[]).filter((_, i) => !idxs.includes(i));
            if (keep.length) body.RequestItems[table] = keep;
            else delete body.RequestItems[table];
          }
        });
        sendArgs = { ...args, input: { ...input, RequestItems: filtered }, request };
      }

      let result: any;
      try {
        result = await next(sendArgs);
      } catch (e) {
        for (const p of plans.values()) refund(p.charges);
        throw e;
      }
      const out = result.output as Record<string, any>;
      for (const [table, reqs] of Object.entries((out.UnprocessedItems ?? {}) as Record<string, Record<string, any>[]>)) {
        for (const r of reqs) {
          const k = (r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}) as Record<string, unknown>;
          const id = itemId(table, asMarshalled(k, ctx.doc));
          const p = plans.get(id);
          if (p) {
            refund(p.charges);
            plans.delete(id);
          }
        }
      }
      for (const p of plans.values()) commit(p);
      const charges = [...plans.values()].flatMap((p) => p.charges);
      recordCall(ctx.op, charges);
      if (nThrottled > 0) {
        out.UnprocessedItems ??= {};
        for (const [table, idxs] of throttledIdx) {
          const reqs = idxs.map((i) => requestItems[table]![i]!).map((r) => (ctx.doc ? unmarshallWriteRequest(r) : r));
          out.UnprocessedItems[table] = [...(out.UnprocessedItems[table] ?? []), ...reqs];
        }
      }
      reportCapacity(result, input, charges, true);
      return result;
    },

    TransactWriteItems: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const actions = (input.TransactItems ?? []) as Record<string, any>[];
      if (!actions.some((a) => modelled((a.Put ?? a.Update ?? a.Delete ?? a.ConditionCheck)?.TableName))) return next(args);
      const plans: (WritePlan | undefined)[] = [];
      const checks: Charge[] = [];
      const codes: ('None' | 'ThrottlingError')[] = [];
      const blockedAll: Charge[] = [];
      for (const a of actions) {
        const body = a.Put ?? a.Update ?? a.Delete ?? a.ConditionCheck ?? {};
        const table = body.TableName;
        let plan: WritePlan | undefined;
        if (modelled(table)) {
          if (a.Put) plan = planPut(table, a.Put.Item ?? {}, true);
          else if (a.Update) plan = planUpdate(table, a.Update, true);
          else if (a.Delete) plan = planDelete(table, a.Delete.Key ?? {}, true);
          else if (a.ConditionCheck) {
            const key = (a.ConditionCheck.Key ?? {}) as Item;
            checks.push(readCharge(table, 'table', scalar(key[TABLE_KEY.pk]) ?? '', readUnits(shadowSize(shadow.get(itemId(table, key))), { transactional: true })));
          }
        }
        const blocked = plan ? tryReserve(plan.charges) : [];
        blockedAll.push(...blocked);
        codes.push(blocked.length ? 'ThrottlingError' : 'None');
        plans.push(plan && !blocked.length ? plan : undefined);
      }
      const reserved = plans.filter((p): p is WritePlan => p !== undefined);
      if (blockedAll.length) {
        for (const p of reserved) refund(p.charges);
        recordThrottle(ctx.op, blockedAll, 'request', 1);
        throw cancelled(codes);
      }
      let result: any;
      try {
        result = await next(args);
      } catch (e) {
        // A cancelled transaction is not charged here (simplification).
        for (const p of reserved) refund(p.charges);
        throw e;
      }
      for (const p of reserved) commit(p);
      for (const c of checks) debit(c);
      const charges = [...reserved.flatMap((p) => p.charges), ...checks];
      recordCall(ctx.op, charges);
      reportCapacity(result, input, charges, true);
      return result;
    },

    TransactGetItems: async (next, args, ctx) => {
      const input = args.input as Record<string, any>;
      const gets = ((input.TransactItems ?? []) as { Get?: { TableName?: string; Key?: Item } }[]).map((t) => t.Get ?? {});
      if (!gets.some((g) => modelled(g.TableName))) return next(args);
      const estimates: (Charge | undefined)[] = [];
      const codes: ('None' | 'ThrottlingError')[] = [];
      const blockedAll: Charge[] = [];
      for (const g of gets) {
        const table = g.TableName;
        if (!modelled(table)) {
          estimates.push(undefined);
          codes.push('None');
          continue;
        }
        const key = g.Key ?? {};
        const est = readCharge(table, 'table', scalar(key[TABLE_KEY.pk]) ?? '', readUnits(shadowSize(shadow.get(itemId(table, key))), { transactional: true }));
        const blocked = tryReserve([est]);
        blockedAll.push(...blocked);
        codes.push(blocked.length ? 'ThrottlingError' : 'None');
        estimates.push(blocked.length ? undefined : est);
      }
      const reserved = estimates.filter((c): c is Charge => c !== undefined);
      if (blockedAll.length) {
        refund(reserved);
        recordThrottle(ctx.op, blockedAll, 'request', 1);
        throw cancelled(codes);
      }
      let result: any;
      try {
        result = await next(args);
      } catch (e) {
        refund(reserved);
        throw e;
      }
      const responses = (result?.output?.Responses ?? []) as { Item?: Record<string, unknown> }[];
      const charges: Charge[] = [];
      estimates.forEach((est, i) => {
        if (!est) return;
        const raw = responses[i]?.Item;
        const item = raw ? asMarshalled(raw, ctx.doc) : undefined;
        if (item) learn(est.table, item);
        const actual = { ...est, units: readUnits(item ? itemSize(item) : 0, { transactional: true }) };
        debit(actual, actual.units - est.units);
        charges.push(actual);
      });
      recordCall(ctx.op, charges);
      reportCapacity(result, input, charges, true);
      return result;
    },
  };

  const name = `capacity-model-${randomBytes(4).toString('hex')}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      const handler = handlers[op];
      if (!handler) return next(args);
      if (region === undefined) {
        const r = client.config.region as unknown;
        region = typeof r === 'function' ? await (r as () => Promise<string>)() : typeof r === 'string' ? r : 'us-east-1';
      }
      const doc = (context as { __aws_sdk_context?: { features?: Record<string, string> } }).__aws_sdk_context?.features?.DDB_MAPPER !== undefined;
      return handler(next as (a: any) => Promise<any>, args, { op, doc });
    },
    // Inside the retry loop, like injectFault: every attempt is checked.
    { step: 'finalizeRequest', priority: 'low', name },
  );

  const toRecord = <T>(m: Map<string, T>): Record<string, T> => Object.fromEntries(m);

  return {
    stats(): CapacityStats {
      const byOperation = toRecord(stats.byOperation);
      const total = Object.values(byOperation).reduce((t, o) => ({ rcu: t.rcu + o.rcu, wcu: t.wcu + o.wcu }), { rcu: 0, wcu: 0 });
      const hottest = [...stats.byPartition.entries()]
        .filter(([p]) => !p.endsWith(':*'))
        .map(([partition, u]) => ({ partition, wcu: u.wcu, rcu: u.rcu }))
        .sort((a, b) => b.wcu - a.wcu || b.rcu - a.rcu)
        .slice(0, 10);
      return structuredClone({
        throttled: {
          total: stats.throttledRequests + stats.throttledUnprocessed,
          requests: stats.throttledRequests,
          unprocessed: stats.throttledUnprocessed,
          byReason: toRecord(stats.byReason),
          byPartition: toRecord(stats.throttledByPartition),
          byOperation: toRecord(stats.throttledByOperation),
        },
        consumed: { total, byOperation, byPartition: toRecord(stats.byPartition) },
        hottest,
      });
    },
    reset(o = {}) {
      stats = emptyStats();
      buckets.clear();
      if (o.forgetItems) shadow.clear();
    },
    remove() {
      client.middlewareStack.remove(name);
    },
    tokens(kind, resource, partitionKey, table) {
      const t = table ?? opts.tableName;
      if (t === undefined) {
        // The only table seen, if there is one.
        const seen = [...buckets.keys()].map((k) => k.split('\u0000')[0]!);
        const only = [...new Set(seen)];
        if (only.length !== 1) return kind === 'read' ? readRate : writeRate;
        return bucket({ table: only[0]!, resource, pk: partitionKey, kind }).tokens;
      }
      return bucket({ table: t, resource, pk: partitionKey, kind }).tokens;
    },
  };
}

function unmarshallWriteRequest(r: { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }): Record<string, unknown> {
  if (r.PutRequest) return { PutRequest: { Item: unmarshall(r.PutRequest.Item as Record<string, AttributeValue>) } };
  return { DeleteRequest: { Key: unmarshall((r.DeleteRequest?.Key ?? {}) as Record<string, AttributeValue>) } };
}
