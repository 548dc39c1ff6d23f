/**
 * The raw SDK baseline: for each operation of the suite, hand-written DynamoDB SDK calls that
 * make the theoretical minimum number of calls in the fewest waves (independent calls in
 * parallel), and build the same JSON the GraphQL servers answer. No GraphQL, no DataLoader, no
 * express: a floor for what the project's server could cost.
 */
import { randomUUID } from 'node:crypto';
import { BatchGetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import type { Database } from '../../src/db/database.js';
import { FEATURED_PARTITION, keyId, keys, type TableKey } from '../../src/db/keys.js';
import { INDEXES, type IndexDef } from '../../src/db/table.js';
import {
  orderFromItem,
  orderLineFromItem,
  isOrderHeader,
  isOrderLine,
  type OrderLine,
} from '../../src/model/order.js';
import { productFromItem, type Product } from '../../src/model/product.js';
import { userFromItem } from '../../src/model/user.js';
import { MAX_ORDER_LINES, planOrder } from '../../src/repositories/order-repository.js';
import { PAGE, type OperationName } from './operations.js';

type Item = Record<string, unknown>;
const ulid = monotonicFactory();

export class RawError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** BatchGetItem in chunks of 100 keys, all in parallel; unprocessed keys are asked again. */
async function batchGet(db: Database, list: TableKey[], consistent = false): Promise<Map<string, Item>> {
  const unique = [...new Map(list.map((k) => [keyId(k), k])).values()];
  const found = new Map<string, Item>();
  const chunks: TableKey[][] = [];
  for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: Item[] = chunk as unknown as Item[];
      while (pending.length) {
        const out = await db.doc.send(
          new BatchGetCommand({ RequestItems: { [db.tableName]: { Keys: pending, ...(consistent ? { ConsistentRead: true } : {}) } } }),
        );
        for (const item of out.Responses?.[db.tableName] ?? []) found.set(keyId(item as unknown as TableKey), item);
        pending = (out.UnprocessedKeys?.[db.tableName]?.Keys ?? []) as Item[];
      }
    }),
  );
  return found;
}

async function queryPartition(db: Database, pk: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out = await db.doc.send(
      new QueryCommand({ TableName: db.tableName, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': pk }, ExclusiveStartKey: start }),
    );
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** One page of `first` nodes newest first; `perNode` sizes Limit so one call reads the page. */
/** The first page of a write-sharded status: every shard's newest `first + 1` in parallel, merged newest first. */
async function shardedIndexPage(db: Database, status: string, first: number) {
  const { byStatus } = INDEXES;
  const answers = await Promise.all(
    Array.from({ length: db.layout.statusShards }, (_, shard) =>
      db.doc.send(
        new QueryCommand({
          TableName: db.tableName,
          IndexName: byStatus.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': byStatus.pk },
          ExpressionAttributeValues: { ':pk': keys.statusShardPartition(status, shard) },
          ScanIndexForward: false,
          Limit: first + 1,
        }),
      ),
    ),
  );
  const merged = answers.flatMap((a) => (a.Items ?? []) as Item[]).sort((a, b) => ((a[byStatus.sk] as string) < (b[byStatus.sk] as string) ? 1 : -1));
  return { nodes: merged.slice(0, first), hasNextPage: merged.length > first || answers.some((a) => a.LastEvaluatedKey) };
}

async function indexPage(db: Database, index: IndexDef, partition: string, first: number, isNode: (i: Item) => boolean, perNode: number) {
  const nodes: Item[] = [];
  const items: Item[] = [];
  let hasNextPage = false;
  let start: Item | undefined;
  for (;;) {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.pk },
        ExpressionAttributeValues: { ':pk': partition },
        ScanIndexForward: false,
        Limit: Math.min(1000, (first + 1 - nodes.length) * perNode),
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (out.Items ?? []) as Item[]) {
      if (isNode(item)) {
        if (nodes.length === first) {
          hasNextPage = true;
          break;
        }
        nodes.push(item);
      }
      items.push(item);
    }
    start = out.LastEvaluatedKey;
    if (hasNextPage || !start) break;
  }
  return { nodes, items, hasNextPage };
}

/** A user's newest orders with their lines: one GSI1 Query sized for the most lines an order can have. */
async function userOrders(db: Database, userId: string, first: number) {
  const page = await indexPage(db, INDEXES.userOrders, keys.userOrdersPartition(userId), first, isOrderHeader, 1 + MAX_ORDER_LINES);
  const lines = new Map<string, OrderLine[]>();
  for (const n of page.nodes) lines.set(n.id as string, []);
  for (const i of page.items) if (isOrderLine(i)) lines.get(i.orderId as string)?.push(orderLineFromItem(i));
  for (const l of lines.values()) l.sort((a, b) => a.line - b.line);
  return { orders: page.nodes.map(orderFromItem), lines, hasNextPage: page.hasNextPage };
}

const productOf = (found: Map<string, Item>, id: string): Product | null => {
  const item = found.get(keyId(keys.product(id)));
  return item ? productFromItem(item) : null;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (db: Database, v: any) => Promise<unknown>;

export const rawHandlers: Record<OperationName, Handler> = {
  async Ping() {
    return { ping: true };
  },

  async UserWithAddresses(db, { id }) {
    const items = await queryPartition(db, keys.userPartition(id));
    const profile = items.find((i) => i.EntityType === 'User');
    if (!profile) return { user: null };
    const u = userFromItem(profile);
    const addresses = items
      .filter((i) => i.EntityType === 'Address')
      .map((a) => ({ id: a.id, label: a.label ?? null, street: a.street, city: a.city, postalCode: a.postalCode, country: a.country }));
    return { user: { id: u.id, name: u.name, email: u.email, addresses } };
  },

  async UserOrders(db, { id }) {
    // The profile and the orders do not depend on each other: one wave.
    const [users, page] = await Promise.all([batchGet(db, [keys.user(id)]), userOrders(db, id, PAGE.userOrders)]);
    const profile = users.get(keyId(keys.user(id)));
    if (!profile) return { user: null };
    const productIds = page.orders.flatMap((o) => page.lines.get(o.id)!.map((l) => l.productId));
    const products = productIds.length ? await batchGet(db, productIds.map(keys.product)) : new Map<string, Item>();
    const u = userFromItem(profile);
    return {
      user: {
        id: u.id,
        name: u.name,
        orders: {
          edges: page.orders.map((o) => ({
            node: {
              id: o.id,
              status: o.status,
              totalCents: o.totalCents,
              createdAt: o.createdAt,
              items: page.lines.get(o.id)!.map((l) => {
                const p = productOf(products, l.productId);
                return { id: l.id, quantity: l.quantity, unitPriceCents: l.unitPriceCents, product: p && { id: p.id, name: p.name, priceCents: p.priceCents } };
              }),
            },
          })),
          pageInfo: { hasNextPage: page.hasNextPage },
        },
      },
    };
  },

  async OrderWithItems(db, { id }) {
    const items = await queryPartition(db, keys.orderPartition(id));
    const header = items.find(isOrderHeader);
    if (!header) return { order: null };
    const o = orderFromItem(header);
    const lines = items.filter(isOrderLine).map(orderLineFromItem);
    const products = lines.length ? await batchGet(db, lines.map((l) => keys.product(l.productId))) : new Map<string, Item>();
    return {
      order: {
        id: o.id,
        status: o.status,
        totalCents: o.totalCents,
        itemCount: o.itemCount,
        createdAt: o.createdAt,
        items: lines.map((l) => {
          const p = productOf(products, l.productId);
          return {
            id: l.id,
            quantity: l.quantity,
            unitPriceCents: l.unitPriceCents,
            lineTotalCents: l.lineTotalCents,
            product: p && { id: p.id, name: p.name, priceCents: p.priceCents },
          };
        }),
      },
    };
  },

  async UsersWithOrderTotals(db, { ids }: { ids: string[] }) {
    // Profiles and every user's orders at once: one wave.
    const [profiles, pages] = await Promise.all([
      batchGet(db, ids.map(keys.user)),
      Promise.all(ids.map((id) => userOrders(db, id, PAGE.usersOrders))),
    ]);
    return {
      users: ids.map((id, i) => {
        const item = profiles.get(keyId(keys.user(id)));
        if (!item) return null;
        const u = userFromItem(item);
        return { id: u.id, name: u.name, orders: { edges: pages[i]!.orders.map((o) => ({ node: { id: o.id, totalCents: o.totalCents } })) } };
      }),
    };
  },

  async Products(db, { ids }: { ids: string[] }) {
    const found = await batchGet(db, ids.map(keys.product));
    return {
      products: ids.map((id) => {
        const p = productOf(found, id);
        return p && { id: p.id, name: p.name, priceCents: p.priceCents, stock: p.stock, featured: p.featured };
      }),
    };
  },

  async FeaturedProducts(db) {
    const page = await indexPage(db, INDEXES.featured, FEATURED_PARTITION, PAGE.featured, () => true, 1);
    return {
      featuredProducts: {
        edges: page.nodes.map(productFromItem).map((p) => ({ node: { id: p.id, name: p.name, priceCents: p.priceCents } })),
        pageInfo: { hasNextPage: page.hasNextPage },
      },
    };
  },

  async OrdersByStatus(db, { status }) {
    const page = await shardedIndexPage(db, status, PAGE.byStatus);
    const orders = page.nodes.map(orderFromItem);
    const users = orders.length ? await batchGet(db, orders.map((o) => keys.user(o.userId))) : new Map<string, Item>();
    return {
      ordersByStatus: {
        edges: orders.map((o) => {
          const item = users.get(keyId(keys.user(o.userId)));
          const u = item ? userFromItem(item) : null;
          return { node: { id: o.id, status: o.status, totalCents: o.totalCents, user: u && { id: u.id, name: u.name } } };
        }),
        pageInfo: { hasNextPage: page.hasNextPage },
      },
    };
  },

  /** One consistent BatchGetItem (user and products), then one TransactWriteItems. */
  async PlaceOrder(db, { input }: { input: { userId: string; lines: { productId: string; quantity: number }[] } }) {
    const { userId, lines } = input;
    const found = await batchGet(db, [keys.user(userId), ...lines.map((l) => keys.product(l.productId))], true);
    if (!found.get(keyId(keys.user(userId)))) throw new RawError('NOT_FOUND', `No user with id ${userId}`);
    const products = lines.map((l) => {
      const p = productOf(found, l.productId);
      if (!p) throw new RawError('NOT_FOUND', `No product with id ${l.productId}`);
      if (p.stock < l.quantity) throw new RawError('INSUFFICIENT_STOCK', `Product ${p.id} has ${p.stock} in stock`);
      return p;
    });
    // The same pure plan as the repository's: the bench compares access paths, not transactions.
    const { order, items, actions } = planOrder(db.tableName, { orderId: ulid(), now: new Date().toISOString(), userId, lines, products, statusShards: db.layout.statusShards });
    await db.doc.send(new TransactWriteCommand({ TransactItems: actions.map((a) => a.action), ClientRequestToken: randomUUID() }));
    return {
      placeOrder: {
        id: order.id,
        status: order.status,
        totalCents: order.totalCents,
        itemCount: order.itemCount,
        items: items.map((i, n) => ({
          productName: i.productName,
          quantity: i.quantity,
          lineTotalCents: i.lineTotalCents,
          product: { id: products[n]!.id, name: products[n]!.name },
        })),
      },
    };
  },
};
