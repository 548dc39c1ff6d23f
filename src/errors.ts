/**
 * The closed set of error codes from the contract (`extensions.code`). Every error the API
 * means to show a client is an AppError with one of these; anything else is masked.
 */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'INSUFFICIENT_STOCK',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra, client-safe details put into `extensions` (e.g. `{ productId }`). */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new AppError('BAD_USER_INPUT', message, details);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new AppError('NOT_FOUND', message, details);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError('CONFLICT', message, details);
/** The one answer for an order that is missing or not the caller's (the access rules make them alike). */
export const orderNotFound = (id: string) => notFound(`No order with id ${id}`, { orderId: id });
export const unauthenticated = (message: string) => new AppError('UNAUTHENTICATED', message);
export const forbidden = (message: string, details?: Record<string, unknown>) => new AppError('FORBIDDEN', message, details);

/** SDK error names that mean "DynamoDB is there but will not serve us right now". */
const UNAVAILABLE_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'LimitExceededException',
]);

const UNAVAILABLE_SYSCALL_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/**
 * True for errors that mean the database could not be reached or refused work past the SDK's
 * retries (throttling, 5xx, timeouts, refused connections).
 */
export function isUnavailableError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    cause?: unknown;
  };
  if (err.name && UNAVAILABLE_NAMES.has(err.name)) return true;
  if (err.code && UNAVAILABLE_SYSCALL_CODES.has(err.code)) return true;
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  if (err.name === 'AggregateError' || err.cause) return isUnavailableError(err.cause);
  return false;
}

/**
 * Where unknown thrown values become AppErrors (graphql-js wraps what resolvers throw; the
 * error boundary, error-boundary.ts, calls this on the original error).
 */
export function toAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  if (isUnavailableError(e)) {
    return new AppError(
      'SERVICE_UNAVAILABLE',
      'The database is unavailable or throttling; try again shortly',
      {},
      { cause: e },
    );
  }
  return new AppError('INTERNAL_SERVER_ERROR', 'Unexpected error', {}, { cause: e });
}
