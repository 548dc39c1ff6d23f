import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ERROR_CODES, isAppError, toAppError, type ErrorCode } from './errors.js';

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

/**
 * The single place where errors become what clients see: every error carries one of the
 * contract's codes; unexpected errors keep their message only outside production.
 */
export function createFormatError(opts: { production: boolean; onUnexpected?: (e: unknown) => void }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (isAppError(original)) {
      return { ...formatted, message: original.message, extensions: { ...original.details, code: original.code } };
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
          ...(existing && existing !== code ? { reason: existing } : {}),
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
  };
}

function isContractCode(code: string | undefined): code is ErrorCode {
  return code !== undefined && (ERROR_CODES as readonly string[]).includes(code);
}
