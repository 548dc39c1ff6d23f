import { keys } from '../db/keys.js';
import { storedInts } from './int-range.js';

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

export function toUserItem(u: User): UserItem {
  return { ...keys.user(u.id), EntityType: USER_ENTITY, ...u };
}

export function fromUserItem(item: Record<string, unknown>): User {
  // A user who never ordered has no counter yet (placeOrder creates it); clamped into GraphQL's
  // Int range (int-range.ts) so one bad counter does not fail a list of users.
  const n = storedInts(USER_ENTITY, item.id, { orderCount: item.orderCount ?? 0 });
  return {
    id: item.id as string,
    email: item.email as string,
    name: item.name as string,
    orderCount: n.orderCount,
    addressCount: (item.addressCount as number | undefined) ?? 0,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

export function toEmailReservationItem(email: string, userId: string) {
  return { ...keys.email(email), EntityType: EMAIL_ENTITY, userId, email };
}
