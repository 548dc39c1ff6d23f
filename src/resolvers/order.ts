import type { Resolvers } from '../__generated__/resolvers-types.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { parseAfter, parseFirst, parseId, parseInput, placeOrderSchema } from '../validation.js';
import { selectsField } from './lookahead.js';

export const orderResolvers: Resolvers = {
  Query: {
    // With items in the selection, one Query on ORDER#<id> reads the header and its lines.
    order: (_p, { id }, { loaders }, info) => {
      parseId(id, 'id');
      return selectsField(info, 'items') ? loaders.orderWithItems.load(id) : loaders.orderById.load(id);
    },
    ordersByStatus: async (_p, { status, first, after }, { loaders }) => {
      const page = await loaders.ordersByStatus.load({ status, first: parseFirst(first), after: parseAfter(after) });
      return {
        edges: page.nodes.map((n) => ({ cursor: n.cursor, node: n.order })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      };
    },
  },
  Order: {
    user: (order, _a, { loaders }) => loaders.userById.load(order.userId),
    items: (order, _a, { loaders }) => loaders.itemsByOrder.load(order.id),
  },
  OrderItem: {
    product: (item, _a, { loaders }) => loaders.productById.load(item.productId),
  },
  Mutation: {
    placeOrder: async (_p, { input }, { repos, loaders, committed }, info) => {
      const placed = await repos.orders.placeOrder(parseInput(placeOrderSchema, input, 'input'));
      recordCommitted(committed, info, 'Order', placed.order.id);
      loaders.orderById.clear(placed.order.id).prime(placed.order.id, placed.order);
      loaders.itemsByOrder.clear(placed.order.id).prime(placed.order.id, placed.items);
      for (const p of placed.products) loaders.productById.clear(p.id).prime(p.id, p);
      if (placed.user) loaders.userById.clear(placed.user.id).prime(placed.user.id, placed.user);
      return placed.order;
    },
    updateOrderStatus: async (_p, { id, status }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      const order = await repos.orders.updateOrderStatus(id, status);
      recordCommitted(committed, info, 'Order', id);
      loaders.orderById.clear(id).prime(id, order);
      return order;
    },
    cancelOrder: async (_p, { id }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      const { order, items } = await repos.orders.cancelOrder(id);
      recordCommitted(committed, info, 'Order', id);
      loaders.orderById.clear(id).prime(id, order);
      loaders.itemsByOrder.clear(id).prime(id, items);
      // Stock changed: products must be read again if asked for.
      for (const i of items) loaders.productById.clear(i.productId);
      return order;
    },
  },
};
