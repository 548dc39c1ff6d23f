import type { Resolvers } from '../__generated__/resolvers-types.js';
import { recordCommitted } from '../plugins/committed-writes.js';
import { listItems } from '../loaders/loaders.js';
import { createProductSchema, parseAfter, parseFirst, parseId, parseIds, parseInput, updateProductSchema } from '../validation.js';

export const productResolvers: Resolvers = {
  Query: {
    product: (_p, { id }, { loaders }) => loaders.productById.load(parseId(id, 'id')),
    // An id whose read failed is that item's error (null at ["products", i]); the others resolve.
    products: async (_p, { ids }, { loaders }) => listItems(await loaders.productById.loadMany(parseIds(ids, 'ids'))),
    featuredProducts: async (_p, { first, after }, { loaders }) => {
      const page = await loaders.featuredProducts.load({ first: parseFirst(first), after: parseAfter(after) });
      return {
        edges: page.nodes.map((n) => ({ cursor: n.cursor, node: n.product })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      };
    },
  },
  Mutation: {
    createProduct: async (_p, { input }, { repos, loaders, committed }, info) => {
      const product = await repos.products.createProduct(parseInput(createProductSchema, input, 'input'));
      recordCommitted(committed, info, 'Product', product.id);
      loaders.productById.prime(product.id, product);
      return product;
    },
    updateProduct: async (_p, { id, input }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      const product = await repos.products.updateProduct(id, parseInput(updateProductSchema, input, 'input'));
      recordCommitted(committed, info, 'Product', id);
      loaders.productById.clear(id).prime(id, product);
      return product;
    },
    deleteProduct: async (_p, { id }, { repos, loaders, committed }, info) => {
      parseId(id, 'id');
      await repos.products.deleteProduct(id);
      recordCommitted(committed, info, 'Product', id);
      loaders.productById.clear(id).prime(id, null);
      return id;
    },
  },
};
