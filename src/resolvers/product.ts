import type { Resolvers } from '../__generated__/resolvers-types.js';
import { createProductSchema, parseFirst, parseId, parseIds, parseInput, updateProductSchema } from '../validation.js';

export const productResolvers: Resolvers = {
  Query: {
    product: (_p, { id }, { loaders }) => loaders.productById.load(parseId(id, 'id')),
    products: async (_p, { ids }, { loaders }) => {
      const found = await loaders.productById.loadMany(parseIds(ids, 'ids'));
      return found.map((f) => {
        if (f instanceof Error) throw f;
        return f;
      });
    },
    featuredProducts: async (_p, { first, after }, { loaders }) => {
      const page = await loaders.featuredProducts.load({ first: parseFirst(first), after: after ?? null });
      return {
        edges: page.nodes.map((n) => ({ cursor: n.cursor, node: n.product })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      };
    },
  },
  Mutation: {
    createProduct: async (_p, { input }, { repos, loaders }) => {
      const product = await repos.products.createProduct(parseInput(createProductSchema, input, 'input'));
      loaders.productById.prime(product.id, product);
      return product;
    },
    updateProduct: async (_p, { id, input }, { repos, loaders }) => {
      parseId(id, 'id');
      const product = await repos.products.updateProduct(id, parseInput(updateProductSchema, input, 'input'));
      loaders.productById.clear(id).prime(id, product);
      return product;
    },
    deleteProduct: async (_p, { id }, { repos, loaders }) => {
      parseId(id, 'id');
      await repos.products.deleteProduct(id);
      loaders.productById.clear(id).prime(id, null);
      return id;
    },
  },
};
