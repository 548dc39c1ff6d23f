import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * True when the current field's selection asks for `name` directly (through inline fragments
 * and fragment spreads too). Resolvers use it to pick the access pattern that answers the
 * whole selection with the fewest calls, e.g. a user's profile and addresses in one Query.
 */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const visited = new Set<string>();
  const search = (set: SelectionSetNode | undefined): boolean => {
    if (!set) return false;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD && sel.name.value === name) return true;
      if (sel.kind === Kind.INLINE_FRAGMENT && search(sel.selectionSet)) return true;
      if (sel.kind === Kind.FRAGMENT_SPREAD && !visited.has(sel.name.value)) {
        visited.add(sel.name.value);
        if (search(info.fragments[sel.name.value]?.selectionSet)) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((node) => search(node.selectionSet));
}
