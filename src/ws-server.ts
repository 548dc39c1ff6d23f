import type { Server } from 'node:http';
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Caller } from './auth/caller.js';
import type { Context } from './context.js';
import type { TableLayout } from './db/design.js';
import { estimateCalls } from './query-cost.js';

/** graphql-ws's "Forbidden": its client may then retry with a fresh token (connectionParams). */
export const CLOSE_FORBIDDEN = 4403;

export interface SubscriptionServerOptions {
  httpServer: Server;
  schema: GraphQLSchema;
  log: Logger;
  /** The caller of an `Authorization` value; throws for an invalid token. */
  authenticate: (header: string | undefined) => Promise<Caller>;
  /** A context for one subscription of a connection's caller. */
  context: (caller: Caller) => Context;
  /** The same limits as HTTP: token count for the parser, armor's rules for validation. */
  maxTokens: number;
  validationRules: readonly ValidationRule[];
  /** The error boundary (src/error-boundary.ts), as for HTTP. */
  formatError: (error: GraphQLError) => GraphQLFormattedError;
  /** The table's layout, for the estimate (a sharded page reads every shard). */
  layout: TableLayout;
  /** The call budget, as for HTTP: the most DynamoDB calls one event's answer may cost. */
  maxCalls: number;
  /** The largest message accepted, as the HTTP body limit. */
  maxPayloadBytes: number;
}

/** Subscriptions one socket may hold at once; past it, a subscribe is refused. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 50;

type ConnectionExtra = {
  caller?: Caller;
  expiry?: NodeJS.Timeout;
  closed?: boolean;
  /** Ids of this socket's running subscriptions. */
  running?: Set<string>;
};

/** What each subscription asks (query, operation, variables), by its context. */
const sameQuestion = new WeakMap<object, string>();
/** Each event's answers, by question: the event's data facade (one per event) holds the map. */
const answers = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();

/**
 * graphql-js's subscribe, except that subscribers who ask the same question of the same event
 * share one execution (as Hasura multiplexes): their access rules and filters still run per
 * subscriber in the source stream, so only events a subscriber may see reach here, and nested
 * fields follow their parent, so the answer does not depend on who asks. Each event's data
 * facade (set on the context by LiveEvents just before the event is handed on) keys the sharing.
 */
async function sharedSubscribe(args: ExecutionArgs) {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
  const events = source as AsyncIterator<unknown> & AsyncIterable<unknown>;
  const context = args.contextValue as Context;
  const question = sameQuestion.get(context);
  const answer = (payload: unknown) => {
    const run = () => execute({ ...args, rootValue: payload });
    if (!question) return run();
    let byQuestion = answers.get(context.data);
    if (!byQuestion) answers.set(context.data, (byQuestion = new Map()));
    let result = byQuestion.get(question);
    if (!result) byQuestion.set(question, (result = run()));
    return result;
  };
  // Hand-written so that `return()` reaches the source at once, even while it waits.
  const results: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const r = await events.next();
      return r.done ? { value: undefined, done: true } : { value: await answer(r.value), done: false };
    },
    return: async () => {
      await events.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => results,
  };
  return results;
}

/** A refusal before anything runs, with the code the error boundary reads as the client's input. */
const refusal = (message: string, code: string, extensions: Record<string, unknown> = {}) =>
  new GraphQLError(message, { extensions: { code, ...extensions } });

/**
 * GraphQL subscriptions over graphql-ws (subprotocol `graphql-transport-ws`) on the HTTP
 * server's own port and path. Sign-in is the `Authorization` key of the connection_init payload:
 * an invalid token closes the socket with 4403, and a socket is closed with 4403 when its token
 * expires. Operations go through the same parser limits, validation rules, access rules and
 * error boundary as HTTP. Returns `dispose`, which closes every socket (the server's drain).
 */
export function serveSubscriptions(opts: SubscriptionServerOptions): { dispose: () => Promise<void>; wss: WebSocketServer } {
  const wss = new WebSocketServer({ server: opts.httpServer, path: '/graphql', maxPayload: opts.maxPayloadBytes });
  const format = (errors: readonly GraphQLError[]) => errors.map((e) => opts.formatError(e));
  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      schema: opts.schema,
      subscribe: sharedSubscribe,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.Authorization ?? ctx.connectionParams?.authorization;
        let caller: Caller;
        try {
          caller = await opts.authenticate(typeof header === 'string' ? header : header === undefined ? undefined : String(header));
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        // The socket may have closed while the token was checked: then nothing must outlive it.
        if (ctx.extra.closed) return false;
        ctx.extra.caller = caller;
        ctx.extra.running = new Set();
        if (caller.kind === 'user' && caller.expiresAt !== undefined) {
          const socket = (ctx.extra as unknown as { socket: WebSocket }).socket;
          const ms = Math.max(0, caller.expiresAt * 1000 - Date.now());
          // setTimeout holds at most about 24.8 days; tokens live far less.
          ctx.extra.expiry = setTimeout(() => socket.close(CLOSE_FORBIDDEN, 'Forbidden'), Math.min(ms, 2 ** 31 - 1));
        }
        return true;
      },
      onClose: (ctx) => {
        ctx.extra.closed = true;
        clearTimeout(ctx.extra.expiry);
      },
      onSubscribe: (ctx, id, payload) => {
        const running = ctx.extra.running!;
        if (running.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [refusal(`A connection holds at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions; complete one first`, 'BAD_USER_INPUT')];
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: opts.maxTokens });
        } catch (e) {
          return [refusal(e instanceof Error ? e.message : String(e), 'GRAPHQL_PARSE_FAILED')];
        }
        const errors = validate(opts.schema, document, [...specifiedRules, ...opts.validationRules]);
        if (errors.length) return errors.map((e) => (e.extensions.code ? e : refusal(e.message, 'GRAPHQL_VALIDATION_FAILED')));
        const operation = getOperationAST(document, payload.operationName);
        if (operation) {
          const worst = estimateCalls(opts.schema, document, operation, payload.variables ?? {}, undefined, opts.layout);
          if (worst > opts.maxCalls) {
            return [
              refusal(
                `Query cost limit exceeded: each event may cause up to ${worst} DynamoDB calls; the limit is ${opts.maxCalls}. Ask for less nesting.`,
                'BAD_USER_INPUT',
                { limit: 'cost', max: opts.maxCalls, found: worst },
              ),
            ];
          }
        }
        running.add(id);
        const contextValue = opts.context(ctx.extra.caller!);
        // Subscriptions that ask the same thing share each event's execution (sharedSubscribe).
        sameQuestion.set(contextValue, JSON.stringify([payload.query, payload.operationName ?? null, payload.variables ?? null]));
        return {
          schema: opts.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue,
        };
      },
      onComplete: (ctx, id) => {
        ctx.extra.running?.delete(id);
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => format(errors),
    },
    wss,
  );
  wss.on('error', (e) => opts.log.error({ err: e }, 'websocket server error'));
  // A client's oversized message is ws's RangeError, after which ws closes the socket with 1009
  // itself. It is the client's doing: log it quietly instead of letting graphql-ws report an
  // internal error on the console.
  wss.on('connection', (socket: WebSocket) => {
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'error' && args[0] instanceof RangeError) {
        opts.log.debug({ reason: args[0].message }, 'websocket message refused');
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
  });
  return { dispose: async () => server.dispose(), wss };
}
