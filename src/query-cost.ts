import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import {
  ACCESS_PATTERNS as P,
  BATCH_GET_MAX_KEYS,
  MAX_ADDRESSES_PER_USER,
  MAX_ORDER_LINES,
  maxCallsPerPage,
  type PageRead,
  type PartitionRead,
  type ShardedPageRead,
} from './db/access-patterns.js';
import { DEFAULT_LAYOUT, type TableLayout } from './db/design.js';
import { ORDER_WRITE_CALLS } from './repositories/order-repository.js';
import { PRODUCT_WRITE_CALLS } from './repositories/product-repository.js';
import { USER_WRITE_CALLS } from './repositories/user-repository.js';
import { collectFields, isIncluded } from './selection.js';
import { LIMITS } from './validation.js';

type Args = Record<string, unknown>;

/**
 * What resolving one field costs, per parent object. Every number comes from an access pattern
 * (src/db/access-patterns.ts) or from a repository's write plan, never from a guess here.
 */
export interface FieldPlan {
  /** DynamoDB calls made once per parent (a Query, a page, a write with its retries). */
  callsPerParent?: number;
  /** Keys read per parent through a batching loader (BatchGetItem, 100 keys a call). */
  keysPerParent?: number;
  /** Objects yielded per parent to the field's own selection (default 1). */
  yields?: number;
  /** With callsPerParent: in how many separately resolving groups a parent's objects arrive (default 1). */
  groupsPerParent?: number;
  /** Paths below this field whose data its read already brought, e.g. `edges.node.items`. */
  carries?: readonly string[];
}

/**
 * A field's plan from its coerced arguments, whether its own selection asks for a field, and
 * the table's layout (a sharded page reads every shard).
 */
export type FieldCost = (args: Args, selects: (field: string) => boolean, layout: TableLayout) => FieldPlan;

const FREE: FieldCost = () => ({});
const keyRead: FieldCost = () => ({ keysPerParent: 1 });
const listLength = (v: unknown) => (Array.isArray(v) ? v.length : LIMITS.idsPerList);
/** Out-of-range values are refused by the resolver; the estimate only needs an upper bound. */
const first = (args: Args) => (typeof args.first === 'number' ? Math.min(Math.max(args.first, 0), LIMITS.pageSize) : 20);
const page = (p: PageRead | ShardedPageRead, args: Args, layout: TableLayout, carries: readonly string[] = []): FieldPlan => ({
  callsPerParent: maxCallsPerPage(p, layout),
  yields: first(args),
  carries,
});
const partition = (p: PartitionRead, yields: number, carries: readonly string[] = []): FieldPlan => ({
  callsPerParent: p.calls,
  yields,
  carries,
});
/** One profile: with `addresses` selected, the profile and its addresses in one Query. */
const userRead: FieldCost = (a, selects, layout) => (selects('addresses') ? partition(P.userWithAddresses, 1, ['addresses']) : keyRead(a, selects, layout));
const write =
  (calls: number, carries: readonly string[] = []): FieldCost =>
  () => ({ callsPerParent: calls, carries });

/**
 * Every field that returns an object, and every root field, with what it costs. Mirrors the
 * resolvers' choices: `user`/`users` read the profile with its addresses in one Query when
 * `addresses` is selected, `order` reads the header with its lines when `items` is selected, a
 * page of a user's orders brings every order's lines along. A test fails when a field of the
 * served schema has no entry here.
 */
export const FIELD_COSTS: Record<string, FieldCost> = {
  'Query.ping': FREE,
  'Query.user': userRead,
  'Query.me': userRead,
  'Query.users': (a, selects) => {
    const n = listLength(a.ids);
    return selects('addresses')
      ? { callsPerParent: n * P.userWithAddresses.calls, groupsPerParent: n, yields: n, carries: ['addresses'] }
      : { keysPerParent: n, yields: n };
  },
  'Query.product': keyRead,
  'Query.products': (a) => ({ keysPerParent: listLength(a.ids), yields: listLength(a.ids) }),
  'Query.featuredProducts': (a, _s, layout) => page(P.featuredProducts, a, layout),
  'Query.order': (a, selects, layout) => (selects('items') ? partition(P.orderWithItems, 1, ['items']) : keyRead(a, selects, layout)),
  'Query.ordersByStatus': (a, _s, layout) => page(P.ordersByStatus, a, layout),
  'User.addresses': () => partition(P.userAddresses, MAX_ADDRESSES_PER_USER),
  'User.orders': (a, _s, layout) => page(P.userOrders, a, layout, ['edges.node.items']),
  'Order.user': keyRead,
  'Order.items': () => partition(P.orderWithItems, MAX_ORDER_LINES),
  'OrderItem.product': keyRead,
  'OrderConnection.edges': FREE,
  'OrderConnection.pageInfo': FREE,
  'OrderEdge.node': FREE,
  'ProductConnection.edges': FREE,
  'ProductConnection.pageInfo': FREE,
  'ProductEdge.node': FREE,
  // Per event: the subscribed entity comes from the stream's image (0 calls); nested fields read
  // through the loaders, once per event for every subscriber.
  'Subscription.productUpdated': FREE,
  'Subscription.orderUpdated': FREE,
  'Subscription.orderEvents': FREE,
  'OrderEvent.order': FREE,
  'Mutation.createUser': write(USER_WRITE_CALLS.createUser, ['addresses']),
  'Mutation.updateUser': write(USER_WRITE_CALLS.updateUser),
  'Mutation.deleteUser': write(USER_WRITE_CALLS.deleteUser),
  'Mutation.addAddress': write(USER_WRITE_CALLS.addAddress),
  'Mutation.removeAddress': write(USER_WRITE_CALLS.removeAddress),
  'Mutation.createProduct': write(PRODUCT_WRITE_CALLS.createProduct),
  'Mutation.updateProduct': write(PRODUCT_WRITE_CALLS.updateProduct),
  'Mutation.deleteProduct': write(PRODUCT_WRITE_CALLS.deleteProduct),
  // A replayed order (idempotency) comes back with its lines but without user or products.
  'Mutation.placeOrder': write(ORDER_WRITE_CALLS.placeOrder, ['items']),
  'Mutation.updateOrderStatus': write(ORDER_WRITE_CALLS.updateOrderStatus),
  'Mutation.cancelOrder': write(ORDER_WRITE_CALLS.cancelOrder, ['items']),
};

/**
 * An upper bound on calls as a linear function of the objects a selection is resolved for (`n`)
 * and of the groups they arrive in (`g`): `n * perObject + g * perGroup + fixed`. Groups matter
 * because DataLoader batches the loads of objects that resolve together: the users of one page
 * of orders cost one BatchGetItem, those of 50 pages resolved by 50 Queries cost up to 50.
 */
interface Bound {
  perObject: number;
  perGroup: number;
  fixed: number;
}

const ZERO: Bound = { perObject: 0, perGroup: 0, fixed: 0 };
const add = (a: Bound, b: Bound): Bound => ({
  perObject: a.perObject + b.perObject,
  perGroup: a.perGroup + b.perGroup,
  fixed: a.fixed + b.fixed,
});

/** Paths carried below `field`, relative to its result. */
function carriedBelow(carried: readonly string[], field: string): string[] {
  const prefix = `${field}.`;
  return carried.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
}

export interface CostWalkStats {
  /** Selection sets walked: linear in the document, whatever its fragments do. */
  setsWalked: number;
}

/**
 * The most DynamoDB calls an operation can cause, before it runs. Variables are coerced as
 * execution would coerce them (defaults of variable definitions and of arguments included), and
 * @skip/@include are honoured. The walk is linear in the document: each fragment is costed once
 * per parent type and carried context (memoised), so fragments that spread each other many
 * times cost no more to estimate than to read.
 *
 * `ceil(k / 100)` BatchGetItem calls are bounded by `k / 100 + 0.99` (k is a whole number), so
 * the bound stays linear and the final floor is still an upper bound on the real count.
 */
export function estimateCalls(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Args = {},
  stats: CostWalkStats = { setsWalked: 0 },
  layout: TableLayout = DEFAULT_LAYOUT,
): number {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  // Variables that do not coerce fail the whole operation before any resolver runs.
  if (coerced.errors) return 0;
  const vars = coerced.coerced;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;

  const memo = new Map<string, Bound>();
  const selectsCache = new WeakMap<SelectionSetNode, Set<string>>();
  const selectedNames = (set: SelectionSetNode): Set<string> => {
    let names = selectsCache.get(set);
    if (!names) {
      names = new Set(collectFields([set], fragments, vars).map((f) => f.name.value));
      selectsCache.set(set, names);
    }
    return names;
  };

  const walkField = (type: GraphQLObjectType, node: FieldNode, carried: readonly string[]): Bound => {
    const field = type.getFields()[node.name.value];
    if (!field) return ZERO; // __typename and the like
    let args: Args;
    try {
      args = getArgumentValues(field, node, vars);
    } catch {
      return ZERO; // the field fails on its arguments and runs nothing
    }
    const set = node.selectionSet;
    const cost = FIELD_COSTS[`${type.name}.${field.name}`] ?? FREE;
    const plan = cost(args, (name) => (set ? selectedNames(set).has(name) : false), layout);
    const isCarried = carried.includes(field.name);
    const calls = isCarried ? 0 : (plan.callsPerParent ?? 0);
    const keys = isCarried ? 0 : (plan.keysPerParent ?? 0);
    // This field's own calls, then the state its objects are handed on in.
    const own: Bound = { perObject: calls + keys / BATCH_GET_MAX_KEYS, perGroup: keys > 0 ? 0.99 : 0, fixed: 0 };
    const childType = getNamedType(field.type);
    if (!set || !isObjectType(childType)) return own;
    const yields = plan.yields ?? 1;
    // Groups of the child objects, as a linear function of this level's (objects, groups).
    const groups =
      calls > 0
        ? { objects: plan.groupsPerParent ?? 1, groups: 0 }
        : keys > 0
          ? { objects: keys / BATCH_GET_MAX_KEYS, groups: 0.99 }
          : { objects: 0, groups: 1 };
    const childCarried = [...carriedBelow(carried, field.name), ...(isCarried ? [] : (plan.carries ?? []))];
    const child = walkSet(childType, set, childCarried);
    return {
      perObject: own.perObject + child.perObject * yields + child.perGroup * groups.objects,
      perGroup: own.perGroup + child.perGroup * groups.groups,
      fixed: child.fixed,
    };
  };

  const walkFragment = (type: GraphQLObjectType, name: string, carried: readonly string[]): Bound => {
    const fragment = fragments[name];
    if (!fragment) return ZERO;
    const key = `${name}\u0000${type.name}\u0000${carried.join(',')}`;
    const known = memo.get(key);
    if (known) return known;
    memo.set(key, ZERO); // a cycle (refused by validation anyway) never recurses forever
    const bound = walkSet(type, fragment.selectionSet, carried, fragment.typeCondition.name.value);
    memo.set(key, bound);
    return bound;
  };

  function walkSet(type: GraphQLObjectType, set: SelectionSetNode, carried: readonly string[], condition?: string): Bound {
    stats.setsWalked++;
    // A fragment on another type never applies here (the schema has no abstract types).
    if (condition !== undefined && condition !== type.name) return ZERO;
    let total = ZERO;
    // Like execution, a fragment spread twice into one selection set is collected once.
    const spread = new Set<string>();
    const visit = (s: SelectionSetNode): void => {
      for (const sel of s.selections) {
        if (!isIncluded(sel, vars)) continue;
        if (sel.kind === Kind.FIELD) total = add(total, walkField(type, sel, carried));
        else if (sel.kind === Kind.INLINE_FRAGMENT) {
          if (!sel.typeCondition || sel.typeCondition.name.value === type.name) visit(sel.selectionSet);
        } else if (!spread.has(sel.name.value)) {
          spread.add(sel.name.value);
          total = add(total, walkFragment(type, sel.name.value, carried));
        }
      }
    };
    visit(set);
    return total;
  }

  const bound = walkSet(root, operation.selectionSet, []);
  // The operation's root objects: one object, in one group.
  const total = bound.perObject + bound.perGroup + bound.fixed;
  return Math.min(Math.floor(total + 1e-9), Number.MAX_SAFE_INTEGER);
}
