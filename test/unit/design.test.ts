import { describe, expect, it } from 'vitest';
import { DESIGN_VERSION, DesignError, layoutToServe } from '../../src/db/design.js';

describe('layoutToServe', () => {
  it("serves the table's own shard count, or STATUS_SHARDS when it agrees", () => {
    expect(layoutToServe('t', { version: DESIGN_VERSION, statusShards: 4 }, undefined)).toEqual({ statusShards: 4 });
    expect(layoutToServe('t', { version: DESIGN_VERSION, statusShards: 4 }, 4)).toEqual({ statusShards: 4 });
  });

  it('refuses an older design (or none) naming npm run migrate', () => {
    for (const design of [undefined, { version: 1, statusShards: 1 }]) {
      const e = (() => {
        try {
          layoutToServe('orders', design, undefined);
        } catch (err) {
          return err as Error;
        }
        throw new Error('expected a refusal');
      })();
      expect(e).toBeInstanceOf(DesignError);
      expect(e.message).toMatch(/Table orders uses key design version 1; this server needs version 2/);
      expect(e.message).toMatch(/npm run migrate/);
    }
  });

  it('refuses a newer design and another shard count than STATUS_SHARDS', () => {
    expect(() => layoutToServe('t', { version: DESIGN_VERSION + 1, statusShards: 4 }, undefined)).toThrow(/newer than this server/);
    expect(() => layoutToServe('t', { version: DESIGN_VERSION, statusShards: 4 }, 8)).toThrow(/STATUS_SHARDS is 8 but table t is laid out for 4 status shards/);
  });
});
