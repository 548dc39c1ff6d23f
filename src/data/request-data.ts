import type { Address } from '../model/address.js';
import type { Connection } from '../model/connection.js';
import type { Order, OrderLine, OrderStatus } from '../model/order.js';
import type { Product } from '../model/product.js';
import type { User } from '../model/user.js';
import type { OrderLineInput } from '../repositories/order-repository.js';
import type { Repositories } from '../repositories/repositories.js';
import { createLoaders } from './loaders.js';

/** A validated page request: 1..100 nodes after an optional cursor. */
export interface PageArgs {
  first: number;
  after: string | null;
}

type UserInput = Parameters<Repositories['users']['createUser']>[0];
type UserChanges = Parameters<Repositories['users']['updateUser']>[1];
type AddressInput = Parameters<Repositories['users']['addAddress']>[1];
type ProductInput = Parameters<Repositories['products']['createProduct']>[0];
type ProductChanges = Parameters<Repositories['products']['updateProduct']>[1];

const ignore = () => undefined;

/**
 * The one road from a resolver to DynamoDB, fresh for every request. Reads go through the
 * request's loaders (batched, cached for the request); writes go through the repositories and
 * then put what they wrote into those caches, so a mutation's answer is read from what it
 * wrote and nothing stale is served later in the same request. Resolvers see only this: they
 * never touch a loader or a repository, so a new mutation cannot forget which caches it staled.
 *
 * Lists by id answer per id: an id whose read failed is an `Error` in its place, so one bad id
 * never fails its siblings.
 */
export function createRequestData(repos: Repositories) {
  const loaders = createLoaders(repos);

  const users = {
    /** With `withAddresses`, the profile and its addresses come from one Query on their partition. */
    get(id: string, opts: { withAddresses?: boolean } = {}): User | null | Promise<User | null> {
      return opts.withAddresses ? loaders.userWithAddresses.load(id).then((f) => f.user ?? null) : loaders.userById.now(id);
    },
    async getMany(ids: readonly string[], opts: { withAddresses?: boolean } = {}): Promise<(User | null | Error)[]> {
      if (!opts.withAddresses) return loaders.userById.loadMany(ids);
      return (await loaders.userWithAddresses.loadMany(ids)).map((f) => (f instanceof Error ? f : (f.user ?? null)));
    },
    addresses: (userId: string): Address[] | Promise<Address[]> => loaders.addressesByUser.now(userId),
    /**
     * A page of the user's orders, newest first, with every order's lines loaded alongside.
     * With `withProducts`, the lines' products are read too (one batch) before the page is
     * answered, so everything below it is answered in place.
     */
    orders(userId: string, page: PageArgs, opts: { withProducts?: boolean } = {}): Connection<Order> | Promise<Connection<Order>> {
      const connection = loaders.userOrders.now({ userId, ...page });
      return opts.withProducts ? afterLineProducts(connection) : connection;
    },
    /**
     * Starts reading a page of orders now (e.g. alongside the profile), so `orders()` with the same
     * page finds it loaded, one round trip earlier. A failure is kept for that `orders()` call,
     * which reports it at its own path.
     */
    prefetchOrders(userId: string, page: PageArgs): void {
      loaders.userOrders.load({ userId, ...page }).catch(ignore);
    },

    async create(input: UserInput): Promise<User> {
      const user = await repos.users.createUser(input);
      loaders.userById.prime(user.id, user);
      loaders.addressesByUser.prime(user.id, []);
      return user;
    },
    async update(id: string, changes: UserChanges): Promise<User> {
      const user = await repos.users.updateUser(id, changes);
      loaders.userById.clear(id).prime(id, user);
      return user;
    },
    async delete(id: string): Promise<string> {
      await repos.users.deleteUser(id);
      loaders.userById.clear(id).prime(id, null);
      loaders.addressesByUser.clear(id).prime(id, []);
      loaders.userWithAddresses.clear(id);
      return id;
    },
    async addAddress(userId: string, input: AddressInput): Promise<Address> {
      const address = await repos.users.addAddress(userId, input);
      loaders.addressesByUser.clear(userId);
      loaders.userWithAddresses.clear(userId);
      return address;
    },
    async removeAddress(userId: string, addressId: string): Promise<string> {
      await repos.users.removeAddress(userId, addressId);
      loaders.addressesByUser.clear(userId);
      loaders.userWithAddresses.clear(userId);
      return addressId;
    },
  };

  const products = {
    get: (id: string): Product | null | Promise<Product | null> => loaders.productById.now(id),
    getMany: (ids: readonly string[]): Promise<(Product | null | Error)[]> => loaders.productById.loadMany(ids),
    featured: (page: PageArgs): Promise<Connection<Product>> => loaders.featuredProducts.load(page),

    async create(input: ProductInput): Promise<Product> {
      const product = await repos.products.createProduct(input);
      loaders.productById.prime(product.id, product);
      return product;
    },
    async update(id: string, changes: ProductChanges): Promise<Product> {
      const product = await repos.products.updateProduct(id, changes);
      loaders.productById.clear(id).prime(id, product);
      return product;
    },
    async delete(id: string): Promise<string> {
      await repos.products.deleteProduct(id);
      loaders.productById.clear(id).prime(id, null);
      return id;
    },
  };

  /** The products `lines` name that are not loaded yet. */
  const productsToLoad = (lines: Iterable<OrderLine>): string[] => {
    const missing: string[] = [];
    for (const l of lines) if (!loaders.productById.peek(l.productId)) missing.push(l.productId);
    return missing;
  };

  /** `lines`, once the products they name are loaded if `wanted()` (asked only when some is not loaded yet). */
  const withProductsLoaded = (lines: OrderLine[], wanted: () => boolean): OrderLine[] | Promise<OrderLine[]> => {
    const missing = productsToLoad(lines);
    return missing.length === 0 || !wanted() ? lines : loaders.productById.loadMany(missing).then(() => lines);
  };

  /**
   * A page of orders once the products of the lines loaded with it are loaded too. The lines of
   * an order that did not come with the page (a page cut short, a malformed line) are asked for
   * at once, alongside those products, as each order's `items` would ask for them.
   */
  const afterLineProducts = async (connection: Connection<Order> | Promise<Connection<Order>>): Promise<Connection<Order>> => {
    const page = await connection;
    const lines: OrderLine[] = [];
    for (const { node } of page.edges) {
      const loaded = loaders.itemsByOrder.peek(node.id);
      if (loaded?.ok) lines.push(...loaded.value);
      else if (!loaded) loaders.itemsByOrder.load(node.id).catch(ignore);
    }
    const missing = productsToLoad(lines);
    if (missing.length) await loaders.productById.loadMany(missing);
    return page;
  };

  const orders = {
    /** With `withItems`, the header and its lines come from one Query on the order's partition. */
    get(id: string, opts: { withItems?: boolean } = {}): Promise<Order | null> {
      return opts.withItems ? loaders.orderWithItems.load(id) : loaders.orderById.load(id);
    },
    /**
     * An order's lines. When `withProducts()` says so, their products are read too (one batch
     * for every order asking in the same tick) before the lines are answered, so each line's
     * `product` is answered in place instead of each waiting on its own promise. It is asked
     * only when some of those products is not loaded yet (a page may have loaded them all).
     */
    items(orderId: string, opts: { withProducts?: () => boolean } = {}): OrderLine[] | Promise<OrderLine[]> {
      const lines = loaders.itemsByOrder.now(orderId);
      const wanted = opts.withProducts;
      if (!wanted) return lines;
      return lines instanceof Promise ? lines.then((l) => withProductsLoaded(l, wanted)) : withProductsLoaded(lines, wanted);
    },
    byStatus: (status: OrderStatus, page: PageArgs): Promise<Connection<Order>> => loaders.ordersByStatus.load({ status, ...page }),

    /** Places the order; its lines, the user's new count and the products' new stock are cached. */
    async place(input: { userId: string; lines: OrderLineInput[]; idempotencyKey?: string | null }): Promise<Order> {
      const placed = await repos.orders.placeOrder(input);
      loaders.orderById.clear(placed.order.id).prime(placed.order.id, placed.order);
      loaders.itemsByOrder.clear(placed.order.id).prime(placed.order.id, placed.items);
      for (const p of placed.products) loaders.productById.clear(p.id).prime(p.id, p);
      if (placed.user) loaders.userById.clear(placed.user.id).prime(placed.user.id, placed.user);
      return placed.order;
    },
    async updateStatus(id: string, status: OrderStatus): Promise<Order> {
      const order = await repos.orders.updateOrderStatus(id, status);
      loaders.orderById.clear(id).prime(id, order);
      return order;
    },
    /** With `owner`, an order of anyone else is NOT_FOUND (checked on the order read before the write). */
    async cancel(id: string, owner?: string): Promise<Order> {
      const { order, items } = await repos.orders.cancelOrder(id, owner);
      loaders.orderById.clear(id).prime(id, order);
      loaders.itemsByOrder.clear(id).prime(id, items);
      // Stock came back: products are read again if asked for.
      for (const i of items) loaders.productById.clear(i.productId);
      return order;
    },
  };

  return { users, products, orders };
}

export type RequestData = ReturnType<typeof createRequestData>;
