import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Context } from '../context.js';
import type { TableLayout } from '../db/design.js';
import { estimateCalls } from '../query-cost.js';

/**
 * Refuses an operation whose worst case exceeds `maxCalls` DynamoDB calls, before it runs:
 * the cost follows the access patterns, `first`, list sizes, nesting and write plans
 * (query-cost.ts). The estimate is linear in the document, so costing never blocks the server.
 */
export function callBudgetPlugin(maxCalls: number, layout: TableLayout): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const worst = estimateCalls(schema, document, operation, request.variables ?? {}, undefined, layout);
          // Reported next to the real count in extensions.dynamodb, so clients see both.
          contextValue.calls.estimate = worst;
          if (worst > maxCalls) {
            throw new GraphQLError(
              `Query cost limit exceeded: this operation may cause up to ${worst} DynamoDB calls; the limit is ${maxCalls}. ` +
                'Ask for fewer items (first, ids) or less nesting.',
              { extensions: { code: 'BAD_USER_INPUT', limit: 'cost', max: maxCalls, found: worst, http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}
