import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { collectFields, isIncluded } from '../selection.js';

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
  return selectsPath(info, name);
}

/**
 * Whether the selection reaches down a path of field names, e.g. `edges.node.items.product`
 * from a connection field: what a resolver reads ahead for, so the levels below it answer from
 * loaded data in place. It sees what execution would collect (fragments, and @skip/@include
 * by src/selection.ts's `isIncluded`, as collectFields does) but builds no list of fields: it
 * walks the selection and stops at the first match (this runs on every request). Each fragment is
 * entered at most once per depth, so fragments spread many times cost no more than the
 * document's size.
 */
export function selectsPath(info: GraphQLResolveInfo, path: string): boolean {
  const names = path.split('.');
  let entered: Set<string> | undefined;
  const reaches = (set: SelectionSetNode, depth: number): boolean => {
    for (const sel of set.selections) {
      if (!isIncluded(sel, info.variableValues)) continue;
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value !== names[depth]) continue;
        if (depth === names.length - 1) return true;
        if (sel.selectionSet && reaches(sel.selectionSet, depth + 1)) return true;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (reaches(sel.selectionSet, depth)) return true;
      } else {
        const key = `${depth}:${sel.name.value}`;
        if (entered?.has(key)) continue;
        (entered ??= new Set()).add(key);
        const fragment = info.fragments[sel.name.value];
        if (fragment && reaches(fragment.selectionSet, depth)) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((n) => n.selectionSet !== undefined && reaches(n.selectionSet, 0));
}
