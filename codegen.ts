import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Resolver types from the SDL in schema/. Mappers point GraphQL types at the stored model
 * types, so a resolver that forgets a field or returns the wrong shape fails to compile.
 * `npm run codegen` regenerates; `npm test` fails when the checked-in file is stale.
 */
const config: CodegenConfig = {
  schema: 'schema/**/*.graphql',
  generates: {
    'src/__generated__/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useIndexSignature: true,
        useTypeImports: true,
        enumsAsTypes: true,
        contextType: '../context.js#Context',
        scalars: { DateTime: 'string' },
        mappers: {
          User: '../model/user.js#User as UserModel',
          Address: '../model/address.js#Address as AddressModel',
          Product: '../model/product.js#Product as ProductModel',
          Order: '../model/order.js#Order as OrderModel',
          OrderItem: '../model/order.js#OrderLine as OrderLineModel',
          OrderEvent: '../events/live-event.js#OrderEventModel',
          OrderConnection: '../model/connection.js#Connection<OrderModel>',
          ProductConnection: '../model/connection.js#Connection<ProductModel>',
        },
      },
    },
  },
};

export default config;
