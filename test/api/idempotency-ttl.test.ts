import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/db/keys.js';
import { IDEMPOTENCY_ENTITY } from '../../src/model/order.js';
import { orderFingerprint } from '../../src/repositories/order-repository.js';
import { createTestDatabase } from '../helpers/dynamo.js';
import { createProduct, createUser, placeOrder } from '../helpers/factories.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TTL_SECONDS = 3600;
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ db: await createTestDatabase({ idempotencyTtlSeconds: TTL_SECONDS }) });
});
afterAll(async () => {
  await s.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const record = async (userId: string, key: string) =>
  (await s.db.doc.send(new GetCommand({ TableName: s.db.tableName, Key: keys.idempotency(userId, key), ConsistentRead: true }))).Item;

/** A record as placeOrder writes it, for an order that exists, expiring at `expiresAt`. */
async function storedRecord(userId: string, productId: string, key: string, expiresAt: number) {
  const earlier = (await placeOrder(s, userId, [{ productId, quantity: 1 }])).data!.placeOrder.id as string;
  await s.db.doc.send(
    new PutCommand({
      TableName: s.db.tableName,
      Item: {
        ...keys.idempotency(userId, key),
        EntityType: IDEMPOTENCY_ENTITY,
        userId,
        orderId: earlier,
        fingerprint: orderFingerprint(userId, [{ productId, quantity: 1 }]),
        createdAt: new Date((expiresAt - TTL_SECONDS) * 1000).toISOString(),
        expiresAt,
      },
    }),
  );
  return earlier;
}

describe('idempotency records expire', () => {
  it('are written with expiresAt (DynamoDB TTL) the configured time ahead', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const before = nowSeconds();
    await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'ttl-written');
    const rec = await record(u.id, 'ttl-written');
    expect(rec!.expiresAt).toBeGreaterThanOrEqual(before + TTL_SECONDS - 1);
    expect(rec!.expiresAt).toBeLessThanOrEqual(nowSeconds() + TTL_SECONDS);
  });

  it('answer for their key until they expire: a retry replays the order', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const earlier = await storedRecord(u.id, p.id, 'live', nowSeconds() + 60);
    const r = await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'live');
    expect(r.data!.placeOrder.id).toBe(earlier);
  });

  it('once expired but not yet deleted by TTL, count as absent: the key places a new order and is kept anew', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 10 });
    const earlier = await storedRecord(u.id, p.id, 'expired', nowSeconds() - 5);
    const r = await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'expired');
    expect(r.errors).toBeUndefined();
    const placed = r.data!.placeOrder.id as string;
    expect(placed).not.toBe(earlier);
    const rec = await record(u.id, 'expired');
    expect(rec).toMatchObject({ orderId: placed });
    expect(rec!.expiresAt).toBeGreaterThan(nowSeconds() + TTL_SECONDS - 60);
    // Two orders taken from stock: the earlier one and the new one.
    expect((await s.gql(`query($id: ID!) { product(id: $id) { stock } }`, { id: p.id })).data!.product.stock).toBe(8);
    // The retry of the new order replays it.
    expect((await placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'expired')).data!.placeOrder.id).toBe(placed);
  });

  it('an expired key reused for other lines is not a CONFLICT any more', async () => {
    const u = await createUser(s);
    const p = await createProduct(s);
    const q = await createProduct(s);
    await storedRecord(u.id, p.id, 'reused', nowSeconds() - 1);
    const r = await placeOrder(s, u.id, [{ productId: q.id, quantity: 2 }], 'reused');
    expect(r.errors).toBeUndefined();
  });

  it('concurrent retries over an expired record still place exactly one order', async () => {
    const u = await createUser(s);
    const p = await createProduct(s, { stock: 50 });
    const earlier = await storedRecord(u.id, p.id, 'race', nowSeconds() - 5);
    const results = await Promise.all(Array.from({ length: 6 }, () => placeOrder(s, u.id, [{ productId: p.id, quantity: 1 }], 'race')));
    const ids = new Set(results.map((r) => r.data?.placeOrder.id as string));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    expect(ids.size).toBe(1);
    expect(ids.has(earlier)).toBe(false);
    expect((await s.gql(`query($id: ID!) { user(id: $id) { orderCount } }`, { id: u.id })).data!.user.orderCount).toBe(2);
  });
});
