import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError, type ValidationContext } from 'graphql';
import { ERROR_CODES, isAppError, toAppError, type ErrorCode } from './errors.js';

/**
 * The error boundary: the one place that decides what a client sees of an error (its contract
 * code, its message, what is masked). Apollo's formatError calls shapeGraphQLError; the HTTP
 * layer calls shapeEarlyRejection for what it answers outside Apollo's response pipeline. It
 * knows no HTTP framework, so the HTTP layer can change without changing what clients see.
 */

export interface BoundaryOptions {
  production: boolean;
  /** Told of every error that becomes INTERNAL_SERVER_ERROR (to log it: the client sees nothing of it). */
  onUnexpected?: (e: unknown) => void;
}

/** Apollo's own codes for requests that never reached a resolver: all are the client's input. */
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** The query limits checked before execution ('cost', the call budget, words its own refusal). */
export type Limit = 'depth' | 'aliases' | 'directives' | 'tokens';

const LIMIT_NOUNS: Record<Limit, string> = {
  depth: 'query depth',
  aliases: 'query alias count',
  directives: 'query directive count',
  tokens: 'query token count',
};

/**
 * The only library messages read as text, because the libraries give nothing else:
 * graphql-js's token limit (parseOptions.maxTokens) is a bare syntax error, and graphql-armor
 * hands its onReject hook an error whose message alone holds the number found.
 */
export const LIMIT_TEXT = {
  // graphql-js 16 spells it "more that"; later versions "more than".
  tokens: /^Syntax Error: Document contains more tha[tn] (\d+) tokens\. Parsing aborted\.$/,
  // armor with exposeLimits (its default): "Syntax Error: Query depth limit of 10 exceeded, found 25."
  armorFound: /exceeded, found (\d+)\.$/,
};

/** A query limit refusal: BAD_USER_INPUT, worded as a limit, with `extensions.limit`, `max` and (when known) `found`. */
export function limitRefusal(limit: Limit, max: number, found?: number): GraphQLError {
  return new GraphQLError(`${LIMIT_NOUNS[limit]}${found === undefined ? '' : ` ${found}`} exceeds the limit of ${max}`, {
    extensions: { code: 'BAD_USER_INPUT', limit, max, ...(found === undefined ? {} : { found }) },
  });
}

/**
 * graphql-armor options for one limit: its onReject hook reports our refusal in place of armor's
 * "Syntax Error: ..." (which is not one), and propagateOnRejection off keeps armor from also
 * reporting (or throwing) its own.
 */
export function armorLimit(limit: Exclude<Limit, 'tokens'>, max: number) {
  return {
    n: max,
    exposeLimits: true, // the number found is in armor's message only then
    propagateOnRejection: false,
    onReject: [
      (ctx: ValidationContext | null, error: GraphQLError) => {
        const found = LIMIT_TEXT.armorFound.exec(error.message)?.[1];
        const refusal = limitRefusal(limit, max, found === undefined ? undefined : Number(found));
        // Outside a validation (no context), throwing is the only way left to refuse.
        if (ctx) ctx.reportError(refusal);
        else throw refusal;
      },
    ],
  };
}

/**
 * graphql-js's "Did you mean ...?" (fields, arguments, enum values, types, input fields) names
 * parts of the schema, which production does not reveal (introspection is off there). It always
 * ends the message; everything from it on goes.
 */
const SUGGESTION = /\s*Did you mean\b[\s\S]*$/;

/** Apollo's formatError: what a client sees of an error raised in Apollo's pipeline or a resolver. */
export function shapeGraphQLError(formatted: GraphQLFormattedError, error: unknown, opts: BoundaryOptions): GraphQLFormattedError {
  const shaped = shape(formatted, error, opts);
  return opts.production ? { ...shaped, message: shaped.message.replace(SUGGESTION, '') } : shaped;
}

function shape(formatted: GraphQLFormattedError, error: unknown, opts: BoundaryOptions): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (isAppError(original)) {
    return { ...formatted, message: original.message, extensions: { ...original.details, code: original.code } };
  }
  const tokens = LIMIT_TEXT.tokens.exec(formatted.message);
  if (tokens) {
    // graphql-js refuses too many tokens as a syntax error; it is a limit (Apollo's code stays the reason).
    const { message, extensions } = limitRefusal('tokens', Number(tokens[1]));
    formatted = { ...formatted, message, extensions: { ...extensions, ...formatted.extensions } };
  }
  const existing = formatted.extensions?.code as string | undefined;
  if (existing && existing !== 'INTERNAL_SERVER_ERROR') {
    // Parse, validation and variable errors from graphql-js / Apollo carry their own code.
    const code: ErrorCode = isContractCode(existing) ? existing : CLIENT_CODES.has(existing) ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR';
    const { stacktrace, ...rest } = formatted.extensions ?? {};
    return {
      ...formatted,
      extensions: {
        ...(opts.production ? {} : { stacktrace }),
        ...rest,
        code,
        ...(existing !== code ? { reason: existing } : {}),
      },
    };
  }
  // Apollo's own request errors that carry no code (a persisted query whose hash does not
  // match, ...) carry a 4xx status: the client's input, not an internal error.
  const status = original instanceof GraphQLError ? (original.extensions?.http as { status?: number } | undefined)?.status : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    return { ...formatted, extensions: { code: 'BAD_USER_INPUT' } };
  }
  const app = toAppError(original);
  if (app.code === 'INTERNAL_SERVER_ERROR') opts.onUnexpected?.(original);
  const masked = app.code === 'INTERNAL_SERVER_ERROR' && opts.production;
  return {
    message: masked ? 'Unexpected error' : app.code === 'INTERNAL_SERVER_ERROR' ? `Unexpected error: ${(original as Error)?.message ?? String(original)}` : app.message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: {
      code: app.code,
      ...(!opts.production && formatted.extensions?.stacktrace ? { stacktrace: formatted.extensions.stacktrace } : {}),
    },
  };
}

/** A request answered outside Apollo's response pipeline (so without its plugins' extensions). */
export interface EarlyRejection {
  /** The status chosen by whoever refused: the body parser, or Apollo's request checks. */
  status: number;
  /** Apollo's own early answer (CSRF, no query, wrong method): already through shapeGraphQLError. */
  errors?: readonly GraphQLFormattedError[];
  /** The body parser's error type (`entity.too.large`, `entity.parse.failed`, ...) and message. */
  type?: string;
  message?: string;
  /** The body size limit in bytes, with `entity.too.large`. */
  limit?: number;
}

export interface ErrorResponse {
  status: number;
  body: { errors: GraphQLFormattedError[]; extensions?: Record<string, unknown> };
}

/** Body parser messages that would say nothing useful, or too much (the parser's own words). */
const BODY_MESSAGES: Record<string, (r: EarlyRejection) => string> = {
  'entity.too.large': (r) => `The request body is larger than the ${r.limit} bytes allowed`,
  'entity.parse.failed': () => 'The request body is not valid JSON',
};

/**
 * The response to a request refused before Apollo ran (the body parser), or answered by Apollo
 * before its plugins ran: a contract code on every error and, when given, the call counts
 * (`dynamodb`) that every response carries. A failure that is not the client's is a masked 500.
 */
export function shapeEarlyRejection(r: EarlyRejection, opts: { dynamodb?: unknown } = {}): ErrorResponse {
  const client = r.status >= 400 && r.status < 500;
  const code: ErrorCode = client ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR';
  const extensions = opts.dynamodb === undefined ? {} : { extensions: { dynamodb: opts.dynamodb } };
  if (r.errors) {
    const errors = r.errors.map((e) => (isContractCode(e.extensions?.code) ? e : { ...e, extensions: { ...e.extensions, code } }));
    // Apollo chose the status (a PersistedQueryNotFound is a 200): it stays.
    return { status: r.status, body: { errors, ...extensions } };
  }
  const message = client ? (BODY_MESSAGES[r.type ?? '']?.(r) ?? r.message ?? 'Bad request') : 'Unexpected error';
  return { status: client ? r.status : 500, body: { errors: [{ message, extensions: { code } }], ...extensions } };
}

function isContractCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}
