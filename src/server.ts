import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DEFAULT_LIMITS, type QueryLimits } from './config.js';
import { ANONYMOUS, type Caller } from './auth/caller.js';
import type { Rule } from './auth/rules.js';
import { bearerToken, InvalidTokenError, type TokenVerifier } from './auth/verifier.js';
import { createContext, type Context } from './context.js';
import { CallCounter } from './db/call-counter.js';
import { LiveEvents } from './events/live-events.js';
import { StreamReader, type StreamReaderOptions } from './events/stream-reader.js';
import { noConditionalSubscriptionRoot, operationsOver } from './operation-rules.js';
import { serveSubscriptions } from './ws-server.js';
import { callBudgetPlugin } from './plugins/call-budget.js';
import { committedWritesPlugin } from './plugins/committed-writes.js';
import type { Database } from './db/database.js';
import { tableExists } from './db/ensure-table.js';
import { armorLimit, shapeEarlyRejection, shapeGraphQLError } from './error-boundary.js';
import { allowGetOnly, notFound, redirect, routeKey, sendJson, splitUrl } from './http-basics.js';
import { browserHintPage, createGraphQLHandler, type NodeHandler } from './http-graphql.js';
import { Metrics, metricsHandler, metricsPlugin } from './metrics.js';
import { createRepositories } from './repositories/repositories.js';
import { buildSchema } from './schema.js';

export interface ServerOptions {
  db: Database;
  logger: Logger;
  production: boolean;
  /** Put `extensions.dynamodb` call counts on every response (default true). */
  dynamoExtensions?: boolean;
  /** Collect metrics and serve them at `GET /metrics` (default true; METRICS_ENABLED). */
  metrics?: boolean;
  /** Query limits; defaults in config.ts. */
  limits?: QueryLimits;
  /**
   * Checks `Authorization: Bearer <token>`. Without one, every request is anonymous and any
   * token is refused as invalid.
   */
  verifier?: TokenVerifier | undefined;
  /** The access rules (default ACCESS_RULES); only the benchmark's comparison run passes others. */
  accessRules?: Readonly<Record<string, Rule>>;
  /** Serve subscriptions over WebSocket, fed by the table's stream (default true). */
  subscriptions?: boolean;
  /** Stream reader timing (tests and the benchmark poll faster). */
  stream?: Pick<StreamReaderOptions, 'idleMs' | 'maxIdleMs' | 'discoverEveryMs'>;
}

export interface AppServer {
  httpServer: Server;
  apollo: ApolloServer<Context>;
  /** This instance's subscriptions (absent when switched off). */
  live: LiveEvents | undefined;
  /** What `GET /metrics` shows (absent when switched off). */
  metrics: Metrics | undefined;
  /** Starts Apollo and listens; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections and waits for in-flight requests. */
  stop(): Promise<void>;
}

/** One log line per operation: name, duration, DynamoDB calls, error codes, the caller's user id (never variables or tokens). */
function requestLogPlugin(log: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ request }) {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ response, contextValue, operationName }) {
          // The request's own logger is made only when it logs (context.ts).
          if (!log.isLevelEnabled('info')) return;
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const codes = (response.body.kind === 'single' ? response.body.singleResult.errors : undefined)?.map(
            (e) => e.extensions?.code,
          );
          contextValue.log.info(
            {
              operation: operationName ?? request.operationName ?? null,
              durationMs: Math.round(ms * 10) / 10,
              dynamodbCalls: contextValue.calls.calls,
              capacityUnits: Math.round(contextValue.calls.consumedCapacityUnits * 100) / 100,
              ...(codes?.length ? { errorCodes: [...new Set(codes)] } : {}),
            },
            'graphql request',
          );
        },
      };
    },
  };
}

/**
 * What every response says besides its data, in one hook: `extensions.dynamodb` (the request's
 * calls, with `dynamodb`) and `extensions.caller`, whom the server took the request to be
 * (never the token).
 */
function responseExtensionsPlugin(dynamodb: boolean): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const c = contextValue.caller;
          const r = response.body.singleResult;
          const extensions: Record<string, unknown> = r.extensions ? { ...r.extensions } : {};
          if (dynamodb) extensions.dynamodb = contextValue.calls.toJSON();
          extensions.caller = c.kind === 'user' ? { userId: c.userId, admin: c.admin } : null;
          r.extensions = extensions;
        },
      };
    },
  };
}

export function createServer(opts: ServerOptions): AppServer {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  // graphql-armor: depth, aliases and directives are checked before execution, refused through
  // the error boundary's hook. Tokens are counted by graphql-js's own parser (parseOptions
  // below): armor's token plugin re-parses in a plugin hook, where a syntax error becomes an
  // HTTP 500 instead of a 400. Schema suggestions are stripped by the error boundary in
  // production: armor's own masking misses some (enum values) and leaves a placeholder.
  const armor = new ApolloArmor({
    maxDepth: armorLimit('depth', limits.maxDepth),
    maxAliases: armorLimit('aliases', limits.maxAliases),
    maxTokens: { enabled: false },
    maxDirectives: armorLimit('directives', limits.maxDirectives),
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
  /**
   * The routes, on plain node:http. GET routes answer HEAD too and OPTIONS with what they
   * allow; a route returning false passes the request on. Paths match as express matched
   * them: case-insensitive, a trailing slash optional. `/graphql` (and below it, any method)
   * is served once Apollo has started (listen); everything else is a 404.
   */
  type Route = (req: IncomingMessage, res: ServerResponse) => boolean | void | Promise<void>;
  const getRoutes = new Map<string, Route>();
  let graphql: NodeHandler | undefined;
  const dynamoExtensions = opts.dynamoExtensions !== false;
  const httpServer = createHttpServer((req, res) => {
    const key = routeKey(splitUrl(req.url).path);
    const get = getRoutes.get(key);
    if (get && (req.method === 'GET' || req.method === 'HEAD')) {
      const answered = get(req, res);
      if (answered instanceof Promise) {
        answered.catch((e: unknown) => {
          log.error({ err: e }, 'unexpected error');
          if (res.headersSent) return void res.destroy();
          const { status, body } = shapeEarlyRejection({ status: 500 }, { dynamodb: dynamoExtensions ? new CallCounter().toJSON() : undefined });
          sendJson(req, res, status, body);
        });
      }
      if (answered !== false) return;
    }
    if (graphql && (key === '/graphql' || key.startsWith('/graphql/'))) return graphql(req, res);
    if (get && req.method === 'OPTIONS') return allowGetOnly(res);
    notFound(req, res);
  });
  const repos = createRepositories(opts.db);
  const log = opts.logger;

  /**
   * The caller of a request: anonymous without a header; an invalid token (or a header that is
   * not "Bearer <token>") answers HTTP 401 with one UNAUTHENTICATED error and no data. Why it
   * was invalid goes to the log only, never the token itself.
   */
  const authenticate = async (header: string | undefined): Promise<Caller> => {
    try {
      const token = bearerToken(header);
      if (token === undefined) return ANONYMOUS;
      if (!opts.verifier) throw new InvalidTokenError('no token verifier is configured');
      return await opts.verifier.verify(token);
    } catch (e) {
      if (!(e instanceof InvalidTokenError)) throw e;
      log.warn({ reason: e.reason }, 'invalid token refused');
      throw new GraphQLError('Invalid token', {
        extensions: {
          code: 'UNAUTHENTICATED',
          http: { status: 401, headers: new Map([['www-authenticate', 'Bearer error="invalid_token"']]) },
        },
      });
    }
  };

  const schema = buildSchema(opts.accessRules);
  const formatError = (formatted: GraphQLFormattedError, error: unknown) =>
    shapeGraphQLError(formatted, error, {
      production: opts.production,
      onUnexpected: (e) => log.error({ err: e }, 'unexpected error'),
    });
  const validationRules = [...armor.validationRules, operationsOver('http')];
  // Subscriptions: this instance's own reader of the table's stream, only while anyone subscribes.
  const live =
    opts.subscriptions === false
      ? undefined
      : new LiveEvents(
          new StreamReader({ streams: opts.db.streams, dynamo: opts.db.client, tableName: opts.db.tableName, log, ...opts.stream }),
          repos,
          log,
        );
  const subscriptions = live
    ? serveSubscriptions({
        httpServer,
        schema,
        log,
        authenticate,
        context: (caller) => createContext(opts.db, new CallCounter('subscription'), log, caller, live),
        maxTokens: limits.maxTokens,
        validationRules: [...armor.validationRules, operationsOver('ws'), noConditionalSubscriptionRoot],
        maxCalls: limits.maxCalls,
        layout: opts.db.layout,
        maxPayloadBytes: limits.bodyLimitBytes,
        formatError: (e) => formatError(e.toJSON(), e),
      })
    : undefined;
  const metrics = opts.metrics === false ? undefined : new Metrics({ subscribers: () => live?.subscriberCount ?? 0 });

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    csrfPrevention: true,
    // main.ts owns SIGINT/SIGTERM (drain, then stop DynamoDB Local); Apollo's own handlers
    // would race it and leave the drain hanging.
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    formatError,
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules,
    plugins: [
      // armor's typings point at Apollo's CommonJS build; the objects are the same.
      ...(armor.plugins as unknown as ApolloServerPlugin<Context>[]),
      callBudgetPlugin(limits.maxCalls, opts.db.layout),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // On stop: close every subscription socket and stop reading the stream.
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await subscriptions?.dispose();
              await live?.close();
            },
          };
        },
      },
      // Every answer is no-store (set once in createGraphQLHandler): the per-field cache-control
      // computation would cost about 0.5 ms on a nested query for nothing.
      ApolloServerPluginCacheControlDisabled(),
      // Not a federated subgraph: without this, Apollo installs its inline-trace plugin, which
      // checks on every request whether the schema is one.
      ApolloServerPluginInlineTraceDisabled(),
      opts.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      responseExtensionsPlugin(opts.dynamoExtensions !== false),
      requestLogPlugin(log),
      committedWritesPlugin(log),
      ...(metrics ? [metricsPlugin(metrics, log)] : []),
    ],
  });

  getRoutes.set('/health/live', (req, res) => sendJson(req, res, 200, { status: 'ok' }));
  getRoutes.set('/health/ready', async (req, res) => {
    try {
      const ok = await tableExists(opts.db.client, opts.db.tableName);
      if (ok) sendJson(req, res, 200, { status: 'ok', table: opts.db.tableName });
      else sendJson(req, res, 503, { status: 'unavailable', reason: `table ${opts.db.tableName} does not exist` });
    } catch (e) {
      sendJson(req, res, 503, { status: 'unavailable', reason: 'DynamoDB is not reachable' });
      log.warn({ err: e }, 'readiness check failed');
    }
  });
  getRoutes.set('/', (req, res) => redirect(req, res, '/graphql'));
  // Open on the API's port, like /health/*: turn off with METRICS_ENABLED=false, or keep the
  // path from the public side at the load balancer (README "Operations").
  if (metrics) getRoutes.set('/metrics', metricsHandler(metrics, log));
  // Production has no Sandbox: a browser opening /graphql is told what the endpoint is (and
  // every other request to /graphql goes on to Apollo).
  if (opts.production) getRoutes.set('/graphql', (req, res) => browserHintPage(req, res));

  let started = false;
  return {
    httpServer,
    apollo,
    live,
    metrics,
    async listen(port, host) {
      if (!started) {
        await apollo.start();
        started = true;
        graphql = createGraphQLHandler(apollo, {
          bodyLimitBytes: limits.bodyLimitBytes,
          dynamoExtensions,
          context: async (calls, headers) => createContext(opts.db, calls, log, await authenticate(headers.authorization)),
          ...(metrics ? { onRejected: (r) => metrics.observeRejected(r) } : {}),
        });
      }
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const addr = httpServer.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    async stop() {
      metrics?.close();
      await apollo.stop();
    },
  };
}
