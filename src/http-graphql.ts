import type { ApolloServer, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import type { IncomingHttpHeaders } from 'node:http';
import { CallCounter, runWithCallCounter } from './db/call-counter.js';
import { shapeEarlyRejection } from './error-boundary.js';

export interface GraphQLEndpointOptions<C> {
  /** Largest JSON body accepted; larger ones are refused through the error boundary. */
  bodyLimitBytes: number;
  /** Put `extensions.dynamodb` on early rejections too (pair with `dynamoExtensionsPlugin`). */
  dynamoExtensions: boolean;
  /**
   * Builds the request's context around the counter that sees every DynamoDB call it makes
   * (and the request's headers, for the caller's token).
   */
  context: (calls: CallCounter, headers: IncomingHttpHeaders) => Promise<C>;
  /**
   * Told of every request answered before Apollo's request pipeline ran (its context was never
   * built): bad JSON, too large a body, CSRF refusals, an invalid token, no query. The requests
   * that reach the pipeline are for Apollo plugins to see, so the two see each request once.
   */
  onRejected?: (r: RejectedRequest) => void;
}

export interface RejectedRequest {
  /** `operationName` as the client sent it, if it did (untrusted). */
  operationName: unknown;
  errors: readonly GraphQLFormattedError[];
  seconds: number;
}

/**
 * Mounts `/graphql` on `app`: JSON body limit, one CallCounter per request, Apollo, and JSON
 * answers for requests refused before Apollo's plugins run. `apollo` must already be started.
 * Shared by the server (src/server.ts) and the benchmark's naive variant (bench/serve-naive.ts)
 * so that the two differ only in schema, resolvers and plugins.
 */
export function mountGraphQL<C extends BaseContext>(app: Express, apollo: ApolloServer<C>, opts: GraphQLEndpointOptions<C>): void {
  const rejected = (res: Response, operationName: unknown, errors: readonly GraphQLFormattedError[]) =>
    opts.onRejected?.({ operationName, errors, seconds: (performance.now() - (res.locals.startedAt as number)) / 1000 });
  app.use(
    '/graphql',
    (_req, res, next) => {
      res.locals.startedAt = performance.now();
      // Answers are per caller and per moment: never stored by a cache. Set once here rather
      // than computed per field by Apollo's cache-control plugin (switched off in the server).
      res.setHeader('cache-control', 'no-store');
      next();
    },
    express.json({ limit: opts.bodyLimitBytes }),
    (req, res, next) => {
      const calls = new CallCounter();
      res.locals.calls = calls;
      completeHttpErrors(res, calls, opts.dynamoExtensions, (errors) => rejected(res, req.body?.operationName ?? req.query.operationName, errors));
      // Every DynamoDB call made while serving this request is counted into `calls`.
      runWithCallCounter(calls, next);
    },
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const context = await opts.context(res.locals.calls as CallCounter, req.headers);
        // From here on Apollo's plugins see the request (and shape its answer themselves).
        res.locals.inPipeline = true;
        return context;
      },
    }),
  );
  app.use(jsonErrorHandler(opts.dynamoExtensions, rejected));
}

/**
 * In production (no Sandbox), a browser opening /graphql gets a short page saying what the
 * endpoint is, instead of Apollo's CSRF refusal as JSON. Only a GET without a query that
 * prefers HTML: GraphQL over GET and every JSON client are answered by Apollo as before.
 */
export const browserHintPage: RequestHandler = (req, res, next) => {
  if (req.query.query !== undefined || req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
  res.type('html').send(BROWSER_HINT);
};

const BROWSER_HINT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphQL endpoint</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>This is the GraphQL endpoint</h1>
<p>Send operations here with <code>POST</code> and <code>Content-Type: application/json</code>, for example:</p>
<pre>curl -s -X POST -H 'content-type: application/json' -d '{"query":"{ ping }"}' &lt;this URL&gt;</pre>
<p>The in-browser explorer and introspection are off in production. To explore the schema, run the server in
development (<code>npm start</code>) and open <code>/graphql</code> there.</p>
</body></html>
`;

/** Adds `extensions.dynamodb = { calls, operations }` from the request's call counter. */
export function dynamoExtensionsPlugin<C extends { calls: CallCounter }>(): ApolloServerPlugin<C> {
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

/**
 * Apollo answers some requests before its plugins run (CSRF-blocked, no query, wrong method)
 * with `{ errors }` only, already through formatError. The error boundary completes those with
 * what every response carries (`extensions.dynamodb`). Responses that have it pass untouched.
 */
function completeHttpErrors(
  res: Response,
  calls: CallCounter,
  withCalls: boolean,
  onRejected: (errors: readonly GraphQLFormattedError[]) => void,
): void {
  const send = res.send.bind(res);
  res.send = (body?: unknown) => {
    // Answers of the request pipeline went through the plugins: they are complete as they are.
    if (!res.locals.inPipeline && typeof body === 'string' && body.startsWith('{"errors"') && !body.includes('"dynamodb":')) {
      let errors;
      try {
        errors = (JSON.parse(body) as { errors: GraphQLFormattedError[] }).errors;
      } catch {
        return send(body); // Not JSON after all: send as it is.
      }
      const shaped = shapeEarlyRejection({ status: res.statusCode, errors }, { dynamodb: withCalls ? calls.toJSON() : undefined });
      onRejected(shaped.body.errors);
      return send(JSON.stringify(shaped.body));
    }
    return send(body);
  };
}

/** Body-parser failures (bad JSON, too large, unsupported charset) answered through the error boundary. */
const jsonErrorHandler =
  (withCalls: boolean, onRejected: (res: Response, operationName: unknown, errors: readonly GraphQLFormattedError[]) => void): ErrorRequestHandler =>
  (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const { status, body } = shapeEarlyRejection(
      { status: err?.status, type: err?.type, message: err?.message, limit: err?.limit },
      // Rejected before any resolver ran: no DynamoDB call was made.
      { dynamodb: withCalls ? new CallCounter().toJSON() : undefined },
    );
    // The body could not be read: no operation name. (Only /graphql requests carry startedAt.)
    if (res.locals.startedAt !== undefined) onRejected(res, undefined, body.errors);
    res.status(status).json(body);
  };
