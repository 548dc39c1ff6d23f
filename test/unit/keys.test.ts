import { describe, expect, it } from 'vitest';
import { keyId, keys, normalizeEmail, statusShard } from '../../src/db/keys.js';

describe('key builders', () => {
  it('put a profile and its addresses in one partition', () => {
    expect(keys.user('u1')).toEqual({ PK: 'USER#u1', SK: 'PROFILE' });
    expect(keys.address('u1', 'a1')).toEqual({ PK: 'USER#u1', SK: 'ADDRESS#a1' });
  });

  it('put an order and its lines in one partition with lines numbered to sort', () => {
    expect(keys.order('o1')).toEqual({ PK: 'ORDER#o1', SK: 'ORDER' });
    expect(keys.orderItem('o1', 7)).toEqual({ PK: 'ORDER#o1', SK: 'ITEM#007' });
  });

  it('store lines next to their order in the user-orders index, so newest-first reads keep each order contiguous', () => {
    const header = keys.userOrdersIndex('u1', '01B').GSI1SK;
    const line = keys.userOrdersIndex('u1', '01B', 2).GSI1SK;
    const older = keys.userOrdersIndex('u1', '01A').GSI1SK;
    const olderLine = keys.userOrdersIndex('u1', '01A', 1).GSI1SK;
    const descending = [header, line, older, olderLine].sort().reverse();
    expect(descending).toEqual([line, header, olderLine, older]);
  });

  it('reserve emails case-insensitively', () => {
    expect(keys.email(' Ada@Example.COM ')).toEqual({ PK: 'EMAIL#ada@example.com', SK: 'EMAIL' });
    expect(normalizeEmail('A@B.C')).toBe('a@b.c');
  });

  it('put featured products and statuses under fixed partitions', () => {
    expect(keys.featuredIndex('p1')).toEqual({ GSI2PK: 'FEATURED', GSI2SK: 'PRODUCT#p1' });
    expect(keys.statusIndex('PAID', 'o1', 1)).toEqual({ GSI3PK: 'STATUS#PAID#0', GSI3SK: 'ORDER#o1' });
  });

  it('shard the status index by the order id: stable, within range, and spread evenly', () => {
    const ids = Array.from({ length: 8000 }, (_, i) => `01J${String(i).padStart(8, '0')}X${(i * 7919).toString(36).toUpperCase().padStart(12, '0')}`);
    for (const shards of [1, 4, 10, 32]) {
      const counts = new Array<number>(shards).fill(0);
      for (const id of ids) {
        const shard = statusShard(id, shards);
        expect(shard).toBe(statusShard(id, shards));
        counts[shard]!++;
      }
      expect(counts.every((c) => c > 0)).toBe(true);
      // Even within 15% of the mean: no shard is a hot spot of its own.
      const mean = ids.length / shards;
      expect(Math.max(...counts) / mean, `${shards} shards`).toBeLessThan(1.15);
    }
    // The shard is in the index key; status changes keep it (it depends on the id only).
    const id = ids[123]!;
    const shard = statusShard(id, 8);
    expect(keys.statusIndex('PENDING', id, 8).GSI3PK).toBe(`STATUS#PENDING#${shard}`);
    expect(keys.statusIndex('SHIPPED', id, 8).GSI3PK).toBe(`STATUS#SHIPPED#${shard}`);
  });

  it('give distinct keys distinct ids', () => {
    expect(keyId({ PK: 'a', SK: 'b' })).not.toBe(keyId({ PK: 'ab', SK: '' }));
  });
});
