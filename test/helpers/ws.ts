import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from './server.js';

export interface Collected {
  /** Every `next` payload received, in order. */
  results: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] }[];
  /** Resolves with the n-th result (1-based) once it arrived, or rejects after `timeoutMs`. */
  nth(n: number, timeoutMs?: number): Promise<Collected['results'][number]>;
  /** Set once the subscription completed or failed. */
  ended: Promise<unknown>;
  stop(): void;
}

/** A graphql-ws client for the test server, signed in with `token` (none: anonymous). */
export function wsClient(s: TestServer | string, token?: string | (() => Promise<string>), more: Partial<ClientOptions> = {}): Client {
  const url = (typeof s === 'string' ? s : s.url).replace(/^http/, 'ws');
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: async () => {
      const t = typeof token === 'function' ? await token() : token;
      return t ? { Authorization: `Bearer ${t}` } : {};
    },
    ...more,
  });
}

/** Subscribes and collects what arrives. */
export function collect(client: Client, query: string, variables: Record<string, unknown> = {}): Collected {
  const results: Collected['results'] = [];
  const waiters: (() => void)[] = [];
  let stop: () => void = () => undefined;
  const ended = new Promise((resolve) => {
    stop = client.subscribe(
      { query, variables },
      {
        next: (r) => {
          results.push(r as Collected['results'][number]);
          for (const w of waiters.splice(0)) w();
        },
        error: (e) => resolve(e),
        complete: () => resolve(undefined),
      },
    );
  });
  return {
    results,
    ended,
    stop: () => stop(),
    nth: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no result ${n} within ${timeoutMs} ms (got ${results.length})`)), timeoutMs);
        const check = () => {
          if (results.length >= n) {
            clearTimeout(timer);
            resolve(results[n - 1]!);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

/** The close event of a raw graphql-transport-ws connection that sends `payload` in connection_init. */
export function closeOf(s: TestServer, payload: Record<string, unknown>): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(s.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on('error', reject);
  });
}
