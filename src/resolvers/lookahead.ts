import type { FieldNode, GraphQLResolveInfo } from 'graphql';
import { collectFields } from '../selection.js';

/**
 * The field nodes named `name` that the current field's selection asks for directly (through
 * inline fragments and fragment spreads, without what @skip/@include remove). Resolvers use them
 * to pick the access pattern that answers the whole selection with the fewest calls and round
 * trips, e.g. a user's profile and addresses in one Query, or a user's orders read alongside the
 * profile. The query cost estimate sees the same selection (src/selection.ts).
 */
export function selectedFields(info: GraphQLResolveInfo, name: string): FieldNode[] {
  return selectedBelow(info, info.fieldNodes, name);
}

/**
 * The fields each field-node list selects. graphql-js gives every item of a list the same
 * `fieldNodes` array, made for this execution (so for its variables): the lookahead of a field
 * resolved for each of a page's nodes collects its selection once.
 */
const collected = new WeakMap<readonly FieldNode[], FieldNode[]>();

function selectedBelow(info: GraphQLResolveInfo, nodes: readonly FieldNode[], name: string): FieldNode[] {
  let fields = collected.get(nodes);
  if (!fields) {
    const sets = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
    fields = collectFields(sets, info.fragments, info.variableValues);
    collected.set(nodes, fields);
  }
  return fields.filter((f) => f.name.value === name);
}

/**
 * Whether the selection reaches down a path of field names, e.g. `edges.node.items.product`
 * from a connection field: what a resolver reads ahead for, so the levels below it answer
 * from loaded data in place.
 */
export function selectsPath(info: GraphQLResolveInfo, path: string): boolean {
  let nodes: readonly FieldNode[] = info.fieldNodes;
  for (const name of path.split('.')) {
    nodes = selectedBelow(info, nodes, name);
    if (nodes.length === 0) return false;
  }
  return true;
}

export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return selectedFields(info, name).length > 0;
}
