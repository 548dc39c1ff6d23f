import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CallCounter, countedDatabase } from '../../src/db/call-counter.js';
import type { Database } from '../../src/db/database.js';
import { AppError } from '../../src/errors.js';
import { ORDER_STATUSES, type OrderStatus } from '../../src/model/order.js';
import { createRepositories } from '../../src/repositories/repositories.js';

/**
 * Deterministic demo and benchmark data. The plan (names, emails, addresses, products, order
 * lines and final statuses) comes from a seeded PRNG and is fixed before any write, so the same
 * options always describe the same data set; ids and timestamps are assigned by the
 * repositories while writing (ULIDs, the time of the write).
 */

/** Written last; when present, seeding is skipped. */
export const SEED_MARKER_KEY = { PK: 'SEED#v1', SK: 'SEED' } as const;
export const SEED_MARKER_ENTITY = 'SeedMarker';

export interface SeedOptions {
  users: number;
  addressesPerUser: number;
  ordersPerUser: number;
  products: number;
  /** Lines per order, inclusive range (default 1..5). */
  linesPerOrder?: readonly [number, number];
  /** Share of products that are featured (default 0.2; the first product always is). */
  featuredRatio?: number;
  /** PRNG seed (default 20261124). */
  seed?: number;
  /** Writes in flight at once (default 16). */
  concurrency?: number;
  onProgress?: (p: SeedProgress) => void;
}

export type SeedPhase = 'products' | 'users' | 'orders' | 'done';

export interface SeedProgress {
  phase: SeedPhase;
  /** Entities of this phase finished (products, users with their addresses, orders with their status changes). */
  done: number;
  total: number;
}

// ---------------------------------------------------------------------------------------------
// PRNG and plan
// ---------------------------------------------------------------------------------------------

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  /** `count` distinct indexes from [0, n) (partial Fisher-Yates on a lazy map). */
  sampleIndexes(n: number, count: number): number[] {
    const k = Math.min(count, n);
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.next() * (n - i));
      const vj = swapped.get(j) ?? j;
      const vi = swapped.get(i) ?? i;
      swapped.set(j, vi);
      out.push(vj);
    }
    return out;
  }
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [v, w] of entries) {
      r -= w;
      if (r < 0) return v;
    }
    return entries.at(-1)![0];
  }
}

const FIRST_NAMES = [
  'Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Dennis', 'Ken', 'Frances',
  'John', 'Radia', 'Tim', 'Sophie', 'Linus', 'Katherine', 'Niklaus', 'Hedy', 'Guido', 'Shafi',
  'Leslie', 'Anita', 'Bjarne', 'Joan', 'James', 'Mary', 'Robert', 'Fatima', 'Carlos', 'Mei',
  'Hiro', 'Amara', 'Lars', 'Ingrid', 'Mateo', 'Priya', 'Omar', 'Yuki', 'Elena', 'Kofi',
] as const;

const LAST_NAMES = [
  'Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Ritchie', 'Thompson',
  'Allen', 'McCarthy', 'Perlman', 'Berners-Lee', 'Wilson', 'Torvalds', 'Johnson', 'Wirth', 'Lamarr',
  'van Rossum', 'Goldwasser', 'Lamport', 'Borg', 'Stroustrup', 'Clarke', 'Gosling', 'Kenneth',
  'Tarjan', 'Haddad', 'Mendes', 'Chen', 'Tanaka', 'Okafor', 'Nielsen', 'Larsen', 'Garcia', 'Patel',
  'Rahman', 'Sato', 'Rossi', 'Mensah',
] as const;

const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'] as const;

const STREET_NAMES = [
  'Maple', 'Oak', 'Cedar', 'Elm', 'Willow', 'Birch', 'Harbor', 'Mill', 'Church', 'High', 'Station',
  'Park', 'River', 'Hill', 'Lake', 'Meadow', 'Orchard', 'King', 'Queen', 'Market',
] as const;
const STREET_TYPES = ['Street', 'Avenue', 'Road', 'Lane', 'Way', 'Boulevard', 'Drive', 'Place'] as const;

/** City, country and a postal code pattern (# = digit, @ = letter). */
const CITIES = [
  ['Lisbon', 'Portugal', '####-###'],
  ['Berlin', 'Germany', '#####'],
  ['Paris', 'France', '#####'],
  ['Madrid', 'Spain', '#####'],
  ['Amsterdam', 'Netherlands', '#### @@'],
  ['Dublin', 'Ireland', 'D## @###'],
  ['London', 'United Kingdom', '@@# #@@'],
  ['Toronto', 'Canada', '@#@ #@#'],
  ['Seattle', 'United States', '981##'],
  ['Austin', 'United States', '787##'],
  ['Sydney', 'Australia', '2###'],
  ['Tokyo', 'Japan', '1##-####'],
  ['Stockholm', 'Sweden', '1## ##'],
  ['Milan', 'Italy', '201##'],
  ['Vienna', 'Austria', '1###'],
] as const;

const ADDRESS_LABELS = ['Home', 'Work', 'Parents', 'Holiday home', null] as const;

const ADJECTIVES = [
  'Ergonomic', 'Compact', 'Rustic', 'Sleek', 'Handmade', 'Classic', 'Modern', 'Portable', 'Durable',
  'Lightweight', 'Premium', 'Vintage', 'Minimal', 'Smart', 'Cozy', 'Rugged', 'Elegant', 'Everyday',
] as const;
const MATERIALS = [
  'Oak', 'Walnut', 'Bamboo', 'Steel', 'Aluminium', 'Copper', 'Ceramic', 'Glass', 'Leather', 'Wool',
  'Linen', 'Cotton', 'Marble', 'Granite', 'Cork',
] as const;
/** Noun and a price range in whole currency units. */
const NOUNS = [
  ['Desk Lamp', 25, 180],
  ['Chair', 60, 450],
  ['Coffee Mug', 8, 35],
  ['Backpack', 40, 220],
  ['Notebook', 5, 30],
  ['Water Bottle', 12, 45],
  ['Keyboard', 35, 250],
  ['Headphones', 45, 400],
  ['Cutting Board', 15, 90],
  ['Plant Pot', 10, 70],
  ['Wall Clock', 20, 160],
  ['Throw Blanket', 30, 200],
  ['Pen Set', 10, 80],
  ['Bookshelf', 90, 600],
  ['Tea Kettle', 25, 140],
  ['Wallet', 20, 150],
  ['Sunglasses', 30, 260],
  ['Candle', 8, 40],
  ['Picture Frame', 10, 75],
  ['Side Table', 70, 380],
] as const;

export interface ProductSpec {
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  featured: boolean;
}

export interface AddressSpec {
  label: string | null;
  street: string;
  city: string;
  postalCode: string;
  country: string;
}

export interface OrderSpec {
  /** Distinct product indexes with quantities. */
  lines: { productIndex: number; quantity: number }[];
  status: OrderStatus;
  /** For CANCELLED: the status the order was cancelled from. */
  cancelledFrom?: 'PENDING' | 'PAID';
}

export interface UserSpec {
  name: string;
  email: string;
  addresses: AddressSpec[];
  orders: OrderSpec[];
}

export interface SeedPlan {
  products: ProductSpec[];
  users: UserSpec[];
}

const STATUS_WEIGHTS: readonly (readonly [OrderStatus, number])[] = [
  ['PENDING', 0.15],
  ['PAID', 0.15],
  ['SHIPPED', 0.2],
  ['DELIVERED', 0.35],
  ['CANCELLED', 0.15],
];

function postalCode(rng: Rng, pattern: string): string {
  return pattern.replace(/[#@]/g, (c) => (c === '#' ? String(rng.int(0, 9)) : String.fromCharCode(65 + rng.int(0, 25))));
}

function validateOptions(o: SeedOptions): void {
  const checks: [string, number, number, number][] = [
    ['users', o.users, 0, 100_000],
    ['addressesPerUser', o.addressesPerUser, 0, 20],
    ['ordersPerUser', o.ordersPerUser, 0, 10_000],
    ['products', o.products, 0, 100_000],
  ];
  for (const [name, v, min, max] of checks) {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be a whole number from ${min} to ${max}; got ${v}`);
  }
  const [lo, hi] = o.linesPerOrder ?? [1, 5];
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo || hi > 48) {
    throw new RangeError(`linesPerOrder must be a range within 1..48; got ${lo}..${hi}`);
  }
  if (o.ordersPerUser > 0 && o.users > 0 && o.products < hi) {
    throw new RangeError(`products must be at least ${hi} (the most lines per order, each on a distinct product)`);
  }
}

/** Pure: the same options (and seed) give the same plan. */
export function generateSeedPlan(opts: SeedOptions): SeedPlan {
  validateOptions(opts);
  const rng = new Rng(opts.seed ?? 20261124);
  const featuredRatio = opts.featuredRatio ?? 0.2;
  const [minLines, maxLines] = opts.linesPerOrder ?? [1, 5];

  const products: ProductSpec[] = [];
  const names = new Set<string>();
  for (let i = 0; i < opts.products; i++) {
    const [noun, lo, hi] = rng.pick(NOUNS);
    let name = '';
    for (let attempt = 0; attempt < 10 && (!name || names.has(name)); attempt++) {
      name = `${rng.pick(ADJECTIVES)} ${rng.pick(MATERIALS)} ${noun}`;
    }
    if (names.has(name)) name = `${name} No. ${i + 1}`;
    names.add(name);
    const material = name.split(' ')[1]!.toLowerCase();
    products.push({
      name,
      description: `A ${name.toLowerCase()} made with ${material}. Ships in ${rng.int(1, 5)} business days.`,
      // Prices end in .99 or .49, like real shelves.
      priceCents: rng.int(lo, hi) * 100 - rng.pick([1, 51]),
      // Plenty: placeOrder during seeding (and benchmarks) must never run out.
      stock: 10_000 + rng.int(0, 5_000),
      featured: i === 0 || rng.float() < featuredRatio,
    });
  }

  const users: UserSpec[] = [];
  let orderNo = 0;
  for (let u = 0; u < opts.users; u++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const local = `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '');
    // The index keeps emails unique however the names repeat.
    const email = `${local}.${u + 1}@${rng.pick(EMAIL_DOMAINS)}`;
    const addresses: AddressSpec[] = [];
    for (let a = 0; a < opts.addressesPerUser; a++) {
      const [city, country, pattern] = rng.pick(CITIES);
      addresses.push({
        label: a === 0 ? 'Home' : rng.pick(ADDRESS_LABELS),
        street: `${rng.int(1, 250)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_TYPES)}`,
        city,
        postalCode: postalCode(rng, pattern),
        country,
      });
    }
    const orders: OrderSpec[] = [];
    for (let o = 0; o < opts.ordersPerUser; o++) {
      const lineCount = rng.int(minLines, maxLines);
      const lines = rng.sampleIndexes(opts.products, lineCount).map((productIndex) => ({ productIndex, quantity: rng.int(1, 3) }));
      // The first five orders take every status once, so even a tiny seed has them all.
      const status = orderNo < ORDER_STATUSES.length ? ORDER_STATUSES[orderNo]! : rng.weighted(STATUS_WEIGHTS);
      const cancelledFrom = status === 'CANCELLED' ? rng.pick(['PENDING', 'PAID'] as const) : undefined;
      orders.push({ lines, status, ...(cancelledFrom ? { cancelledFrom } : {}) });
      orderNo++;
    }
    users.push({ name: `${first} ${last}`, email, addresses, orders });
  }
  return { products, users };
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

export interface SeedCounts {
  products: number;
  featuredProducts: number;
  users: number;
  addresses: number;
  orders: number;
  orderLines: number;
  ordersByStatus: Record<OrderStatus, number>;
}

export interface SeededOrder {
  id: string;
  userId: string;
  status: OrderStatus;
  totalCents: number;
  lines: { productId: string; quantity: number; unitPriceCents: number }[];
}

export interface SeededUser {
  id: string;
  email: string;
  name: string;
  addressIds: string[];
  /** Ids of this user's orders in the order they were placed (oldest first). */
  orderIds: string[];
}

export interface SeedSummary {
  /** True when the marker was found and nothing was written. */
  skipped: boolean;
  /** When the data set was written (from the marker when skipped). */
  seededAt: string;
  durationMs: number;
  /** DynamoDB requests this call made. */
  dynamodbCalls: number;
  counts: SeedCounts;
  /** Empty when skipped (the marker keeps counts, not ids). */
  productIds: string[];
  featuredProductIds: string[];
  users: SeededUser[];
  orders: SeededOrder[];
}

/** Runs `fn` over `items` with at most `limit` promises in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function emptyStatusCounts(): Record<OrderStatus, number> {
  return Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
}

/**
 * Writes the plan through the repositories (so every invariant the API keeps holds: email
 * reservations, address and order counters, stock, status index), with bounded concurrency.
 * Skips when the marker item exists; writes the marker last, so an interrupted run is not
 * mistaken for a finished one.
 */
export async function seedDatabase(db: Database, opts: SeedOptions): Promise<SeedSummary> {
  const counter = new CallCounter();
  return seedCounted(countedDatabase(db, counter), opts, counter);
}

async function seedCounted(db: Database, opts: SeedOptions, counter: CallCounter): Promise<SeedSummary> {
  const started = Date.now();
  const marker = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: SEED_MARKER_KEY, ConsistentRead: true }));
  if (marker.Item) {
    opts.onProgress?.({ phase: 'done', done: 0, total: 0 });
    return {
      skipped: true,
      seededAt: marker.Item.seededAt as string,
      durationMs: Date.now() - started,
      dynamodbCalls: counter.calls,
      counts: marker.Item.counts as SeedCounts,
      productIds: [],
      featuredProductIds: [],
      users: [],
      orders: [],
    };
  }

  const plan = generateSeedPlan(opts);
  const repos = createRepositories(db);
  const limit = opts.concurrency ?? 16;
  const progress = (phase: SeedPhase, total: number) => {
    let done = 0;
    opts.onProgress?.({ phase, done, total });
    return () => opts.onProgress?.({ phase, done: ++done, total });
  };

  // Products first: orders need them.
  let tick = progress('products', plan.products.length);
  const products = await mapLimit(plan.products, limit, async (spec) => {
    const p = await repos.products.createProduct(spec);
    tick();
    return p;
  });

  // Users with their addresses (one user's addresses one after another: they update its counter).
  tick = progress('users', plan.users.length);
  const users = await mapLimit(plan.users, limit, async (spec): Promise<SeededUser> => {
    let user;
    try {
      user = await repos.users.createUser({ email: spec.email, name: spec.name });
    } catch (e) {
      if (e instanceof AppError && e.code === 'CONFLICT') {
        throw new Error(
          `Seeding found ${spec.email} already taken but no seed marker: an earlier seed was interrupted. ` +
            'Start from an empty table (delete the table or the DATA_DIR) and seed again.',
          { cause: e },
        );
      }
      throw e;
    }
    const addressIds: string[] = [];
    for (const a of spec.addresses) addressIds.push((await repos.users.addAddress(user.id, a)).id);
    tick();
    return { id: user.id, email: user.email, name: user.name, addressIds, orderIds: [] };
  });

  // Orders: each user's orders in sequence (they bump its orderCount), users in parallel.
  const totalOrders = plan.users.reduce((s, u) => s + u.orders.length, 0);
  tick = progress('orders', totalOrders);
  const perUser = await mapLimit(plan.users, limit, async (spec, u) => {
    const userId = users[u]!.id;
    const placed: SeededOrder[] = [];
    for (const o of spec.orders) {
      const { order, items } = await repos.orders.placeOrder({
        userId,
        lines: o.lines.map((l) => ({ productId: products[l.productIndex]!.id, quantity: l.quantity })),
      });
      const path: OrderStatus[] =
        o.status === 'CANCELLED'
          ? o.cancelledFrom === 'PAID'
            ? ['PAID']
            : []
          : (['PAID', 'SHIPPED', 'DELIVERED'] as const).slice(0, ['PENDING', 'PAID', 'SHIPPED', 'DELIVERED'].indexOf(o.status));
      for (const s of path) await repos.orders.updateOrderStatus(order.id, s);
      if (o.status === 'CANCELLED') await repos.orders.cancelOrder(order.id);
      placed.push({
        id: order.id,
        userId,
        status: o.status,
        totalCents: order.totalCents,
        lines: items.map((i) => ({ productId: i.productId, quantity: i.quantity, unitPriceCents: i.unitPriceCents })),
      });
      tick();
    }
    users[u]!.orderIds = placed.map((p) => p.id);
    return placed;
  });
  const orders = perUser.flat();

  const ordersByStatus = emptyStatusCounts();
  for (const o of orders) ordersByStatus[o.status]++;
  const featuredProductIds = products.filter((p) => p.featured).map((p) => p.id);
  const counts: SeedCounts = {
    products: products.length,
    featuredProducts: featuredProductIds.length,
    users: users.length,
    addresses: users.reduce((s, u) => s + u.addressIds.length, 0),
    orders: orders.length,
    orderLines: orders.reduce((s, o) => s + o.lines.length, 0),
    ordersByStatus,
  };
  const seededAt = new Date().toISOString();
  await db.doc.send(
    new PutCommand({
      TableName: db.tableName,
      Item: {
        ...SEED_MARKER_KEY,
        EntityType: SEED_MARKER_ENTITY,
        seededAt,
        seed: opts.seed ?? 20261124,
        options: {
          users: opts.users,
          addressesPerUser: opts.addressesPerUser,
          ordersPerUser: opts.ordersPerUser,
          products: opts.products,
          linesPerOrder: [...(opts.linesPerOrder ?? [1, 5])],
        },
        counts,
      },
    }),
  );
  opts.onProgress?.({ phase: 'done', done: 1, total: 1 });
  return {
    skipped: false,
    seededAt,
    durationMs: Date.now() - started,
    dynamodbCalls: counter.calls,
    counts,
    productIds: products.map((p) => p.id),
    featuredProductIds,
    users,
    orders,
  };
}
