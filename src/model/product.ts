import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';

export const PRODUCT_ENTITY = 'Product';

export interface Product {
  id: string;
  name: string;
  description: string | null;
  priceCents: number;
  stock: number;
  featured: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Featured products carry the GSI2 attributes; others lack them, which keeps GSI2 sparse. */
export function toProductItem(p: Product) {
  return {
    ...keys.product(p.id),
    EntityType: PRODUCT_ENTITY,
    ...p,
    ...(p.featured ? keys.featuredIndex(p.id) : {}),
  };
}

export function fromProductItem(item: Record<string, unknown>): Product {
  // Clamped into GraphQL's Int range (int-range.ts): one bad item must not fail a whole list.
  const n = storedInts(PRODUCT_ENTITY, item.id, { priceCents: item.priceCents, stock: item.stock });
  return {
    id: item.id as string,
    name: item.name as string,
    description: (item.description as string | undefined) ?? null,
    priceCents: n.priceCents,
    stock: n.stock,
    featured: item.featured === true,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
