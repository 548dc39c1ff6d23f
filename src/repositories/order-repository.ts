import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { batchGet } from '../db/batch-get.js';
import type { Database } from '../db/database.js';
import { keys } from '../db/keys.js';
import { TTL_ATTRIBUTE } from '../db/design.js';
import { ACCESS_PATTERNS } from '../db/access-patterns.js';
import { toConnection, type Connection } from '../model/connection.js';
import { partitionQuery, queryPage, queryPartition, queryShardedPage } from '../db/query-pages.js';
import { TRANSACT_CONFLICT_ATTEMPTS, transactWrite, TransactionCancelledError, type LabelledAction } from '../db/transact.js';
import { AppError, badInput, conflict, notFound, orderNotFound } from '../errors.js';

export { orderNotFound };
import { fitsGraphQLInt, GRAPHQL_INT_MAX } from '../model/int-range.js';
import {
  CANCELLABLE_STATUSES,
  orderFromItem,
  orderLineFromItem,
  IDEMPOTENCY_ENTITY,
  isOrderHeader,
  isOrderLine,
  STATUS_PREDECESSOR,
  orderToItem,
  orderLineToItem,
  type Order,
  type OrderLine,
  type OrderStatus,
} from '../model/order.js';
import { productFromItem, type Product } from '../model/product.js';
import { convertSkippingMalformed, tryConvert, type StoredItemError } from '../model/stored-item.js';
import { userFromItem, type User } from '../model/user.js';
import { productNotFound } from './product-repository.js';

const ulid = monotonicFactory();

/** Lines per order at most (see access-patterns.ts: one transaction holds 100 actions). */
export { MAX_ORDER_LINES } from '../db/access-patterns.js';

/** Attempts when a product's price changed between our read and our write. */
const PRICE_ATTEMPTS = 3;
const OPTIMISTIC_ATTEMPTS = 4;

/**
 * The most DynamoDB calls each write makes, retries included; the query cost estimate reads
 * these. placeOrder: per price attempt one BatchGetItem and one transaction (sent again on
 * conflicts), then on an idempotency race a GetItem and the replayed order's Query (or, for a
 * version 1 key, one GetItem of its order's owner).
 */
export const ORDER_WRITE_CALLS = {
  placeOrder: PRICE_ATTEMPTS * (1 + TRANSACT_CONFLICT_ATTEMPTS) + 3,
  updateOrderStatus: 1,
  cancelOrder: OPTIMISTIC_ATTEMPTS * (1 + TRANSACT_CONFLICT_ATTEMPTS),
} as const;

export interface OrderLineInput {
  productId: string;
  quantity: number;
}

export interface OrderWithItems {
  order: Order;
  items: OrderLine[];
}

export interface OrderPage extends Connection<Order> {
  /** Lines per order id, present when the query brought them along (GSI1). */
  itemsByOrder?: Map<string, OrderLine[]>;
}

export interface PlacedOrder extends OrderWithItems {
  /** Products with their stock after this order, for the request's cache. */
  products: Product[];
  /** The user with its orderCount after this order, for the request's cache. */
  user?: User | undefined;
  /** True when this call replayed an earlier placeOrder with the same idempotency key. */
  replayed: boolean;
}

export class OrderRepository {
  constructor(private readonly db: Database) {}

  /**
   * Orders by id in one BatchGetItem per 100 ids; undefined where an order does not exist, its
   * own StoredItemError where its item is malformed (that id fails, not its batch).
   */
  async getOrders(ids: readonly string[]): Promise<(Order | StoredItemError | undefined)[]> {
    const items = await batchGet(this.db.doc, this.db.tableName, ids.map(keys.order));
    return items.map((i) => (i ? tryConvert(i, orderFromItem) : undefined));
  }

  /**
   * The order header and its lines share ORDER#<id>: one Query. A malformed header throws
   * (StoredItemError). A malformed line is left out (stored-item.ts), except in a consistent
   * read: that is the read before a write (cancelOrder, a placeOrder replay), which must see
   * every line (cancelOrder puts back each line's stock), so a malformed one throws there too.
   */
  async getOrderWithItems(id: string, consistentRead = false): Promise<OrderWithItems | undefined> {
    const items = await queryPartition(this.db.doc, partitionQuery(this.db.tableName, ACCESS_PATTERNS.orderWithItems, id, consistentRead));
    const header = items.find(isOrderHeader);
    if (!header) return undefined;
    const lines = items.filter(isOrderLine);
    return {
      order: orderFromItem(header),
      items: consistentRead ? lines.map(orderLineFromItem) : convertSkippingMalformed(lines, orderLineFromItem),
    };
  }

  /**
   * A user's orders newest first from GSI1, where each order's lines are stored right next to
   * it: one Query returns the orders of a page together with all their lines. Malformed orders
   * and lines are left out, reported (stored-item.ts); an order missing a line then has fewer
   * lines than its itemCount, so the loaders read its lines again rather than trust these.
   */
  async listUserOrders(userId: string, first: number, after?: string | null): Promise<OrderPage> {
    const page = await queryPage(this.db.doc, this.db.tableName, ACCESS_PATTERNS.userOrders, userId, { first, after, isNode: isOrderHeader });
    const connection = toConnection(page, orderFromItem);
    const itemsByOrder = new Map<string, OrderLine[]>();
    for (const { node } of connection.edges) itemsByOrder.set(node.id, []);
    for (const line of convertSkippingMalformed(page.items.filter(isOrderLine), orderLineFromItem)) {
      itemsByOrder.get(line.orderId)?.push(line);
    }
    for (const list of itemsByOrder.values()) list.sort((a, b) => a.line - b.line);
    return { ...connection, itemsByOrder };
  }

  /** Orders in one status newest first, from GSI3 (every shard of the status, merged); malformed ones left out. */
  async listOrdersByStatus(status: OrderStatus, first: number, after?: string | null): Promise<OrderPage> {
    const page = await queryShardedPage(this.db.doc, this.db.tableName, ACCESS_PATTERNS.ordersByStatus, status, this.db.layout.statusShards, { first, after });
    return toConnection(page, orderFromItem);
  }

  /**
   * One TransactWriteItems: the order, its lines (name and price copied from the products as
   * read), the user's orderCount + 1, every product's stock - quantity (conditioned on enough
   * stock and on the price we read) and, with a key, the idempotency record. Either all of it
   * is written or none of it.
   */
  async placeOrder(input: { userId: string; lines: OrderLineInput[]; idempotencyKey?: string | null }): Promise<PlacedOrder> {
    const { userId, lines } = input;
    const idemKey = input.idempotencyKey ?? undefined;
    const fingerprint = orderFingerprint(userId, lines);

    for (let attempt = 1; ; attempt++) {
      const productIds = lines.map((l) => l.productId);
      const idemKeys = idemKey ? [keys.idempotency(userId, idemKey), keys.legacyIdempotency(idemKey)] : [];
      const readKeys = [keys.user(userId), ...productIds.map(keys.product), ...idemKeys];
      // One BatchGetItem reads the user, every product and the idempotency record together.
      const found = await batchGet(this.db.doc, this.db.tableName, readKeys, { consistentRead: true });
      const userItem = found[0];
      const productItems = found.slice(1, 1 + productIds.length);
      // A version 1 record (keys were global) counts only for the user and lines it was written
      // for: its fingerprint holds the user id. Anyone else's is none of this caller's business.
      const nowSeconds = epochSeconds(new Date().toISOString());
      const legacy = unexpired(found[2 + productIds.length], nowSeconds);
      const record = unexpired(found[1 + productIds.length], nowSeconds) ?? (legacy?.fingerprint === fingerprint ? legacy : undefined);
      // The same user reusing a version 1 key for other lines is CONFLICT, as it always was; the
      // record does not say whose it is, its order does (one read, only in this rare case).
      if (!record && legacy && (await this.ownerOf(legacy.orderId as string)) === userId) throw idempotencyKeyReused(idemKey!);

      if (record) return this.replay(record, fingerprint, idemKey!);
      if (!userItem) throw notFound(`No user with id ${userId}`, { userId });
      const products: Product[] = [];
      lines.forEach((line, i) => {
        const item = productItems[i];
        if (!item) throw productNotFound(line.productId);
        const p = productFromItem(item);
        // Read clamped into the Int range: the transaction's price condition would never match
        // the clamped price, and the line total could not be shown anyway.
        if (p.priceCents !== item.priceCents) throw storedPriceOutOfRange(p.id, item.priceCents, i);
        if (p.stock < line.quantity) throw insufficientStock(p, line.quantity);
        products.push(p);
      });

      const user = userFromItem(userItem);
      const now = new Date().toISOString();
      const { order, items, actions } = planOrder(this.db.tableName, {
        orderId: ulid(),
        now,
        userId: user.id,
        lines,
        products,
        statusShards: this.db.layout.statusShards,
        ...(idemKey ? { idempotency: { key: idemKey, fingerprint, expiresAt: epochSeconds(now) + this.db.idempotencyTtlSeconds } } : {}),
      });

      // What the response shows: the stock and counter right after this order, as computed
      // from our read (saves reading them again; concurrent orders may have moved them since).
      const placed: PlacedOrder = {
        order,
        items,
        products: products.map((p, i) => ({ ...p, stock: p.stock - lines[i]!.quantity })),
        user: { ...user, orderCount: user.orderCount + 1 },
        replayed: false,
      };
      try {
        await transactWrite(this.db.doc, actions);
      } catch (e) {
        if (!(e instanceof TransactionCancelledError)) throw e;
        // The order id is new on every attempt: when its Put fails because that order already
        // exists, an earlier send of this same transaction committed (its answer was lost and
        // the resend after a conflict carried a new token). The order is placed; do not place another.
        const mine = e.find('order:')?.item;
        if (mine && mine.userId === userId && mine.createdAt === now) return placed;
        if (idemKey && e.find('idempotency')) {
          // A concurrent call with the same key won the race: answer with its order.
          const rec = await this.db.doc.send(
            new GetCommand({ TableName: this.db.tableName, Key: keys.idempotency(userId, idemKey), ConsistentRead: true }),
          );
          const live = unexpired(rec.Item, epochSeconds(new Date().toISOString()));
          if (live) return this.replay(live, fingerprint, idemKey);
        }
        if (e.find('user:')) throw notFound(`No user with id ${userId}`, { userId });
        // Anything but a failed condition (a validation error, ...) is not ours to retry.
        if (!e.reasons.some((r) => r.code === 'ConditionalCheckFailed')) throw e;
        let priceMoved = false;
        for (const r of e.reasons.filter((x) => x.code === 'ConditionalCheckFailed' && x.label.startsWith('product:'))) {
          const productId = r.label.slice('product:'.length);
          if (!r.item) throw productNotFound(productId);
          const p = productFromItem(r.item);
          const qty = lines.find((l) => l.productId === productId)!.quantity;
          if (p.stock < qty) throw insufficientStock(p, qty);
          priceMoved = true;
        }
        if (attempt < PRICE_ATTEMPTS) continue;
        if (priceMoved) throw conflict('Product prices kept changing while the order was placed; try again');
        throw conflict('The order could not be placed because the data kept changing; try again');
      }
      return placed;
    }
  }

  private async ownerOf(orderId: string): Promise<unknown> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.order(orderId), ConsistentRead: true }));
    return out.Item?.userId;
  }

  private async replay(record: Record<string, unknown>, fingerprint: string, key: string): Promise<PlacedOrder> {
    if (record.fingerprint !== fingerprint) throw idempotencyKeyReused(key);
    const existing = await this.getOrderWithItems(record.orderId as string, true);
    if (!existing) throw notFound(`The order placed with idempotency key ${key} no longer exists`);
    return { ...existing, products: [], replayed: true };
  }

  async updateOrderStatus(id: string, status: OrderStatus): Promise<Order> {
    const from = STATUS_PREDECESSOR[status];
    if (!from) {
      const existing = (await this.getOrders([id]))[0];
      if (!existing) throw orderNotFound(id);
      if (existing instanceof Error) throw existing;
      throw conflict(
        status === 'CANCELLED'
          ? `Order ${id} cannot be set to CANCELLED here; use cancelOrder (allowed: PENDING -> PAID -> SHIPPED -> DELIVERED)`
          : `Order ${id} cannot move from ${existing.status} to ${status} (allowed: PENDING -> PAID -> SHIPPED -> DELIVERED)`,
        { status: existing.status },
      );
    }
    const now = new Date().toISOString();
    const idx = keys.statusIndex(status, id, this.db.layout.statusShards);
    try {
      const out = await this.db.doc.send(
        new UpdateCommand({
          TableName: this.db.tableName,
          Key: keys.order(id),
          UpdateExpression: 'SET #status = :to, GSI3PK = :gsi3pk, updatedAt = :now',
          // The stored status decides, not one we read earlier: two racing requests cannot both
          // move the order, and the status index is rewritten in the same write.
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':to': status, ':from': from, ':gsi3pk': idx.GSI3PK, ':now': now },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return orderFromItem(out.Attributes!);
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        if (!e.Item) throw orderNotFound(id);
        const current = (e.Item.status as { S?: string } | undefined)?.S ?? 'unknown';
        throw conflict(
          `Order ${id} cannot move from ${current} to ${status} (allowed: PENDING -> PAID -> SHIPPED -> DELIVERED)`,
          { status: current },
        );
      }
      throw e;
    }
  }

  /** PENDING or PAID only; the status change and the stock coming back are one transaction. */
  async cancelOrder(id: string, owner?: string): Promise<OrderWithItems> {
    let skipProducts = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const current = await this.getOrderWithItems(id, true);
      // Someone else's order looks exactly like a missing one (the access rules).
      if (!current || (owner !== undefined && current.order.userId !== owner)) throw orderNotFound(id);
      const { order, items } = current;
      if (!CANCELLABLE_STATUSES.includes(order.status)) {
        throw conflict(`Order ${id} is ${order.status}; only PENDING or PAID orders can be cancelled`, { status: order.status });
      }
      const now = new Date().toISOString();
      const qtyByProduct = new Map<string, number>();
      for (const i of items) qtyByProduct.set(i.productId, (qtyByProduct.get(i.productId) ?? 0) + i.quantity);
      const actions: LabelledAction[] = [
        {
          label: `order:${id}`,
          action: {
            Update: {
              TableName: this.db.tableName,
              Key: keys.order(id),
              UpdateExpression: 'SET #status = :to, GSI3PK = :gsi3pk, updatedAt = :now',
              ConditionExpression: '#status = :from',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':to': 'CANCELLED',
                ':from': order.status,
                ':gsi3pk': keys.statusIndex('CANCELLED', id, this.db.layout.statusShards).GSI3PK,
                ':now': now,
              },
            },
          },
        },
        ...[...qtyByProduct]
          .filter(([productId]) => !skipProducts.has(productId))
          .map(([productId, qty]) => ({
            label: `product:${productId}`,
            action: {
              Update: {
                TableName: this.db.tableName,
                Key: keys.product(productId),
                UpdateExpression: 'SET stock = stock + :qty',
                // A deleted product must not be re-created as a bare stock counter, and the stock
                // must stay within GraphQL's Int (the contract) or the product can no longer be read.
                ConditionExpression: 'attribute_exists(PK) AND stock <= :room',
                ExpressionAttributeValues: { ':qty': qty, ':room': GRAPHQL_INT_MAX - qty },
              },
            },
          })),
      ];
      try {
        await transactWrite(this.db.doc, actions);
        return { order: { ...order, status: 'CANCELLED', updatedAt: now }, items };
      } catch (e) {
        if (!(e instanceof TransactionCancelledError)) throw e;
        for (const r of e.reasons) {
          if (r.code !== 'ConditionalCheckFailed' || !r.label.startsWith('product:') || !r.item) continue;
          const productId = r.label.slice('product:'.length);
          const stock = Number(r.item.stock);
          const qty = qtyByProduct.get(productId)!;
          // BAD_USER_INPUT, not CONFLICT: the contract names "a stock" among the results that
          // would not fit the Int and says those are BAD_USER_INPUT; and no retry will help until
          // someone lowers the stock (nothing was written: the transaction is all or nothing).
          if (stock > GRAPHQL_INT_MAX - qty) {
            throw badInput(
              `id: cancelling order ${id} would put ${qty} units back onto product ${productId}'s stock of ${stock}, making ` +
                `${stock + qty}, more than GraphQL's Int maximum ${GRAPHQL_INT_MAX}; lower the product's stock first`,
              { argument: 'id', productId },
            );
          }
        }
        if (attempt >= OPTIMISTIC_ATTEMPTS) throw conflict(`Order ${id} kept changing while it was being cancelled; try again`);
        // Products deleted since the order was placed get no stock back; try again without them.
        const gone = e.reasons
          .filter((r) => r.code === 'ConditionalCheckFailed' && r.label.startsWith('product:') && !r.item)
          .map((r) => r.label.slice('product:'.length));
        skipProducts = new Set([...skipProducts, ...gone]);
        // Otherwise the status changed under us: read again and decide again.
      }
    }
  }
}

export interface OrderPlanInput {
  orderId: string;
  now: string;
  userId: string;
  lines: readonly OrderLineInput[];
  /** The products of the lines, in the same order, as read. */
  products: readonly Product[];
  /** The table's status shards (the order's status index key). */
  statusShards: number;
  /** With a key: the record answers for it until `expiresAt` (epoch seconds, DynamoDB's TTL attribute). */
  idempotency?: { key: string; fingerprint: string; expiresAt: number };
}

/**
 * Pure: the order, its lines and the TransactWriteItems actions that place it. Names and prices
 * are copied from the products as read; the stock updates are conditioned on that price and on
 * enough stock, so the transaction fails rather than sell what is not there or at another price.
 */
export function planOrder(tableName: string, p: OrderPlanInput): { order: Order; items: OrderLine[]; actions: LabelledAction[] } {
  const { orderId, now, userId, lines, products } = p;
  const items: OrderLine[] = lines.map((line, i) => {
    const product = products[i]!;
    return {
      id: `${orderId}-${i + 1}`,
      orderId,
      line: i + 1,
      productId: product.id,
      productName: product.name,
      unitPriceCents: product.priceCents,
      quantity: line.quantity,
      lineTotalCents: product.priceCents * line.quantity,
    };
  });
  // Every Int in a response fits GraphQL's 32-bit Int (the contract): a total beyond it would be
  // written and then fail every read of the order, so it is refused here, before any write.
  // Exact in doubles: at most 48 lines of 2^31 × 10,000 stay far below 2^53.
  items.forEach((item, i) => {
    if (fitsGraphQLInt(item.lineTotalCents)) return;
    const argument = `input.lines.${i}.quantity`;
    throw badInput(
      `${argument}: the line total would be ${item.unitPriceCents} × ${item.quantity} = ${item.lineTotalCents} cents, ` +
        `more than GraphQL's Int maximum ${GRAPHQL_INT_MAX}; at this price order at most ${Math.floor(GRAPHQL_INT_MAX / item.unitPriceCents)}`,
      { argument },
    );
  });
  const totalCents = items.reduce((sum, i) => sum + i.lineTotalCents, 0);
  if (!fitsGraphQLInt(totalCents)) {
    throw badInput(
      `input.lines: the order total would be ${totalCents} cents, more than GraphQL's Int maximum ${GRAPHQL_INT_MAX}; split the order`,
      { argument: 'input.lines' },
    );
  }
  const order: Order = {
    id: orderId,
    userId,
    status: 'PENDING',
    totalCents,
    itemCount: items.length,
    createdAt: now,
    updatedAt: now,
  };
  const actions: LabelledAction[] = [
    { label: `order:${orderId}`, action: { Put: { TableName: tableName, Item: orderToItem(order, p.statusShards), ConditionExpression: 'attribute_not_exists(PK)' } } },
    {
      label: `user:${userId}`,
      action: {
        Update: {
          TableName: tableName,
          Key: keys.user(userId),
          UpdateExpression: 'SET orderCount = if_not_exists(orderCount, :zero) + :one',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        },
      },
    },
    ...items.map((i) => ({
      label: `item:${i.line}`,
      action: { Put: { TableName: tableName, Item: orderLineToItem(userId, i) } },
    })),
    ...lines.map((line, i) => ({
      label: `product:${line.productId}`,
      action: {
        Update: {
          TableName: tableName,
          Key: keys.product(line.productId),
          UpdateExpression: 'SET stock = stock - :qty',
          // Never oversells: the stock must cover the quantity at commit time, and the price
          // copied into the line must still be the product's price.
          ConditionExpression: 'attribute_exists(PK) AND stock >= :qty AND priceCents = :price',
          ExpressionAttributeValues: { ':qty': line.quantity, ':price': products[i]!.priceCents },
        },
      },
    })),
  ];
  if (p.idempotency) {
    actions.push({
      label: 'idempotency',
      action: {
        Put: {
          TableName: tableName,
          Item: {
            ...keys.idempotency(userId, p.idempotency.key),
            EntityType: IDEMPOTENCY_ENTITY,
            userId,
            orderId,
            fingerprint: p.idempotency.fingerprint,
            createdAt: now,
            [TTL_ATTRIBUTE]: p.idempotency.expiresAt,
          },
          // An expired record that TTL has not deleted yet (it deletes lazily, up to days later)
          // is as good as absent: the key may be used again.
          ConditionExpression: `attribute_not_exists(PK) OR ${TTL_ATTRIBUTE} <= :now`,
          ExpressionAttributeValues: { ':now': epochSeconds(now) },
        },
      },
    });
  }
  return { order, items, actions };
}


function storedPriceOutOfRange(productId: string, stored: unknown, line: number): AppError {
  const argument = `input.lines.${line}.productId`;
  return badInput(
    `${argument}: product ${productId} has a stored price of ${String(stored)} cents, not a whole number within GraphQL's Int ` +
      `(at most ${GRAPHQL_INT_MAX}); it cannot be ordered until its price is corrected`,
    { argument, productId },
  );
}

/** Whole seconds since the epoch of an ISO time (DynamoDB's TTL attribute holds these). */
const epochSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

/**
 * An idempotency record, unless it has expired: DynamoDB's TTL deletes expired items lazily (up
 * to days later), so one may still be read after its time; it answers for nothing any more.
 */
export function unexpired<T extends Record<string, unknown>>(record: T | undefined, nowSeconds: number): T | undefined {
  if (!record) return undefined;
  const expiresAt = record[TTL_ATTRIBUTE];
  return typeof expiresAt === 'number' && expiresAt <= nowSeconds ? undefined : record;
}

const idempotencyKeyReused = (key: string) =>
  conflict(`The idempotency key ${key} was already used for a different order; use a new key for a new order`, { field: 'idempotencyKey' });

function insufficientStock(p: Product, wanted: number): AppError {
  return new AppError(
    'INSUFFICIENT_STOCK',
    `Product ${p.id} (${p.name}) has ${p.stock} in stock; the order asks for ${wanted}`,
    { productId: p.id, available: p.stock, requested: wanted },
  );
}

/** Same user and same lines (in any order) give the same fingerprint. */
export function orderFingerprint(userId: string, lines: readonly OrderLineInput[]): string {
  const normalized = [...lines].map((l) => [l.productId, l.quantity]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return createHash('sha256').update(JSON.stringify([userId, normalized])).digest('base64url');
}

