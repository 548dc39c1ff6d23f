import { GraphQLError, Kind, type ASTVisitor, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * Which operations each transport serves, checked in validation (so a refusal is the client's
 * error, BAD_USER_INPUT, before anything runs): queries and mutations over HTTP, subscriptions
 * over WebSocket (graphql-ws). Over HTTP a subscription has no stream to return; over WebSocket a
 * query would skip HTTP's pipeline (the call budget, introspection settings, extensions).
 */
export function operationsOver(transport: 'http' | 'ws'): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      if (!context.getSchema().getRootType(node.operation)) {
        context.reportError(new GraphQLError(`This API has no ${node.operation} operations`, { nodes: node }));
      } else if (transport === 'http' && node.operation === 'subscription') {
        context.reportError(new GraphQLError('Subscriptions are served over WebSocket (graphql-ws) on this same URL', { nodes: node }));
      } else if (transport === 'ws' && node.operation !== 'subscription') {
        context.reportError(new GraphQLError(`Send ${node.operation} operations as HTTP POST to /graphql; WebSocket serves subscriptions`, { nodes: node }));
      }
    },
  });
}

/**
 * A subscription's root field cannot be skipped or included conditionally: graphql-js 16 fails
 * on it at execution (graphql-js 17 refuses it in validation, as here).
 */
export function noConditionalSubscriptionRoot(context: ValidationContext): ASTVisitor {
  const check = (set: SelectionSetNode, seen: Set<string>): void => {
    for (const sel of set.selections) {
      if (sel.directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include')) {
        context.reportError(new GraphQLError("@skip and @include are not allowed on a subscription's root field", { nodes: sel }));
      }
      if (sel.kind === Kind.INLINE_FRAGMENT) check(sel.selectionSet, seen);
      else if (sel.kind === Kind.FRAGMENT_SPREAD && !seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const fragment = context.getFragment(sel.name.value);
        if (fragment) check(fragment.selectionSet, seen);
      }
    }
  };
  return {
    OperationDefinition(node) {
      if (node.operation === 'subscription') check(node.selectionSet, new Set());
    },
  };
}
