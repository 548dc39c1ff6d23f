import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const CREATE = `mutation($input: CreateUserInput!) { createUser(input: $input) { id email name orderCount createdAt updatedAt addresses { id } } }`;
const ADD = `mutation($userId: ID!, $input: AddressInput!) { addAddress(userId: $userId, input: $input) { id label street city postalCode country } }`;

async function createUser(email: string, name = 'Ada Lovelace') {
  const r = await s.gql(CREATE, { input: { email, name } });
  expect(r.errors).toBeUndefined();
  return r.data!.createUser as { id: string; email: string; createdAt: string; updatedAt: string };
}

const address = (city: string) => ({ label: 'home', street: '1 Main St', city, postalCode: '12345', country: 'DE' });

describe('users', () => {
  it('creates a user with no orders and ISO timestamps, in one transaction', async () => {
    const r = await s.gql(CREATE, { input: { email: 'ada@example.com', name: 'Ada' } });
    expect(r.data!.createUser).toMatchObject({ email: 'ada@example.com', name: 'Ada', orderCount: 0, addresses: [] });
    expect(r.data!.createUser.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r.extensions!.dynamodb).toMatchObject({ calls: 1, operations: { TransactWriteItems: 1 } });
  });

  it('refuses a second user with the same email in another case as CONFLICT', async () => {
    await createUser('dup@example.com');
    const r = await s.gql(CREATE, { input: { email: 'DUP@Example.com', name: 'Other' } });
    expect(r.errors![0]!.extensions!.code).toBe('CONFLICT');
    expect(r.errors![0]!.message).toMatch(/already used/);
  });

  it('creates exactly one user when many sign up with one email at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => s.gql(CREATE, { input: { email: `same${i % 2 ? '@EXAMPLE.com' : '@example.com'}`, name: `n${i}` } })),
    );
    expect(results.filter((r) => r.data?.createUser)).toHaveLength(1);
    expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(9);
  });

  it.each([
    [{ email: 'not-an-email', name: 'A' }, /input\.email: email must be a valid email address/],
    [{ email: 'a@example.com', name: '   ' }, /input\.name: name must not be empty/],
    [{ email: 'a@example.com', name: 'x'.repeat(201) }, /input\.name: name must be at most 200 characters/],
  ])('rejects bad input %o with BAD_USER_INPUT and writes nothing', async (input, message) => {
    const r = await s.gql(CREATE, { input });
    expect(r.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(message);
    expect(r.extensions!.dynamodb!.calls).toBe(0);
  });

  it('reads a user with addresses in one Query and a user without them in one BatchGetItem', async () => {
    const u = await createUser('addr@example.com');
    await s.gql(ADD, { userId: u.id, input: address('Berlin') });
    await s.gql(ADD, { userId: u.id, input: { ...address('Paris'), label: null } });
    const withAddresses = await s.gql(`query($id: ID!) { user(id: $id) { name addresses { city label } } }`, { id: u.id });
    expect(withAddresses.data!.user.addresses).toEqual([
      { city: 'Berlin', label: 'home' },
      { city: 'Paris', label: null },
    ]);
    expect(withAddresses.extensions!.dynamodb).toMatchObject({ calls: 1, operations: { Query: 1 } });
    const fragment = await s.gql(`query($id: ID!) { user(id: $id) { ...F } } fragment F on User { addresses { city } }`, { id: u.id });
    expect(fragment.extensions!.dynamodb).toMatchObject({ calls: 1, operations: { Query: 1 } });
    const plain = await s.gql(`query($id: ID!) { user(id: $id) { name email } }`, { id: u.id });
    expect(plain.extensions!.dynamodb).toMatchObject({ calls: 1, operations: { BatchGetItem: 1 } });
  });

  it('answers users(ids) in id order with nulls, 50 users in one call', async () => {
    const created = await Promise.all(Array.from({ length: 50 }, (_, i) => createUser(`many${i}@example.com`)));
    const ids = created.map((u) => u.id);
    const r = await s.gql(`query($ids: [ID!]!) { users(ids: $ids) { id } }`, { ids: [...ids].reverse() });
    expect(r.data!.users.map((u: { id: string }) => u.id)).toEqual([...ids].reverse());
    expect(r.extensions!.dynamodb).toEqual({ calls: 1, operations: { BatchGetItem: 1 }, estimate: 1 });
    const mixed = await s.gql(`query($ids: [ID!]!) { users(ids: $ids) { id } }`, { ids: [ids[0], 'nobody', ids[1], ids[0]] });
    expect(mixed.data!.users).toEqual([{ id: ids[0] }, null, { id: ids[1] }, { id: ids[0] }]);
  });

  it('returns null for an unknown user', async () => {
    const r = await s.gql(`{ user(id: "nobody") { id } }`);
    expect(r.data!.user).toBeNull();
    expect(r.errors).toBeUndefined();
  });

  it('updates name and email, keeps createdAt, moves the email reservation', async () => {
    const u = await createUser('old@example.com');
    await new Promise((r) => setTimeout(r, 5));
    const r = await s.gql(`mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { email name createdAt updatedAt } }`, {
      id: u.id,
      input: { email: 'new@example.com', name: 'Renamed' },
    });
    expect(r.data!.updateUser).toMatchObject({ email: 'new@example.com', name: 'Renamed', createdAt: u.createdAt });
    expect(r.data!.updateUser.updatedAt > u.updatedAt).toBe(true);
    // The old email is free, the new one is taken.
    expect((await s.gql(CREATE, { input: { email: 'old@example.com', name: 'B' } })).data?.createUser).toBeTruthy();
    expect((await s.gql(CREATE, { input: { email: 'new@example.com', name: 'C' } })).errors![0]!.extensions!.code).toBe('CONFLICT');
  });

  it('changes nothing, not even updatedAt, for an empty update', async () => {
    const u = await createUser('still@example.com');
    const r = await s.gql(`mutation($id: ID!) { updateUser(id: $id, input: {}) { email updatedAt } }`, { id: u.id });
    expect(r.data!.updateUser).toEqual({ email: 'still@example.com', updatedAt: u.updatedAt });
    expect(r.extensions!.dynamodb!.operations).toEqual({ GetItem: 1 });
  });

  it('updates a missing user as NOT_FOUND, never an upsert', async () => {
    const r = await s.gql(`mutation { updateUser(id: "ghost", input: { name: "x" }) { id } }`);
    expect(r.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect((await s.gql(`{ user(id: "ghost") { id } }`)).data!.user).toBeNull();
  });

  it('deletes a user with its addresses and frees its email', async () => {
    const u = await createUser('gone@example.com');
    await s.gql(ADD, { userId: u.id, input: address('Rome') });
    const r = await s.gql(`mutation($id: ID!) { deleteUser(id: $id) }`, { id: u.id });
    expect(r.data!.deleteUser).toBe(u.id);
    expect((await s.gql(`query($id: ID!) { user(id: $id) { id addresses { id } } }`, { id: u.id })).data!.user).toBeNull();
    expect((await s.gql(CREATE, { input: { email: 'gone@example.com', name: 'Again' } })).data?.createUser).toBeTruthy();
    const again = await s.gql(`mutation($id: ID!) { deleteUser(id: $id) }`, { id: u.id });
    expect(again.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });

  it('adds and removes addresses only for existing users', async () => {
    const u = await createUser('moves@example.com');
    const added = await s.gql(ADD, { userId: u.id, input: address('Oslo') });
    const id = added.data!.addAddress.id;
    expect(added.data!.addAddress).toMatchObject({ city: 'Oslo', country: 'DE' });
    expect((await s.gql(ADD, { userId: 'ghost', input: address('X') })).errors![0]!.extensions!.code).toBe('NOT_FOUND');
    const bad = await s.gql(ADD, { userId: u.id, input: { ...address('Y'), street: '' } });
    expect(bad.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const removed = await s.gql(`mutation($u: ID!, $a: ID!) { removeAddress(userId: $u, addressId: $a) }`, { u: u.id, a: id });
    expect(removed.data!.removeAddress).toBe(id);
    const again = await s.gql(`mutation($u: ID!, $a: ID!) { removeAddress(userId: $u, addressId: $a) }`, { u: u.id, a: id });
    expect(again.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect((await s.gql(`query($id: ID!) { user(id: $id) { addresses { id } } }`, { id: u.id })).data!.user.addresses).toEqual([]);
  });
});
