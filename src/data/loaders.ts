import { BATCH_GET_MAX_KEYS } from '../db/batch-get.js';
import { MAX_KEY_VALUE_BYTES } from '../db/cursor.js';
import type { Address } from '../model/address.js';
import type { Order, OrderLine, OrderStatus } from '../model/order.js';
import type { Product } from '../model/product.js';
import type { User } from '../model/user.js';
import type { OrderPage } from '../repositories/order-repository.js';
import type { ProductPage } from '../repositories/product-repository.js';
import type { Repositories } from '../repositories/repositories.js';
import type { UserWithAddresses } from '../repositories/user-repository.js';
import { SettledLoader } from './settled-loader.js';

export interface PageKey {
  first: number;
  after?: string | null | undefined;
}

/** What a batch function gives DataLoader for a key whose own read failed: that key's Error. */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(`Read failed with a non-error value: ${String(e)}`);
}

/**
 * One read per key, each settled on its own: a key's failure (a bad cursor, a bad argument, a
 * malformed stored item, its partition being throttled) rejects that key's load only, never its
 * siblings' in the same batch (DataLoader rejects the loads whose result is an Error).
 */
function eachKey<K, V>(keys: readonly K[], read: (key: K) => Promise<V>): Promise<(V | Error)[]> {
  return Promise.all(
    keys.map(async (key) => {
      try {
        return await read(key);
      } catch (e) {
        return asError(e);
      }
    }),
  );
}


/**
 * Why an id cannot be read by key, or undefined. Arguments are validated at the edge, but ids
 * also come from stored items (an order's userId, a line's productId): one that DynamoDB would
 * refuse as a key would fail the whole BatchGetItem it is in, so it is refused on its own.
 */
function keyProblem(id: string): string | undefined {
  if (!id.isWellFormed()) return 'it is not well-formed Unicode';
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_KEY_VALUE_BYTES) return `it is ${bytes} bytes long; a key value holds at most ${MAX_KEY_VALUE_BYTES}`;
  return undefined;
}

/**
 * An entity-by-id loader: the ids of one tick are read with BatchGetItem, at most 100 per batch,
 * so each batch is one call and a failed call fails the ids it held, not those of other calls.
 * Ids that cannot be keys get their own Error and are not sent.
 */
function entityLoader<T>(entity: string, read: (ids: readonly string[]) => Promise<(T | Error | undefined)[]>) {
  return new SettledLoader<string, T | null>(
    async (ids) => {
      const results: (T | null | Error)[] = ids.map((id) => {
        const why = keyProblem(id);
        return why ? new Error(`${entity} id ${JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)} cannot be a DynamoDB key: ${why}`) : null;
      });
      const readable = ids.filter((_, i) => !(results[i] instanceof Error));
      if (readable.length === 0) return results;
      let found: (T | Error | undefined)[];
      try {
        found = await read(readable);
      } catch (e) {
        const shared = asError(e);
        return results.map((r) => (r instanceof Error ? r : shared));
      }
      let next = 0;
      return results.map((r) => (r instanceof Error ? r : (found[next++] ?? null)));
    },
    { maxBatchSize: BATCH_GET_MAX_KEYS },
  );
}

/**
 * A loader made on first use. What a read found for it before then (a profile read with its
 * addresses, the orders of a page) waits in a map and is primed when the loader is made: most
 * requests never ask the loaders those reads could prime, and making one is a DataLoader and a
 * promise per primed key. Waiting keys are compared as they are, so only loaders keyed by their
 * value (no `cacheKeyFn`) are primed through here.
 */
class LoaderSlot<K, V, C = K> {
  #loader: SettledLoader<K, V, C> | undefined;
  #primes: Map<K, V> | undefined;

  constructor(private readonly make: () => SettledLoader<K, V, C>) {}

  get loader(): SettledLoader<K, V, C> {
    if (!this.#loader) {
      this.#loader = this.make();
      if (this.#primes) for (const [key, value] of this.#primes) this.#loader.prime(key, value);
      this.#primes = undefined;
    }
    return this.#loader;
  }

  /** As DataLoader's prime (a key already cached, or waiting, keeps its value), without making the loader. */
  prime(key: K, value: V): void {
    if (this.#loader) this.#loader.prime(key, value);
    else if (!(this.#primes ??= new Map()).has(key)) this.#primes.set(key, value);
  }

  /** `value` for `key` in place of whatever is cached or waiting (DataLoader's clear, then prime). */
  replace(key: K, value: V): void {
    if (this.#loader) this.#loader.clear(key).prime(key, value);
    else (this.#primes ??= new Map()).set(key, value);
  }
}

/**
 * Per-request loaders. Entity-by-id loaders collect every id asked for in one tick and read
 * them with BatchGetItem (100 keys per call). Loaders that read a partition also prime the
 * entity loaders with what they found, so a later resolver asking for the same user, order or
 * line costs no call at all. Every batch function answers per key: one key's failure is that
 * key's error alone. Each loader is made when the request first uses it (most requests use a
 * few of them).
 */
export class Loaders {
  constructor(private readonly repos: Repositories) {}

  readonly #userById = new LoaderSlot(() => entityLoader<User>('user', (ids) => this.repos.users.getUsers(ids)));
  get userById() {
    return this.#userById.loader;
  }

  readonly #productById = new LoaderSlot(() => entityLoader<Product>('product', (ids) => this.repos.products.getProducts(ids)));
  get productById() {
    return this.#productById.loader;
  }

  readonly #orderById = new LoaderSlot(() => entityLoader<Order>('order', (ids) => this.repos.orders.getOrders(ids)));
  get orderById() {
    return this.#orderById.loader;
  }

  readonly #addressesByUser = new LoaderSlot(
    () => new SettledLoader<string, Address[]>((ids) => eachKey(ids, (id) => this.repos.users.listAddresses(id))),
  );
  get addressesByUser() {
    return this.#addressesByUser.loader;
  }

  readonly #userWithAddresses = new LoaderSlot(
    () =>
      new SettledLoader<string, UserWithAddresses>((ids) =>
        eachKey(ids, async (id) => {
          const found = await this.repos.users.getUserWithAddresses(id);
          this.#userById.prime(id, found.user ?? null);
          this.#addressesByUser.prime(id, found.addresses);
          return found;
        }),
      ),
  );
  get userWithAddresses() {
    return this.#userWithAddresses.loader;
  }

  readonly #itemsByOrder = new LoaderSlot(
    () =>
      new SettledLoader<string, OrderLine[]>((ids) =>
        eachKey(ids, async (id) => {
          const found = await this.repos.orders.getOrderWithItems(id);
          this.#orderById.prime(id, found?.order ?? null);
          return found?.items ?? [];
        }),
      ),
  );
  get itemsByOrder() {
    return this.#itemsByOrder.loader;
  }

  /** The order header and its lines in one Query; for `order(id) { items { ... } }`. */
  readonly #orderWithItems = new LoaderSlot(
    () =>
      new SettledLoader<string, Order | null>((ids) =>
        eachKey(ids, async (id) => {
          const found = await this.repos.orders.getOrderWithItems(id);
          this.#orderById.prime(id, found?.order ?? null);
          this.#itemsByOrder.prime(id, found?.items ?? []);
          return found?.order ?? null;
        }),
      ),
  );
  get orderWithItems() {
    return this.#orderWithItems.loader;
  }

  readonly #userOrders = new LoaderSlot(() =>
    this.orderPages<PageKey & { userId: string }>((r) => this.repos.orders.listUserOrders(r.userId, r.first, r.after)),
  );
  get userOrders() {
    return this.#userOrders.loader;
  }

  readonly #ordersByStatus = new LoaderSlot(() =>
    this.orderPages<PageKey & { status: OrderStatus }>((r) => this.repos.orders.listOrdersByStatus(r.status, r.first, r.after)),
  );
  get ordersByStatus() {
    return this.#ordersByStatus.loader;
  }

  readonly #featuredProducts = new LoaderSlot(
    () =>
      new SettledLoader<PageKey, ProductPage, string>(
        (reqs) =>
          eachKey(reqs, async (r) => {
            const page = await this.repos.products.listFeatured(r.first, r.after);
            for (const { node: product } of page.edges) this.#productById.replace(product.id, product);
            return page;
          }),
        { cacheKeyFn: pageKey },
      ),
  );
  get featuredProducts() {
    return this.#featuredProducts.loader;
  }

  /** Pages of orders, one read per page asked for; each page's orders and complete lines primed. */
  private orderPages<K extends PageKey>(read: (request: K) => Promise<OrderPage>) {
    return new SettledLoader<K, OrderPage, string>((reqs) => eachKey(reqs, async (r) => this.primeOrderPage(await read(r))), {
      cacheKeyFn: pageKey,
    });
  }

  // prime() keeps what is cached already: a mutation earlier in this request wrote fresher
  // values than an (eventually consistent) index read. Lines are primed only when complete.
  private primeOrderPage(page: OrderPage): OrderPage {
    for (const { node: order } of page.edges) {
      this.#orderById.prime(order.id, order);
      const items = page.itemsByOrder?.get(order.id);
      if (items && items.length === order.itemCount) this.#itemsByOrder.prime(order.id, items);
    }
    return page;
  }
}

const pageKey = (k: object) => JSON.stringify(k);

export function createLoaders(repos: Repositories): Loaders {
  return new Loaders(repos);
}
