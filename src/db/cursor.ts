import { badInput } from '../errors.js';

/**
 * Opaque cursors: base64url of `{ s: scope, k: key }`, where `key` is the DynamoDB key of the
 * last node on a page (exactly what DynamoDB would return as LastEvaluatedKey after it).
 * Decoding validates the shape strictly, so a tampered cursor or one taken from another
 * connection (another scope, partition or index) is a BAD_USER_INPUT error instead of a
 * ValidationException from DynamoDB or, worse, a page from someone else's partition.
 */
export interface CursorSpec {
  /** Names the connection, e.g. `userOrders`. */
  scope: string;
  /** Attribute names the key must have, and nothing else. */
  attributes: readonly string[];
  /** Attribute values the key must have exactly (the partition being paged). */
  fixed: Readonly<Record<string, string>>;
  /** Attribute values that must start with a prefix (the sort key range being paged). */
  prefixes?: Readonly<Record<string, string>>;
}

export type CursorKey = Record<string, string>;

/** Cursors are small; anything longer than this is not ours. */
const MAX_CURSOR_LENGTH = 2048;

/**
 * DynamoDB refuses a key value over 1,024 bytes of UTF-8 (a sort key; a partition key may take
 * 2,048) with a 400, so no stored item has one: a cursor holding one was not made here.
 */
export const MAX_KEY_VALUE_BYTES = 1024;


export function encodeCursor(scope: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ s: scope, k: key }), 'utf8').toString('base64url');
}

/** The BAD_USER_INPUT of a cursor of `scope` that is not one of ours, saying why. */
const invalidCursor = (scope: string) => (why: string) =>
  badInput(`Invalid cursor in after for ${scope}: ${why}. Pass an endCursor or edge cursor from this connection.`, {
    argument: 'after',
  });

/** The JSON object inside an opaque cursor of `scope` (its `s`), or the reason it is not one. */
function openCursor(cursor: string, scope: string): Record<string, unknown> {
  const invalid = invalidCursor(scope);
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalid('not an opaque cursor string');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('it does not decode');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('it does not decode');
  if ((parsed as { s?: unknown }).s !== scope) throw invalid('it belongs to another connection');
  return parsed as Record<string, unknown>;
}

/** A key value in a cursor must be one DynamoDB could have stored: well-formed, at most 1,024 bytes. */
function checkKeyValue(value: string, invalid: (why: string) => Error): void {
  // JSON escapes can carry lone surrogates, which would reach DynamoDB as U+FFFD: another key.
  if (!value.isWellFormed()) throw invalid('its position is not well-formed Unicode');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_KEY_VALUE_BYTES) {
    throw invalid(`its position holds a key value of ${bytes} bytes; DynamoDB keys hold at most ${MAX_KEY_VALUE_BYTES.toLocaleString('en-US')} bytes`);
  }
}

export function decodeCursor(cursor: string, spec: CursorSpec): CursorKey {
  const invalid = invalidCursor(spec.scope);
  const { k } = openCursor(cursor, spec.scope);
  if (!k || typeof k !== 'object' || Array.isArray(k)) throw invalid('it has no position');
  const key = k as Record<string, unknown>;
  const names = Object.keys(key).sort();
  const expected = [...spec.attributes].sort();
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
    throw invalid('its position has the wrong shape');
  }
  for (const n of names) {
    const value = key[n];
    if (typeof value !== 'string' || value.length === 0) throw invalid('its position has the wrong shape');
    checkKeyValue(value, invalid);
  }
  for (const [attr, value] of Object.entries(spec.fixed)) {
    if (key[attr] !== value) throw invalid('it belongs to another list');
  }
  for (const [attr, prefix] of Object.entries(spec.prefixes ?? {})) {
    if (!(key[attr] as string).startsWith(prefix)) throw invalid('it belongs to another list');
  }
  return key as CursorKey;
}

/** What a cursor of a write-sharded connection must look like. */
export interface ShardedCursorSpec {
  scope: string;
  /** The logical partition being paged, e.g. `STATUS#PENDING`. */
  partition: string;
  /** The table's shard count now: a cursor made for another count is refused. */
  shards: number;
  /** Every position starts with this (the index's sort key range). */
  sortPrefix: string;
}

/**
 * A position in a write-sharded connection: every shard stands right after the sort key of the
 * page's last node (sort keys are unique across shards, so one key places them all), except the
 * shards known to be exhausted there, which later pages skip.
 */
export interface ShardedPosition {
  after: string;
  exhausted: readonly number[];
}

export function encodeShardedCursor(spec: ShardedCursorSpec, position: ShardedPosition): string {
  const json = { s: spec.scope, p: spec.partition, n: spec.shards, k: position.after, x: position.exhausted };
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

export function decodeShardedCursor(cursor: string, spec: ShardedCursorSpec): ShardedPosition {
  const invalid = invalidCursor(spec.scope);
  const { s: _scope, p, n, k, x, ...rest } = openCursor(cursor, spec.scope);
  if (Object.keys(rest).length > 0 || typeof k !== 'string' || !Array.isArray(x) || typeof n !== 'number') {
    throw invalid('its position has the wrong shape');
  }
  if (p !== spec.partition) throw invalid('it belongs to another list');
  if (n !== spec.shards) {
    // The index was re-sharded (npm run migrate) since the cursor was made.
    throw badInput(
      `Invalid cursor in after for ${spec.scope}: it was made when the index had ${n} shards and it has ${spec.shards} now. Start again from the first page.`,
      { argument: 'after' },
    );
  }
  if (!k.startsWith(spec.sortPrefix) || k.length === spec.sortPrefix.length) throw invalid('it belongs to another list');
  checkKeyValue(k, invalid);
  const exhausted = x as unknown[];
  const valid = exhausted.every((v, i) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < spec.shards && (i === 0 || (v as number) > (exhausted[i - 1] as number)));
  if (!valid) throw invalid('its position has the wrong shape');
  return { after: k, exhausted: exhausted as number[] };
}
