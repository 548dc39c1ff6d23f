import { getArgumentValues, isObjectType, type GraphQLResolveInfo } from 'graphql';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import type { Context } from '../context.js';
import { listItems } from '../loaders/loaders.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { addressSchema, createUserSchema, parseAfter, parseFirst, parseId, parseIds, parseInput, updateUserSchema } from '../validation.js';
import { selectedFields, selectsField } from './lookahead.js';

/**
 * Starts the GSI1 Query for each `orders` field in the selection while the profile is being
 * read, so `user(id) { orders { ... } }` takes one round trip less. The page lands in the
 * userOrders loader under the same key User.orders uses; errors surface there, not here.
 */
function prefetchOrders(userId: string, info: GraphQLResolveInfo, loaders: Context['loaders']): void {
  const userType = info.schema.getType('User');
  const ordersField = isObjectType(userType) ? userType.getFields().orders : undefined;
  if (!ordersField) return;
  for (const node of selectedFields(info, 'orders')) {
    try {
      const args = getArgumentValues(ordersField, node, info.variableValues) as { first?: number | null; after?: string | null };
      loaders.userOrders.load({ userId, first: parseFirst(args.first), after: parseAfter(args.after) }).catch(() => undefined);
    } catch {
      // Invalid arguments: User.orders reports them.
    }
  }
}

export const userResolvers: Resolvers = {
  Query: {
    // With addresses in the selection, one Query on USER#<id> reads the profile and the
    // addresses together; without, the profile comes from the batched BatchGetItem loader.
    user: async (_p, { id }, { loaders }, info) => {
      parseId(id, 'id');
      prefetchOrders(id, info, loaders);
      if (selectsField(info, 'addresses')) return (await loaders.userWithAddresses.load(id)).user ?? null;
      return loaders.userById.load(id);
    },
    users: async (_p, { ids }, { loaders }, info) => {
      parseIds(ids, 'ids');
      // An id whose read failed is that item's error (null at ["users", i]); the others resolve.
      if (selectsField(info, 'addresses')) {
        const found = await loaders.userWithAddresses.loadMany(ids);
        return listItems(found.map((f) => (f instanceof Error ? f : (f.user ?? null))));
      }
      return listItems(await loaders.userById.loadMany(ids));
    },
  },
  User: {
    addresses: (user, _a, { loaders }) => loaders.addressesByUser.load(user.id),
    orders: async (user, { first, after }, { loaders }) => {
      const page = await loaders.userOrders.load({ userId: user.id, first: parseFirst(first), after: parseAfter(after) });
      return {
        edges: page.nodes.map((n) => ({ cursor: n.cursor, node: n.order })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      };
    },
  },
  Mutation: {
    createUser: async (_p, { input }, { repos, loaders, committed }, info) => {
      const user = await repos.users.createUser(parseInput(createUserSchema, input, 'input'));
      recordCommitted(committed, info, 'User', user.id);
      loaders.userById.prime(user.id, user);
      loaders.addressesByUser.prime(user.id, []);
      return user;
    },
    updateUser: async (_p, { id, input }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      const user = await repos.users.updateUser(id, parseInput(updateUserSchema, input, 'input'));
      recordCommitted(committed, info, 'User', id);
      loaders.userById.clear(id).prime(id, user);
      return user;
    },
    deleteUser: async (_p, { id }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      await repos.users.deleteUser(id);
      recordCommitted(committed, info, 'User', id);
      loaders.userById.clear(id).prime(id, null);
      return id;
    },
    addAddress: async (_p, { userId, input }, { repos, loaders, committed }, info) => {
      parseId(userId, 'userId');
      const a = parseInput(addressSchema, input, 'input');
      const address = await repos.users.addAddress(userId, { ...a, label: a.label ?? null });
      recordCommitted(committed, info, 'Address', address.id);
      loaders.addressesByUser.clear(userId);
      return address;
    },
    removeAddress: async (_p, { userId, addressId }, { repos, loaders, committed }, info) => {
      parseId(userId, 'userId');
      parseId(addressId, 'addressId');
      await repos.users.removeAddress(userId, addressId);
      recordCommitted(committed, info, 'Address', addressId);
      loaders.addressesByUser.clear(userId);
      return addressId;
    },
  },
};
