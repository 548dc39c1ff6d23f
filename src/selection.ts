import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';

type Variables = Record<string, unknown>;
type Fragments = Readonly<Record<string, FragmentDefinitionNode | undefined>>;

/** False when `@skip(if: true)` or `@include(if: false)` removes the node, as execution decides. */
export function isIncluded(node: FieldNode | FragmentSpreadNode | InlineFragmentNode, variables: Variables): boolean {
  if (!node.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
}

/**
 * The field nodes that a selection set selects directly, through inline fragments and
 * fragment spreads, leaving out what @skip/@include remove: the fields that graphql-js's
 * execution collects for it. Each fragment is visited once per call (as execution does), so
 * the work is linear in the document. Used by the resolvers' lookahead and by the query cost
 * estimate, so both see the same selection.
 */
export function collectFields(sets: readonly SelectionSetNode[], fragments: Fragments, variables: Variables): FieldNode[] {
  const fields: FieldNode[] = [];
  const visited = new Set<string>();
  const visit = (set: SelectionSetNode): void => {
    for (const sel of set.selections) {
      if (!isIncluded(sel, variables)) continue;
      if (sel.kind === Kind.FIELD) fields.push(sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) visit(sel.selectionSet);
      else if (!visited.has(sel.name.value)) {
        visited.add(sel.name.value);
        const fragment = fragments[sel.name.value];
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  for (const set of sets) visit(set);
  return fields;
}
