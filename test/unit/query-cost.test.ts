import { parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { estimateCalls } from '../../src/query-cost.js';
import { buildSchema } from '../../src/schema.js';

const schema = buildSchema();
const cost = (query: string, variables: Record<string, unknown> = {}) => {
  const doc = parse(query);
  const op = doc.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode;
  return estimateCalls(schema, doc, op, variables);
};

describe('estimateCalls', () => {
  it('counts one call per entity read and one BatchGetItem per 100 ids', () => {
    expect(cost(`{ user(id: "u") { name } }`)).toBe(1);
    expect(cost(`query($ids: [ID!]!) { products(ids: $ids) { name } }`, { ids: Array(250).fill('p') })).toBe(3);
  });

  it('multiplies nested lists by first and list sizes', () => {
    // 1 user + 1 orders query + 10 item queries (worst case) + ceil(10 * 48 / 100) product batches
    expect(cost(`{ user(id: "u") { orders(first: 10) { edges { node { items { product { name } } } } } } }`)).toBe(1 + 1 + 10 + 5);
    expect(cost(`query($n: Int) { ordersByStatus(status: PAID, first: $n) { edges { node { user { name } } } } }`, { n: 50 })).toBe(2);
  });

  it('uses argument defaults and follows fragments', () => {
    const q = `{ featuredProducts { edges { node { ...P } } } } fragment P on Product { name }`;
    expect(cost(q)).toBe(1);
    expect(cost(`{ user(id: "u") { ...U } } fragment U on User { orders { edges { node { items { productId } } } } }`)).toBe(1 + 1 + 20);
  });

  it('gives an unbounded list argument the largest allowed size', () => {
    expect(cost(`query($ids: [ID!]!) { users(ids: $ids) { addresses { city } } }`, {})).toBe(5 + 500);
  });
});
