import {
  getNamedType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { BATCH_GET_MAX_KEYS } from './db/batch-get.js';
import { MAX_ORDER_LINES } from './repositories/order-repository.js';
import { MAX_ADDRESSES_PER_USER } from './repositories/user-repository.js';
import { LIMITS } from './validation.js';

type Args = Record<string, unknown>;

/**
 * Worst-case DynamoDB calls of a field, given how many parents it is resolved for (`n`), and
 * how many objects it yields to its own selection. Mirrors the resolvers and loaders: entity
 * loads batch 100 keys per BatchGetItem, lists are one Query per parent.
 */
type FieldCost = (args: Args, n: number) => { calls: number; yields: number };

const batched = (n: number) => Math.ceil(n / BATCH_GET_MAX_KEYS);
const listLength = (v: unknown) => (Array.isArray(v) ? v.length : LIMITS.idsPerList);
const first = (args: Args) => (typeof args.first === 'number' ? args.first : 20);
/** Mutations: a read, a transaction and the loaders behind the returned object. */
const MUTATION_CALLS = 3;

export const FIELD_COSTS: Record<string, FieldCost> = {
  'Query.user': () => ({ calls: 1, yields: 1 }),
  'Query.users': (a) => ({ calls: batched(listLength(a.ids)), yields: listLength(a.ids) }),
  'Query.product': () => ({ calls: 1, yields: 1 }),
  'Query.products': (a) => ({ calls: batched(listLength(a.ids)), yields: listLength(a.ids) }),
  'Query.featuredProducts': (a) => ({ calls: 1, yields: first(a) }),
  'Query.order': () => ({ calls: 1, yields: 1 }),
  'Query.ordersByStatus': (a) => ({ calls: 1, yields: first(a) }),
  'User.addresses': (_a, n) => ({ calls: n, yields: n * MAX_ADDRESSES_PER_USER }),
  'User.orders': (a, n) => ({ calls: n, yields: n * first(a) }),
  'Order.user': (_a, n) => ({ calls: batched(n), yields: n }),
  'Order.items': (_a, n) => ({ calls: n, yields: n * MAX_ORDER_LINES }),
  'OrderItem.product': (_a, n) => ({ calls: batched(n), yields: n }),
};

function valueOf(node: ValueNode, variables: Args): unknown {
  switch (node.kind) {
    case Kind.VARIABLE:
      return variables[node.name.value];
    case Kind.INT:
      return Number.parseInt(node.value, 10);
    case Kind.LIST:
      return node.values.map((v) => valueOf(v, variables));
    case Kind.NULL:
      return null;
    default:
      return undefined;
  }
}

function argsOf(field: GraphQLField<unknown, unknown>, node: FieldNode, variables: Args): Args {
  const args: Args = {};
  for (const def of field.args) if (def.defaultValue !== undefined) args[def.name] = def.defaultValue;
  for (const a of node.arguments ?? []) {
    const v = valueOf(a.value, variables);
    if (v !== undefined && v !== null) args[a.name.value] = v;
  }
  return args;
}

/** The most DynamoDB calls an operation can cause, before it runs. */
export function estimateCalls(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Args = {},
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) return 0;

  const walk = (type: GraphQLObjectType, set: SelectionSetNode, n: number, seen: Set<string>): number => {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        total += walk(type, sel.selectionSet, n, seen);
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const frag = fragments.get(sel.name.value);
        // Cycles are a validation error anyway; never recurse forever here.
        if (frag && !seen.has(frag.name.value)) total += walk(type, frag.selectionSet, n, new Set([...seen, frag.name.value]));
      } else {
        const field = type.getFields()[sel.name.value];
        if (!field) continue;
        const cost = FIELD_COSTS[`${type.name}.${field.name}`];
        const isMutation = type === schema.getMutationType();
        const { calls, yields } = cost ? cost(argsOf(field, sel, variables), n) : { calls: isMutation ? MUTATION_CALLS : 0, yields: n };
        total += calls;
        const child = getNamedType(field.type);
        if (sel.selectionSet && isObjectType(child)) total += walk(child, sel.selectionSet, yields, seen);
      }
    }
    return total;
  };
  return walk(root, operation.selectionSet, 1, new Set());
}
