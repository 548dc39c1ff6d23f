import type { ApolloServer, ApolloServerPlugin, BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
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
}

/**
 * Mounts `/graphql` on `app`: JSON body limit, one CallCounter per request, Apollo, and JSON
 * answers for requests refused before Apollo's plugins run. `apollo` must already be started.
 * Shared by the server (src/server.ts) and the benchmark's naive variant (bench/serve-naive.ts)
 * so that the two differ only in schema, resolvers and plugins.
 */
export function mountGraphQL<C extends BaseContext>(app: Express, apollo: ApolloServer<C>, opts: GraphQLEndpointOptions<C>): void {
  app.use(
    '/graphql',
    express.json({ limit: opts.bodyLimitBytes }),
    (_req, res, next) => {
      const calls = new CallCounter();
      res.locals.calls = calls;
      completeHttpErrors(res, calls, opts.dynamoExtensions);
      // Every DynamoDB call made while serving this request is counted into `calls`.
      runWithCallCounter(calls, next);
    },
    expressMiddleware(apollo, { context: async ({ req, res }) => opts.context(res.locals.calls as CallCounter, req.headers) }),
  );
  app.use(jsonErrorHandler(opts.dynamoExtensions));
}

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
