import { z } from 'zod';
import { SORT } from '../db/keys.js';

type Item = Record<string, unknown>;

/** One attribute of a stored item that is not what its entity needs. */
export interface AttributeProblem {
  attribute: string;
  expected: string;
  got: string;
}

/**
 * A stored item that cannot be read as its entity: a required attribute is missing, of another
 * type, or outside its set of values. This API never writes one; an older version, a script or
 * the console can. Deliberately not an AppError: it is the server's fault, not the client's, so
 * the error boundary answers INTERNAL_SERVER_ERROR (masked in production) and the details go to
 * the log (onMalformedStoredItem).
 */
export class StoredItemError extends Error {
  override name = 'StoredItemError';
  constructor(
    readonly entity: string,
    /** The item's table key (`PRODUCT#abc`, `USER#u ADDRESS#a`), or its id when it has none. */
    readonly key: string,
    readonly problems: readonly AttributeProblem[],
  ) {
    super(`stored ${entity} ${key} is malformed: ${problems.map((p) => `${p.attribute}: expected ${p.expected}, got ${p.got}`).join('; ')}`);
  }
}

let report: (e: StoredItemError) => void = () => undefined;

/**
 * Where malformed items are reported, once each, as they are read (the server points it at its
 * logger); a no-op until set. Reported wherever the item surfaces: as an error or left out of a list.
 */
export function onMalformedStoredItem(fn: (e: StoredItemError) => void): void {
  report = fn;
}

/**
 * A number as the SDK reads it: a number, or a bigint beyond 2^53. Range is not checked here:
 * Int fields are clamped afterwards (int-range.ts), which is the documented choice for them.
 */
export const storedNumber = z.union([z.number(), z.bigint()]);

/** How each entity's stored items are read (a test checks that every model keeps its fast path). */
export const readerKinds = new Map<string, 'plain checks, then zod' | 'zod'>();

/**
 * The checker of one entity's stored items, built once per entity when its model loads (a zod
 * object schema compiles on first use and is reused). It returns the declared attributes, typed,
 * or reports and throws a StoredItemError naming every attribute that is wrong, not only the first.
 */
export function createItemReader<S extends z.ZodObject>(entity: string, schema: S): (item: Item) => z.output<S> {
  const fast = fastObjectReader(schema);
  readerKinds.set(entity, fast ? 'plain checks, then zod' : 'zod');
  return (item) => {
    const read = fast?.(item);
    if (read) return read;
    const parsed = schema.safeParse(item, PARSE_OPTIONS);
    if (parsed.success) return parsed.data;
    const error = new StoredItemError(entity, keyOf(item), parsed.error.issues.map(problemOf));
    report(error);
    throw error;
  };
}

type Check = (value: unknown) => boolean;

/**
 * The schema kinds `plainCheck` knows, by their zod core traits, exactly: a kind zod builds on
 * one of these (an email is a string with a format, `exactOptional` an optional, `xor` a union)
 * carries more traits and gets no fast check.
 */
const PLAIN_KINDS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    string: '$ZodString,$ZodType',
    number: '$ZodNumber,$ZodType',
    int: '$ZodCheck,$ZodCheckNumberFormat,$ZodNumber,$ZodNumberFormat,$ZodType',
    bigint: '$ZodBigInt,$ZodType',
    boolean: '$ZodBoolean,$ZodType',
    enum: '$ZodEnum,$ZodType',
    optional: '$ZodOptional,$ZodType',
    nullable: '$ZodNullable,$ZodType',
    union: '$ZodType,$ZodUnion',
  }).map(([kind, traits]) => [traits, kind]),
);

function plainKind(schema: z.core.$ZodType): string | undefined {
  const core = [...schema._zod.traits].filter((t) => t.startsWith('$')).sort();
  return PLAIN_KINDS.get(core.join(','));
}

/**
 * The check of one attribute's schema, for the kinds our models use, or undefined for anything
 * else (refinements, formats, coercion, transforms, defaults...). Each accepts exactly what zod
 * accepts, and zod's output for them is the input itself (test/unit/converters.test.ts compares
 * the two on generated items).
 */
function plainCheck(schema: z.core.$ZodType): Check | undefined {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  if ((def.checks as unknown[] | undefined)?.length || def.coerce) return undefined;
  switch (plainKind(schema)) {
    case 'string':
      return def.format === undefined ? (v) => typeof v === 'string' : undefined;
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'bigint':
      return def.format === undefined ? (v) => typeof v === 'bigint' : undefined;
    case 'number':
      // z.number() refuses NaN and the infinities.
      return def.format === undefined ? (v) => typeof v === 'number' && Number.isFinite(v) : undefined;
    case 'int':
      // z.int(): a number of format safeint (other formats, float32 and the like, are not plain).
      return def.format === 'safeint' ? (v) => Number.isSafeInteger(v) : undefined;
    case 'enum': {
      const values = Object.values(def.entries as Record<string, unknown>);
      if (!values.every((v) => typeof v === 'string')) return undefined;
      const allowed = new Set<unknown>(values);
      return (v) => allowed.has(v);
    }
    case 'optional':
    case 'nullable': {
      const inner = plainCheck(def.innerType as z.core.$ZodType);
      if (!inner) return undefined;
      return def.type === 'optional' ? (v) => v === undefined || inner(v) : (v) => v === null || inner(v);
    }
    case 'union': {
      if (def.inclusive === false) return undefined;
      const options = (def.options as z.core.$ZodType[]).map(plainCheck);
      if (options.some((o) => !o)) return undefined;
      const checks = options as Check[];
      return (v) => checks.some((c) => c(v));
    }
    default:
      return undefined;
  }
}

/**
 * What zod's safeParse of `schema` returns for an item that passes, computed by plain type
 * checks; undefined when the item fails any (zod then says exactly how) or when a field's
 * schema is of a kind `plainCheck` does not know, in which case there is no fast reader at all.
 * zod itself costs a few microseconds per item (an object and an issue list per attribute),
 * which a page of orders with lines and products pays some seventy times per request.
 */
export function fastObjectReader<S extends z.ZodObject>(schema: S): ((item: unknown) => z.output<S> | undefined) | undefined {
  if (schema._zod.def.catchall || schema._zod.def.checks?.length) return undefined;
  // zod validates symbol keys and skips `__proto__`; neither is an attribute of a stored item.
  if (Object.getOwnPropertySymbols(schema.shape).length || Object.hasOwn(schema.shape, '__proto__')) return undefined;
  const fields: [string, Check][] = [];
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.core.$ZodType>)) {
    const check = plainCheck(field);
    if (!check) return undefined;
    fields.push([key, check]);
  }
  return (item) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
    const input = item as Item;
    const out: Item = {};
    for (const [key, check] of fields) {
      const v = input[key];
      if (!check(v)) return undefined;
      // As zod: an absent optional attribute stays absent, one present as undefined stays present.
      if (v !== undefined || key in input) out[key] = v;
    }
    return out as z.output<S>;
  };
}

/**
 * The items of a list (a page's nodes, a user's addresses, an order's lines) converted, each
 * malformed one left out. Leaving it out, rather than failing the list, is the documented choice:
 * the other items are right, a list field cannot hold one item's error without failing whole
 * (its items are non-null), and one bad item would otherwise fail every page it appears on. It
 * is not lost silently: its converter reported it. Errors of any other kind are thrown.
 */
export function convertSkippingMalformed<I, T>(inputs: readonly I[], convert: (input: I) => T): T[] {
  const out: T[] = [];
  for (const input of inputs) {
    const converted = tryConvert(input, convert);
    if (!(converted instanceof StoredItemError)) out.push(converted);
  }
  return out;
}

/**
 * One item converted, or the StoredItemError that says why it cannot be (any other error is
 * thrown). For items read by key: the error stands in the item's place, so DataLoader fails that
 * key alone (it rejects the loads whose result is an Error), not the batch it was read with.
 */
export function tryConvert<I, T>(input: I, convert: (input: I) => T): T | StoredItemError {
  try {
    return convert(input);
  } catch (e) {
    if (e instanceof StoredItemError) return e;
    throw e;
  }
}

const PARSE_OPTIONS = { reportInput: true } as const;

/** Sort keys that hold one item per partition: the partition key alone names the item. */
const SINGLE_ITEM_SORT_KEYS: ReadonlySet<string> = new Set(Object.values(SORT));

function keyOf(item: unknown): string {
  if (!item || typeof item !== 'object') return 'without a key';
  const { PK, SK, id } = item as Item;
  if (typeof PK !== 'string') return typeof id === 'string' ? `with id ${id}` : 'without a key';
  return typeof SK === 'string' && !SINGLE_ITEM_SORT_KEYS.has(SK) ? `${PK} ${SK}` : PK;
}

/** zod's names for what it expected, in the words of DynamoDB items. */
const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  bigint: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'a map of attributes',
};

function problemOf(issue: z.core.$ZodIssue): AttributeProblem {
  const attribute = issue.path.length ? issue.path.map(String).join('.') : 'the item';
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      return { attribute, expected: EXPECTED[issue.expected] ?? issue.expected, got: describe(input) };
    case 'invalid_union': {
      const expected = new Set(issue.errors.flat().map((i) => (i.code === 'invalid_type' ? (EXPECTED[i.expected] ?? i.expected) : i.message)));
      return { attribute, expected: [...expected].join(' or '), got: describe(input) };
    }
    case 'invalid_value':
      return { attribute, expected: `one of ${issue.values.map(String).join(', ')}`, got: describe(input, { showStrings: true }) };
    default:
      return { attribute, expected: issue.message, got: describe(input) };
  }
}

/** What was stored, by its type; only a value outside a set of values is shown (cut short), never free text. */
function describe(v: unknown, opts: { showStrings?: boolean } = {}): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return opts.showStrings ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : 'a string';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'binary';
  return 'a map';
}
