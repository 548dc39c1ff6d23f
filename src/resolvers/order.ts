import type { Resolvers } from '../__generated__/resolvers-types.js';
import { callerId } from '../auth/caller.js';
import { ownerScope } from '../auth/rules.js';
import { badInput } from '../errors.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { parseId, parseInput, parsePage, placeOrderRules } from '../validation.js';
import { selectsField } from './lookahead.js';

export const orderResolvers: Resolvers = {
  Query: {
    // With items in the selection, one Query on ORDER#<id> reads the header and its lines.
    order: (_p, { id }, { data }, info) => data.orders.get(parseId(id, 'id'), { withItems: selectsField(info, 'items') }),
    ordersByStatus: (_p, { status, ...args }, { data }) => data.orders.byStatus(status, parsePage(args)),
  },
  Order: {
    user: (order, _a, { data }) => data.users.get(order.userId),
    // With product in the selection, the lines come with their products loaded (one batch).
    items: (order, _a, { data }, info) => data.orders.items(order.id, { withProducts: () => selectsField(info, 'product') }),
  },
  OrderItem: {
    product: (line, _a, { data }) => data.products.get(line.productId),
  },
  Mutation: {
    placeOrder: async (_p, { input }, { data, committed, caller }, info) => {
      const parsed = parseInput(placeOrderRules, input, 'input');
      // Default: the signed-in caller (the access rule has refused anyone else's id already).
      const userId = parsed.userId ?? callerId(caller);
      if (!userId) throw badInput('input.userId: name the user to place the order for', { argument: 'input.userId' });
      const order = await data.orders.place({ ...parsed, userId });
      recordCommitted(committed, info, 'Order', order.id);
      return order;
    },
    updateOrderStatus: async (_p, { id, status }, { data, committed }, info) => {
      parseId(id, 'id');
      const order = await data.orders.updateStatus(id, status);
      recordCommitted(committed, info, 'Order', id);
      return order;
    },
    cancelOrder: async (_p, { id }, { data, committed, caller }, info) => {
      parseId(id, 'id');
      const order = await data.orders.cancel(id, ownerScope(caller));
      recordCommitted(committed, info, 'Order', id);
      return order;
    },
  },
};
