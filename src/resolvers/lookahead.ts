import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * The field nodes named `name` that the current field's selection asks for directly (through
 * inline fragments and fragment spreads too). Resolvers use them to pick the access pattern that
 * answers the whole selection with the fewest calls and round trips, e.g. a user's profile and
 * addresses in one Query, or a user's orders read alongside the profile.
 */
export function selectedFields(info: GraphQLResolveInfo, name: string): FieldNode[] {
  const found: FieldNode[] = [];
  const visited = new Set<string>();
  const search = (set: SelectionSetNode | undefined): void => {
    if (!set) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD && sel.name.value === name) found.push(sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) search(sel.selectionSet);
      else if (sel.kind === Kind.FRAGMENT_SPREAD && !visited.has(sel.name.value)) {
        visited.add(sel.name.value);
        search(info.fragments[sel.name.value]?.selectionSet);
      }
    }
  };
  for (const node of info.fieldNodes) search(node.selectionSet);
  return found;
}

export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return selectedFields(info, name).length > 0;
}
