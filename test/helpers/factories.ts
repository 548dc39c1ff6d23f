import type { TestServer } from './server.js';

let n = 0;
const unique = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

export async function createUser(s: TestServer, overrides: { email?: string; name?: string } = {}): Promise<{ id: string; email: string }> {
  const r = await s.gql(`mutation($input: CreateUserInput!) { createUser(input: $input) { id email } }`, {
    input: { email: overrides.email ?? `user-${unique()}@example.com`, name: overrides.name ?? 'Test User' },
  });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!.createUser;
}

export async function createProduct(
  s: TestServer,
  overrides: { name?: string; priceCents?: number; stock?: number; featured?: boolean; description?: string } = {},
): Promise<{ id: string; name: string; priceCents: number; stock: number }> {
  const r = await s.gql(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id name priceCents stock featured } }`, {
    input: { name: overrides.name ?? `Product ${unique()}`, priceCents: 1000, stock: 100, ...overrides },
  });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!.createProduct;
}

export const PLACE_ORDER = `mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status totalCents itemCount createdAt user { id orderCount }
    items { id productId productName unitPriceCents quantity lineTotalCents product { id stock } } } }`;

export async function placeOrder(s: TestServer, userId: string, lines: { productId: string; quantity: number }[], idempotencyKey?: string) {
  return s.gql(PLACE_ORDER, { input: { userId, lines, ...(idempotencyKey ? { idempotencyKey } : {}) } });
}
