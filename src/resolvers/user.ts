import { getArgumentValues, isObjectType, type GraphQLResolveInfo } from 'graphql';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import type { RequestData } from '../data/request-data.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { addressRules, createUserRules, parseId, parseIds, parseInput, parsePage, updateUserRules } from '../validation.js';
import { listItems } from './list-items.js';
import { selectedFields, selectsField, selectsPath } from './lookahead.js';

/**
 * Starts the GSI1 Query for each `orders` field in the selection while the profile is being
 * read, so `user(id) { orders { ... } }` takes one round trip less. Its arguments are parsed as
 * User.orders parses them (parsePage), so both ask for the same page; invalid arguments start
 * nothing, and User.orders reports them (and any failed read) at its own path.
 */
function prefetchOrders(userId: string, info: GraphQLResolveInfo, data: RequestData): void {
  if (!selectsField(info, 'orders')) return;
  const userType = info.schema.getType('User');
  const ordersField = isObjectType(userType) ? userType.getFields().orders : undefined;
  if (!ordersField) return;
  for (const node of selectedFields(info, 'orders')) {
    let page;
    try {
      page = parsePage(getArgumentValues(ordersField, node, info.variableValues));
    } catch {
      continue;
    }
    data.users.prefetchOrders(userId, page);
  }
}

export const userResolvers: Resolvers = {
  Query: {
    me: (_p, _a, { data, caller }, info) => {
      if (caller.kind !== 'user') return null; // the access rule refuses anonymous callers first
      prefetchOrders(caller.userId, info, data);
      return data.users.get(caller.userId, { withAddresses: selectsField(info, 'addresses') });
    },
    // With addresses in the selection, one Query on USER#<id> reads the profile and the
    // addresses together; without, the profile comes from the batched BatchGetItem loader.
    user: (_p, { id }, { data }, info) => {
      parseId(id, 'id');
      prefetchOrders(id, info, data);
      return data.users.get(id, { withAddresses: selectsField(info, 'addresses') });
    },
    // An id whose read failed is that item's error (null at ["users", i]); the others resolve.
    users: async (_p, { ids }, { data }, info) =>
      listItems(await data.users.getMany(parseIds(ids, 'ids'), { withAddresses: selectsField(info, 'addresses') })),
  },
  User: {
    addresses: (user, _a, { data }) => data.users.addresses(user.id),
    // With the lines' products in the selection, they are read before the page is answered.
    orders: (user, args, { data }, info) =>
      data.users.orders(user.id, parsePage(args), { withProducts: selectsPath(info, 'edges.node.items.product') }),
  },
  Mutation: {
    createUser: async (_p, { input }, { data, committed, caller }, info) => {
      const parsed = parseInput(createUserRules, input, 'input');
      // A customer's profile takes their user id; an admin may name one or get a new one.
      const id = parsed.id ?? (caller.kind === 'user' && !caller.admin ? caller.userId : undefined);
      const user = await data.users.create({ ...parsed, id });
      recordCommitted(committed, info, 'User', user.id);
      return user;
    },
    updateUser: async (_p, { id, input }, { data, committed }, info) => {
      parseId(id, 'id');
      const user = await data.users.update(id, parseInput(updateUserRules, input, 'input'));
      recordCommitted(committed, info, 'User', id);
      return user;
    },
    deleteUser: async (_p, { id }, { data, committed }, info) => {
      parseId(id, 'id');
      await data.users.delete(id);
      recordCommitted(committed, info, 'User', id);
      return id;
    },
    addAddress: async (_p, { userId, input }, { data, committed }, info) => {
      parseId(userId, 'userId');
      const a = parseInput(addressRules, input, 'input');
      const address = await data.users.addAddress(userId, { ...a, label: a.label ?? null });
      recordCommitted(committed, info, 'Address', address.id);
      return address;
    },
    removeAddress: async (_p, { userId, addressId }, { data, committed }, info) => {
      parseId(userId, 'userId');
      parseId(addressId, 'addressId');
      await data.users.removeAddress(userId, addressId);
      recordCommitted(committed, info, 'Address', addressId);
      return addressId;
    },
  },
};
