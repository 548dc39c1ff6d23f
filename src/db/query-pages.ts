import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { QUERY_MAX_LIMIT, type PageRead, type PartitionRead } from './access-patterns.js';
import { decodeCursor, encodeCursor, type CursorKey, type CursorSpec } from './cursor.js';
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

export interface Page {
  nodes: { item: Item; cursor: string }[];
  /** Every item read up to the last node (nodes and the items riding along with them). */
  items: Item[];
  hasNextPage: boolean;
  endCursor: string | null;
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
        nodes.push({ item: raw, cursor: encodeCursor(spec.scope, positionOf(q, raw)) });
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
  return { nodes, items, hasNextPage, endCursor: nodes.at(-1)?.cursor ?? null };
}
