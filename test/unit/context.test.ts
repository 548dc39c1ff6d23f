import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { CallCounter } from '../../src/db/call-counter.js';
import type { Database } from '../../src/db/database.js';

/** Nothing here reaches DynamoDB: the context only wires the request's facade. */
const db = { doc: {}, client: {}, tableName: 't', layout: { statusShards: 8 }, idempotencyTtlSeconds: 1 } as unknown as Database;

describe('createContext', () => {
  it("makes the request's child logger (naming the caller) only when the request logs", () => {
    const base = pino({ level: 'silent' });
    let children = 0;
    const counting = Object.assign(Object.create(base) as typeof base, {
      child(bindings: Record<string, unknown>) {
        children++;
        return base.child(bindings);
      },
    });
    const caller = { kind: 'user' as const, userId: 'u1', groups: [], admin: false };
    const ctx = createContext(db, new CallCounter(), counting, caller);
    expect(children).toBe(0);
    expect(ctx.log.bindings()).toEqual({ userId: 'u1' });
    expect(ctx.log).toBe(ctx.log);
    expect(children).toBe(1);
    // Apollo Server hands resolvers and plugins a shallow copy of the context: copying does not
    // make the child logger, and the copy makes its own when it logs.
    const fresh = createContext(db, new CallCounter(), counting, caller);
    const copy = Object.assign(Object.create(Object.getPrototypeOf(fresh)) as typeof fresh, fresh);
    expect(children).toBe(1);
    expect(copy.log.bindings()).toEqual({ userId: 'u1' });
    expect(copy.data).toBe(fresh.data);
    expect(children).toBe(2);
    // An anonymous request logs with the server's logger itself.
    expect(createContext(db, new CallCounter(), counting).log).toBe(counting);
    expect(children).toBe(2);
  });
});
