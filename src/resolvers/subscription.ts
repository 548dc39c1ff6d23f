import type { Resolvers } from '../__generated__/resolvers-types.js';
import { isAdmin } from '../auth/caller.js';
import { ownerScope } from '../auth/rules.js';
import type { Context } from '../context.js';
import type { LiveEvent, OrderEventModel } from '../events/live-event.js';
import type { Order } from '../model/order.js';
import type { Product } from '../model/product.js';

import { orderNotFound } from '../errors.js';
import { parseId } from '../validation.js';

/**
 * Follows the events `pick` makes values of. Each event's nested fields are read through the
 * event's own data facade, shared with every other subscriber of that event (graphql-js runs one
 * subscription's events one after the other, so the context can point at the current event's).
 */
function follow<T>(ctx: Context, pick: (e: LiveEvent) => T | undefined): AsyncIterableIterator<T> {
  if (!ctx.live) throw new Error('Subscriptions are served over WebSocket (graphql-ws) only');
  return ctx.live.subscribe(pick, (data) => {
    ctx.data = data;
  });
}

const same = <T>(value: T): T => value;

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    productUpdated: {
      subscribe: (_p, { id }, ctx) => {
        parseId(id, 'id');
        return follow<Product>(ctx, (e) => (e.type === 'product' && e.product.id === id ? e.product : undefined));
      },
      resolve: same,
    },
    // The access rule (ownOrder) also drops every event of an order that is not the caller's.
    orderUpdated: {
      // The order must exist and be the caller's when the subscription starts (one read): else
      // NOT_FOUND, exactly as for a missing order, so order ids reveal nothing.
      subscribe: async (_p, { id }, ctx) => {
        parseId(id, 'id');
        const order = await ctx.data.orders.get(id);
        const owner = ownerScope(ctx.caller);
        if (!order || (owner !== undefined && order.userId !== owner)) throw orderNotFound(id);
        return follow<Order>(ctx, (e) => (e.type === 'order' && e.order.id === id ? e.order : undefined));
      },
      resolve: same,
    },
    orderEvents: {
      subscribe: (_p, { userId }, ctx) => {
        if (userId != null) parseId(userId, 'userId');
        const caller = ctx.caller;
        // Customers follow their own orders (the rule refused anyone else's id); an admin names
        // a user, or no one to follow every order.
        const owner = userId ?? (isAdmin(caller) || caller.kind !== 'user' ? undefined : caller.userId);
        return follow<OrderEventModel>(ctx, (e) =>
          e.type === 'order' && e.kind && (owner === undefined || e.order.userId === owner) ? { kind: e.kind, order: e.order, at: e.at } : undefined,
        );
      },
      resolve: same,
    },
  },
};
