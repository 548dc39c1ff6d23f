/**
 * What the harness knows about the seeded data (from the seed summary), and the theoretical
 * minimum of DynamoDB calls (and waves) for each operation of the suite, computed from it.
 * bench/README.md explains each formula.
 */
import { DEFAULT_STATUS_SHARDS } from '../../src/db/design.js';
import type { OrderStatus } from '../../src/model/order.js';
import type { SeededOrder, SeedSummary } from '../../scripts/seed/seed-data.js';
import { PAGE, type OperationName } from './operations.js';

/** BatchGetItem reads at most 100 keys per call. */
const batches = (n: number) => Math.ceil(n / 100);

export interface Minimum {
  calls: number;
  /** Fewest sequential waves that make those calls (independent calls in parallel). */
  waves: number;
}

export class Dataset {
  readonly ordersByUser = new Map<string, SeededOrder[]>();
  readonly ordersByStatus = new Map<OrderStatus, SeededOrder[]>();
  readonly orderById = new Map<string, SeededOrder>();

  constructor(
    readonly seed: SeedSummary,
    /** The bench table's status shards (src/db/design.ts). */
    readonly statusShards: number = DEFAULT_STATUS_SHARDS,
  ) {
    // ULIDs sort by creation time: descending id is the indexes' newest-first order.
    const desc = [...seed.orders].sort((a, b) => (a.id < b.id ? 1 : -1));
    for (const o of desc) {
      this.orderById.set(o.id, o);
      (this.ordersByUser.get(o.userId) ?? this.ordersByUser.set(o.userId, []).get(o.userId)!).push(o);
      (this.ordersByStatus.get(o.status) ?? this.ordersByStatus.set(o.status, []).get(o.status)!).push(o);
    }
  }

  get userIds(): string[] {
    return this.seed.users.map((u) => u.id);
  }

  minimum(op: OperationName, v: Record<string, any>): Minimum {
    switch (op) {
      case 'Ping':
        return { calls: 0, waves: 0 };
      case 'UserWithAddresses':
        // Profile and addresses share USER#<id>: one Query.
        return { calls: 1, waves: 1 };
      case 'UserOrders': {
        // Profile (BatchGet/GetItem) and GSI1 (orders with their lines) in parallel, then the
        // distinct products of those lines in BatchGets of 100.
        const orders = (this.ordersByUser.get(v.id) ?? []).slice(0, PAGE.userOrders);
        const products = new Set(orders.flatMap((o) => o.lines.map((l) => l.productId))).size;
        return { calls: 2 + batches(products), waves: products ? 2 : 1 };
      }
      case 'OrderWithItems': {
        // Header and lines share ORDER#<id>: one Query; then the products.
        const o = this.orderById.get(v.id);
        const products = new Set(o?.lines.map((l) => l.productId) ?? []).size;
        return { calls: 1 + batches(products), waves: products ? 2 : 1 };
      }
      case 'UsersWithOrderTotals': {
        // Profiles in BatchGets of 100, and one GSI1 Query per user (a partition each), all at once.
        const ids = new Set(v.ids as string[]).size;
        return { calls: batches(ids) + ids, waves: 1 };
      }
      case 'Products':
        return { calls: batches(new Set(v.ids as string[]).size), waves: 1 };
      case 'FeaturedProducts':
        // One Query on the sparse GSI2 (first + 1 items, far below 1 MB).
        return { calls: 1, waves: 1 };
      case 'OrdersByStatus': {
        // One Query per shard of GSI3 (all in one wave: which shards hold the page's orders is
        // not known before reading them), then the distinct users of the page in BatchGets of 100.
        const page = (this.ordersByStatus.get(v.status) ?? []).slice(0, PAGE.byStatus);
        const users = new Set(page.map((o) => o.userId)).size;
        return { calls: this.statusShards + batches(users), waves: users ? 2 : 1 };
      }
      case 'PlaceOrder':
        // One consistent BatchGet (user + products: prices and stock), one TransactWriteItems.
        return { calls: 1 + batches(1 + (v.input.lines as unknown[]).length) , waves: 2 };
    }
  }
}
