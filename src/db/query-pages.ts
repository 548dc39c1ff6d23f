import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { QUERY_MAX_LIMIT, type PageRead, type PartitionRead, type ShardedPageRead } from './access-patterns.js';
import {
  decodeCursor,
  decodeShardedCursor,
  encodeCursor,
  encodeShardedCursor,
  type CursorKey,
  type CursorSpec,
  type ShardedCursorSpec,
} from './cursor.js';
import { TABLE_KEY, type IndexDef } from './table.js';

type Item = Record<string, unknown>;

export interface PartitionQuery {
  tableName: string;
  /** Omit for the base table. */
  index?: IndexDef;
  partition: string;
  /** Restricts the sort key with begins_with. */
  sortPrefix?: string;
  /** Newest first when the sort keys are time-ordered ids: false. */
  forward: boolean;
  consistentRead?: boolean;
}

/** Pure: the QueryCommand input for one page of a single-partition query. */
export function buildQueryInput(
  q: PartitionQuery,
  limit: number | undefined,
  startKey: CursorKey | undefined,
): QueryCommandInput {
  const pk = q.index?.pk ?? TABLE_KEY.pk;
  const sk = q.index?.sk ?? TABLE_KEY.sk;
  return {
    TableName: q.tableName,
    ...(q.index ? { IndexName: q.index.name } : {}),
    KeyConditionExpression: q.sortPrefix ? '#pk = :pk AND begins_with(#sk, :sk)' : '#pk = :pk',
    ExpressionAttributeNames: q.sortPrefix ? { '#pk': pk, '#sk': sk } : { '#pk': pk },
    ExpressionAttributeValues: q.sortPrefix ? { ':pk': q.partition, ':sk': q.sortPrefix } : { ':pk': q.partition },
    ScanIndexForward: q.forward,
    ...(limit !== undefined ? { Limit: limit } : {}),
    ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    ...(q.consistentRead && !q.index ? { ConsistentRead: true } : {}),
  };
}

/** The attributes that make up a position (LastEvaluatedKey) in this query. */
export function positionAttributes(q: PartitionQuery): string[] {
  return q.index ? [TABLE_KEY.pk, TABLE_KEY.sk, q.index.pk, q.index.sk] : [TABLE_KEY.pk, TABLE_KEY.sk];
}

function positionOf(q: PartitionQuery, item: Item): CursorKey {
  const key: CursorKey = {};
  for (const a of positionAttributes(q)) key[a] = item[a] as string;
  return key;
}

/** Pure: the query that reads the whole partition of `pattern` for the parent `id`. */
export function partitionQuery(tableName: string, pattern: PartitionRead, id: string, consistentRead = false): PartitionQuery {
  return {
    tableName,
    ...(pattern.index ? { index: pattern.index } : {}),
    partition: pattern.partition(id),
    ...(pattern.sortPrefix ? { sortPrefix: pattern.sortPrefix } : {}),
    forward: true,
    consistentRead,
  };
}

/**
 * Reads a whole partition (following LastEvaluatedKey past the 1 MB page limit). For
 * partitions that are bounded by design (a profile and its addresses, an order and its lines).
 */
export async function queryPartition(doc: DynamoDBDocumentClient, q: PartitionQuery): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: CursorKey | undefined;
  do {
    const out = await doc.send(new QueryCommand(buildQueryInput(q, undefined, startKey)));
    items.push(...((out.Items ?? []) as Item[]));
    startKey = out.LastEvaluatedKey as CursorKey | undefined;
  } while (startKey);
  return items;
}

export interface PageRequest {
  first: number;
  after?: string | null | undefined;
  /**
   * Which items are the connection's nodes. Other items returned by the query (for example an
   * order's lines stored next to it in the index) ride along and are returned in `items`.
   */
  isNode?: (item: Item) => boolean;
}

/** A node of a page and its cursor. */
export interface PageNode {
  item: Item;
  readonly cursor: string;
}

/**
 * A node whose cursor is encoded when first read: most queries select no edge cursor, and
 * encoding one (JSON and base64 of the node's key) for every node of every page is wasted work.
 */
export function pageNode(item: Item, encode: () => string): PageNode {
  let cursor: string | undefined;
  return {
    item,
    get cursor() {
      return (cursor ??= encode());
    },
  };
}

export interface Page {
  nodes: PageNode[];
  /** Every item read up to the last node (nodes and the items riding along with them). */
  items: Item[];
  hasNextPage: boolean;
  /** The last node's cursor (encoded when read, like the nodes'). */
  readonly endCursor: string | null;
}

/** Pure: the single-partition query that one page of `pattern` reads, for the parent `id`. */
export function pageQuery(tableName: string, pattern: PageRead, id: string): PartitionQuery {
  return {
    tableName,
    ...(pattern.index ? { index: pattern.index } : {}),
    partition: pattern.partition(id),
    ...(pattern.sortPrefix ? { sortPrefix: pattern.sortPrefix } : {}),
    forward: pattern.forward,
  };
}

/** Pure: what a cursor of this connection must look like (its scope, key attributes, partition). */
export function cursorSpec(pattern: PageRead, q: PartitionQuery): CursorSpec {
  const pk = q.index?.pk ?? TABLE_KEY.pk;
  const sk = q.index?.sk ?? TABLE_KEY.sk;
  return {
    scope: pattern.name,
    attributes: positionAttributes(q),
    fixed: { [pk]: q.partition },
    ...(q.sortPrefix ? { prefixes: { [sk]: q.sortPrefix } } : {}),
  };
}

/**
 * One page of a single-partition connection (an access pattern of kind `page`). It asks for
 * `first + 1` nodes, so `hasNextPage` is exact (DynamoDB returns a LastEvaluatedKey whenever
 * Limit is reached, even with nothing after it). The first Query is sized for the pattern's
 * typical items per node, follow-ups for its maximum; DynamoDB also stops at 1 MB per call. After
 * `maxCallsPerPage` calls the page ends where it is, with `hasNextPage: true` (Relay allows
 * fewer than `first` nodes): the calls a page makes are bounded, and the query cost estimate
 * relies on that bound. Each node's cursor is its own key, so the next page starts right after
 * it: every node appears exactly once.
 */
export async function queryPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pattern: PageRead,
  id: string,
  page: PageRequest,
): Promise<Page> {
  const q = pageQuery(tableName, pattern, id);
  const spec = cursorSpec(pattern, q);
  // An empty string is a (bad) cursor too, never "no cursor".
  let startKey: CursorKey | undefined = page.after != null ? decodeCursor(page.after, spec) : undefined;
  const isNode = page.isNode ?? (() => true);
  const nodes: Page['nodes'] = [];
  const items: Item[] = [];
  let hasNextPage = false;

  for (let call = 1; ; call++) {
    const wanted = page.first + 1 - nodes.length;
    const perNode = call === 1 ? pattern.itemsPerNode.typical : pattern.itemsPerNode.max;
    const limit = Math.min(QUERY_MAX_LIMIT, wanted * perNode);
    const out = await doc.send(new QueryCommand(buildQueryInput(q, limit, startKey)));
    let done = false;
    for (const raw of (out.Items ?? []) as Item[]) {
      if (isNode(raw)) {
        if (nodes.length === page.first) {
          hasNextPage = true;
          done = true;
          break;
        }
        nodes.push(pageNode(raw, () => encodeCursor(spec.scope, positionOf(q, raw))));
      }
      items.push(raw);
    }
    if (done) break;
    startKey = out.LastEvaluatedKey as CursorKey | undefined;
    if (!startKey) break;
    if (call >= pattern.maxCallsPerPage && nodes.length > 0) {
      // The budget of this page is spent: end it after its last whole node. Items read past
      // that node belong to the next page, which reads them again from the cursor. (A page
      // always ends with at least one node, so paging makes progress even over items far
      // larger than the key design allows.)
      hasNextPage = true;
      const last = nodes.at(-1)?.item;
      if (last) items.splice(items.indexOf(last) + 1);
      break;
    }
  }
  return {
    nodes,
    items,
    hasNextPage,
    get endCursor() {
      return nodes.at(-1)?.cursor ?? null;
    },
  };
}

/** Pure: the Query of one shard for a page: its partition, below (or above) the position, `limit` items. */
export function shardQueryInput(
  tableName: string,
  pattern: ShardedPageRead,
  id: string,
  shard: number,
  limit: number,
  after: string | undefined,
): QueryCommandInput {
  const { pk, sk } = pattern.index;
  return {
    TableName: tableName,
    IndexName: pattern.index.name,
    KeyConditionExpression: after === undefined ? '#pk = :pk' : `#pk = :pk AND #sk ${pattern.forward ? '>' : '<'} :after`,
    ExpressionAttributeNames: after === undefined ? { '#pk': pk } : { '#pk': pk, '#sk': sk },
    ExpressionAttributeValues: after === undefined ? { ':pk': pattern.shardPartition(id, shard) } : { ':pk': pattern.shardPartition(id, shard), ':after': after },
    ScanIndexForward: pattern.forward,
    Limit: limit,
  };
}

/** What one shard answered for a page. */
export interface ShardAnswer {
  shard: number;
  items: Item[];
  /** DynamoDB returned a LastEvaluatedKey: the shard may hold more. */
  more: boolean;
}

/**
 * Pure: merges the shards' answers into one page of `first` nodes in sort-key order, with each
 * node's cursor. The page never runs past what a shard that has more left unread could still
 * hold (a shard's unread items sort after its last returned one), so merging never skips an
 * item; every shard is asked for `first + 1` items, so in practice that limit is never reached
 * before `first` nodes. A node's cursor says where every shard stands after it: right after the
 * node's sort key, and which shards hold nothing more there (later pages do not read them).
 */
export function mergeShardPages(
  spec: ShardedCursorSpec,
  sortKey: string,
  forward: boolean,
  answers: readonly ShardAnswer[],
  first: number,
  exhaustedBefore: readonly number[],
): Page {
  const before = (a: string, b: string) => (forward ? a < b : a > b);
  const merged = answers.flatMap((a) => a.items.map((item) => ({ item, shard: a.shard, key: item[sortKey] as string })));
  merged.sort((a, b) => (a.key === b.key ? 0 : before(a.key, b.key) ? -1 : 1));
  // The furthest a page may go: no further than the last returned item of a shard with more.
  let bound: string | undefined;
  for (const a of answers) {
    if (!a.more || a.items.length === 0) continue;
    const last = a.items.at(-1)![sortKey] as string;
    if (bound === undefined || before(last, bound)) bound = last;
  }
  let count = Math.min(first, merged.length);
  if (bound !== undefined) {
    const cut = merged.findIndex((m) => before(bound!, m.key));
    if (cut !== -1 && cut < count) count = cut;
  }
  // Where each shard's last returned item sits in the merged order (-1: none returned).
  const lastIndex = new Map<number, number>();
  merged.forEach((m, i) => lastIndex.set(m.shard, i));
  const exhausted = new Set(exhaustedBefore);
  const nodes: Page['nodes'] = [];
  for (let i = 0; i < count; i++) {
    const m = merged[i]!;
    const done = new Set(exhausted);
    for (const a of answers) if (!a.more && (lastIndex.get(a.shard) ?? -1) <= i) done.add(a.shard);
    const position = { after: m.key, exhausted: [...done].sort((x, y) => x - y) };
    nodes.push(pageNode(m.item, () => encodeShardedCursor(spec, position)));
  }
  return {
    nodes,
    items: nodes.map((n) => n.item),
    hasNextPage: merged.length > count || answers.some((a) => a.more),
    get endCursor() {
      return nodes.at(-1)?.cursor ?? null;
    },
  };
}

/** Pure: what a cursor of this sharded connection must look like. */
export function shardedCursorSpec(pattern: ShardedPageRead, id: string, shards: number): ShardedCursorSpec {
  return { scope: pattern.name, partition: pattern.partition(id), shards, sortPrefix: pattern.sortPrefix };
}

/**
 * One page of a write-sharded connection (kind `shardedPage`): one Query per shard not yet
 * exhausted, all in parallel (one wave), each for `first + 1` items below the cursor's position,
 * merged in sort-key order (mergeShardPages). Exactly once across pages, also with items
 * inserted in between: the position is a sort key, and sort keys are unique across shards.
 */
export async function queryShardedPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pattern: ShardedPageRead,
  id: string,
  shards: number,
  page: PageRequest,
): Promise<Page> {
  const spec = shardedCursorSpec(pattern, id, shards);
  // An empty string is a (bad) cursor too, never "no cursor".
  const position = page.after != null ? decodeShardedCursor(page.after, spec) : undefined;
  const skip = new Set(position?.exhausted ?? []);
  const limit = Math.min(QUERY_MAX_LIMIT, page.first + 1);
  const live = Array.from({ length: shards }, (_, s) => s).filter((s) => !skip.has(s));
  const answers = await Promise.all(
    live.map(async (shard): Promise<ShardAnswer> => {
      const out = await doc.send(new QueryCommand(shardQueryInput(tableName, pattern, id, shard, limit, position?.after)));
      return { shard, items: (out.Items ?? []) as Item[], more: out.LastEvaluatedKey !== undefined };
    }),
  );
  return mergeShardPages(spec, pattern.index.sk, pattern.forward, answers, page.first, position?.exhausted ?? []);
}
