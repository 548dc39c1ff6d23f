import { z } from 'zod';
import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';
import { createItemReader, storedNumber } from './stored-item.js';

export const ORDER_ENTITY = 'Order';
/** Stored order lines keep the EntityType they were first written with. */
export const ORDER_LINE_ENTITY = 'OrderItem';
export const IDEMPOTENCY_ENTITY = 'IdempotencyRecord';

export const ORDER_STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The one status an order must be in to move to each status by updateOrderStatus. */
export const STATUS_PREDECESSOR: Partial<Record<OrderStatus, OrderStatus>> = {
  PAID: 'PENDING',
  SHIPPED: 'PAID',
  DELIVERED: 'SHIPPED',
};

export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ['PENDING', 'PAID'];

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  totalCents: number;
  itemCount: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * One stored line of an order (name and price copied from the product when the order was placed).
 * The API's `OrderItem` type is resolved from it.
 */
export interface OrderLine {
  id: string;
  orderId: string;
  line: number;
  productId: string;
  productName: string;
  unitPriceCents: number;
  quantity: number;
  lineTotalCents: number;
}

/** The stored order header; `statusShards` is the table's (its status index is write-sharded). */
export function orderToItem(o: Order, statusShards: number) {
  return {
    ...keys.order(o.id),
    EntityType: ORDER_ENTITY,
    ...o,
    ...keys.userOrdersIndex(o.userId, o.id),
    ...keys.statusIndex(o.status, o.id, statusShards),
  };
}

/** Lines are also written to GSI1 next to their order, so a user's orders come with lines in one Query. */
export function orderLineToItem(userId: string, i: OrderLine) {
  return {
    ...keys.orderItem(i.orderId, i.line),
    EntityType: ORDER_LINE_ENTITY,
    ...i,
    ...keys.userOrdersIndex(userId, i.orderId, i.line),
  };
}

/** A stored order's attributes as checked on every read (stored-item.ts); the others are ignored. */
const readOrderItem = createItemReader(
  ORDER_ENTITY,
  z.object({
    id: z.string(),
    userId: z.string(),
    status: z.enum(ORDER_STATUSES),
    totalCents: storedNumber,
    itemCount: storedNumber,
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);

/** A stored order line's attributes as checked on every read (stored-item.ts); the others are ignored. */
const readOrderLineItem = createItemReader(
  ORDER_LINE_ENTITY,
  z.object({
    id: z.string(),
    orderId: z.string(),
    line: z.int(),
    productId: z.string(),
    productName: z.string(),
    unitPriceCents: storedNumber,
    quantity: storedNumber,
    lineTotalCents: storedNumber,
  }),
);

/** Throws a StoredItemError (reported) for a malformed item. */
export function orderFromItem(item: Record<string, unknown>): Order {
  const o = readOrderItem(item);
  // Clamped into GraphQL's Int range (int-range.ts): one bad item must not fail a whole page.
  const n = storedInts(ORDER_ENTITY, o.id, { totalCents: o.totalCents, itemCount: o.itemCount });
  return { ...o, totalCents: n.totalCents, itemCount: n.itemCount };
}

/** Throws a StoredItemError (reported) for a malformed item. */
export function orderLineFromItem(item: Record<string, unknown>): OrderLine {
  const l = readOrderLineItem(item);
  const n = storedInts(ORDER_LINE_ENTITY, l.id, {
    unitPriceCents: l.unitPriceCents,
    quantity: l.quantity,
    lineTotalCents: l.lineTotalCents,
  });
  return { ...l, ...n };
}

export const isOrderHeader = (item: Record<string, unknown>) => item.EntityType === ORDER_ENTITY;
export const isOrderLine = (item: Record<string, unknown>) => item.EntityType === ORDER_LINE_ENTITY;
