import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface Fault {
  /** Low-level operation name, e.g. `BatchGetItem`. */
  operation?: string;
  /** Probability that a matching call is hit (1 = always). */
  rate?: number;
  /** How many matching calls to hit at most (default: unlimited). */
  times?: number;
  /** Throw this instead of sending the request. */
  error?: () => Error;
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
      if (fault.error) throw fault.error();
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
