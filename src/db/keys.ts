/**
 * The only module that writes key strings. Every prefix is a constant here, so a key layout
 * change is one edit, and tests can assert the layout without a database.
 *
 * Layout (see README "Table design"):
 *   USER#<id>      / PROFILE                  user profile
 *   USER#<id>      / ADDRESS#<addressId>      addresses, co-located with the profile
 *   EMAIL#<email>  / EMAIL                    unique-email reservation (lower-cased)
 *   PRODUCT#<id>   / PRODUCT                  product
 *   ORDER#<id>     / ORDER                    order header
 *   ORDER#<id>     / ITEM#<nnn>               order lines, co-located with the header
 *   IDEMPOTENCY#<userId> / KEY#<key>          placeOrder idempotency record (per user)
 *   IDEMPOTENCY#<key> / IDEMPOTENCY           legacy (version 1) record: keys were global
 *   GSI1 USER#<userId> / ORDER#<orderId>[#ITEM#<nnn>]   a user's orders (and their lines)
 *   GSI2 FEATURED      / PRODUCT#<productId>            featured products (sparse)
 *   GSI3 STATUS#<status>#<shard> / ORDER#<orderId>      orders by status, write-sharded
 *   META#DESIGN / DESIGN                      the table's key design version (design.ts)
 */
export const PREFIX = {
  user: 'USER#',
  address: 'ADDRESS#',
  email: 'EMAIL#',
  product: 'PRODUCT#',
  order: 'ORDER#',
  item: 'ITEM#',
  status: 'STATUS#',
  idempotency: 'IDEMPOTENCY#',
  idempotencyKey: 'KEY#',
} as const;

export const SORT = {
  profile: 'PROFILE',
  email: 'EMAIL',
  product: 'PRODUCT',
  order: 'ORDER',
  idempotency: 'IDEMPOTENCY',
} as const;

export const FEATURED_PARTITION = 'FEATURED';

export interface TableKey {
  PK: string;
  SK: string;
}

/** Order lines are numbered with a fixed width so that their sort keys sort numerically. */
export const formatLineNumber = (n: number): string => String(n).padStart(3, '0');

export const keys = {
  user: (userId: string): TableKey => ({ PK: PREFIX.user + userId, SK: SORT.profile }),
  userPartition: (userId: string): string => PREFIX.user + userId,
  address: (userId: string, addressId: string): TableKey => ({
    PK: PREFIX.user + userId,
    SK: PREFIX.address + addressId,
  }),
  email: (email: string): TableKey => ({
    PK: PREFIX.email + normalizeEmail(email),
    SK: SORT.email,
  }),
  product: (productId: string): TableKey => ({ PK: PREFIX.product + productId, SK: SORT.product }),
  order: (orderId: string): TableKey => ({ PK: PREFIX.order + orderId, SK: SORT.order }),
  orderPartition: (orderId: string): string => PREFIX.order + orderId,
  orderItem: (orderId: string, line: number): TableKey => ({
    PK: PREFIX.order + orderId,
    SK: PREFIX.item + formatLineNumber(line),
  }),
  /** Idempotency keys belong to a user: two users may use the same key for two orders. */
  idempotency: (userId: string, key: string): TableKey => ({
    PK: PREFIX.idempotency + userId,
    SK: PREFIX.idempotencyKey + key,
  }),
  /** Where version 1 kept a key (one global namespace); still honoured for the user who wrote it. */
  legacyIdempotency: (key: string): TableKey => ({
    PK: PREFIX.idempotency + key,
    SK: SORT.idempotency,
  }),
  /** GSI1: a user's orders newest first; lines sort right after their header's key. */
  userOrdersIndex: (userId: string, orderId: string, line?: number) => ({
    GSI1PK: PREFIX.user + userId,
    GSI1SK:
      PREFIX.order + orderId + (line === undefined ? '' : '#' + PREFIX.item + formatLineNumber(line)),
  }),
  userOrdersPartition: (userId: string): string => PREFIX.user + userId,
  /** GSI2: sparse; only featured products carry these attributes. */
  featuredIndex: (productId: string) => ({
    GSI2PK: FEATURED_PARTITION,
    GSI2SK: PREFIX.product + productId,
  }),
  /**
   * GSI3: orders by status, rewritten whenever the status changes. Write-sharded: an order
   * lives in shard `statusShard(orderId, shards)` of its status, so no status's writes meet on
   * one partition key; the shard depends on the id only, so an order's changes stay in one shard.
   */
  statusIndex: (status: string, orderId: string, shards: number) => ({
    GSI3PK: keys.statusShardPartition(status, statusShard(orderId, shards)),
    GSI3SK: PREFIX.order + orderId,
  }),
  statusShardPartition: (status: string, shard: number): string => `${PREFIX.status}${status}#${shard}`,
};

/**
 * The shard of an order in the status index: FNV-1a (32 bits) of its id, modulo `shards`.
 * Stable (a pure function of the id) and even over ULIDs, whose last 16 characters are random.
 */
export function statusShard(orderId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    h ^= orderId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** Emails are unique case-insensitively: the reservation key is trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A stable string for a key, used to de-duplicate and to put results back in key order. */
export function keyId(key: TableKey): string {
  return `${key.PK}\u0000${key.SK}`;
}
