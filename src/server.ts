import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type Response } from 'express';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ASTVisitor, type GraphQLFormattedError, type ValidationContext } from 'graphql';
import { DEFAULT_LIMITS, type QueryLimits } from './config.js';
import { createContext, type Context } from './context.js';
import { callBudgetPlugin } from './plugins/call-budget.js';
import { committedWritesPlugin } from './plugins/committed-writes.js';
import { CallCounter, runWithCallCounter } from './db/call-counter.js';
import type { Database } from './db/database.js';
import { tableExists } from './db/ensure-table.js';
import { armorLimit, shapeEarlyRejection, shapeGraphQLError } from './error-boundary.js';
import { createRepositories } from './repositories/repositories.js';
import { buildSchema } from './schema.js';

export interface ServerOptions {
  db: Database;
  logger: Logger;
  production: boolean;
  /** Put `extensions.dynamodb` call counts on every response (default true). */
  dynamoExtensions?: boolean;
  /** Query limits; defaults in config.ts. */
  limits?: QueryLimits;
}

export interface AppServer {
  httpServer: Server;
  apollo: ApolloServer<Context>;
  /** Starts Apollo and listens; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections and waits for in-flight requests. */
  stop(): Promise<void>;
}

/** Adds `extensions.dynamodb = { calls, operations }` from the request's call counter. */
function dynamoExtensionsPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const r = response.body.singleResult;
          r.extensions = { ...r.extensions, dynamodb: contextValue.calls.toJSON() };
        },
      };
    },
  };
}

/** One log line per operation: name, duration, DynamoDB calls, error codes (never variables). */
function requestLogPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ request }) {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ response, contextValue, operationName, errors }) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const codes = (response.body.kind === 'single' ? response.body.singleResult.errors : undefined)?.map(
            (e) => e.extensions?.code,
          );
          contextValue.log.info(
            {
              operation: operationName ?? request.operationName ?? null,
              durationMs: Math.round(ms * 10) / 10,
              dynamodbCalls: contextValue.calls.calls,
              ...(codes?.length ? { errorCodes: [...new Set(codes)] } : {}),
              ...(errors?.length ? {} : {}),
            },
            'graphql request',
          );
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
  const app = express();
  app.disable('x-powered-by');
  const httpServer = createHttpServer(app);
  const repos = createRepositories(opts.db);
  const log = opts.logger;

  const apollo = new ApolloServer<Context>({
    schema: buildSchema(),
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    csrfPrevention: true,
    // main.ts owns SIGINT/SIGTERM (drain, then stop DynamoDB Local); Apollo's own handlers
    // would race it and leave the drain hanging.
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    formatError: (formatted, error) =>
      shapeGraphQLError(formatted, error, {
        production: opts.production,
        onUnexpected: (e) => log.error({ err: e }, 'unexpected error'),
      }),
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: [...armor.validationRules, knownOperationTypeRule],
    plugins: [
      // armor's typings point at Apollo's CommonJS build; the objects are the same.
      ...(armor.plugins as unknown as ApolloServerPlugin<Context>[]),
      callBudgetPlugin(limits.maxCalls),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      opts.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...(opts.dynamoExtensions === false ? [] : [dynamoExtensionsPlugin()]),
      requestLogPlugin(),
      committedWritesPlugin(log),
    ],
  });

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    try {
      const ok = await tableExists(opts.db.client, opts.db.tableName);
      if (ok) res.json({ status: 'ok', table: opts.db.tableName });
      else res.status(503).json({ status: 'unavailable', reason: `table ${opts.db.tableName} does not exist` });
    } catch (e) {
      res.status(503).json({ status: 'unavailable', reason: 'DynamoDB is not reachable' });
      log.warn({ err: e }, 'readiness check failed');
    }
  });
  app.get('/', (_req, res) => {
    res.redirect('/graphql');
  });

  let started = false;
  return {
    httpServer,
    apollo,
    async listen(port, host) {
      if (!started) {
        await apollo.start();
        started = true;
        app.use(
          '/graphql',
          express.json({ limit: limits.bodyLimitBytes }),
          (req, res, next) => {
            const calls = new CallCounter();
            res.locals.calls = calls;
            completeHttpErrors(res, calls, opts.dynamoExtensions !== false);
            // Every DynamoDB call made while serving this request is counted into `calls`.
            runWithCallCounter(calls, next);
          },
          expressMiddleware(apollo, {
            context: async ({ res }) => createContext(repos, res.locals.calls as CallCounter, log),
          }),
        );
        app.use(jsonErrorHandler(opts.dynamoExtensions !== false));
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
      await apollo.stop();
    },
  };
}

/**
 * Apollo answers some requests before its plugins run (CSRF-blocked, no query, wrong method)
 * with `{ errors }` only, already through formatError. The error boundary completes those with
 * what every response carries (`extensions.dynamodb`). Responses that have it pass untouched.
 */
function completeHttpErrors(res: Response, calls: CallCounter, withCalls: boolean): void {
  const send = res.send.bind(res);
  res.send = (body?: unknown) => {
    if (typeof body === 'string' && body.startsWith('{"errors"') && !body.includes('"dynamodb":')) {
      let errors;
      try {
        errors = (JSON.parse(body) as { errors: GraphQLFormattedError[] }).errors;
      } catch {
        return send(body); // Not JSON after all: send as it is.
      }
      const shaped = shapeEarlyRejection({ status: res.statusCode, errors }, { dynamodb: withCalls ? calls.toJSON() : undefined });
      return send(JSON.stringify(shaped.body));
    }
    return send(body);
  };
}

/** Body-parser failures (bad JSON, too large, unsupported charset) answered through the error boundary. */
const jsonErrorHandler =
  (withCalls: boolean): ErrorRequestHandler =>
  (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const { status, body } = shapeEarlyRejection(
      { status: err?.status, type: err?.type, message: err?.message, limit: err?.limit },
      // Rejected before any resolver ran: no DynamoDB call was made.
      { dynamodb: withCalls ? new CallCounter().toJSON() : undefined },
    );
    res.status(status).json(body);
  };

/** An operation type the schema lacks (a subscription here) is the client's error, found before execution. */
function knownOperationTypeRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(node) {
      if (!context.getSchema().getRootType(node.operation)) {
        context.reportError(new GraphQLError(`This API has no ${node.operation} operations`, { nodes: node }));
      }
    },
  };
}
