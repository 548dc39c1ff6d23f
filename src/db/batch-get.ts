import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AppError } from '../errors.js';
import { sleepBackoff, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { keyId, type TableKey } from './keys.js';

/** DynamoDB's limit: at most 100 keys per BatchGetItem call. */
export const BATCH_GET_MAX_KEYS = 100;

export interface BatchGetOptions {
  /** Rounds of UnprocessedKeys retries after the first call, before failing loudly. */
  maxRetries?: number;
  backoff?: BackoffOptions;
  consistentRead?: boolean;
}

type Item = Record<string, unknown>;

/** Pure: de-duplicated keys split into chunks of at most 100, first appearance order kept. */
export function chunkUniqueKeys(keys: readonly TableKey[], size = BATCH_GET_MAX_KEYS): TableKey[][] {
  const seen = new Set<string>();
  const unique: TableKey[] = [];
  for (const k of keys) {
    const id = keyId(k);
    if (seen.has(id)) continue;
    seen.add(id);
    unique.push({ PK: k.PK, SK: k.SK });
  }
  const chunks: TableKey[][] = [];
  for (let i = 0; i < unique.length; i += size) chunks.push(unique.slice(i, i + size));
  return chunks;
}

/**
 * Reads items by key with BatchGetItem: duplicate keys are sent once (a duplicate in one call is
 * a ValidationException), calls carry at most 100 keys and run in parallel, UnprocessedKeys are
 * retried with exponential backoff and jitter, and results come back in the order of `keys`
 * (undefined where an item does not exist). Keys still unprocessed after the retries make the
 * whole call fail with SERVICE_UNAVAILABLE: a missing item and an unread one must never look
 * alike.
 */
export async function batchGet(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly TableKey[],
  opts: BatchGetOptions = {},
): Promise<(Item | undefined)[]> {
  if (keys.length === 0) return [];
  const found = new Map<string, Item>();
  const maxRetries = opts.maxRetries ?? 8;
  await Promise.all(
    chunkUniqueKeys(keys).map((chunk) =>
      getChunk(doc, tableName, chunk, found, maxRetries, opts.backoff ?? DEFAULT_BACKOFF, opts.consistentRead),
    ),
  );
  return keys.map((k) => found.get(keyId(k)));
}

async function getChunk(
  doc: DynamoDBDocumentClient,
  tableName: string,
  chunk: TableKey[],
  found: Map<string, Item>,
  maxRetries: number,
  backoff: BackoffOptions,
  consistentRead: boolean | undefined,
): Promise<void> {
  let pending: Record<string, unknown>[] = chunk as unknown as Record<string, unknown>[];
  for (let attempt = 0; ; attempt++) {
    const out = await doc.send(
      new BatchGetCommand({
        RequestItems: {
          [tableName]: { Keys: pending, ...(consistentRead ? { ConsistentRead: true } : {}) },
        },
      }),
    );
    for (const item of out.Responses?.[tableName] ?? []) {
      found.set(keyId(item as unknown as TableKey), item);
    }
    const unprocessed = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
    if (unprocessed.length === 0) return;
    if (attempt >= maxRetries) {
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `DynamoDB left ${unprocessed.length} key(s) unprocessed after ${maxRetries} retries`,
        { unprocessedKeys: unprocessed.length },
      );
    }
    pending = unprocessed;
    await sleepBackoff(attempt, backoff);
  }
}
