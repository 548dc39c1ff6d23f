import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { FEATURED_PARTITION, keys } from '../../src/db/keys.js';
import { INDEXES } from '../../src/db/table.js';
import { ORDER_STATUSES } from '../../src/model/order.js';
import type { Product } from '../../src/model/product.js';
import { createRepositories } from '../../src/repositories/repositories.js';
import { generateSeedPlan, seedDatabase, SEED_MARKER_KEY, type SeedOptions, type SeedSummary } from '../../scripts/seed/seed-data.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/dynamo.js';

const OPTS: SeedOptions = { users: 6, addressesPerUser: 2, ordersPerUser: 3, products: 15, concurrency: 4 };

async function countItems(db: Database): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.doc.send(new ScanCommand({ TableName: db.tableName, Select: 'COUNT', ExclusiveStartKey: start }));
    n += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return n;
}

async function queryIndex(db: Database, index: { name: string; pk: string }, partition: string) {
  const out = await db.doc.send(
    new QueryCommand({
      TableName: db.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.pk },
      ExpressionAttributeValues: { ':pk': partition },
    }),
  );
  return out.Items ?? [];
}

describe('seed data', () => {
  let db: Database;
  let summary: SeedSummary;
  const progress: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    summary = await seedDatabase(db, { ...OPTS, onProgress: (p) => progress.push(`${p.phase}:${p.done}/${p.total}`) });
  });
  afterAll(async () => {
    await dropTestDatabase(db);
  });

  it('plans the same data for the same options', () => {
    expect(generateSeedPlan(OPTS)).toEqual(generateSeedPlan(OPTS));
    expect(generateSeedPlan({ ...OPTS, seed: 7 })).not.toEqual(generateSeedPlan(OPTS));
  });

  it('writes the expected counts and returns the created ids', async () => {
    expect(summary.skipped).toBe(false);
    expect(summary.counts).toMatchObject({ products: 15, users: 6, addresses: 12, orders: 18 });
    expect(summary.productIds).toHaveLength(15);
    expect(summary.users).toHaveLength(6);
    expect(summary.orders).toHaveLength(18);
    expect(new Set(summary.users.map((u) => u.email)).size).toBe(6);
    expect(progress).toContain('products:15/15');
    expect(progress).toContain('orders:18/18');

    const repos = createRepositories(db);
    const users = await repos.users.getUsers(summary.users.map((u) => u.id));
    for (const u of users) expect(u).toMatchObject({ orderCount: 3, addressCount: 2 });
    const { addresses } = await repos.users.getUserWithAddresses(summary.users[0]!.id);
    expect(addresses.map((a) => a.id).sort()).toEqual([...summary.users[0]!.addressIds].sort());
    const lines = summary.orders.reduce((s, o) => s + o.lines.length, 0);
    expect(summary.counts.orderLines).toBe(lines);
    // Profiles, email reservations, addresses, products, orders, lines, the marker and the table's design record.
    expect(await countItems(db)).toBe(6 * 2 + 12 + 15 + 18 + lines + 1 + 1);
  });

  it('leaves orders in every status, in the status index too', async () => {
    for (const status of ORDER_STATUSES) {
      const expected = summary.orders.filter((o) => o.status === status).map((o) => o.id).sort();
      expect(expected.length, status).toBeGreaterThan(0);
      expect(summary.counts.ordersByStatus[status]).toBe(expected.length);
      const shards = Array.from({ length: db.layout.statusShards }, (_, shard) => queryIndex(db, INDEXES.byStatus, keys.statusShardPartition(status, shard)));
      const indexed = (await Promise.all(shards)).flat();
      expect(indexed.map((i) => i.id).sort(), status).toEqual(expected);
      for (const i of indexed) expect(i.status).toBe(status);
    }
  });

  it('features some products (the sparse index holds exactly them)', async () => {
    expect(summary.featuredProductIds.length).toBeGreaterThan(0);
    expect(summary.featuredProductIds.length).toBeLessThan(15);
    const indexed = await queryIndex(db, INDEXES.featured, FEATURED_PARTITION);
    expect(indexed.map((i) => i.id).sort()).toEqual([...summary.featuredProductIds].sort());
  });

  it('keeps stock consistent: initial stock minus what non-cancelled orders took', async () => {
    const plan = generateSeedPlan(OPTS);
    const sold = new Map<string, number>();
    for (const o of summary.orders) {
      if (o.status === 'CANCELLED') continue;
      for (const l of o.lines) sold.set(l.productId, (sold.get(l.productId) ?? 0) + l.quantity);
    }
    const products = (await createRepositories(db).products.getProducts(summary.productIds)) as Product[];
    products.forEach((p, i) => {
      expect(p!.stock).toBe(plan.products[i]!.stock - (sold.get(p!.id) ?? 0));
      expect(p!.name).toBe(plan.products[i]!.name);
    });
  });

  it('skips a second run (the marker is there) and writes nothing', async () => {
    const before = await countItems(db);
    const again = await seedDatabase(db, OPTS);
    expect(again.skipped).toBe(true);
    expect(again.counts).toEqual(summary.counts);
    expect(again.dynamodbCalls).toBe(1);
    expect(await countItems(db)).toBe(before);
    const marker = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': SEED_MARKER_KEY.PK },
      }),
    );
    expect(marker.Items).toHaveLength(1);
  });
});
