import { keys } from '../../src/db/keys.js';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Database } from '../../src/db/database.js';

type Item = Record<string, any>;

/** Every item of the table, read with strongly consistent Scans (bounded: stops after 1,000 pages). */
export async function scanTable(db: Database): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < 1000; page++) {
    const out = await db.doc.send(new ScanCommand({ TableName: db.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
    if (!start) return items;
  }
  throw new Error('scanTable: more than 1,000 pages');
}

export interface InvariantReport {
  orders: number;
  lines: number;
  byStatus: Record<string, number>;
  /** Stock as stored, per product id. */
  stock: Record<string, number>;
  /** Units in orders that are not CANCELLED, per product id. */
  ordered: Record<string, number>;
  /** Each broken rule, in words; empty when the table is consistent. */
  violations: string[];
}

/**
 * The rules that no fault may break, checked on the stored items:
 * 1. every order has all its lines (1..itemCount, totals adding up) and no line lacks its order;
 * 2. for each product: stock + units in orders that are not CANCELLED = initial stock;
 * 3. no stock is negative;
 * 4. every user's orderCount equals the orders stored for that user;
 * 5. every order's status index entry (GSI3PK) matches its status, in the order's own shard;
 * 6. every idempotency record points to an order that exists.
 */
export function checkInvariants(items: Item[], initialStock: Record<string, number>, statusShards: number): InvariantReport {
  const violations: string[] = [];
  const orders = new Map<string, Item>();
  const linesByOrder = new Map<string, Item[]>();
  const products = new Map<string, Item>();
  const users = new Map<string, Item>();
  const idempotency: Item[] = [];
  for (const i of items) {
    if (i.EntityType === 'Order') orders.set(i.id, i);
    else if (i.EntityType === 'OrderItem') linesByOrder.set(i.orderId, [...(linesByOrder.get(i.orderId) ?? []), i]);
    else if (i.EntityType === 'Product') products.set(i.id, i);
    else if (i.EntityType === 'User') users.set(i.id, i);
    else if (i.EntityType === 'IdempotencyRecord') idempotency.push(i);
  }

  const byStatus: Record<string, number> = {};
  const ordered: Record<string, number> = {};
  const ordersPerUser = new Map<string, number>();
  let lineCount = 0;
  for (const [id, o] of orders) {
    byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    ordersPerUser.set(o.userId, (ordersPerUser.get(o.userId) ?? 0) + 1);
    const lines = (linesByOrder.get(id) ?? []).sort((a, b) => a.line - b.line);
    lineCount += lines.length;
    const numbers = lines.map((l) => l.line).join(',');
    const expected = Array.from({ length: o.itemCount }, (_, k) => k + 1).join(',');
    if (numbers !== expected) violations.push(`order ${id}: itemCount ${o.itemCount} but lines [${numbers}]`);
    const total = lines.reduce((sum, l) => sum + l.lineTotalCents, 0);
    if (total !== o.totalCents) violations.push(`order ${id}: totalCents ${o.totalCents} but lines add up to ${total}`);
    const indexKey = keys.statusIndex(o.status as string, id, statusShards).GSI3PK;
    if (o.GSI3PK !== indexKey) violations.push(`order ${id}: status ${o.status} but GSI3PK ${o.GSI3PK}, not ${indexKey}`);
    if (o.status !== 'CANCELLED') {
      for (const l of lines) ordered[l.productId] = (ordered[l.productId] ?? 0) + l.quantity;
    }
  }
  for (const orderId of linesByOrder.keys()) {
    if (!orders.has(orderId)) violations.push(`lines without an order: ${orderId}`);
  }

  const stock: Record<string, number> = {};
  for (const [id, p] of products) {
    stock[id] = p.stock;
    if (p.stock < 0) violations.push(`product ${id}: negative stock ${p.stock}`);
  }
  for (const [id, initial] of Object.entries(initialStock)) {
    const now = stock[id];
    if (now === undefined) {
      violations.push(`product ${id}: missing`);
      continue;
    }
    const inOrders = ordered[id] ?? 0;
    if (now + inOrders !== initial) {
      violations.push(`product ${id}: stock ${now} + ordered ${inOrders} = ${now + inOrders}, initial stock ${initial}`);
    }
  }

  for (const [id, u] of users) {
    const count = (u.orderCount as number | undefined) ?? 0;
    const stored = ordersPerUser.get(id) ?? 0;
    if (count !== stored) violations.push(`user ${id}: orderCount ${count} but ${stored} orders stored`);
  }
  for (const userId of ordersPerUser.keys()) {
    if (!users.has(userId)) violations.push(`orders of a user that does not exist: ${userId}`);
  }
  for (const r of idempotency) {
    if (!orders.has(r.orderId)) violations.push(`idempotency record ${r.PK} points to a missing order ${r.orderId}`);
  }

  return { orders: orders.size, lines: lineCount, byStatus, stock, ordered, violations };
}
