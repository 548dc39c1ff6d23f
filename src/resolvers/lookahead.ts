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
  const sets = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  return collectFields(sets, info.fragments, info.variableValues).filter((f) => f.name.value === name);
}

export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return selectedFields(info, name).length > 0;
}
