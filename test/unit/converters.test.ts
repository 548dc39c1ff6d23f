import fc from 'fast-check';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Page } from '../../src/db/query-pages.js';
import { addressFromItem, addressToItem, type Address } from '../../src/model/address.js';
import { toConnection } from '../../src/model/connection.js';
import { GRAPHQL_INT_MAX, GRAPHQL_INT_MIN } from '../../src/model/int-range.js';
import { ORDER_STATUSES, orderFromItem, orderLineFromItem, orderLineToItem, orderToItem, type Order, type OrderLine } from '../../src/model/order.js';
import { productFromItem, productToItem, type Product } from '../../src/model/product.js';
import {
  convertSkippingMalformed,
  fastObjectReader,
  onMalformedStoredItem,
  readerKinds,
  storedNumber,
  StoredItemError,
  tryConvert,
  type AttributeProblem,
} from '../../src/model/stored-item.js';
import { userFromItem, userToItem, type User } from '../../src/model/user.js';
import { committedWritesPlugin } from '../../src/plugins/committed-writes.js';

type Item = Record<string, unknown>;

const stamp = '2026-01-01T00:00:00.000Z';
const user: User = { id: 'U1', email: 'a@example.com', name: 'Ada', orderCount: 3, addressCount: 1, createdAt: stamp, updatedAt: stamp };
const address: Address = {
  id: 'A1',
  userId: 'U1',
  label: 'home',
  street: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
  createdAt: stamp,
};
const product: Product = {
  id: 'P1',
  name: 'Widget',
  description: 'A widget',
  priceCents: 1999,
  stock: 7,
  featured: true,
  createdAt: stamp,
  updatedAt: stamp,
};
const order: Order = { id: 'O1', userId: 'U1', status: 'PAID', totalCents: 3998, itemCount: 1, createdAt: stamp, updatedAt: stamp };
const line: OrderLine = {
  id: 'O1-1',
  orderId: 'O1',
  line: 1,
  productId: 'P1',
  productName: 'Widget',
  unitPriceCents: 1999,
  quantity: 2,
  lineTotalCents: 3998,
};

/** Each converter with a well-formed item, the key its errors name, and its required attributes by kind. */
const converters = [
  {
    entity: 'User',
    fromItem: userFromItem,
    item: (): Item => ({ ...userToItem(user) }),
    key: 'USER#U1',
    strings: ['id', 'email', 'name', 'createdAt', 'updatedAt'],
    numbers: [],
  },
  {
    entity: 'Address',
    fromItem: addressFromItem,
    item: (): Item => addressToItem(address),
    key: 'USER#U1 ADDRESS#A1',
    strings: ['id', 'userId', 'street', 'city', 'postalCode', 'country', 'createdAt'],
    numbers: [],
  },
  {
    entity: 'Product',
    fromItem: productFromItem,
    item: (): Item => productToItem(product),
    key: 'PRODUCT#P1',
    strings: ['id', 'name', 'createdAt', 'updatedAt'],
    numbers: ['priceCents', 'stock'],
  },
  {
    entity: 'Order',
    fromItem: orderFromItem,
    item: (): Item => orderToItem(order, 8),
    key: 'ORDER#O1',
    strings: ['id', 'userId', 'createdAt', 'updatedAt'],
    numbers: ['totalCents', 'itemCount'],
  },
  {
    entity: 'OrderItem',
    fromItem: orderLineFromItem,
    item: (): Item => orderLineToItem('U1', line),
    key: 'ORDER#O1 ITEM#001',
    strings: ['id', 'orderId', 'productId', 'productName'],
    numbers: ['line', 'unitPriceCents', 'quantity', 'lineTotalCents'],
  },
];

const reported: StoredItemError[] = [];
beforeEach(() => {
  reported.length = 0;
  onMalformedStoredItem((e) => reported.push(e));
});

/** The StoredItemError that reading `item` throws. */
function malformed(fromItem: (item: Item) => unknown, item: Item): StoredItemError {
  try {
    fromItem(item);
  } catch (e) {
    if (e instanceof StoredItemError) return e;
    throw e;
  }
  throw new Error('expected a StoredItemError');
}

const without = (item: Item, attribute: string): Item => {
  const { [attribute]: _, ...rest } = item;
  return rest;
};

describe('the model converters', () => {
  it('read back exactly what they wrote', () => {
    expect(userFromItem({ ...userToItem(user) })).toEqual(user);
    expect(addressFromItem(addressToItem(address))).toEqual(address);
    expect(productFromItem(productToItem(product))).toEqual(product);
    expect(orderFromItem(orderToItem(order, 8))).toEqual(order);
    expect(orderLineFromItem(orderLineToItem('U1', line))).toEqual(line);
    expect(reported).toEqual([]);
  });

  it('read back every well-formed entity they wrote', () => {
    const text = fc.string({ maxLength: 20 });
    const int = fc.integer({ min: GRAPHQL_INT_MIN, max: GRAPHQL_INT_MAX });
    const id = fc.stringMatching(/^[0-9A-Z]{1,26}$/);
    const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
    const users = fc.record({ id, email: text, name: text, orderCount: int, addressCount: fc.nat(20), createdAt: text, updatedAt: text });
    const addresses = fc.record({ id, userId: id, label: nullable(text), street: text, city: text, postalCode: text, country: text, createdAt: text });
    const products = fc.record({
      id,
      name: text,
      description: nullable(text),
      priceCents: int,
      stock: int,
      featured: fc.boolean(),
      createdAt: text,
      updatedAt: text,
    });
    const orders = fc.record({
      id,
      userId: id,
      status: fc.constantFrom(...ORDER_STATUSES),
      totalCents: int,
      itemCount: int,
      createdAt: text,
      updatedAt: text,
    });
    const lines = fc.record({
      id,
      orderId: id,
      line: fc.integer({ min: 1, max: 999 }),
      productId: id,
      productName: text,
      unitPriceCents: int,
      quantity: int,
      lineTotalCents: int,
    });
    fc.assert(fc.property(users, (u) => {
      expect(userFromItem({ ...userToItem(u) })).toEqual(u);
    }));
    fc.assert(fc.property(addresses, (a) => {
      expect(addressFromItem(addressToItem(a))).toEqual(a);
    }));
    fc.assert(fc.property(products, (p) => {
      expect(productFromItem(productToItem(p))).toEqual(p);
    }));
    fc.assert(fc.property(orders, (o) => {
      expect(orderFromItem(orderToItem(o, 8))).toEqual(o);
    }));
    fc.assert(fc.property(id, lines, (userId, l) => {
      expect(orderLineFromItem(orderLineToItem(userId, l))).toEqual(l);
    }));
    expect(reported).toEqual([]);
  });

  it('give optional attributes their defaults when absent or null', () => {
    const bare = { id: 'U1', email: 'a@example.com', name: 'Ada', createdAt: stamp, updatedAt: stamp };
    expect(userFromItem(bare)).toMatchObject({ orderCount: 0, addressCount: 0 });
    expect(userFromItem({ ...bare, orderCount: null, addressCount: null })).toMatchObject({ orderCount: 0, addressCount: 0 });
    const p = without(without(without(productToItem(product), 'description'), 'featured'), 'GSI2PK');
    expect(productFromItem(p)).toMatchObject({ description: null, featured: false });
    expect(productFromItem({ ...p, description: null, featured: null })).toMatchObject({ description: null, featured: false });
    expect(addressFromItem(without(addressToItem(address), 'label')).label).toBeNull();
    expect(reported).toEqual([]);
  });

  it('read numbers the SDK gives as bigint (beyond 2^53) clamped, not as malformed', () => {
    expect(productFromItem({ ...productToItem(product), priceCents: 10n ** 20n }).priceCents).toBe(GRAPHQL_INT_MAX);
    expect(reported).toEqual([]);
  });

  describe.each(converters)('$entity', ({ entity, fromItem, item, key, strings, numbers }) => {
    it.each([...strings, ...numbers])('refuses an item without %s, naming it', (attribute) => {
      const e = malformed(fromItem, without(item(), attribute));
      const expected = strings.includes(attribute) ? 'a string' : 'a number';
      expect(e).toMatchObject({ entity, key, problems: [{ attribute, expected, got: 'nothing' }] });
      expect(e.message).toBe(`stored ${entity} ${key} is malformed: ${attribute}: expected ${expected}, got nothing`);
      expect(reported).toEqual([e]);
    });

    it.each(strings)('refuses an item whose %s is not a string', (attribute) => {
      const e = malformed(fromItem, { ...item(), [attribute]: 42 });
      expect(e.problems).toEqual([{ attribute, expected: 'a string', got: 'a number' }]);
    });

    it.each(numbers)('refuses an item whose %s is not a number', (attribute) => {
      const e = malformed(fromItem, { ...item(), [attribute]: '12' });
      expect(e.problems).toEqual([{ attribute, expected: 'a number', got: 'a string' }]);
    });
  });

  it('refuse an order whose status is not one of the statuses, showing the stored status', () => {
    const e = malformed(orderFromItem, { ...orderToItem(order, 8), status: 'REFUNDED' });
    expect(e.problems).toEqual([{ attribute: 'status', expected: `one of ${ORDER_STATUSES.join(', ')}`, got: '"REFUNDED"' }]);
    expect(malformed(orderFromItem, without(orderToItem(order, 8), 'status')).problems[0]).toMatchObject({ attribute: 'status', got: 'nothing' });
  });

  it('refuse an order line whose line number is not an integer', () => {
    expect(malformed(orderLineFromItem, { ...orderLineToItem('U1', line), line: 1.5 }).problems).toEqual([
      { attribute: 'line', expected: 'an integer', got: 'a number' },
    ]);
  });

  it('refuse optional attributes of the wrong type', () => {
    expect(malformed(productFromItem, { ...productToItem(product), featured: 'yes' }).problems).toEqual([
      { attribute: 'featured', expected: 'a boolean', got: 'a string' },
    ]);
    expect(malformed(productFromItem, { ...productToItem(product), description: ['a'] }).problems).toEqual([
      { attribute: 'description', expected: 'a string', got: 'a list' },
    ]);
    expect(malformed(addressFromItem, { ...addressToItem(address), label: new Set(['x']) }).problems).toEqual([
      { attribute: 'label', expected: 'a string', got: 'a set' },
    ]);
  });

  it('name every wrong attribute of an item at once, and report the item once', () => {
    const e = malformed(productFromItem, { ...without(productToItem(product), 'name'), stock: null, createdAt: 5 });
    expect(e.problems.map((p: AttributeProblem) => p.attribute)).toEqual(['name', 'stock', 'createdAt']);
    expect(e.message).toBe(
      'stored Product PRODUCT#P1 is malformed: name: expected a string, got nothing; stock: expected a number, got null; createdAt: expected a string, got a number',
    );
    expect(reported).toEqual([e]);
  });

  it('name an item without a table key by its id', () => {
    const { PK: _pk, SK: _sk, ...bare } = productToItem(product);
    expect(malformed(productFromItem, without(bare, 'name')).key).toBe('with id P1');
  });

  it('never show free text that was stored, only its type', () => {
    const e = malformed(userFromItem, { ...userToItem(user), name: { secret: 'hunter2' } });
    expect(e.message).not.toContain('hunter2');
  });
});

describe('reading lists and keyed items with malformed ones among them', () => {
  const good = productToItem(product);
  const bad = without(productToItem({ ...product, id: 'P2' }), 'name');

  it('tryConvert puts the error in the item place; other errors are thrown', () => {
    expect(tryConvert(good, productFromItem)).toEqual(product);
    expect(tryConvert(bad, productFromItem)).toBeInstanceOf(StoredItemError);
    expect(() => tryConvert(good, () => { throw new TypeError('a bug'); })).toThrow(TypeError);
  });

  it('convertSkippingMalformed leaves out malformed items only, keeping order', () => {
    const third = productToItem({ ...product, id: 'P3' });
    expect(convertSkippingMalformed([good, bad, third], productFromItem).map((p) => p.id)).toEqual(['P1', 'P3']);
    expect(reported.map((e) => e.key)).toEqual(['PRODUCT#P2']);
    expect(() => convertSkippingMalformed([good], () => { throw new TypeError('a bug'); })).toThrow(TypeError);
  });

  it('toConnection leaves a malformed node out and keeps the page position after it', () => {
    const page: Page = {
      nodes: [
        { item: good, cursor: 'c1' },
        { item: bad, cursor: 'c2' },
      ],
      items: [good, bad],
      hasNextPage: true,
      endCursor: 'c2',
    };
    expect(toConnection(page, productFromItem)).toEqual({
      edges: [{ cursor: 'c1', node: product }],
      pageInfo: { hasNextPage: true, endCursor: 'c2' },
    });
  });
});

describe('the server', () => {
  it('logs a malformed item as an error naming its entity, key and problems', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    await committedWritesPlugin(log).serverWillStart!({} as never);
    expect(() => orderFromItem({ ...orderToItem(order, 8), status: 'REFUNDED' })).toThrow(StoredItemError);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: `stored Order ORDER#O1 is malformed: status: expected one of ${ORDER_STATUSES.join(', ')}, got "REFUNDED"`,
        storedItem: { entity: 'Order', key: 'ORDER#O1', problems: [expect.objectContaining({ attribute: 'status' })] },
      }),
    ]);
  });
});

describe('fastObjectReader (the plain-check path in front of zod)', () => {
  // Every kind of attribute schema the models use, plus the combinations around them.
  const schema = z.object({
    text: z.string(),
    whole: z.int(),
    real: z.number(),
    amount: storedNumber,
    status: z.enum(ORDER_STATUSES),
    flag: z.boolean().nullish(),
    note: z.string().nullish(),
    count: z.number().nullish(),
    total: storedNumber.nullish(),
    maybe: z.string().optional(),
    orNull: z.int().nullable(),
  });
  const fast = fastObjectReader(schema)!;
  // Values of every type, including those zod refuses for a number (NaN, the infinities).
  const anyValue = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(...ORDER_STATUSES, 'toString', '__proto__'),
    fc.double(),
    fc.integer(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 53, 2 ** 53 - 1, 1.5),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constant([]),
    fc.constant({}),
  );
  const keys = Object.keys(schema.shape);
  const items = fc.dictionary(fc.constantFrom(...keys, 'PK', 'extra'), anyValue);
  const valid = fc.record({
    text: fc.string(),
    whole: fc.integer(),
    real: fc.double({ noNaN: true, noDefaultInfinity: true }),
    amount: fc.oneof(fc.integer(), fc.bigInt()),
    status: fc.constantFrom(...ORDER_STATUSES),
    flag: fc.option(fc.boolean(), { nil: null }),
    note: fc.option(fc.string(), { nil: undefined }),
    count: fc.option(fc.integer(), { nil: null }),
    total: fc.option(fc.bigInt(), { nil: undefined }),
    orNull: fc.option(fc.integer(), { nil: null }),
  }, { requiredKeys: ['text', 'whole', 'real', 'amount', 'status', 'orNull'] });

  // A valid item with one attribute replaced by any value, or taken away.
  const oneChanged = fc
    .tuple(valid, fc.constantFrom(...keys), fc.option(anyValue, { nil: 'absent' as const }))
    .map(([item, key, value]) => {
      const changed: Item = { ...item };
      if (value === 'absent') delete changed[key];
      else changed[key] = value;
      return changed;
    });

  it('answers exactly what zod answers for an item zod accepts, and nothing for one it refuses', () => {
    for (const arb of [items, valid, oneChanged]) {
      fc.assert(
        fc.property(arb, (item) => {
          const parsed = schema.safeParse(item);
          const read = fast(item);
          if (parsed.success) expect(read).toStrictEqual(parsed.data);
          else expect(read).toBeUndefined();
        }),
        { numRuns: 2000 },
      );
    }
  });

  it("is in front of zod for every model's stored items", () => {
    expect(Object.fromEntries(readerKinds)).toEqual({
      User: 'plain checks, then zod',
      Address: 'plain checks, then zod',
      Product: 'plain checks, then zod',
      Order: 'plain checks, then zod',
      OrderItem: 'plain checks, then zod',
    });
  });

  it('has no fast path for a schema with refinements, formats, coercion, transforms or defaults', () => {
    const others = [
      z.string().min(1),
      z.number().int(),
      z.coerce.number(),
      z.string().transform((s) => s.length),
      z.string().default('x'),
      z.literal('x'),
      // Kinds zod builds on the plain ones: a format, exact optionality, an exclusive union.
      z.email(),
      z.uuid(),
      z.int64(),
      z.float32(),
      z.string().exactOptional(),
      z.xor([z.string(), z.number()]),
    ];
    for (const field of others) {
      expect(fastObjectReader(z.object({ id: z.string(), field }))).toBeUndefined();
    }
    expect(fastObjectReader(z.strictObject({ id: z.string() }))).toBeUndefined();
    expect(fastObjectReader(z.object({ id: z.string() }).refine(() => false))).toBeUndefined();
  });
});
