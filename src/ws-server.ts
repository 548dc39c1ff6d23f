import type { Server } from 'node:http';
import {
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
}

type ConnectionExtra = {
  caller?: Caller;
  expiry?: NodeJS.Timeout;
};

/**
 * GraphQL subscriptions over graphql-ws (subprotocol `graphql-transport-ws`) on the HTTP
 * server's own port and path. Sign-in is the `Authorization` key of the connection_init payload:
 * an invalid token closes the socket with 4403, and a socket is closed with 4403 when its token
 * expires. Operations go through the same parser limits, validation rules, access rules and
 * error boundary as HTTP. Returns `dispose`, which closes every socket (the server's drain).
 */
export function serveSubscriptions(opts: SubscriptionServerOptions): { dispose: () => Promise<void>; wss: WebSocketServer } {
  const wss = new WebSocketServer({ server: opts.httpServer, path: '/graphql' });
  const format = (errors: readonly GraphQLError[]) => errors.map((e) => opts.formatError(e));
  const server = useServer<Record<string, unknown> | undefined, ConnectionExtra>(
    {
      schema: opts.schema,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.Authorization ?? ctx.connectionParams?.authorization;
        let caller: Caller;
        try {
          caller = await opts.authenticate(typeof header === 'string' ? header : header === undefined ? undefined : String(header));
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        ctx.extra.caller = caller;
        if (caller.kind === 'user' && caller.expiresAt !== undefined) {
          const socket = (ctx.extra as unknown as { socket: WebSocket }).socket;
          const ms = Math.max(0, caller.expiresAt * 1000 - Date.now());
          // setTimeout holds at most about 24.8 days; tokens live far less.
          ctx.extra.expiry = setTimeout(() => socket.close(CLOSE_FORBIDDEN, 'Forbidden'), Math.min(ms, 2 ** 31 - 1));
        }
        return true;
      },
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiry);
      },
      onSubscribe: (ctx, _id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: opts.maxTokens });
        } catch (e) {
          return [e instanceof GraphQLError ? e : new GraphQLError(String(e))];
        }
        const errors = validate(opts.schema, document, [...specifiedRules, ...opts.validationRules]);
        if (errors.length) return errors;
        return {
          schema: opts.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: opts.context(ctx.extra.caller!),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => format(errors),
    },
    wss,
  );
  wss.on('error', (e) => opts.log.error({ err: e }, 'websocket server error'));
  return { dispose: async () => server.dispose(), wss };
}
