import { keys } from '../db/keys.js';

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
  return {
    id: item.id as string,
    name: item.name as string,
    description: (item.description as string | undefined) ?? null,
    priceCents: item.priceCents as number,
    stock: item.stock as number,
    featured: item.featured === true,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
