import { BATCH_GET_MAX_KEYS } from './batch-get.js';

export { BATCH_GET_MAX_KEYS };
import { FEATURED_PARTITION, keys, PREFIX } from './keys.js';
import { INDEXES, type IndexDef } from './table.js';
import { TRANSACTION_MAX_ACTIONS } from './transact.js';
import { DEFAULT_STATUS_SHARDS, type TableLayout } from './design.js';

/**
 * Every way the server reads the table, named once. The repositories build their commands from
 * these definitions, the cursor codec takes its scope and its key shape from them, the query
 * cost estimator (src/query-cost.ts) takes its call counts from them, and the README's
 * access-pattern table is rendered from them (`npm run docs:gen`, checked by a test). A change
 * to the key design is one edit here, and the budget follows it.
 */

/** DynamoDB reads at most 1 MB per Query call (before filters). */
export const QUERY_PAGE_BYTES = 1024 * 1024;
/** Our own cap on `Limit` for one Query call. */
export const QUERY_MAX_LIMIT = 1000;
/**
 * Lines per order: a placeOrder transaction holds the order, the user's counter and the
 * idempotency record, then one line and one stock update per line, and DynamoDB allows 100
 * actions per transaction: (100 - 3) / 2 = 48.
 */
export const MAX_ORDER_LINES = Math.floor((TRANSACTION_MAX_ACTIONS - 3) / 2);
/** Bounded so that deleteUser removes the profile, its email and every address in one transaction. */
export const MAX_ADDRESSES_PER_USER = 20;

interface Named {
  /** For pages, also the scope written into their cursors: a cursor of one connection is refused by another. */
  name: string;
  summary: string;
  /** The GraphQL fields it answers (for the README). */
  serves: readonly string[];
}

/** A single-partition Query: the index (table when omitted), the partition key and a sort-key prefix. */
interface QueryShape extends Named {
  index?: IndexDef;
  /** Builds the partition key value from the parent's id. */
  partition: (id: string) => string;
  /** Restricts the sort key with begins_with. */
  sortPrefix?: string;
  keyCondition: string;
}

/** Reads one item per key, batched by DataLoader into BatchGetItem calls of 100 keys. */
export interface KeyRead extends Named {
  kind: 'keys';
  key: string;
}

/** Reads one whole partition with Query; bounded by design, so one call. */
export interface PartitionRead extends QueryShape {
  kind: 'partition';
  /** Items in the partition at most (why one Query call always reads it whole, far below 1 MB). */
  maxItems: number;
  /** Query calls per read. */
  calls: number;
}

/** Reads one page of a connection with Query; `first` nodes. */
export interface PageRead extends QueryShape {
  kind: 'page';
  forward: boolean;
  /**
   * Items DynamoDB returns per node: `typical` sizes the first Query's Limit (Limit counts items
   * read, and over-reading costs capacity), `max` sizes follow-up reads so that they finish.
   */
  itemsPerNode: { typical: number; max: number };
  /**
   * Query calls one page may take. The paginator stops there and returns a shorter page with
   * `hasNextPage: true` (Relay allows fewer than `first`), so this is a hard bound, never a guess.
   */
  maxCallsPerPage: number;
}

/**
 * Reads one page of a connection whose index is write-sharded: every shard is queried in parallel
 * (one wave) and the answers merged. The shard count is the table's (src/db/design.ts), so the
 * calls a page makes are `shards × maxCallsPerShard` at most; shards the cursor knows to be
 * exhausted are not read again.
 */
export interface ShardedPageRead extends Named {
  kind: 'shardedPage';
  index: IndexDef;
  /** The logical partition (e.g. `STATUS#PENDING`), written into cursors. */
  partition: (id: string) => string;
  /** The partition key of one shard. */
  shardPartition: (id: string, shard: number) => string;
  /** Every sort key starts with this (cursor positions are checked against it). */
  sortPrefix: string;
  forward: boolean;
  keyCondition: string;
  /** Items per node: 1, the index holds nodes only. */
  itemsPerNode: { typical: 1; max: 1 };
  /** Query calls per shard and page (a shard's answer for 101 small items is far below 1 MB). */
  maxCallsPerShard: number;
}

export type AccessPattern = KeyRead | PartitionRead | PageRead | ShardedPageRead;

/** Query calls one page may take: a sharded page reads each of the table's shards. */
export function maxCallsPerPage(p: PageRead | ShardedPageRead, layout: TableLayout): number {
  return p.kind === 'page' ? p.maxCallsPerPage : p.maxCallsPerShard * layout.statusShards;
}

export const ACCESS_PATTERNS = {
  user: { kind: 'keys', name: 'user', summary: 'A user profile by id', serves: ['Query.user', 'Query.users', 'Query.me', 'Order.user'], key: 'USER#<id> / PROFILE' },
  userWithAddresses: {
    kind: 'partition',
    name: 'userWithAddresses',
    summary: 'A profile and its addresses',
    serves: ['Query.user', 'Query.users', 'Query.me'],
    partition: keys.userPartition,
    keyCondition: 'PK = USER#<id>',
    maxItems: 1 + MAX_ADDRESSES_PER_USER,
    calls: 1,
  },
  userAddresses: {
    kind: 'partition',
    name: 'userAddresses',
    summary: "A user's addresses",
    serves: ['User.addresses'],
    partition: keys.userPartition,
    sortPrefix: PREFIX.address,
    keyCondition: 'PK = USER#<id> AND begins_with(SK, ADDRESS#)',
    maxItems: MAX_ADDRESSES_PER_USER,
    calls: 1,
  },
  product: { kind: 'keys', name: 'product', summary: 'A product by id', serves: ['Query.product', 'Query.products', 'OrderItem.product'], key: 'PRODUCT#<id> / PRODUCT' },
  order: { kind: 'keys', name: 'order', summary: 'An order header by id', serves: ['Query.order'], key: 'ORDER#<id> / ORDER' },
  orderWithItems: {
    kind: 'partition',
    name: 'orderWithItems',
    summary: 'An order and its lines',
    serves: ['Query.order', 'Order.items'],
    partition: keys.orderPartition,
    keyCondition: 'PK = ORDER#<id>',
    maxItems: 1 + MAX_ORDER_LINES,
    calls: 1,
  },
  userOrders: {
    kind: 'page',
    name: 'userOrders',
    summary: "A user's orders, newest first, each with all its lines",
    serves: ['User.orders'],
    index: INDEXES.userOrders,
    partition: keys.userOrdersPartition,
    forward: false,
    keyCondition: 'GSI1PK = USER#<id>, descending',
    // Room for 7 lines per order keeps typical pages to one Query; a follow-up read sized for
    // 48 lines per order (1,000 items, far below 1 MB) brings 20 more orders of the largest size.
    itemsPerNode: { typical: 8, max: 1 + MAX_ORDER_LINES },
    maxCallsPerPage: 2,
  },
  featuredProducts: {
    kind: 'page',
    name: 'featuredProducts',
    summary: 'Featured products, newest first (sparse index)',
    serves: ['Query.featuredProducts'],
    index: INDEXES.featured,
    partition: () => FEATURED_PARTITION,
    forward: false,
    keyCondition: 'GSI2PK = FEATURED, descending',
    // 101 products of the largest allowed size (a 4,000-character description) pass 1 MB.
    itemsPerNode: { typical: 1, max: 1 },
    maxCallsPerPage: 2,
  },
  ordersByStatus: {
    kind: 'shardedPage',
    name: 'ordersByStatus',
    summary: 'Orders in one status, newest first (inverted index, write-sharded: every shard read in parallel and merged)',
    serves: ['Query.ordersByStatus'],
    index: INDEXES.byStatus,
    partition: (status: string) => PREFIX.status + status,
    shardPartition: keys.statusShardPartition,
    sortPrefix: PREFIX.order,
    forward: false,
    keyCondition: 'GSI3PK = STATUS#<status>#<shard>, descending, each of STATUS_SHARDS shards',
    // 101 order headers of a few hundred bytes each: far below 1 MB per shard.
    itemsPerNode: { typical: 1, max: 1 },
    maxCallsPerShard: 1,
  },
} as const satisfies Record<string, AccessPattern>;

export type AccessPatternName = keyof typeof ACCESS_PATTERNS;

/** BatchGetItem calls for `n` keys (100 keys a call). */
export const batchGetCalls = (n: number): number => Math.ceil(n / BATCH_GET_MAX_KEYS);

/** The README's access-pattern table, rendered from the definitions above (`npm run docs:gen`). */
export function renderAccessPatternTable(): string {
  const rows = Object.values(ACCESS_PATTERNS as Record<string, AccessPattern>).map((p) => {
    const where = p.kind !== 'keys' && p.index ? p.index.name : 'table';
    const serves = p.serves.map((f) => `\`${f}\``).join(', ');
    const read =
      p.kind === 'keys'
        ? `BatchGetItem \`${p.key}\``
        : `Query \`${p.keyCondition}\``;
    const calls =
      p.kind === 'keys'
        ? `1 per ${BATCH_GET_MAX_KEYS} keys, de-duplicated`
        : p.kind === 'partition'
          ? `${p.calls} (at most ${p.maxItems} items)`
          : p.kind === 'shardedPage'
            ? `${p.maxCallsPerShard} per shard and page, in parallel: STATUS_SHARDS (default ${DEFAULT_STATUS_SHARDS}) at most; exhausted shards are not read again`
            : `at most ${p.maxCallsPerPage} per page (${p.itemsPerNode.max === 1 ? '1 item' : `up to ${p.itemsPerNode.max} items`} per node)`;
    return `| \`${p.name}\` | ${p.summary} | ${serves} | ${where} | ${read} | ${calls} |`;
  });
  return ['| Pattern | Reads | Serves | Index | Key condition | DynamoDB calls |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
