import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  clampToGraphQLInt,
  GRAPHQL_INT_MAX,
  GRAPHQL_INT_MIN,
  onStoredValueOutOfRange,
  type StoredValueOutOfRange,
} from '../../src/model/int-range.js';
import { orderFromItem, orderLineFromItem } from '../../src/model/order.js';
import { productFromItem, type Product } from '../../src/model/product.js';
import { userFromItem } from '../../src/model/user.js';
import { MAX_ORDER_LINES, planOrder } from '../../src/repositories/order-repository.js';
import { LIMITS } from '../../src/validation.js';

/** The contract's bound, written out rather than imported: the code's constant is under test. */
const INT_MAX = 2_147_483_647;

const product = (i: number, priceCents: number): Product => ({
  id: `P${i}`,
  name: `Product ${i}`,
  description: null,
  priceCents,
  stock: 1_000_000_000,
  featured: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

const plan = (lines: { priceCents: number; quantity: number }[]) =>
  planOrder('t', {
    orderId: 'O1',
    now: '2026-01-01T00:00:00.000Z',
    statusShards: 8,
    userId: 'U1',
    lines: lines.map((l, i) => ({ productId: `P${i}`, quantity: l.quantity })),
    products: lines.map((l, i) => product(i, l.priceCents)),
  });

const refusal = (f: () => unknown): AppError => {
  try {
    f();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('the Int range', () => {
  it('is GraphQL 32-bit Int range', () => {
    expect(GRAPHQL_INT_MAX).toBe(INT_MAX);
    expect(GRAPHQL_INT_MIN).toBe(-INT_MAX - 1);
  });

  it('holds every input limit of a number the API returns', () => {
    for (const n of [LIMITS.maxPriceCents, LIMITS.maxStock, LIMITS.maxQuantity]) expect(n).toBeLessThanOrEqual(INT_MAX);
  });
});

describe('planOrder', () => {
  it('refuses a line total above 2147483647, naming the line quantity and the total', () => {
    const e = refusal(() => plan([{ priceCents: 5, quantity: 1 }, { priceCents: 1_000_000_000, quantity: 3 }]));
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.details).toEqual({ argument: 'input.lines.1.quantity' });
    expect(e.message).toContain('3000000000');
  });

  it('refuses an order total above 2147483647 when every line fits, naming input.lines', () => {
    const e = refusal(() => plan([{ priceCents: 1_000_000_000, quantity: 2 }, { priceCents: 1_000_000_000, quantity: 1 }]));
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.details).toEqual({ argument: 'input.lines' });
    expect(e.message).toContain('3000000000');
  });

  it('either refuses with BAD_USER_INPUT or plans totals that fit, exactly when the true totals fit', () => {
    const line = fc.record({
      priceCents: fc.integer({ min: 0, max: LIMITS.maxPriceCents }),
      quantity: fc.integer({ min: 1, max: LIMITS.maxQuantity }),
    });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: MAX_ORDER_LINES }), (lines) => {
        // Exact arithmetic as the oracle: BigInt never rounds.
        const totals = lines.map((l) => BigInt(l.priceCents) * BigInt(l.quantity));
        const sum = totals.reduce((a, b) => a + b, 0n);
        const fits = totals.every((t) => t <= BigInt(INT_MAX)) && sum <= BigInt(INT_MAX);
        let planned: ReturnType<typeof plan>;
        try {
          planned = plan(lines);
        } catch (e) {
          expect(e).toBeInstanceOf(AppError);
          expect((e as AppError).code).toBe('BAD_USER_INPUT');
          expect((e as AppError).details.argument).toMatch(/^input\.lines(\.\d+\.quantity)?$/);
          expect(fits).toBe(false);
          return;
        }
        expect(fits).toBe(true);
        expect(planned.order.totalCents).toBe(Number(sum));
        expect(planned.items.map((i) => i.lineTotalCents)).toEqual(totals.map(Number));
      }),
      { numRuns: 500 },
    );
  });
});

describe('clampToGraphQLInt', () => {
  it.each([
    [0, 0],
    [42, 42],
    [INT_MAX, INT_MAX],
    [INT_MAX + 1, INT_MAX],
    [3_000_000_000, INT_MAX],
    [-INT_MAX - 1, -INT_MAX - 1],
    [-1e12, -INT_MAX - 1],
    [2.7, 2],
    [-2.7, -2],
    [Number.POSITIVE_INFINITY, INT_MAX],
    [10n ** 20n, INT_MAX],
    [-(10n ** 20n), -INT_MAX - 1],
    [7n, 7],
    ['12', 0],
    [undefined, 0],
    [null, 0],
    [Number.NaN, 0],
  ])('maps %s to %s', (stored, expected) => {
    expect(clampToGraphQLInt(stored)).toBe(expected);
  });

  it('returns an Int for anything numeric', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.bigInt()), (v) => {
        const n = clampToGraphQLInt(v);
        expect(Number.isInteger(n)).toBe(true);
        expect(n).toBeGreaterThanOrEqual(-INT_MAX - 1);
        expect(n).toBeLessThanOrEqual(INT_MAX);
      }),
    );
  });
});

describe('the model converters', () => {
  const reports: StoredValueOutOfRange[] = [];
  onStoredValueOutOfRange((r) => reports.push(r));
  afterEach(() => {
    reports.length = 0;
  });

  it('clamp an order read with out-of-range numbers and report the item once, naming every field', () => {
    const o = orderFromItem({ id: 'O9', userId: 'U', status: 'PENDING', totalCents: 3_000_000_000, itemCount: 1.5, createdAt: 'x', updatedAt: 'x' });
    expect(o).toMatchObject({ totalCents: INT_MAX, itemCount: 1 });
    expect(reports).toEqual([
      {
        entity: 'Order',
        id: 'O9',
        fields: [
          { field: 'totalCents', stored: 3_000_000_000, returned: INT_MAX },
          { field: 'itemCount', stored: 1.5, returned: 1 },
        ],
      },
    ]);
  });

  it('clamp order lines, products and users too', () => {
    const line = orderLineFromItem({ id: 'O9-1', orderId: 'O9', line: 1, productId: 'P', productName: 'n', unitPriceCents: 1e9, quantity: 3, lineTotalCents: 3e9 });
    expect(line.lineTotalCents).toBe(INT_MAX);
    const p = productFromItem({ id: 'P', name: 'n', priceCents: 10n ** 20n, stock: -3e9, createdAt: 'x', updatedAt: 'x' });
    expect(p).toMatchObject({ priceCents: INT_MAX, stock: -INT_MAX - 1 });
    const u = userFromItem({ id: 'U', email: 'a@b.c', name: 'n', orderCount: 5e9, createdAt: 'x', updatedAt: 'x' });
    expect(u.orderCount).toBe(INT_MAX);
    expect(reports.map((r) => [r.entity, r.id, r.fields.map((f) => f.field)])).toEqual([
      ['OrderItem', 'O9-1', ['lineTotalCents']],
      ['Product', 'P', ['priceCents', 'stock']],
      ['User', 'U', ['orderCount']],
    ]);
    // bigint is reported as a string, so a JSON logger can write it.
    expect(reports[1]!.fields[0]!.stored).toBe('100000000000000000000');
  });

  it('read values in range as they are, reporting nothing (a user without orders has orderCount 0)', () => {
    expect(userFromItem({ id: 'U', email: 'a@b.c', name: 'n', createdAt: 'x', updatedAt: 'x' }).orderCount).toBe(0);
    expect(productFromItem({ id: 'P', name: 'n', priceCents: INT_MAX, stock: 0, createdAt: 'x', updatedAt: 'x' })).toMatchObject({ priceCents: INT_MAX, stock: 0 });
    expect(reports).toEqual([]);
  });
});
