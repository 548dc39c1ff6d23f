import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { CallCounter } from '../../src/db/call-counter.js';
import type { Database } from '../../src/db/database.js';

/** Nothing here reaches DynamoDB: the context only wires the request's facade. */
const db = { doc: {}, client: {}, tableName: 't', layout: { statusShards: 8 }, idempotencyTtlSeconds: 1 } as unknown as Database;
const caller = { kind: 'user' as const, userId: 'u1', groups: [], admin: false };

/** A silent logger that counts the child loggers made from it. */
function countingLogger() {
  const base = pino({ level: 'silent' });
  const counted = { children: 0 };
  const logger = Object.assign(Object.create(base) as typeof base, {
    child(bindings: Record<string, unknown>) {
      counted.children++;
      return base.child(bindings);
    },
  });
  return { logger, counted };
}

describe('createContext', () => {
  it("makes the request's child logger (naming the caller) only when the request logs", () => {
    const { logger: counting, counted } = countingLogger();
    const ctx = createContext(db, new CallCounter(), counting, caller);
    expect(counted.children).toBe(0);
    expect(ctx.log.bindings()).toEqual({ userId: 'u1' });
    expect(ctx.log).toBe(ctx.log);
    expect(counted.children).toBe(1);
    // An anonymous request logs with the server's logger itself.
    expect(createContext(db, new CallCounter(), counting).log).toBe(counting);
    expect(counted.children).toBe(1);
  });

  it('does not make the child logger when Apollo Server copies the context, only when the copy logs', () => {
    const { logger: counting, counted } = countingLogger();
    const ctx = createContext(db, new CallCounter(), counting, caller);
    // What Apollo Server hands resolvers and plugins (cloneObject in its ApolloServer.js).
    const copy = Object.assign(Object.create(Object.getPrototypeOf(ctx)) as typeof ctx, ctx);
    expect(counted.children).toBe(0);
    expect(copy.data).toBe(ctx.data);
    expect(copy.calls).toBe(ctx.calls);
    expect(copy.log.bindings()).toEqual({ userId: 'u1' });
    expect(counted.children).toBe(1);
  });
});
