import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type CursorSpec } from '../../src/db/cursor.js';
import { AppError } from '../../src/errors.js';

const spec: CursorSpec = {
  scope: 'userOrders',
  attributes: ['PK', 'SK', 'GSI1PK', 'GSI1SK'],
  fixed: { GSI1PK: 'USER#u1' },
  prefixes: { GSI1SK: 'ORDER#' },
};
const key = { PK: 'ORDER#o1', SK: 'ORDER', GSI1PK: 'USER#u1', GSI1SK: 'ORDER#o1' };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : 'other';
  }
  return undefined;
}

describe('cursors', () => {
  it('round-trip a position', () => {
    expect(decodeCursor(encodeCursor('userOrders', key), spec)).toEqual(key);
  });

  it('are opaque strings without padding or JSON', () => {
    expect(encodeCursor('userOrders', key)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['garbage', 'not-a-cursor!'],
    ['empty', ''],
    ['valid base64 but not JSON', Buffer.from('hello').toString('base64url')],
    ['another scope', encodeCursor('featuredProducts', key)],
    ['another user', encodeCursor('userOrders', { ...key, GSI1PK: 'USER#u2' })],
    ['an extra attribute', encodeCursor('userOrders', { ...key, X: 'y' })],
    ['a missing attribute', encodeCursor('userOrders', { PK: 'a', SK: 'b', GSI1PK: 'USER#u1' } as never)],
    ['a non-string value', Buffer.from(JSON.stringify({ s: 'userOrders', k: { ...key, PK: 5 } })).toString('base64url')],
    ['a foreign sort key', encodeCursor('userOrders', { ...key, GSI1SK: 'ADDRESS#x' })],
    ['an oversized string', 'A'.repeat(5000)],
    // DynamoDB refuses key values over 1,024 bytes (sort keys) with a 400: refused here instead.
    ['a 1,100-byte sort key value', encodeCursor('userOrders', { ...key, SK: 'ORDER#' + 'x'.repeat(1094) })],
    ['a key value of 1,025 bytes in 2-byte characters', encodeCursor('userOrders', { ...key, PK: 'ORDER#' + 'é'.repeat(509) + 'x' })],
    // JSON escapes can carry lone surrogates, which DynamoDB would store as U+FFFD.
    ['a key value with a lone surrogate', encodeCursor('userOrders', { ...key, SK: 'ORDER\ud800' })],
  ])('reject %s as BAD_USER_INPUT', (_name, cursor) => {
    expect(codeOf(() => decodeCursor(cursor, spec))).toBe('BAD_USER_INPUT');
  });

  it('accept a key value of exactly 1,024 bytes', () => {
    const long = { ...key, SK: 'ORDER#' + 'x'.repeat(1018) };
    expect(Buffer.byteLength(long.SK)).toBe(1024);
    expect(decodeCursor(encodeCursor('userOrders', long), spec)).toEqual(long);
  });

  it('name the argument `after` when refusing a cursor', () => {
    try {
      decodeCursor(encodeCursor('userOrders', { ...key, SK: 'x'.repeat(1100) }), spec);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'after' } });
      expect((e as Error).message).toMatch(/1,?024 bytes/);
    }
  });
});
