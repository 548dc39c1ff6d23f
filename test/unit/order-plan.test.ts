import { statusShard } from '../../src/db/keys.js';
import { describe, expect, it } from 'vitest';
import type { Product } from '../../src/model/product.js';
import { orderFingerprint, planOrder, type OrderPlanInput } from '../../src/repositories/order-repository.js';

const now = '2026-01-01T00:00:00.000Z';
const product = (id: string, priceCents: number): Product => ({
  id,
  name: `Product ${id}`,
  description: null,
  priceCents,
  stock: 10,
  featured: false,
  createdAt: now,
  updatedAt: now,
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const input = (overrides: Partial<OrderPlanInput> = {}): OrderPlanInput => ({
  orderId: 'o1',
  now,
  userId: 'u1',
  statusShards: 8,
  lines: [
    { productId: 'p1', quantity: 2 },
    { productId: 'p2', quantity: 3 },
  ],
  products: [product('p1', 250), product('p2', 1000)],
  ...overrides,
});

describe('planOrder', () => {
  it('puts the order, counts it on the user, puts each line, then takes each product’s stock', () => {
    const { actions } = planOrder('t', input());
    expect(actions.map((a) => a.label)).toEqual(['order:o1', 'user:u1', 'item:1', 'item:2', 'product:p1', 'product:p2']);
    expect(actions.every((a) => Object.values(a.action).every((op) => op?.TableName === 't'))).toBe(true);
  });

  it('writes the order only where none exists and the counter only on an existing user', () => {
    const [order, user] = planOrder('t', input()).actions;
    expect(order?.action.Put?.ConditionExpression).toBe('attribute_not_exists(PK)');
    expect(order?.action.Put?.Item).toMatchObject({ PK: 'ORDER#o1', SK: 'ORDER', status: 'PENDING', GSI1PK: 'USER#u1', GSI3PK: `STATUS#PENDING#${statusShard('o1', 8)}` });
    expect(user?.action.Update).toMatchObject({
      Key: { PK: 'USER#u1', SK: 'PROFILE' },
      UpdateExpression: 'SET orderCount = if_not_exists(orderCount, :zero) + :one',
      ConditionExpression: 'attribute_exists(PK)',
    });
  });

  it('conditions each stock update on enough stock and on the price copied into the line', () => {
    const updates = planOrder('t', input()).actions.filter((a) => a.label.startsWith('product:')).map((a) => a.action.Update);
    expect(updates).toEqual([
      expect.objectContaining({
        Key: { PK: 'PRODUCT#p1', SK: 'PRODUCT' },
        UpdateExpression: 'SET stock = stock - :qty',
        ConditionExpression: 'attribute_exists(PK) AND stock >= :qty AND priceCents = :price',
        ExpressionAttributeValues: { ':qty': 2, ':price': 250 },
      }),
      expect.objectContaining({ Key: { PK: 'PRODUCT#p2', SK: 'PRODUCT' }, ExpressionAttributeValues: { ':qty': 3, ':price': 1000 } }),
    ]);
  });

  it('numbers the lines from 1 in input order and copies name and price from the products', () => {
    const { items, actions } = planOrder('t', input());
    expect(items).toEqual([
      { id: 'o1-1', orderId: 'o1', line: 1, productId: 'p1', productName: 'Product p1', unitPriceCents: 250, quantity: 2, lineTotalCents: 500 },
      { id: 'o1-2', orderId: 'o1', line: 2, productId: 'p2', productName: 'Product p2', unitPriceCents: 1000, quantity: 3, lineTotalCents: 3000 },
    ]);
    const lineItems = actions.filter((a) => a.label.startsWith('item:')).map((a) => a.action.Put?.Item);
    expect(lineItems.map((i) => [i?.PK, i?.SK, i?.GSI1SK])).toEqual([
      ['ORDER#o1', 'ITEM#001', 'ORDER#o1#ITEM#001'],
      ['ORDER#o1', 'ITEM#002', 'ORDER#o1#ITEM#002'],
    ]);
  });

  it('totals the lines into the order header', () => {
    const { order } = planOrder('t', input());
    expect(order).toEqual({ id: 'o1', userId: 'u1', status: 'PENDING', totalCents: 3500, itemCount: 2, createdAt: now, updatedAt: now });
  });

  it('writes no idempotency record without a key', () => {
    expect(planOrder('t', input()).actions.some((a) => a.label === 'idempotency')).toBe(false);
  });

  it('writes the idempotency record last, once only, with the key and fingerprint', () => {
    const expiresAt = Math.floor(Date.parse(now) / 1000) + 86400;
    const { actions } = planOrder('t', input({ idempotency: { key: 'k1', fingerprint: 'fp', expiresAt } }));
    expect(actions).toHaveLength(7);
    const record = actions.at(-1);
    expect(record?.label).toBe('idempotency');
    // It expires (DynamoDB's TTL attribute), and an expired record not yet deleted may be replaced.
    expect(record?.action.Put).toMatchObject({
      TableName: 't',
      Item: { EntityType: 'IdempotencyRecord', orderId: 'o1', fingerprint: 'fp', createdAt: now, expiresAt },
      ConditionExpression: 'attribute_not_exists(PK) OR expiresAt <= :now',
      ExpressionAttributeValues: { ':now': Math.floor(Date.parse(now) / 1000) },
    });
    // The key layout is keys.ts's business; the record is found by the key the client sent.
    const item = record?.action.Put?.Item;
    expect(`${item?.PK} ${item?.SK}`).toContain('k1');
  });

  it('refuses a line total beyond GraphQL’s Int before any write, naming the line', () => {
    const big = input({ lines: [{ productId: 'p1', quantity: 2 }, { productId: 'p2', quantity: 3_000_000 }] });
    expect(thrown(() => planOrder('t', big))).toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'input.lines.1.quantity' } });
  });

  it('refuses an order total beyond GraphQL’s Int even when each line fits', () => {
    const lines = [{ productId: 'p1', quantity: 1 }, { productId: 'p2', quantity: 1 }];
    const products = [product('p1', 2_000_000_000), product('p2', 2_000_000_000)];
    const e = thrown(() => planOrder('t', input({ lines, products })));
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'input.lines' } });
    expect((e as Error).message).toMatch(/order total would be 4000000000 cents/);
  });
});

describe('orderFingerprint', () => {
  const lines = [
    { productId: 'p1', quantity: 2 },
    { productId: 'p2', quantity: 1 },
  ];

  it('is the same for the same lines in any order', () => {
    expect(orderFingerprint('u1', [...lines].reverse())).toBe(orderFingerprint('u1', lines));
  });

  it('differs for another user', () => {
    expect(orderFingerprint('u2', lines)).not.toBe(orderFingerprint('u1', lines));
  });

  it('differs for another quantity', () => {
    expect(orderFingerprint('u1', [{ productId: 'p1', quantity: 3 }, lines[1]!])).not.toBe(orderFingerprint('u1', lines));
  });

  it('differs for another product', () => {
    expect(orderFingerprint('u1', [{ productId: 'p3', quantity: 2 }, lines[1]!])).not.toBe(orderFingerprint('u1', lines));
  });
});
