import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type TypeNode } from 'graphql';
import type { Context } from '../context.js';
import type { TableLayout } from '../db/design.js';
import { estimateCalls } from '../query-cost.js';

/**
 * Refuses an operation whose worst case exceeds `maxCalls` DynamoDB calls, before it runs:
 * the cost follows the access patterns, `first`, list sizes, nesting and write plans
 * (query-cost.ts). The estimate is linear in the document, so costing never blocks the server.
 */
export function callBudgetPlugin(maxCalls: number, layout: TableLayout): ApolloServerPlugin<Context> {
  const estimate = memoisedEstimate(layout);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return;
          const worst = estimate(schema, document, operation, request.variables ?? {});
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

/** Estimates kept per parsed document, at most this many variable sets each. */
const ESTIMATES_PER_DOCUMENT = 32;

const namedType = (t: TypeNode): string => (t.kind === Kind.NAMED_TYPE ? t.name.value : namedType(t.type));

/** The operation's variables of type ID or String (or lists of them), whose text no estimate depends on. */
const textVariablesOf = new WeakMap<OperationDefinitionNode, ReadonlySet<string>>();
function textVariables(operation: OperationDefinitionNode): ReadonlySet<string> {
  let names = textVariablesOf.get(operation);
  if (!names) {
    names = new Set(
      (operation.variableDefinitions ?? []).filter((d) => ['ID', 'String'].includes(namedType(d.type))).map((d) => d.variable.name.value),
    );
    textVariablesOf.set(operation, names);
  }
  return names;
}

const blankText = (v: unknown): unknown => (typeof v === 'string' ? '' : Array.isArray(v) ? v.map(blankText) : v);

/** Cost keys longer than this are not remembered (large inputs are not worth keeping). */
const MAX_COST_KEY_LENGTH = 1024;

/**
 * What an estimate depends on in `variables`: the operation's declared variables, in their
 * declared order (the only ones estimateCalls coerces), each as [] when not given or [value]
 * when given, with the text of ID and String variables blanked (an id never changes the cost;
 * how many ids a list holds does). A blank is still a string, so the variables coerce (or fail
 * to) exactly as the originals do. Undeclared names never reach the key, so nothing a client
 * names can make its key collide with another's.
 */
export function costKey(operation: OperationDefinitionNode, variables: Record<string, unknown>): string {
  const text = textVariables(operation);
  const values = (operation.variableDefinitions ?? []).map(({ variable: { name } }) =>
    Object.hasOwn(variables, name.value) ? [text.has(name.value) ? blankText(variables[name.value]) : variables[name.value]] : [],
  );
  return JSON.stringify([operation.name?.value ?? null, values]);
}

/**
 * `estimateCalls` remembered per document and cost key. Apollo hands every request with the
 * same query text the same parsed document (its document cache), and the estimate depends only
 * on the operation and what `costKey` keeps of its variables: a client repeating a query for
 * other ids has it costed once. Documents leave with Apollo's cache (a WeakMap); the variable
 * sets kept per document are bounded.
 */
export function memoisedEstimate(layout: TableLayout, estimate: typeof estimateCalls = estimateCalls) {
  const byDocument = new WeakMap<DocumentNode, Map<string, number>>();
  return (schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): number => {
    let known = byDocument.get(document);
    if (!known) byDocument.set(document, (known = new Map()));
    const key = costKey(operation, variables);
    let worst = known.get(key);
    if (worst === undefined) {
      worst = estimate(schema, document, operation, variables, undefined, layout);
      if (key.length <= MAX_COST_KEY_LENGTH) {
        if (known.size >= ESTIMATES_PER_DOCUMENT) known.clear();
        known.set(key, worst);
      }
    }
    return worst;
  };
}
