import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ORDER_ENTITY, orderFromItem, type Order } from '../model/order.js';
import { PRODUCT_ENTITY, productFromItem, type Product } from '../model/product.js';

export type OrderEventKind = 'PLACED' | 'STATUS_CHANGED' | 'CANCELLED';

/** What a subscription can be told: a change of a product or of an order header, as written. */
export type LiveEvent =
  | { type: 'product'; product: Product; sequence: string }
  | {
      type: 'order';
      order: Order;
      /** Null for a change that is neither a placement nor a status change (orderUpdated only). */
      kind: OrderEventKind | null;
      /** When the change was written. */
      at: string;
      sequence: string;
    };

/** What `orderEvents` resolves (the GraphQL `OrderEvent`). */
export interface OrderEventModel {
  kind: OrderEventKind;
  order: Order;
  at: string;
}

type Image = Record<string, unknown>;

function imageOf(raw: Record<string, unknown> | undefined): Image | undefined {
  return raw ? unmarshall(raw as Record<string, AttributeValue>, { wrapNumbers: false }) : undefined;
}

/** Pure: which order event a header change is, from its old and new images. */
export function orderEventKind(oldImage: Image | undefined, newImage: Image): OrderEventKind | null {
  if (!oldImage) return 'PLACED';
  if (oldImage.status === newImage.status) return null;
  return newImage.status === 'CANCELLED' ? 'CANCELLED' : 'STATUS_CHANGED';
}

/**
 * Pure: the live event a stream record carries, if any. Products and order headers that were
 * written (inserted or changed) are events; lines, users, addresses and deletions are not (a
 * subscription's type is never null, and a deleted item has nothing to show). A malformed
 * image throws the model's StoredItemError, which the caller logs and skips.
 */
export function toLiveEvent(record: StreamRecord): LiveEvent | undefined {
  if (record.eventName === 'REMOVE') return undefined;
  const newImage = imageOf(record.dynamodb?.NewImage as Record<string, unknown> | undefined);
  if (!newImage) return undefined;
  const sequence = record.dynamodb?.SequenceNumber ?? '';
  if (newImage.EntityType === PRODUCT_ENTITY) return { type: 'product', product: productFromItem(newImage), sequence };
  if (newImage.EntityType === ORDER_ENTITY) {
    const order = orderFromItem(newImage);
    const kind = orderEventKind(imageOf(record.dynamodb?.OldImage as Record<string, unknown> | undefined), newImage);
    return { type: 'order', order, kind, at: order.updatedAt, sequence };
  }
  return undefined;
}
