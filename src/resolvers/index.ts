import type { Resolvers } from '../__generated__/resolvers-types.js';
import { orderResolvers } from './order.js';
import { productResolvers } from './product.js';
import { subscriptionResolvers } from './subscription.js';
import { DateTime } from './scalars.js';
import { userResolvers } from './user.js';

export const resolvers: Resolvers[] = [
  { DateTime, Query: { ping: () => true } },
  userResolvers,
  productResolvers,
  orderResolvers,
  subscriptionResolvers,
];
