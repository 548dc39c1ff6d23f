import { z } from 'zod';
import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';
import { createItemReader, storedNumber } from './stored-item.js';

export const USER_ENTITY = 'User';
export const EMAIL_ENTITY = 'EmailReservation';

/** A user as the API sees it (the mapper type of GraphQL `User`). */
export interface User {
  id: string;
  email: string;
  name: string;
  orderCount: number;
  /** Kept in step with the address items so deleteUser knows every item it must delete. */
  addressCount: number;
  createdAt: string;
  updatedAt: string;
}

export type UserItem = User & { PK: string; SK: string; EntityType: typeof USER_ENTITY };

export function userToItem(u: User): UserItem {
  return { ...keys.user(u.id), EntityType: USER_ENTITY, ...u };
}

/** A stored user's attributes as checked on every read (stored-item.ts); the others are ignored. */
const readUserItem = createItemReader(
  USER_ENTITY,
  z.object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    // A user who never ordered has no counter yet (placeOrder creates it), nor one who never
    // added an address.
    orderCount: storedNumber.nullish(),
    addressCount: z.number().nullish(),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);

/** Throws a StoredItemError (reported) for a malformed item. */
export function userFromItem(item: Record<string, unknown>): User {
  const u = readUserItem(item);
  // Clamped into GraphQL's Int range (int-range.ts) so one bad counter does not fail a list of users.
  const n = storedInts(USER_ENTITY, u.id, { orderCount: u.orderCount ?? 0 });
  return { ...u, orderCount: n.orderCount, addressCount: u.addressCount ?? 0 };
}

export function emailReservationToItem(email: string, userId: string) {
  return { ...keys.email(email), EntityType: EMAIL_ENTITY, userId, email };
}
