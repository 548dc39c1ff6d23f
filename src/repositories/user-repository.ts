import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { monotonicFactory } from 'ulid';
import { ACCESS_PATTERNS, MAX_ADDRESSES_PER_USER } from '../db/access-patterns.js';
import { batchGet } from '../db/batch-get.js';
import type { Database } from '../db/database.js';
import { keys, normalizeEmail } from '../db/keys.js';
import { partitionQuery, queryPartition } from '../db/query-pages.js';
import { TRANSACT_CONFLICT_ATTEMPTS, transactWrite, TransactionCancelledError, type LabelledAction } from '../db/transact.js';
import { AppError, conflict, notFound } from '../errors.js';
import { ADDRESS_ENTITY, addressFromItem, addressToItem, type Address } from '../model/address.js';
import { convertSkippingMalformed, tryConvert, type StoredItemError } from '../model/stored-item.js';
import { userFromItem, emailReservationToItem, userToItem, USER_ENTITY, type User } from '../model/user.js';

const ulid = monotonicFactory();

export { MAX_ADDRESSES_PER_USER };

/** Attempts when a concurrent write changed what a conditional write relied on. */
const OPTIMISTIC_ATTEMPTS = 4;

/**
 * The most DynamoDB calls each write makes, retries included; the query cost estimate reads
 * these. Optimistic writes read once and write once per attempt (a transaction is sent again on
 * conflicts).
 */
export const USER_WRITE_CALLS = {
  createUser: TRANSACT_CONFLICT_ATTEMPTS,
  updateUser: OPTIMISTIC_ATTEMPTS * (1 + TRANSACT_CONFLICT_ATTEMPTS),
  deleteUser: OPTIMISTIC_ATTEMPTS * (1 + TRANSACT_CONFLICT_ATTEMPTS),
  addAddress: TRANSACT_CONFLICT_ATTEMPTS,
  removeAddress: TRANSACT_CONFLICT_ATTEMPTS,
} as const;

export interface UserWithAddresses {
  user: User | undefined;
  addresses: Address[];
}

export class UserRepository {
  constructor(private readonly db: Database) {}

  /**
   * Users by id in one BatchGetItem per 100 ids; undefined where a user does not exist, its own
   * StoredItemError where its item is malformed (that id fails, not its batch).
   */
  async getUsers(ids: readonly string[]): Promise<(User | StoredItemError | undefined)[]> {
    const items = await batchGet(this.db.doc, this.db.tableName, ids.map(keys.user));
    return items.map((i) => (i ? tryConvert(i, userFromItem) : undefined));
  }

  /**
   * The profile and its addresses with one single-partition Query (they share USER#<id>). A
   * malformed profile throws (StoredItemError). A malformed address is left out of the list
   * (stored-item.ts), except in a consistent read: that is the read before a write (deleteUser),
   * which must see every address it acts on, so a malformed one throws there too.
   */
  async getUserWithAddresses(id: string, consistentRead = false): Promise<UserWithAddresses> {
    const items = await queryPartition(this.db.doc, partitionQuery(this.db.tableName, ACCESS_PATTERNS.userWithAddresses, id, consistentRead));
    const profile = items.find((i) => i.EntityType === USER_ENTITY);
    const addresses = items.filter((i) => i.EntityType === ADDRESS_ENTITY);
    return {
      user: profile ? userFromItem(profile) : undefined,
      addresses: consistentRead ? addresses.map(addressFromItem) : convertSkippingMalformed(addresses, addressFromItem),
    };
  }

  /** A malformed address is left out of the list, reported (stored-item.ts). */
  async listAddresses(userId: string): Promise<Address[]> {
    const items = await queryPartition(this.db.doc, partitionQuery(this.db.tableName, ACCESS_PATTERNS.userAddresses, userId));
    return convertSkippingMalformed(items, addressFromItem);
  }

  /** The user and the reservation of its email are written together, or not at all. */
  async createUser(input: { id?: string | null | undefined; email: string; name: string }): Promise<User> {
    const now = new Date().toISOString();
    const user: User = {
      // A customer's profile takes their user id; without one (an admin's call), a new id.
      id: input.id ?? ulid(),
      email: input.email.trim(),
      name: input.name,
      orderCount: 0,
      addressCount: 0,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await transactWrite(this.db.doc, [
        {
          label: `user:${user.id}`,
          action: { Put: { TableName: this.db.tableName, Item: userToItem(user), ConditionExpression: 'attribute_not_exists(PK)' } },
        },
        {
          label: `email:${normalizeEmail(user.email)}`,
          action: {
            Put: {
              TableName: this.db.tableName,
              Item: emailReservationToItem(user.email, user.id),
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          },
        },
      ]);
    } catch (e) {
      if (e instanceof TransactionCancelledError && e.find('user:')) {
        throw conflict(`A user with id ${user.id} exists already`, { userId: user.id });
      }
      if (e instanceof TransactionCancelledError && e.find('email:')) {
        throw emailTaken(user.email);
      }
      throw e;
    }
    return user;
  }

  async updateUser(id: string, input: { email?: string | null; name?: string | null }): Promise<User> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.getUserConsistent(id);
      if (!current) throw userNotFound(id);
      // Nothing to change: answer with the stored user, and leave updatedAt alone.
      if (input.name == null && input.email == null) return current;
      const now = new Date().toISOString();
      const next: User = {
        ...current,
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.email != null ? { email: input.email.trim() } : {}),
        updatedAt: now,
      };
      const emailMoves = normalizeEmail(next.email) !== normalizeEmail(current.email);
      const update = {
        TableName: this.db.tableName,
        Key: keys.user(id),
        UpdateExpression: 'SET #name = :name, #email = :email, updatedAt = :now',
        // Guarded by the email we read: if another request changed it meanwhile, the
        // reservations we are about to move would be the wrong ones.
        ConditionExpression: 'attribute_exists(PK) AND #email = :oldEmail',
        ExpressionAttributeNames: { '#name': 'name', '#email': 'email' },
        ExpressionAttributeValues: { ':name': next.name, ':email': next.email, ':now': now, ':oldEmail': current.email },
      };
      try {
        if (!emailMoves) {
          const out = await this.db.doc.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
          return userFromItem(out.Attributes!);
        }
        await transactWrite(this.db.doc, [
          { label: `user:${id}`, action: { Update: update } },
          {
            label: `old-email:${normalizeEmail(current.email)}`,
            action: {
              Delete: {
                TableName: this.db.tableName,
                Key: keys.email(current.email),
                ConditionExpression: 'userId = :id',
                ExpressionAttributeValues: { ':id': id },
              },
            },
          },
          {
            label: `email:${normalizeEmail(next.email)}`,
            action: {
              Put: {
                TableName: this.db.tableName,
                Item: emailReservationToItem(next.email, id),
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
          },
        ]);
        return next;
      } catch (e) {
        if (e instanceof TransactionCancelledError && e.find('email:')) throw emailTaken(next.email);
        const raced =
          e instanceof ConditionalCheckFailedException ||
          (e instanceof TransactionCancelledError && (e.find('user:') || e.find('old-email:')));
        if (raced && attempt < OPTIMISTIC_ATTEMPTS) continue;
        if (raced) throw conflict(`User ${id} was changed by another request meanwhile; try again`);
        throw e;
      }
    }
  }

  /** Deletes the profile, its addresses and its email reservation in one transaction. */
  async deleteUser(id: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const { user, addresses } = await this.getUserWithAddresses(id, true);
      if (!user) throw userNotFound(id);
      const actions: LabelledAction[] = [
        {
          label: `user:${id}`,
          action: {
            Delete: {
              TableName: this.db.tableName,
              Key: keys.user(id),
              // An address added or an email changed since our read makes this fail, so no
              // address and no reservation is ever left behind.
              ConditionExpression: 'addressCount = :n AND #email = :email',
              ExpressionAttributeNames: { '#email': 'email' },
              ExpressionAttributeValues: { ':n': addresses.length, ':email': user.email },
            },
          },
        },
        {
          label: `email:${normalizeEmail(user.email)}`,
          action: {
            Delete: {
              TableName: this.db.tableName,
              Key: keys.email(user.email),
              ConditionExpression: 'attribute_not_exists(PK) OR userId = :id',
              ExpressionAttributeValues: { ':id': id },
            },
          },
        },
        ...addresses.map((a) => ({
          label: `address:${a.id}`,
          // With the count check, this catches an address set that changed but kept its size.
          action: { Delete: { TableName: this.db.tableName, Key: keys.address(id, a.id), ConditionExpression: 'attribute_exists(PK)' } },
        })),
      ];
      try {
        await transactWrite(this.db.doc, actions);
        return id;
      } catch (e) {
        if (e instanceof TransactionCancelledError && (e.find('user:') || e.find('address:') || e.find('email:'))) {
          if (attempt < OPTIMISTIC_ATTEMPTS) continue;
          throw conflict(`User ${id} kept changing while it was being deleted; try again`);
        }
        throw e;
      }
    }
  }

  async addAddress(userId: string, input: Omit<Address, 'id' | 'userId' | 'createdAt'>): Promise<Address> {
    const address: Address = { id: ulid(), userId, createdAt: new Date().toISOString(), ...input };
    try {
      await transactWrite(this.db.doc, [
        {
          label: `user:${userId}`,
          action: {
            Update: {
              TableName: this.db.tableName,
              Key: keys.user(userId),
              UpdateExpression: 'SET addressCount = if_not_exists(addressCount, :zero) + :one',
              ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(addressCount) OR addressCount < :max)',
              ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':max': MAX_ADDRESSES_PER_USER },
            },
          },
        },
        {
          label: `address:${address.id}`,
          action: { Put: { TableName: this.db.tableName, Item: addressToItem(address), ConditionExpression: 'attribute_not_exists(PK)' } },
        },
      ]);
    } catch (e) {
      const reason = e instanceof TransactionCancelledError ? e.find('user:') : undefined;
      if (reason && !reason.item) throw userNotFound(userId);
      if (reason) {
        throw conflict(`User ${userId} already has ${MAX_ADDRESSES_PER_USER} addresses, the most allowed; remove one first`);
      }
      throw e;
    }
    return address;
  }

  async removeAddress(userId: string, addressId: string): Promise<string> {
    try {
      await transactWrite(this.db.doc, [
        {
          label: `address:${addressId}`,
          action: { Delete: { TableName: this.db.tableName, Key: keys.address(userId, addressId), ConditionExpression: 'attribute_exists(PK)' } },
        },
        {
          label: `user:${userId}`,
          action: {
            Update: {
              TableName: this.db.tableName,
              Key: keys.user(userId),
              UpdateExpression: 'SET addressCount = addressCount - :one',
              ConditionExpression: 'attribute_exists(PK)',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        },
      ]);
    } catch (e) {
      if (e instanceof TransactionCancelledError) {
        if (e.find('user:')) throw userNotFound(userId);
        if (e.find('address:')) throw notFound(`No address ${addressId} for user ${userId}`, { addressId, userId });
      }
      throw e;
    }
    return addressId;
  }

  private async getUserConsistent(id: string): Promise<User | undefined> {
    const out = await this.db.doc.send(new GetCommand({ TableName: this.db.tableName, Key: keys.user(id), ConsistentRead: true }));
    return out.Item ? userFromItem(out.Item) : undefined;
  }
}

const userNotFound = (id: string) => notFound(`No user with id ${id}`, { userId: id });
const emailTaken = (email: string): AppError =>
  conflict(`The email ${email} is already used by another user (emails are unique, ignoring case)`, { field: 'email' });
