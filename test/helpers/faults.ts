import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface Fault {
  /** Low-level operation name, e.g. `BatchGetItem`. */
  operation?: string;
  /** Probability that a matching call is hit (1 = always). */
  rate?: number;
  /** How many matching calls to hit at most (default: unlimited). */
  times?: number;
  /** Throw this instead of sending the request (gets the command's input). */
  error?: (input: Record<string, any>) => Error;
  /** Or let the call through and rewrite its (marshalled) output. */
  mutateOutput?: (output: Record<string, any>, input: Record<string, any>) => void;
}

/**
 * Injects faults into a real SDK client with a middleware: the request still goes to the real
 * DynamoDB Local unless the fault replaces it with an error. Runs inside the SDK's retry
 * middleware (finalizeRequest, low priority), so it sees each attempt the SDK makes. There,
 * the request is in DynamoDB JSON, while the response of a DocumentClient command has already
 * been unmarshalled.
 */
export function injectFault(client: DynamoDBClient, fault: Fault): { hits: () => number; remove: () => void } {
  const name = `fault-${randomBytes(4).toString('hex')}`;
  let hits = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      const matches =
        (!fault.operation || fault.operation === op) &&
        (fault.times === undefined || hits < fault.times) &&
        Math.random() < (fault.rate ?? 1);
      if (!matches) return next(args);
      hits++;
      if (fault.error) throw fault.error((args as { input?: Record<string, any> }).input ?? {});
      const result = await next(args);
      fault.mutateOutput?.(result.output as Record<string, any>, (args as { input?: Record<string, any> }).input ?? {});
      return result;
    },
    { step: 'finalizeRequest', priority: 'low', name },
  );
  return { hits: () => hits, remove: () => client.middlewareStack.remove(name) };
}

/** An error shaped like the SDK's, for throttling and 5xx faults. */
export function sdkError(name: string, status: number, retryable = true): () => Error {
  return () =>
    Object.assign(new Error(`${name} (injected)`), {
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status, attempts: 1 },
      ...(retryable ? { $retryable: { throttling: name.includes('Throttl') } } : {}),
    });
}

/**
 * A TransactionCanceledException as DynamoDB sends it when another transaction holds one of
 * the items: one reason per action, `TransactionConflict` on one of them, `None` elsewhere.
 * DynamoDB Local never raises it.
 */
export function transactionConflict(input: Record<string, any>): Error {
  const n = Array.isArray(input.TransactItems) ? input.TransactItems.length : 1;
  const hit = Math.floor(Math.random() * n);
  return Object.assign(new Error('Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict] (injected)'), {
    name: 'TransactionCanceledException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400, attempts: 1 },
    CancellationReasons: Array.from({ length: n }, (_, i) =>
      i === hit ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' },
    ),
  });
}

/**
 * The error the SDK's HTTP handler raises when an answer does not come in time. Thrown after
 * the request went through, it is a lost response: DynamoDB did the work, the client does
 * not know.
 */
export function lostResponse(): Error {
  return Object.assign(new Error('Connection timed out after the request was sent (injected)'), {
    name: 'TimeoutError',
    $metadata: {},
  });
}

/** A TCP server on loopback that accepts connections and never answers. */
export async function startBlackhole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Real timeouts: a matching attempt is sent to `blackholePort` instead of DynamoDB, so the SDK's
 * own request timeout fires (a TimeoutError from its HTTP handler, then its retries).
 */
export function injectHang(
  client: DynamoDBClient,
  opts: { blackholePort: number; operation?: string; rate?: number; times?: number },
): { hits: () => number; remove: () => void } {
  const name = `hang-${randomBytes(4).toString('hex')}`;
  let hits = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      const matches =
        (!opts.operation || opts.operation === op) &&
        (opts.times === undefined || hits < opts.times) &&
        Math.random() < (opts.rate ?? 1);
      if (!matches) return next(args);
      hits++;
      // A copy: the retry middleware sends the same request object again on the next attempt.
      const original = args.request as object;
      const request = Object.assign(Object.create(Object.getPrototypeOf(original)), original, {
        hostname: '127.0.0.1',
        port: opts.blackholePort,
      });
      return next({ ...args, request });
    },
    { step: 'finalizeRequest', priority: 'low', name },
  );
  return { hits: () => hits, remove: () => client.middlewareStack.remove(name) };
}

/**
 * Partial BatchGetItem answers: a share of the items that were read comes back as
 * UnprocessedKeys instead, as DynamoDB does under load.
 */
export function unprocessedKeys(tableName: string): (out: Record<string, any>) => void {
  return (out) => {
    const items = (out.Responses?.[tableName] ?? []) as Record<string, any>[];
    if (items.length === 0) return;
    const kept = items.slice(0, Math.floor(items.length / 2));
    const dropped = items.slice(kept.length);
    out.Responses[tableName] = kept;
    out.UnprocessedKeys = { [tableName]: { Keys: dropped.map((i) => ({ PK: i.PK, SK: i.SK })) } };
  };
}
