/**
 * For list fields answered per id: graphql-js completes an `Error` list item as that item's own
 * error (the item null, the error at its path, e.g. ["users", 3]), so one id's failure never
 * fails the list. Typed as the items for the generated resolver types.
 */
export function listItems<T>(results: readonly (T | Error)[]): T[] {
  return results as T[];
}
