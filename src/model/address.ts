import { z } from 'zod';
import { keys } from '../db/keys.js';
import { createItemReader } from './stored-item.js';

export const ADDRESS_ENTITY = 'Address';

export interface Address {
  id: string;
  userId: string;
  label: string | null;
  street: string;
  city: string;
  postalCode: string;
  country: string;
  createdAt: string;
}

export function addressToItem(a: Address) {
  return { ...keys.address(a.userId, a.id), EntityType: ADDRESS_ENTITY, ...a };
}

/** A stored address's attributes as checked on every read (stored-item.ts); the others are ignored. */
const readAddressItem = createItemReader(
  ADDRESS_ENTITY,
  z.object({
    id: z.string(),
    userId: z.string(),
    label: z.string().nullish(),
    street: z.string(),
    city: z.string(),
    postalCode: z.string(),
    country: z.string(),
    createdAt: z.string(),
  }),
);

/** Throws a StoredItemError (reported) for a malformed item. */
export function addressFromItem(item: Record<string, unknown>): Address {
  const a = readAddressItem(item);
  return { ...a, label: a.label ?? null };
}
