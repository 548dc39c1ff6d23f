import { describe, expect, it } from 'vitest';
import { badInput } from '../../src/errors.js';
import { createLoaders, type Loaders } from '../../src/data/loaders.js';
import type { Address } from '../../src/model/address.js';
import type { Order, OrderLine } from '../../src/model/order.js';
import type { Product } from '../../src/model/product.js';
import type { User } from '../../src/model/user.js';
import type { OrderPage } from '../../src/repositories/order-repository.js';
import type { ProductPage } from '../../src/repositories/product-repository.js';
import type { Repositories } from '../../src/repositories/repositories.js';

/**
 * In the style of graphql/dataloader's own tests: a recording fake at the repository boundary.
 * Every method records the keys it was called with. Ids starting with `missing` are not stored;
 * the id `poison` makes the whole call it is in fail (as a failed DynamoDB call would); a cursor
 * `garbage` and the id `bad` are one key's own problem and fail that key's own read only.
 */
const stamp = '2026-01-01T00:00:00.000Z';
const user = (id: string): User => ({ id, email: `${id}@example.com`, name: id, orderCount: 0, addressCount: 0, createdAt: stamp, updatedAt: stamp });
const product = (id: string): Product => ({ id, name: id, description: null, priceCents: 1, stock: 1, featured: true, createdAt: stamp, updatedAt: stamp });
const order = (id: string): Order => ({ id, userId: 'u', status: 'PENDING', totalCents: 1, itemCount: 1, createdAt: stamp, updatedAt: stamp });
const line = (orderId: string): OrderLine => ({
  id: `${orderId}-1`,
  orderId,
  line: 1,
  productId: 'p',
  productName: 'p',
  unitPriceCents: 1,
  quantity: 1,
  lineTotalCents: 1,
});
const address = (userId: string): Address => ({
  id: `${userId}-a`,
  userId,
  label: null,
  street: 's',
  city: 'c',
  postalCode: 'p',
  country: 'x',
  createdAt: stamp,
});
const orderPage = (id: string): OrderPage => ({ edges: [{ node: order(id), cursor: `c-${id}` }], pageInfo: { hasNextPage: false, endCursor: `c-${id}` } });
const productPage = (id: string): ProductPage => ({ edges: [{ node: product(id), cursor: `c-${id}` }], pageInfo: { hasNextPage: false, endCursor: `c-${id}` } });

function recordingRepositories() {
  const calls: { method: string; args: unknown[] }[] = [];
  const badCursor = () => badInput('Invalid cursor: it does not decode', { argument: 'after' });
  const ownProblem = (id: string) => new Error(`read of ${id} failed`);
  const entities =
    <T>(method: string, make: (id: string) => T) =>
    async (ids: readonly string[]) => {
      calls.push({ method, args: [[...ids]] });
      if (ids.includes('poison')) throw new Error(`${method} call failed`);
      return ids.map((id) => (id.startsWith('missing') ? undefined : make(id)));
    };
  const perKey =
    <T>(method: string, make: (...args: any[]) => T) =>
    async (...args: any[]) => {
      calls.push({ method, args });
      if (args.includes('garbage')) throw badCursor();
      if (args.includes('bad')) throw ownProblem(String(args[0]));
      return make(...args);
    };
  const repos = {
    users: {
      getUsers: entities('getUsers', user),
      listAddresses: perKey('listAddresses', (id: string) => [address(id)]),
      getUserWithAddresses: perKey('getUserWithAddresses', (id: string) => ({ user: user(id), addresses: [address(id)] })),
    },
    products: {
      getProducts: entities('getProducts', product),
      listFeatured: perKey('listFeatured', (first: number, after: string | null) => productPage(`p${first}-${after}`)),
    },
    orders: {
      getOrders: entities('getOrders', order),
      getOrderWithItems: perKey('getOrderWithItems', (id: string) => ({ order: order(id), items: [line(id)] })),
      listUserOrders: perKey('listUserOrders', (userId: string) => orderPage(`o-${userId}`)),
      listOrdersByStatus: perKey('listOrdersByStatus', (status: string, first: number) => orderPage(`o-${status}-${first}`)),
    },
  };
  return { repos: repos as unknown as Repositories, calls };
}

/** Settles each promise: the value, or the error's message. */
const settle = (promises: Promise<unknown>[]) =>
  Promise.all(promises.map((p) => p.then((value) => ({ value }), (e: Error) => ({ error: e.message }))));

describe('entity loaders', () => {
  it('read every id asked for in one tick with one repository call, null where nothing is stored', async () => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    const [a, missing, b, again] = await Promise.all([
      loaders.userById.load('a'),
      loaders.userById.load('missing-1'),
      loaders.userById.load('b'),
      loaders.userById.load('a'),
    ]);
    expect([a?.id, missing, b?.id, again?.id]).toEqual(['a', null, 'b', 'a']);
    expect(calls).toEqual([{ method: 'getUsers', args: [['a', 'missing-1', 'b']] }]);
  });

  it('send at most 100 ids per repository call, so a failed call fails only the ids it held', async () => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    const ids = [...Array.from({ length: 100 }, (_, i) => `p${i}`), 'poison'];
    const found = await loaders.productById.loadMany(ids);
    expect(calls.map((c) => (c.args[0] as string[]).length)).toEqual([100, 1]);
    expect(found.slice(0, 100).map((p) => (p as Product).id)).toEqual(ids.slice(0, 100));
    expect(found[100]).toBeInstanceOf(Error);
    expect((found[100] as Error).message).toBe('getProducts call failed');
  });

  it.each([
    ['longer than a DynamoDB key may be', 'x'.repeat(1100)],
    ['not well-formed UTF-16', 'a\ud800'],
  ])('refuse an id %s on its own and read its siblings without it', async (_name, bad) => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    const [good, refused] = await settle([loaders.orderById.load('o1'), loaders.orderById.load(bad)]);
    expect(good).toEqual({ value: order('o1') });
    expect(refused).toEqual({ error: expect.stringMatching(/order id .* cannot be a DynamoDB key/) });
    expect(calls).toEqual([{ method: 'getOrders', args: [['o1']] }]);
  });
});

type PartitionCase = [name: string, load: (l: Loaders, bad: boolean) => Promise<unknown>, method: string];

const partitionLoaders: PartitionCase[] = [
  ['userOrders', (l, bad) => l.userOrders.load({ userId: bad ? 'u1' : 'u2', first: 5, after: bad ? 'garbage' : null }), 'listUserOrders'],
  ['ordersByStatus', (l, bad) => l.ordersByStatus.load({ status: 'PAID', first: bad ? 5 : 6, after: bad ? 'garbage' : null }), 'listOrdersByStatus'],
  ['featuredProducts', (l, bad) => l.featuredProducts.load({ first: 5, after: bad ? 'garbage' : null }), 'listFeatured'],
  ['addressesByUser', (l, bad) => l.addressesByUser.load(bad ? 'bad' : 'u2'), 'listAddresses'],
  ['userWithAddresses', (l, bad) => l.userWithAddresses.load(bad ? 'bad' : 'u2'), 'getUserWithAddresses'],
  ['itemsByOrder', (l, bad) => l.itemsByOrder.load(bad ? 'bad' : 'o2'), 'getOrderWithItems'],
  ['orderWithItems', (l, bad) => l.orderWithItems.load(bad ? 'bad' : 'o2'), 'getOrderWithItems'],
];

describe('partition loaders', () => {
  it.each(partitionLoaders)('%s reads both keys of one tick and keeps a failing key’s error with that key', async (_name, load, method) => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    const [failed, sibling] = await settle([load(loaders, true), load(loaders, false)]);
    expect(failed).toEqual({ error: expect.stringMatching(/Invalid cursor|read of bad failed/) });
    expect(sibling).toHaveProperty('value');
    expect(sibling).not.toHaveProperty('error');
    expect(calls.map((c) => c.method)).toEqual([method, method]);
  });

  it('keeps the BAD_USER_INPUT error of a bad cursor as it is, for its own key', async () => {
    const { repos } = recordingRepositories();
    const loaders = createLoaders(repos);
    const bad = loaders.userOrders.load({ userId: 'u1', first: 5, after: 'garbage' });
    const good = loaders.userOrders.load({ userId: 'u2', first: 5, after: null });
    await expect(bad).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { argument: 'after' } });
    await expect(good).resolves.toMatchObject({ edges: [{ node: { id: 'o-u2' } }] });
  });

  it('turns a thrown non-Error into an Error for that key only', async () => {
    const { repos } = recordingRepositories();
    const throwsString = async (id: string) => {
      if (id === 'bad') throw 'not an error object';
      return [address(id)];
    };
    (repos.users as unknown as { listAddresses: typeof throwsString }).listAddresses = throwsString;
    const loaders = createLoaders(repos);
    const [failed, sibling] = await settle([loaders.addressesByUser.load('bad'), loaders.addressesByUser.load('u2')]);
    expect(failed).toEqual({ error: expect.stringContaining('not an error object') });
    expect(sibling).toEqual({ value: [address('u2')] });
  });

  it('primes the entity loaders from the keys that were read, and nothing from a key that failed', async () => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    await settle([loaders.userWithAddresses.load('bad'), loaders.userWithAddresses.load('u2')]);
    calls.length = 0;
    expect(await loaders.userById.load('u2')).toEqual(user('u2'));
    expect(await loaders.addressesByUser.load('u2')).toEqual([address('u2')]);
    expect(calls).toEqual([]);
    await loaders.userById.load('bad');
    expect(calls).toEqual([{ method: 'getUsers', args: [['bad']] }]);
  });

  it('answers what a partition read primed in place, whenever its loader is first asked', async () => {
    const { repos, calls } = recordingRepositories();
    const loaders = createLoaders(repos);
    await loaders.userWithAddresses.load('u2');
    await loaders.itemsByOrder.load('o1');
    calls.length = 0;
    // Plain values, not promises: the primes were waiting for these loaders to be made.
    expect(loaders.userById.now('u2')).toEqual(user('u2'));
    expect(loaders.addressesByUser.now('u2')).toEqual([address('u2')]);
    expect(loaders.orderById.now('o1')).toEqual(order('o1'));
    expect(calls).toEqual([]);
  });
});
