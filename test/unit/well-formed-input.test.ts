import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/db/cursor.js';
import { AppError } from '../../src/errors.js';
import { createUserRules, parseAfter, parseId, parseInput, placeOrderRules } from '../../src/validation.js';

/** Any UTF-16 code units, lone surrogates well represented. */
const codeUnit = fc
  .oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0xffff }))
  .map((c) => String.fromCharCode(c));
const anyString = fc.string({ unit: codeUnit, minLength: 1, maxLength: 128 });
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const plain = fc.string({ maxLength: 20 });

const utf8RoundTrip = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

function accepted(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof AppError && e.code === 'BAD_USER_INPUT') return false;
    throw e;
  }
}

const acceptsId = (s: string) => accepted(() => parseId(s, 'id'));
const acceptsKey = (s: string) =>
  accepted(() => parseInput(placeOrderRules, { userId: 'u', lines: [{ productId: 'p', quantity: 1 }], idempotencyKey: s }, 'input'));

describe('string inputs', () => {
  it('accept an id exactly when UTF-8 keeps it unchanged, so no two accepted ids share their bytes', () => {
    fc.assert(fc.property(anyString, (s) => acceptsId(s) === (utf8RoundTrip(s) === s)));
  });

  it('refuse both of two different ids or idempotency keys that UTF-8 would make one', () => {
    fc.assert(
      fc.property(plain, loneSurrogate, loneSurrogate, plain, (before, x, y, after) => {
        fc.pre(x !== y);
        const a = before + x + after;
        const b = before + y + after;
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        expect([acceptsId(a), acceptsId(b), acceptsKey(a), acceptsKey(b)]).toEqual([false, false, false, false]);
      }),
    );
  });

  it('name the argument and show the value with its lone surrogate escaped', () => {
    expect(() => parseId('a\ud800', 'ids.3')).toThrow(/^ids\.3: .*well-formed.*; got "a\\ud800"$/);
    try {
      parseInput(createUserRules, { email: 'ok@example.com', name: 'Ada \udc00' }, 'input');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'input.name' } });
    }
  });

  it('refuse an empty after as a bad cursor, and take null or absent as no cursor', () => {
    expect(parseAfter(null)).toBeNull();
    expect(parseAfter(undefined)).toBeNull();
    expect(parseAfter('abc')).toBe('abc');
    expect(() => parseAfter('')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: { argument: 'after' } }));
  });
});

describe('cursor positions', () => {
  const spec = { scope: 'featuredProducts', attributes: ['PK', 'SK'], fixed: {} };
  // Characters JSON writes as themselves (so a value of 1,024 bytes fits a cursor), in 1 and 3
  // UTF-8 bytes, and lone surrogates (written as \uXXXX escapes).
  const cursorUnit = fc
    .oneof(
      { arbitrary: fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c), weight: 3 },
      { arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }), weight: 3 },
      { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }), weight: 1 },
    )
    .map((c) => String.fromCharCode(c));

  it('decode only key values that DynamoDB would store unchanged and that fit its 1,024-byte limit', () => {
    fc.assert(
      fc.property(fc.string({ unit: cursorUnit, minLength: 1, maxLength: 600 }), (sk) => {
        const ok = accepted(() => decodeCursor(encodeCursor('featuredProducts', { PK: 'P', SK: sk }), spec));
        expect(ok).toBe(utf8RoundTrip(sk) === sk && Buffer.byteLength(sk) <= 1024);
      }),
    );
  });
});
