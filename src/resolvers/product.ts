import type { Resolvers } from '../__generated__/resolvers-types.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { createProductRules, parseId, parseIds, parseInput, parsePage, updateProductRules } from '../validation.js';
import { listItems } from './list-items.js';

export const productResolvers: Resolvers = {
  Query: {
    product: (_p, { id }, { data }) => data.products.get(parseId(id, 'id')),
    // An id whose read failed is that item's error (null at ["products", i]); the others resolve.
    products: async (_p, { ids }, { data }) => listItems(await data.products.getMany(parseIds(ids, 'ids'))),
    featuredProducts: (_p, args, { data }) => data.products.featured(parsePage(args)),
  },
  Mutation: {
    createProduct: async (_p, { input }, { data, committed }, info) => {
      const product = await data.products.create(parseInput(createProductRules, input, 'input'));
      recordCommitted(committed, info, 'Product', product.id);
      return product;
    },
    updateProduct: async (_p, { id, input }, { data, committed }, info) => {
      parseId(id, 'id');
      const product = await data.products.update(id, parseInput(updateProductRules, input, 'input'));
      recordCommitted(committed, info, 'Product', id);
      return product;
    },
    deleteProduct: async (_p, { id }, { data, committed }, info) => {
      parseId(id, 'id');
      await data.products.delete(id);
      recordCommitted(committed, info, 'Product', id);
      return id;
    },
  },
};
