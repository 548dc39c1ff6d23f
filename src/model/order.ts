import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';

export const ORDER_ENTITY = 'Order';
export const ORDER_ITEM_ENTITY = 'OrderItem';
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

export interface OrderItem {
  id: string;
  orderId: string;
  line: number;
  productId: string;
  productName: string;
  unitPriceCents: number;
  quantity: number;
  lineTotalCents: number;
}

export function toOrderItem(o: Order) {
  return {
    ...keys.order(o.id),
    EntityType: ORDER_ENTITY,
    ...o,
    ...keys.userOrdersIndex(o.userId, o.id),
    ...keys.statusIndex(o.status, o.id),
  };
}

/** Lines are also written to GSI1 next to their order, so a user's orders come with lines in one Query. */
export function toOrderLineItem(userId: string, i: OrderItem) {
  return {
    ...keys.orderItem(i.orderId, i.line),
    EntityType: ORDER_ITEM_ENTITY,
    ...i,
    ...keys.userOrdersIndex(userId, i.orderId, i.line),
  };
}

export function fromOrderItem(item: Record<string, unknown>): Order {
  // Clamped into GraphQL's Int range (int-range.ts): one bad item must not fail a whole page.
  const n = storedInts(ORDER_ENTITY, item.id, { totalCents: item.totalCents, itemCount: item.itemCount });
  return {
    id: item.id as string,
    userId: item.userId as string,
    status: item.status as OrderStatus,
    totalCents: n.totalCents,
    itemCount: n.itemCount,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

export function fromOrderLineItem(item: Record<string, unknown>): OrderItem {
  const n = storedInts(ORDER_ITEM_ENTITY, item.id, {
    unitPriceCents: item.unitPriceCents,
    quantity: item.quantity,
    lineTotalCents: item.lineTotalCents,
  });
  return {
    id: item.id as string,
    orderId: item.orderId as string,
    line: item.line as number,
    productId: item.productId as string,
    productName: item.productName as string,
    unitPriceCents: n.unitPriceCents,
    quantity: n.quantity,
    lineTotalCents: n.lineTotalCents,
  };
}

export const isOrderItem = (item: Record<string, unknown>) => item.EntityType === ORDER_ENTITY;
export const isOrderLineItem = (item: Record<string, unknown>) => item.EntityType === ORDER_ITEM_ENTITY;
