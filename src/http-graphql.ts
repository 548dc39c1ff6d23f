import { HeaderMap, type ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { CallCounter } from './db/call-counter.js';
import { shapeEarlyRejection } from './error-boundary.js';
import { BodyError, preferredType, readJsonBody, sendJson, sendText, splitUrl } from './http-basics.js';

export interface GraphQLEndpointOptions<C> {
  /** Largest JSON body accepted; larger ones are refused through the error boundary. */
  bodyLimitBytes: number;
  /**
   * Put `extensions.dynamodb` on early rejections too (pair with a plugin that puts it on every
   * other answer: the server's `responseExtensionsPlugin`, the naive variant's `dynamoExtensionsPlugin`).
   */
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

/** A request handler for node:http (`http.createServer(handler)`, or one route of a router). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The GraphQL endpoint as a node:http handler: JSON body limit, one CallCounter per request,
 * Apollo (`executeHTTPGraphQLRequest`), `cache-control: no-store`, and JSON answers for requests
 * refused before Apollo's plugins run. `apollo` must already be started. It answers every method
 * (Apollo refuses those it does not serve); the caller routes `/graphql` to it. Shared by the
 * server (src/server.ts) and the benchmark's naive variant (bench/serve-naive.ts, through
 * mountGraphQL) so that the two differ only in schema, resolvers and plugins.
 */
export function createGraphQLHandler<C extends BaseContext>(apollo: ApolloServer<C>, opts: GraphQLEndpointOptions<C>): NodeHandler {
  apollo.assertStarted('createGraphQLHandler()');
  const noCalls = () => (opts.dynamoExtensions ? new CallCounter().toJSON() : undefined);

  async function serve(req: IncomingMessage, res: ServerResponse, startedAt: number): Promise<void> {
    // Answers are per caller and per moment: never stored by a cache. Set once here rather
    // than computed per field by Apollo's cache-control plugin (switched off in the server).
    res.setHeader('cache-control', 'no-store');
    const rejected = (operationName: unknown, errors: readonly GraphQLFormattedError[]) =>
      opts.onRejected?.({ operationName, errors, seconds: (performance.now() - startedAt) / 1000 });
    const { search } = splitUrl(req.url);

    let body: unknown;
    try {
      body = await readJsonBody(req, opts.bodyLimitBytes);
    } catch (e) {
      // Bad JSON, too large, unsupported charset or encoding: answered through the error boundary.
      const err = e instanceof BodyError ? e : undefined;
      // Rejected before any resolver ran: no DynamoDB call was made.
      const shaped = shapeEarlyRejection({ status: err?.status ?? 500, type: err?.type, message: err?.message, limit: err?.limit }, { dynamodb: noCalls() });
      // The body could not be read: no operation name.
      rejected(undefined, shaped.body.errors);
      return sendJson(req, res, shaped.status, shaped.body);
    }

    const calls = new CallCounter();
    let inPipeline = false;
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    // The context built around `calls` counts every DynamoDB call made while serving this request.
    const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search, body },
        context: async () => {
          const context = await opts.context(calls, req.headers);
          // From here on Apollo's plugins see the request (and shape its answer themselves).
          inPipeline = true;
          return context;
        },
      });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status || 200;

    if (response.body.kind === 'complete') {
      let text = response.body.string;
      // Apollo answers some requests before its plugins run (CSRF-blocked, an invalid token,
      // wrong method) with `{ errors }` only, already through formatError. The error boundary
      // completes those with what every response carries (`extensions.dynamodb`). Answers of
      // the request pipeline went through the plugins: they are complete as they are.
      if (!inPipeline && text.startsWith('{"errors"') && !text.includes('"dynamodb":')) {
        let errors: GraphQLFormattedError[] | undefined;
        try {
          errors = (JSON.parse(text) as { errors: GraphQLFormattedError[] }).errors;
        } catch {
          errors = undefined; // Not JSON after all: sent as it is.
        }
        if (errors) {
          const shaped = shapeEarlyRejection({ status: res.statusCode, errors }, { dynamodb: opts.dynamoExtensions ? calls.toJSON() : undefined });
          rejected(operationNameOf(body, search), shaped.body.errors);
          text = JSON.stringify(shaped.body);
        }
      }
      return sendText(req, res, text);
    }

    // Incremental delivery (multipart/mixed): each part as it comes, minding backpressure.
    if (req.method === 'HEAD') return void res.end();
    for await (const chunk of response.body.asyncIterator) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await drained(res);
    }
    res.end();
  }

  return (req, res) => {
    const startedAt = performance.now();
    serve(req, res, startedAt).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy(e instanceof Error ? e : undefined);
        return;
      }
      // Not the client's doing: a masked 500 through the error boundary.
      const shaped = shapeEarlyRejection({ status: 500 }, { dynamodb: noCalls() });
      opts.onRejected?.({ operationName: undefined, errors: shaped.body.errors, seconds: (performance.now() - startedAt) / 1000 });
      sendJson(req, res, shaped.status, shaped.body);
    });
  };
}

/** `operationName` as the client sent it, in the body or else the query string (untrusted). */
function operationNameOf(body: unknown, search: string): unknown {
  const fromBody = (body as { operationName?: unknown } | undefined)?.operationName;
  if (fromBody !== undefined && fromBody !== null) return fromBody;
  const values = new URLSearchParams(search).getAll('operationName');
  return values.length > 1 ? values : values[0];
}

/** Resolves when `res` can take more, or is closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** What mountGraphQL mounts on: an express app, or anything with express's `use(path, handler)`. */
export interface MountTarget {
  use(path: string, handler: NodeHandler): unknown;
}

/**
 * Compatibility for express (the benchmark's naive variant): mounts createGraphQLHandler at
 * `/graphql` on `app`. The handler reads nothing express adds, so it runs the same there.
 */
export function mountGraphQL<C extends BaseContext>(app: MountTarget, apollo: ApolloServer<C>, opts: GraphQLEndpointOptions<C>): void {
  app.use('/graphql', createGraphQLHandler(apollo, opts));
}

/**
 * In production (no Sandbox), a browser opening /graphql gets a short page saying what the
 * endpoint is, instead of Apollo's CSRF refusal as JSON. Only a GET without a query that
 * prefers HTML: GraphQL over GET and every JSON client are answered by Apollo as before.
 * Returns whether it answered.
 */
export function browserHintPage(req: IncomingMessage, res: ServerResponse): boolean {
  if (new URLSearchParams(splitUrl(req.url).search).has('query')) return false;
  if (preferredType(req.headers.accept, ['application/json', 'text/html'] as const) !== 'text/html') return false;
  sendText(req, res, BROWSER_HINT, 'text/html; charset=utf-8');
  return true;
}

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
