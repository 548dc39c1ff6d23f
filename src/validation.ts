import { z } from 'zod';
import { isSafeUserId } from './auth/caller.js';
import { badInput } from './errors.js';
import { GRAPHQL_INT_MAX } from './model/int-range.js';
import { MAX_ORDER_LINES } from './repositories/order-repository.js';

/**
 * Input rules at the edge, before any DynamoDB call. Lengths keep every item far below
 * DynamoDB's 400 KB item limit and keys below its 2048-byte partition key limit. (Names: "schema"
 * means only the GraphQL schema in this project; zod objects here are "rules".)
 */
export const LIMITS = {
  idLength: 128,
  idsPerList: 500,
  emailLength: 254,
  nameLength: 200,
  descriptionLength: 4000,
  addressFieldLength: 200,
  labelLength: 100,
  postalCodeLength: 20,
  // Each within GraphQL's Int (checked by int() below); a price times a quantity is not, so
  // placeOrder checks line and order totals against GRAPHQL_INT_MAX once the prices are read.
  maxPriceCents: 1_000_000_000,
  maxStock: 1_000_000_000,
  maxQuantity: 10_000,
  idempotencyKeyLength: 128,
  pageSize: 100,
} as const;

/**
 * Every Int in a response fits GraphQL's 32-bit Int (the contract): the one bound, shared with
 * the model's read-side clamping and placeOrder's total check. Defined in a leaf module so the
 * models can use it without importing this file.
 */
export { GRAPHQL_INT_MAX };


/**
 * Every string input must be well-formed UTF-16: a lone surrogate (e.g. "\ud800") becomes U+FFFD
 * when written as UTF-8, so two different inputs would be stored, keyed and compared as one.
 */
const notWellFormed = (field: string) => `${field} must be well-formed Unicode text (no lone surrogates such as \\ud800)`;
const string = (field: string) => z.string().refine((s) => s.isWellFormed(), { error: () => notWellFormed(field) });

const text = (field: string, max: number) =>
  string(field)
    .trim()
    .min(1, { error: () => `${field} must not be empty` })
    .max(max, { error: () => `${field} must be at most ${max} characters` });

export const idRule = (field: string) =>
  string(field)
    .min(1, { error: () => `${field} must not be empty` })
    .max(LIMITS.idLength, { error: () => `${field} must be at most ${LIMITS.idLength} characters` });

const email = string('email')
  .trim()
  .max(LIMITS.emailLength, { error: () => `email must be at most ${LIMITS.emailLength} characters` })
  .pipe(z.email({ error: () => 'email must be a valid email address such as ada@example.com' }));

const int = (field: string, min: number, max: number) => {
  // A number the API stores it also returns: a limit above the Int range would accept a value
  // that can never be read back. Fails at start-up, not on a request.
  if (max > GRAPHQL_INT_MAX) throw new Error(`${field}: limit ${max} exceeds GraphQL's Int maximum ${GRAPHQL_INT_MAX}`);
  return z
    .number()
    .int({ error: () => `${field} must be a whole number` })
    .min(min, { error: () => `${field} must be at least ${min}` })
    .max(max, { error: () => `${field} must be at most ${max}` });
};

export const createUserRules = z.object({
  // The same rule as a token's user id, so that the profile can be signed in to.
  id: idRule('id')
    .refine(isSafeUserId, { error: () => "id must not hold '#' or control characters" })
    .nullish(),
  email,
  name: text('name', LIMITS.nameLength),
});
export const updateUserRules = z.object({
  email: email.nullish(),
  name: text('name', LIMITS.nameLength).nullish(),
});
export const addressRules = z.object({
  label: text('label', LIMITS.labelLength).nullish(),
  street: text('street', LIMITS.addressFieldLength),
  city: text('city', LIMITS.addressFieldLength),
  postalCode: text('postalCode', LIMITS.postalCodeLength),
  country: text('country', LIMITS.addressFieldLength),
});
export const createProductRules = z.object({
  name: text('name', LIMITS.nameLength),
  description: string('description').max(LIMITS.descriptionLength, { error: () => `description must be at most ${LIMITS.descriptionLength} characters` }).nullish(),
  priceCents: int('priceCents', 0, LIMITS.maxPriceCents),
  stock: int('stock', 0, LIMITS.maxStock),
  featured: z.boolean().nullish(),
});
export const updateProductRules = z.object({
  name: text('name', LIMITS.nameLength).nullish(),
  description: string('description').max(LIMITS.descriptionLength, { error: () => `description must be at most ${LIMITS.descriptionLength} characters` }).nullish(),
  priceCents: int('priceCents', 0, LIMITS.maxPriceCents).nullish(),
  stock: int('stock', 0, LIMITS.maxStock).nullish(),
  featured: z.boolean().nullish(),
});
export const placeOrderRules = z
  .object({
    userId: idRule('userId').nullish(),
    lines: z
      .array(z.object({ productId: idRule('productId'), quantity: int('quantity', 1, LIMITS.maxQuantity) }))
      .min(1, { error: () => 'lines must hold at least one line' })
      .max(MAX_ORDER_LINES, {
        error: () => `lines must hold at most ${MAX_ORDER_LINES} lines (one DynamoDB transaction holds 100 actions)`,
      }),
    // Keys are compared as stored (UTF-8): "a\ud800" and "a\udbff" would be the same key.
    idempotencyKey: string('idempotencyKey')
      .min(1, { error: () => 'idempotencyKey must not be empty' })
      .max(LIMITS.idempotencyKeyLength, { error: () => `idempotencyKey must be at most ${LIMITS.idempotencyKeyLength} characters` })
      .nullish(),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.lines.forEach((l, i) => {
      if (seen.has(l.productId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['lines', i, 'productId'],
          message: `product ${l.productId} appears in more than one line; put its whole quantity in one line`,
        });
      }
      seen.add(l.productId);
    });
  });

/** Parses input with a schema; the first problem becomes a BAD_USER_INPUT error naming the field and the value. */
export function parseInput<S extends z.ZodType>(rules: S, value: unknown, argument: string): z.output<S> {
  const result = rules.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [argument, ...issue.path].join('.');
  const received = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], value);
  const shown = typeof received === 'string' && received.length > 60 ? `${received.slice(0, 60)}… (${received.length} characters)` : received;
  throw badInput(`${path}: ${issue.message}; got ${JSON.stringify(shown) ?? 'nothing'}`, { argument: path });
}

/** On every read's hot path: a plain check, not a schema built per call. */
export function parseId(value: string, argument: string): string {
  if (value.length === 0) throw badInput(`${argument}: ${argument} must not be empty; got ""`, { argument });
  if (value.length > LIMITS.idLength) {
    throw badInput(`${argument}: ${argument} must be at most ${LIMITS.idLength} characters; got ${value.length} characters`, { argument });
  }
  if (!value.isWellFormed()) throw badInput(`${argument}: ${notWellFormed(argument)}; got ${JSON.stringify(value)}`, { argument });
  return value;
}

export function parseIds(values: readonly string[], argument: string): string[] {
  if (values.length > LIMITS.idsPerList) {
    throw badInput(`${argument}: at most ${LIMITS.idsPerList} ids per call; got ${values.length}`, { argument });
  }
  values.forEach((v, i) => parseId(v, `${argument}.${i}`));
  return [...values];
}

/**
 * `after` is a cursor of the connection, or absent. An empty string is a bad cursor (the
 * contract), never "no cursor". Its content is checked where its connection is known (cursor.ts).
 */
export function parseAfter(after: string | null | undefined): string | null {
  if (after == null) return null;
  if (after.length === 0) {
    throw badInput('after must be an endCursor or edge cursor of this connection, or left out; got an empty string', { argument: 'after' });
  }
  return after;
}

/** `first` is 1..100 (the contract); anything else is BAD_USER_INPUT. */
export function parseFirst(first: number | null | undefined): number {
  const n = first ?? 20;
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.pageSize) {
    throw badInput(`first must be between 1 and ${LIMITS.pageSize}; got ${first}`, { argument: 'first' });
  }
  return n;
}

/** The arguments of a connection field: `first` 1..100 (default 20) and an optional, non-empty cursor. */
export function parsePage(args: { first?: number | null; after?: string | null }): { first: number; after: string | null } {
  return { first: parseFirst(args.first), after: parseAfter(args.after) };
}
