import { describe, expect, it } from 'vitest';
import { keyId, keys, normalizeEmail } from '../../src/db/keys.js';

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
    expect(keys.statusIndex('PAID', 'o1')).toEqual({ GSI3PK: 'STATUS#PAID', GSI3SK: 'ORDER#o1' });
  });

  it('give distinct keys distinct ids', () => {
    expect(keyId({ PK: 'a', SK: 'b' })).not.toBe(keyId({ PK: 'ab', SK: '' }));
  });
});
