import { keys } from '../db/keys.js';

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

export function toAddressItem(a: Address) {
  return { ...keys.address(a.userId, a.id), EntityType: ADDRESS_ENTITY, ...a };
}

export function fromAddressItem(item: Record<string, unknown>): Address {
  return {
    id: item.id as string,
    userId: item.userId as string,
    label: (item.label as string | undefined) ?? null,
    street: item.street as string,
    city: item.city as string,
    postalCode: item.postalCode as string,
    country: item.country as string,
    createdAt: item.createdAt as string,
  };
}
