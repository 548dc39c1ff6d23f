/**
 * GraphQL's Int is a signed 32-bit integer (spec §3.5.1): graphql-js refuses to serialise
 * anything else, and a non-null Int that fails takes its whole parent (a page, a list) down.
 * The contract: every Int in a response fits this range. Inputs are held to it in
 * validation.ts and placeOrder; these helpers hold what is read back to it.
 *
 * A leaf module (no imports), so that models, validation.ts and repositories can share the one
 * constant without an import cycle (validation.ts -> order-repository.ts -> models).
 */
export const GRAPHQL_INT_MAX = 2_147_483_647;
export const GRAPHQL_INT_MIN = -2_147_483_648;

export const fitsGraphQLInt = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= GRAPHQL_INT_MIN && n <= GRAPHQL_INT_MAX;

/**
 * Pure: the Int the API shows for a stored number. Non-integers are truncated toward zero,
 * numbers beyond the range (bigint included: the SDK unmarshals numbers above 2^53 as bigint)
 * become its nearest end, and anything that is not a number (missing, a string) becomes 0.
 */
export function clampToGraphQLInt(stored: unknown): number {
  if (typeof stored === 'bigint') {
    if (stored > BigInt(GRAPHQL_INT_MAX)) return GRAPHQL_INT_MAX;
    if (stored < BigInt(GRAPHQL_INT_MIN)) return GRAPHQL_INT_MIN;
    return Number(stored);
  }
  if (typeof stored !== 'number' || Number.isNaN(stored)) return 0;
  // `+ 0` turns the -0 that Math.trunc gives for (-1, 0) into 0.
  return Math.min(GRAPHQL_INT_MAX, Math.max(GRAPHQL_INT_MIN, Math.trunc(stored))) + 0;
}

/** One item read with numbers outside the Int range: which fields, what was stored, what is shown. */
export interface StoredValueOutOfRange {
  entity: string;
  id: string;
  fields: { field: string; stored: unknown; returned: number }[];
}

let report: (r: StoredValueOutOfRange) => void = () => undefined;

/** Where reads that clamped are reported (the server points it at its logger); a no-op until set. */
export function onStoredValueOutOfRange(fn: (r: StoredValueOutOfRange) => void): void {
  report = fn;
}

/**
 * The Int fields of one stored item, each clamped into the Int range. Clamping is the documented
 * choice for items written out of range anyway (an older version, a script, the console): one
 * bad item shows its nearest Int instead of failing every page and list it appears in, and the
 * item is reported once, with all its bad fields, so someone can correct it.
 */
export function storedInts<F extends string>(entity: string, id: unknown, values: Record<F, unknown>): Record<F, number> {
  const out = {} as Record<F, number>;
  const bad: StoredValueOutOfRange['fields'] = [];
  for (const field of Object.keys(values) as F[]) {
    const stored = values[field];
    if (fitsGraphQLInt(stored)) {
      out[field] = stored;
      continue;
    }
    out[field] = clampToGraphQLInt(stored);
    bad.push({ field, stored: typeof stored === 'bigint' ? stored.toString() : stored, returned: out[field] });
  }
  if (bad.length) report({ entity, id: String(id), fields: bad });
  return out;
}
