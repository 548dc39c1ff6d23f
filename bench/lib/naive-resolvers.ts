/**
 * The naive resolver set: what a straightforward implementation over the same table does when
 * every field fetches what it needs on its own. One GetItem per entity field, one Query per list
 * field, no DataLoader, no batching, no look-ahead (the pattern of, e.g., Amplify's generated
 * resolvers; see /work/shared/FACTS.md). Correct results, same schema; only the access pattern
 * differs from the project's.
 */
import { ACCESS_PATTERNS } from '../../src/db/access-patterns.js';
import { queryShardedPage } from '../../src/db/query-pages.js';
import { randomUUID } from 'node:crypto';
import { GetCommand, QueryCommand, TransactWriteCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { GraphQLError } from 'graphql';
import { monotonicFactory } from 'ulid';
import type { CallCounter } from '../../src/db/call-counter.js';
import type { Database } from '../../src/db/database.js';
import { FEATURED_PARTITION, keys, PREFIX } from '../../src/db/keys.js';
import { INDEXES, type IndexDef } from '../../src/db/table.js';
import { addressFromItem } from '../../src/model/address.js';
import { orderFromItem, orderLineFromItem, ORDER_ENTITY, type Order, type OrderLine } from '../../src/model/order.js';
import { productFromItem } from '../../src/model/product.js';
import { userFromItem } from '../../src/model/user.js';
import { planOrder } from '../../src/repositories/order-repository.js';
import { DateTime } from '../../src/resolvers/scalars.js';

export interface NaiveContext {
  db: Database;
  calls: CallCounter;
}

type Item = Record<string, unknown>;

const ulid = monotonicFactory();

const fail = (code: string, message: string) => new GraphQLError(message, { extensions: { code } });

async function getItem(db: Database, key: { PK: string; SK: string }): Promise<Item | undefined> {
  const out = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: key }));
  return out.Item;
}

async function queryAll(db: Database, input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.doc.send(new QueryCommand({ TableName: db.tableName, ...input, ExclusiveStartKey: start }));
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

const encode = (k: Item) => Buffer.from(JSON.stringify(k)).toString('base64url');
const decode = (c: string): Item => {
  try {
    return JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Item;
  } catch {
    throw fail('BAD_USER_INPUT', 'Invalid cursor');
  }
};

function checkFirst(first: number | null | undefined): number {
  const n = first ?? 20;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw fail('BAD_USER_INPUT', `first must be between 1 and 100; got ${first}`);
  return n;
}

/**
 * One page of an index partition, newest first. With `entity`, other items in the partition are
 * filtered out by DynamoDB (FilterExpression), reading more pages while the filter leaves too few.
 */
async function indexPage(
  db: Database,
  index: IndexDef,
  partition: string,
  first: number | null | undefined,
  after: string | null | undefined,
  entity?: string,
) {
  const n = checkFirst(first);
  const nodes: Item[] = [];
  let start: Item | undefined = after ? decode(after) : undefined;
  let hasNextPage = false;
  for (;;) {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ...(entity
          ? {
              FilterExpression: 'EntityType = :e',
              ExpressionAttributeNames: { '#pk': index.pk },
              ExpressionAttributeValues: { ':pk': partition, ':e': entity },
            }
          : { ExpressionAttributeNames: { '#pk': index.pk }, ExpressionAttributeValues: { ':pk': partition }, Limit: n + 1 }),
        ScanIndexForward: false,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of (out.Items ?? []) as Item[]) {
      if (nodes.length === n) {
        hasNextPage = true;
        break;
      }
      nodes.push(item);
    }
    start = out.LastEvaluatedKey;
    if (hasNextPage || !start) break;
  }
  const cursorOf = (i: Item) => encode({ PK: i.PK, SK: i.SK, [index.pk]: i[index.pk], [index.sk]: i[index.sk] });
  return {
    edges: nodes.map((item) => ({ cursor: cursorOf(item), item })),
    pageInfo: { hasNextPage, endCursor: nodes.length ? cursorOf(nodes.at(-1)!) : null },
  };
}

export const naiveResolvers = {
  DateTime,
  Query: {
    ping: () => true,
    user: async (_p: unknown, { id }: { id: string }, { db }: NaiveContext) => {
      const item = await getItem(db, keys.user(id));
      return item ? userFromItem(item) : null;
    },
    users: (_p: unknown, { ids }: { ids: string[] }, { db }: NaiveContext) =>
      Promise.all(ids.map(async (id) => {
        const item = await getItem(db, keys.user(id));
        return item ? userFromItem(item) : null;
      })),
    product: async (_p: unknown, { id }: { id: string }, { db }: NaiveContext) => {
      const item = await getItem(db, keys.product(id));
      return item ? productFromItem(item) : null;
    },
    products: (_p: unknown, { ids }: { ids: string[] }, { db }: NaiveContext) =>
      Promise.all(ids.map(async (id) => {
        const item = await getItem(db, keys.product(id));
        return item ? productFromItem(item) : null;
      })),
    featuredProducts: async (_p: unknown, a: { first?: number | null; after?: string | null }, { db }: NaiveContext) => {
      const page = await indexPage(db, INDEXES.featured, FEATURED_PARTITION, a.first, a.after);
      return { edges: page.edges.map((e) => ({ cursor: e.cursor, node: productFromItem(e.item) })), pageInfo: page.pageInfo };
    },
    order: async (_p: unknown, { id }: { id: string }, { db }: NaiveContext) => {
      const item = await getItem(db, keys.order(id));
      return item ? orderFromItem(item) : null;
    },
    ordersByStatus: async (_p: unknown, a: { status: string; first?: number | null; after?: string | null }, { db }: NaiveContext) => {
      // The index is write-sharded: every shard has to be read, as the project does (the naive
      // variant differs in its nested fields, not here).
      const page = await queryShardedPage(db.doc, db.tableName, ACCESS_PATTERNS.ordersByStatus, a.status, db.layout.statusShards, { first: a.first ?? 20, after: a.after });
      return { edges: page.nodes.map((n) => ({ cursor: n.cursor, node: orderFromItem(n.item) })), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
    },
  },
  User: {
    addresses: async (user: { id: string }, _a: unknown, { db }: NaiveContext) =>
      (
        await queryAll(db, {
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
          ExpressionAttributeValues: { ':pk': keys.userPartition(user.id), ':sk': PREFIX.address },
        })
      ).map(addressFromItem),
    orders: async (user: { id: string }, a: { first?: number | null; after?: string | null }, { db }: NaiveContext) => {
      const page = await indexPage(db, INDEXES.userOrders, keys.userOrdersPartition(user.id), a.first, a.after, ORDER_ENTITY);
      return { edges: page.edges.map((e) => ({ cursor: e.cursor, node: orderFromItem(e.item) })), pageInfo: page.pageInfo };
    },
  },
  Order: {
    user: async (order: Order, _a: unknown, { db }: NaiveContext) => {
      const item = await getItem(db, keys.user(order.userId));
      return item ? userFromItem(item) : null;
    },
    items: async (order: Order, _a: unknown, { db }: NaiveContext) =>
      (
        await queryAll(db, {
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
          ExpressionAttributeValues: { ':pk': keys.orderPartition(order.id), ':sk': PREFIX.item },
        })
      ).map(orderLineFromItem),
  },
  OrderItem: {
    product: async (item: OrderLine, _a: unknown, { db }: NaiveContext) => {
      const found = await getItem(db, keys.product(item.productId));
      return found ? productFromItem(found) : null;
    },
  },
  Mutation: {
    /** Reads the user and each product with its own GetItem, then one transaction (as the project's). */
    placeOrder: async (
      _p: unknown,
      { input }: { input: { userId: string; lines: { productId: string; quantity: number }[] } },
      { db }: NaiveContext,
    ) => {
      const { userId, lines } = input;
      if (lines.length === 0) throw fail('BAD_USER_INPUT', 'lines must hold at least one line');
      const [userItem, ...productItems] = await Promise.all([
        getItem(db, keys.user(userId)),
        ...lines.map((l) => getItem(db, keys.product(l.productId))),
      ]);
      if (!userItem) throw fail('NOT_FOUND', `No user with id ${userId}`);
      const products = lines.map((l, i) => {
        const item = productItems[i];
        if (!item) throw fail('NOT_FOUND', `No product with id ${l.productId}`);
        const p = productFromItem(item);
        if (p.stock < l.quantity) throw fail('INSUFFICIENT_STOCK', `Product ${p.id} has ${p.stock} in stock`);
        return p;
      });
      // The same pure plan as the repository's: the bench compares access paths, not transactions.
      const { order, actions } = planOrder(db.tableName, { orderId: ulid(), now: new Date().toISOString(), userId, lines, products, statusShards: db.layout.statusShards });
      await db.doc.send(new TransactWriteCommand({ TransactItems: actions.map((a) => a.action), ClientRequestToken: randomUUID() }));
      return order;
    },
  },
};
