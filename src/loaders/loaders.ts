import DataLoader from 'dataloader';
import type { Address } from '../model/address.js';
import type { Order, OrderItem, OrderStatus } from '../model/order.js';
import type { Product } from '../model/product.js';
import type { User } from '../model/user.js';
import type { OrderPage } from '../repositories/order-repository.js';
import type { ProductPage } from '../repositories/product-repository.js';
import type { Repositories } from '../repositories/repositories.js';
import type { UserWithAddresses } from '../repositories/user-repository.js';

export interface PageKey {
  first: number;
  after?: string | null | undefined;
}

/**
 * Per-request loaders. Entity-by-id loaders collect every id asked for in one tick and read
 * them with BatchGetItem (100 keys per call). Loaders that read a partition also prime the
 * entity loaders with what they found, so a later resolver asking for the same user, order or
 * line costs no call at all.
 */
export function createLoaders(repos: Repositories) {
  const nullify = <T>(list: (T | undefined)[]) => list.map((x) => x ?? null);
  const pageKey = (k: object) => JSON.stringify(k);

  const userById = new DataLoader<string, User | null>(async (ids) => nullify(await repos.users.getUsers(ids)));
  const productById = new DataLoader<string, Product | null>(async (ids) => nullify(await repos.products.getProducts(ids)));
  const orderById = new DataLoader<string, Order | null>(async (ids) => nullify(await repos.orders.getOrders(ids)));

  const addressesByUser = new DataLoader<string, Address[]>((ids) =>
    Promise.all(ids.map((id) => repos.users.listAddresses(id))),
  );

  const userWithAddresses = new DataLoader<string, UserWithAddresses>((ids) =>
    Promise.all(
      ids.map(async (id) => {
        const found = await repos.users.getUserWithAddresses(id);
        userById.prime(id, found.user ?? null);
        addressesByUser.prime(id, found.addresses);
        return found;
      }),
    ),
  );

  const itemsByOrder = new DataLoader<string, OrderItem[]>((ids) =>
    Promise.all(
      ids.map(async (id) => {
        const found = await repos.orders.getOrderWithItems(id);
        orderById.prime(id, found?.order ?? null);
        return found?.items ?? [];
      }),
    ),
  );

  /** The order header and its lines in one Query; for `order(id) { items { ... } }`. */
  const orderWithItems = new DataLoader<string, Order | null>((ids) =>
    Promise.all(
      ids.map(async (id) => {
        const found = await repos.orders.getOrderWithItems(id);
        orderById.prime(id, found?.order ?? null);
        itemsByOrder.prime(id, found?.items ?? []);
        return found?.order ?? null;
      }),
    ),
  );

  // prime() keeps what is cached already: a mutation earlier in this request wrote fresher
  // values than an (eventually consistent) index read. Lines are primed only when complete.
  const primeOrderPage = (page: OrderPage) => {
    for (const { order } of page.nodes) {
      orderById.prime(order.id, order);
      const items = page.itemsByOrder?.get(order.id);
      if (items && items.length === order.itemCount) itemsByOrder.prime(order.id, items);
    }
    return page;
  };

  const userOrders = new DataLoader<PageKey & { userId: string }, OrderPage, string>(
    (reqs) => Promise.all(reqs.map(async (r) => primeOrderPage(await repos.orders.listUserOrders(r.userId, r.first, r.after)))),
    { cacheKeyFn: pageKey },
  );

  const ordersByStatus = new DataLoader<PageKey & { status: OrderStatus }, OrderPage, string>(
    (reqs) => Promise.all(reqs.map(async (r) => primeOrderPage(await repos.orders.listOrdersByStatus(r.status, r.first, r.after)))),
    { cacheKeyFn: pageKey },
  );

  const featuredProducts = new DataLoader<PageKey, ProductPage, string>(
    (reqs) =>
      Promise.all(
        reqs.map(async (r) => {
          const page = await repos.products.listFeatured(r.first, r.after);
          for (const { product } of page.nodes) productById.clear(product.id).prime(product.id, product);
          return page;
        }),
      ),
    { cacheKeyFn: pageKey },
  );

  return {
    userById,
    productById,
    orderById,
    addressesByUser,
    userWithAddresses,
    itemsByOrder,
    orderWithItems,
    userOrders,
    ordersByStatus,
    featuredProducts,
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
