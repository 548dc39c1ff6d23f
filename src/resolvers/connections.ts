import type { Order } from '../model/order.js';
import type { Product } from '../model/product.js';

/** Relay connection as resolvers build it (mapped to OrderConnection / ProductConnection). */
export interface ConnectionModel<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export type OrderConnectionModel = ConnectionModel<Order>;
export type ProductConnectionModel = ConnectionModel<Product>;
