import { getNamedType, isObjectType, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ACCESS_PATTERNS } from '../../src/db/access-patterns.js';
import { DEFAULT_STATUS_SHARDS } from '../../src/db/design.js';
import { estimateCalls, FIELD_COSTS, type CostWalkStats } from '../../src/query-cost.js';
import { ORDER_WRITE_CALLS } from '../../src/repositories/order-repository.js';
import { buildSchema } from '../../src/schema.js';
import { costKey, memoisedEstimate } from '../../src/plugins/call-budget.js';

const schema = buildSchema();
const cost = (query: string, variables: Record<string, unknown> = {}, stats?: CostWalkStats) => {
  const doc = parse(query);
  const op = doc.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;
  return estimateCalls(schema, doc, op, variables, stats);
};
const ordersPage = ACCESS_PATTERNS.userOrders.maxCallsPerPage;
/** A page of orders by status reads every shard of the status index (the default layout's). */
const statusPage = DEFAULT_STATUS_SHARDS;

/** Fragments that each spread the next one `fan` times: 4^12 paths if walked naively. */
function fragmentFanOut(levels: number, fan: number): string {
  let q = `query { user(id: "u") { ...F0 } }\n`;
  for (let i = 0; i < levels; i++) {
    const body = i + 1 < levels ? `orders { edges { node { user { ${Array(fan).fill(`...F${i + 1}`).join(' ')} } } } }` : 'name';
    q += `fragment F${i} on User { ${body} }\n`;
  }
  return q;
}

describe('estimateCalls', () => {
  it('counts one call per entity read and one BatchGetItem per 100 ids', () => {
    expect(cost(`{ user(id: "u") { name } }`)).toBe(1);
    expect(cost(`query($ids: [ID!]!) { products(ids: $ids) { name } }`, { ids: Array(250).fill('p') })).toBe(3);
  });

  it('takes page costs from the access patterns and leaves out lines that ride along with a page of orders', () => {
    // user 1 + a page of orders (lines included) + products of up to 10 x 48 lines in 5 batches
    expect(cost(`{ user(id: "u") { orders(first: 10) { edges { node { items { product { name } } } } } } }`)).toBe(1 + ordersPage + 5);
    // Orders by status come without lines: one Query per order for its items.
    expect(cost(`{ ordersByStatus(status: PAID, first: 10) { edges { node { items { quantity } } } } }`)).toBe(statusPage + 10);
  });

  it('costs a page of orders by status at one Query per shard of the table it serves', () => {
    const q = `{ ordersByStatus(status: PAID, first: 10) { edges { node { id } } } }`;
    const doc = parse(q);
    const op = doc.definitions[0] as OperationDefinitionNode;
    for (const statusShards of [1, 4, 10, 32]) {
      expect(estimateCalls(schema, doc, op, {}, undefined, { statusShards })).toBe(statusShards);
    }
  });

  it('counts the users of one page of orders as one batch, and those of 50 pages as up to 50', () => {
    expect(cost(`query($n: Int) { ordersByStatus(status: PAID, first: $n) { edges { node { user { name } } } } }`, { n: 50 })).toBe(statusPage + 1);
    const ids = Array.from({ length: 50 }, (_, i) => `u${i}`);
    const nested = cost(`query($ids: [ID!]!) { users(ids: $ids) { orders(first: 10) { edges { node { user { name } } } } } }`, { ids });
    expect(nested).toBeGreaterThanOrEqual(1 + 50 * ordersPage + 50);
  });

  it('honours the defaults of variable definitions and of arguments', () => {
    const q = `query($f: Int = 100) { ordersByStatus(status: PAID, first: $f) { edges { node { items { quantity } } } } }`;
    expect(cost(q)).toBe(statusPage + 100);
    expect(cost(q, { f: 5 })).toBe(statusPage + 5);
    // `first` omitted: the argument's default (20).
    expect(cost(`{ ordersByStatus(status: PAID) { edges { node { items { quantity } } } } }`)).toBe(statusPage + 20);
  });

  it('leaves out what @skip and @include remove, as execution does', () => {
    const q = `query($s: Boolean!) { ordersByStatus(status: PAID, first: 10) { edges { node { items @skip(if: $s) { quantity } } } } }`;
    expect(cost(q, { s: true })).toBe(statusPage);
    expect(cost(q, { s: false })).toBe(statusPage + 10);
    expect(cost(`{ order(id: "o") { items @include(if: false) { quantity } user { name } } }`)).toBe(2);
  });

  it('reads a profile with its addresses, and an order with its lines, in one Query', () => {
    expect(cost(`{ user(id: "u") { name addresses { city } } }`)).toBe(1);
    expect(cost(`{ order(id: "o") { items { quantity } } }`)).toBe(1);
    expect(cost(`query($ids: [ID!]!) { users(ids: $ids) { addresses { city } } }`, { ids: ['a', 'b', 'c'] })).toBe(3);
  });

  it('costs mutations from their write plan, retries included', () => {
    const placed = cost(`mutation { placeOrder(input: { userId: "u", lines: [{ productId: "p", quantity: 1 }] }) { id items { quantity } } }`);
    expect(placed).toBe(ORDER_WRITE_CALLS.placeOrder);
    expect(placed).toBeGreaterThanOrEqual(18);
  });

  it('is zero for an operation whose variables do not coerce (nothing runs)', () => {
    expect(cost(`query($ids: [ID!]!) { users(ids: $ids) { addresses { city } } }`, {})).toBe(0);
  });

  it('walks each fragment once per parent type, however often it is spread', () => {
    const stats: CostWalkStats = { setsWalked: 0 };
    const q = fragmentFanOut(12, 4);
    const estimate = cost(q, {}, stats);
    // Linear: a handful of selection sets per fragment, never 4^12 walks.
    expect(stats.setsWalked).toBeGreaterThan(12);
    expect(stats.setsWalked).toBeLessThanOrEqual(12 * 8);
    expect(estimate).toBeGreaterThan(300);
  });

  it('has a cost entry for every root field and every field that returns an object', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      const isRoot = type === schema.getQueryType() || type === schema.getMutationType() || type === schema.getSubscriptionType();
      for (const field of Object.values(type.getFields())) {
        const coordinate = `${type.name}.${field.name}`;
        if ((isRoot || isObjectType(getNamedType(field.type))) && !FIELD_COSTS[coordinate]) missing.push(coordinate);
      }
    }
    expect(missing).toEqual([]);
  });
});

/** The call budget's memoised estimate over an estimateCalls that counts its walks. */
function countingEstimate() {
  let walked = 0;
  const estimate = memoisedEstimate({ statusShards: DEFAULT_STATUS_SHARDS }, (...args) => {
    walked++;
    return estimateCalls(...args);
  });
  return { estimate, walks: () => walked };
}

describe('memoisedEstimate (the call budget plugin)', () => {
  it('costs a document once per operation and variables, and never answers one with another’s estimate', () => {
    const { estimate, walks } = countingEstimate();
    const doc = parse(`query Products($ids: [ID!]!) { products(ids: $ids) { name } }`);
    const op = doc.definitions[0] as OperationDefinitionNode;
    const few = { ids: ['a', 'b'] };
    const many = { ids: Array(250).fill('p') };
    expect(estimate(schema, doc, op, few)).toBe(1);
    expect(estimate(schema, doc, op, { ids: ['a', 'b'] })).toBe(1);
    expect(walks()).toBe(1);
    expect(estimate(schema, doc, op, many)).toBe(3);
    expect(walks()).toBe(2);
    // Another parse of the same text is another document (Apollo's cache hands over one per text).
    expect(estimate(schema, parse(`query Products($ids: [ID!]!) { products(ids: $ids) { name } }`), op, few)).toBe(1);
    expect(walks()).toBe(3);
  });

  it('does not keep estimates of large variable sets', () => {
    const { estimate, walks } = countingEstimate();
    const doc = parse(`query Make($input: CreateProductInput!) { createProduct(input: $input) { id } }`);
    const op = doc.definitions[0] as OperationDefinitionNode;
    const input = { name: 'p', priceCents: 1, stock: 1, description: 'x'.repeat(5000) };
    estimate(schema, doc, op, { input });
    estimate(schema, doc, op, { input });
    expect(walks()).toBe(2);
  });

  it('keeps a bounded number of variable sets per document', () => {
    const { estimate, walks } = countingEstimate();
    const doc = parse(`query Featured($n: Int!) { featuredProducts(first: $n) { edges { node { name } } } }`);
    const op = doc.definitions[0] as OperationDefinitionNode;
    for (let n = 1; n <= 100; n++) estimate(schema, doc, op, { n });
    expect(walks()).toBe(100);
    estimate(schema, doc, op, { n: 100 });
    expect(walks()).toBe(100);
    // The first sets were let go: costed again.
    estimate(schema, doc, op, { n: 1 });
    expect(walks()).toBe(101);
  });

  it('costs a query once for any ids, but again for another number of ids, another page size or another enum value', () => {
    const { estimate, walks } = countingEstimate();
    const doc = parse(`query Q($id: ID!, $ids: [ID!]!, $first: Int, $status: OrderStatus!, $after: String) {
      user(id: $id) { name } products(ids: $ids) { name } ordersByStatus(status: $status, first: $first, after: $after) { edges { node { id } } } }`);
    const op = doc.definitions[0] as OperationDefinitionNode;
    const base = { id: 'u1', ids: ['a', 'b'], first: 5, status: 'PAID', after: 'c1' as string | null };
    const expected = estimateCalls(schema, doc, op, base);
    expect(estimate(schema, doc, op, base)).toBe(expected);
    expect(estimate(schema, doc, op, { ...base, id: 'u2', ids: ['c', 'd'], after: 'c2' })).toBe(expected);
    expect(walks()).toBe(1);
    expect(estimate(schema, doc, op, { ...base, ids: Array(150).fill('p') })).toBe(estimateCalls(schema, doc, op, { ...base, ids: Array(150).fill('p') }));
    estimate(schema, doc, op, { ...base, first: 6 });
    estimate(schema, doc, op, { ...base, status: 'SHIPPED' });
    expect(walks()).toBe(4);
    // No cursor is not a blank cursor.
    estimate(schema, doc, op, { ...base, after: null });
    expect(walks()).toBe(5);
    // Names the operation does not declare are not part of the key: no name can pose as another key.
    const ordersDoc = parse(`query O($first: Int = 100) { user(id: "u") { orders(first: $first) { edges { node { items { product { id } } } } } } }`);
    const ordersOp = ordersDoc.definitions[0] as OperationDefinitionNode;
    expect(costKey(ordersOp, { first: 1, x: 0 })).toBe(costKey(ordersOp, { first: 1 }));
    expect(costKey(ordersOp, { 'first=1\u0000x': 0 })).toBe(costKey(ordersOp, {}));
    expect(costKey(ordersOp, {})).not.toBe(costKey(ordersOp, { first: 1 }));
    const small = estimate(schema, ordersDoc, ordersOp, { first: 1, x: 0 });
    expect(estimate(schema, ordersDoc, ordersOp, { 'first=1\u0000x': 0 })).toBe(estimateCalls(schema, ordersDoc, ordersOp, {}));
    expect(estimateCalls(schema, ordersDoc, ordersOp, {})).toBeGreaterThan(small);
    // Variables that do not coerce are still told apart from ones that do.
    expect(estimate(schema, doc, op, { ...base, id: 42 })).toBe(estimateCalls(schema, doc, op, { ...base, id: 42 }));
    expect(estimate(schema, doc, op, { ...base, id: { not: 'an id' } })).toBe(0);
  });
});
