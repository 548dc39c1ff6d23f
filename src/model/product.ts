import { z } from 'zod';
import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';
import { createItemReader, storedNumber } from './stored-item.js';

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
export function productToItem(p: Product) {
  return {
    ...keys.product(p.id),
    EntityType: PRODUCT_ENTITY,
    ...p,
    ...(p.featured ? keys.featuredIndex(p.id) : {}),
  };
}

/** A stored product's attributes as checked on every read (stored-item.ts); the others are ignored. */
const readProductItem = createItemReader(
  PRODUCT_ENTITY,
  z.object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullish(),
    priceCents: storedNumber,
    stock: storedNumber,
    featured: z.boolean().nullish(),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);

/** Throws a StoredItemError (reported) for a malformed item. */
export function productFromItem(item: Record<string, unknown>): Product {
  const p = readProductItem(item);
  // Clamped into GraphQL's Int range (int-range.ts): one bad item must not fail a whole list.
  const n = storedInts(PRODUCT_ENTITY, p.id, { priceCents: p.priceCents, stock: p.stock });
  return { ...p, description: p.description ?? null, featured: p.featured ?? false, ...n };
}

