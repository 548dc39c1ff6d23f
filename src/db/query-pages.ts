import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { decodeCursor, encodeCursor, type CursorKey } from './cursor.js';
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
  /** Names the connection in its cursors (a cursor of one scope is refused by another). */
  scope: string;
  first: number;
  after?: string | null | undefined;
  /**
   * Which items are the connection's nodes. Other items returned by the query (for example an
   * order's lines stored next to it in the index) ride along and are returned in `items`.
   */
  isNode?: (item: Item) => boolean;
  /** Expected items read per node, to size `Limit` when other items ride along. */
  itemsPerNode?: number;
}

export interface Page {
  nodes: { item: Item; cursor: string }[];
  /** Every item read up to the last node (nodes and the items riding along with them). */
  items: Item[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** DynamoDB reads at most 1 MB per Query call; this only bounds our Limit. */
const MAX_QUERY_LIMIT = 1000;

/**
 * One page of a single-partition connection. It asks for `first + 1` nodes, so `hasNextPage` is
 * exact (DynamoDB returns a LastEvaluatedKey whenever Limit is reached, even with nothing
 * after it), and keeps reading while DynamoDB stops early at 1 MB. Each node's cursor is its
 * own key, so the next page starts right after it: every item appears exactly once.
 */
export async function queryPage(
  doc: DynamoDBDocumentClient,
  q: PartitionQuery,
  page: PageRequest,
): Promise<Page> {
  const sk = q.index?.sk ?? TABLE_KEY.sk;
  const pk = q.index?.pk ?? TABLE_KEY.pk;
  let startKey: CursorKey | undefined = page.after
    ? decodeCursor(page.after, {
        scope: page.scope,
        attributes: positionAttributes(q),
        fixed: { [pk]: q.partition },
        ...(q.sortPrefix ? { prefixes: { [sk]: q.sortPrefix } } : {}),
      })
    : undefined;
  const isNode = page.isNode ?? (() => true);
  let perNode = page.itemsPerNode ?? 1;
  let read = 0;
  const nodes: Page['nodes'] = [];
  const items: Item[] = [];
  let hasNextPage = false;

  for (;;) {
    const wanted = page.first + 1 - nodes.length;
    const limit = Math.min(MAX_QUERY_LIMIT, wanted * perNode);
    const out = await doc.send(new QueryCommand(buildQueryInput(q, limit, startKey)));
    read += out.Items?.length ?? 0;
    let done = false;
    for (const raw of (out.Items ?? []) as Item[]) {
      if (isNode(raw)) {
        if (nodes.length === page.first) {
          hasNextPage = true;
          done = true;
          break;
        }
        nodes.push({ item: raw, cursor: encodeCursor(page.scope, positionOf(q, raw)) });
      }
      items.push(raw);
    }
    if (done) break;
    startKey = out.LastEvaluatedKey as CursorKey | undefined;
    if (!startKey) break;
    // Size the next read by what this partition really holds per node, with some headroom.
    if (nodes.length > 0) perNode = Math.max(perNode, Math.ceil((read / nodes.length) * 1.25));
  }
  return { nodes, items, hasNextPage, endCursor: nodes.at(-1)?.cursor ?? null };
}
