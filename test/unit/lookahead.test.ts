import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectedFields, selectsField, selectsPath } from '../../src/resolvers/lookahead.js';

/** The resolve info of the document's first root field, as far as the lookahead reads it. */
function infoOf(query: string, variableValues: Record<string, unknown> = {}): GraphQLResolveInfo {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments, variableValues } as unknown as GraphQLResolveInfo;
}

const PRODUCTS = 'edges.node.items.product';

describe('selectsPath', () => {
  it('follows a path of field names down the selection, aliases included', () => {
    expect(selectsPath(infoOf(`{ orders { edges { node { items { product { id } } } } } }`), PRODUCTS)).toBe(true);
    expect(selectsPath(infoOf(`{ orders { edges { node { items { quantity } } } } }`), PRODUCTS)).toBe(false);
    expect(selectsPath(infoOf(`{ orders { edges { node { id } } pageInfo { hasNextPage } } }`), PRODUCTS)).toBe(false);
    expect(selectsPath(infoOf(`{ orders { edges { node { items { p: product { id } } } } } }`), PRODUCTS)).toBe(true);
    // The same name at another depth is not the path.
    expect(selectsPath(infoOf(`{ orders { product { edges { node { items { id } } } } } }`), PRODUCTS)).toBe(false);
  });

  it('goes through inline fragments and fragment spreads', () => {
    expect(selectsPath(infoOf(`{ orders { edges { node { ... on Order { items { product { id } } } } } } }`), PRODUCTS)).toBe(true);
    const spread = `{ orders { edges { ...E } } } fragment E on OrderEdge { node { ...N } } fragment N on Order { items { product { id } } }`;
    expect(selectsPath(infoOf(spread), PRODUCTS)).toBe(true);
  });

  it('leaves out what @skip and @include remove, as execution does', () => {
    const q = `query($with: Boolean!) { orders { edges { node { items { product @include(if: $with) { id } } } } } }`;
    expect(selectsPath(infoOf(q, { with: true }), PRODUCTS)).toBe(true);
    expect(selectsPath(infoOf(q, { with: false }), PRODUCTS)).toBe(false);
    const skipped = `query($no: Boolean!) { orders { edges @skip(if: $no) { node { items { product { id } } } } } }`;
    expect(selectsPath(infoOf(skipped, { no: true }), PRODUCTS)).toBe(false);
    const fragment = `query($no: Boolean!) { orders { edges { node { ...L @skip(if: $no) } } } } fragment L on Order { items { product { id } } }`;
    expect(selectsPath(infoOf(fragment, { no: true }), PRODUCTS)).toBe(false);
    expect(selectsPath(infoOf(fragment, { no: false }), PRODUCTS)).toBe(true);
  });

  it('stays linear when fragments spread each other many times: each fragment is entered at most once per depth', () => {
    // 16 levels of fragments spreading the next one 4 times: 4^16 paths if walked naively.
    let q = `{ orders { ...F0 } }\n`;
    for (let i = 0; i < 16; i++) q += `fragment F${i} on OrderConnection { ${i + 1 < 16 ? Array(4).fill(`...F${i + 1}`).join(' ') : 'pageInfo { hasNextPage }'} }\n`;
    const info = infoOf(q);
    let entered = 0;
    const counted = new Proxy(info.fragments, {
      get(target, name) {
        entered++;
        return Reflect.get(target, name);
      },
    });
    expect(selectsPath({ ...info, fragments: counted }, PRODUCTS)).toBe(false);
    expect(entered).toBe(16);
  });
});

describe('selectsField and selectedFields', () => {
  it('see the direct selection only', () => {
    const info = infoOf(`{ user { id orders(first: 5) { edges { node { id } } } o2: orders(first: 2) { edges { node { id } } } } }`);
    expect(selectsField(info, 'orders')).toBe(true);
    expect(selectsField(info, 'edges')).toBe(false);
    expect(selectedFields(info, 'orders').map((f) => f.alias?.value ?? f.name.value)).toEqual(['orders', 'o2']);
  });
});
