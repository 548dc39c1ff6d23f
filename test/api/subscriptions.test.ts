import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/db/keys.js';
import { recordCalls } from '../helpers/dynamo.js';
import { createProduct } from '../helpers/factories.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { closeOf, collect, wsClient } from '../helpers/ws.js';

let s: TestServer;
const suffix = randomBytes(4).toString('hex');
const A = `sub-alice-${suffix}`;
const B = `sub-bob-${suffix}`;
let tokenA: string;
let tokenB: string;
let adminToken: string;
let product: string;

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits until `n` subscriptions are registered on `server` and its stream reader sees every new write. */
async function subscribed(server: TestServer, n: number): Promise<void> {
  await until(() => (server.server.live?.subscriberCount ?? 0) >= n, `${n} subscribers`);
  await server.server.live!.positioned();
}

const place = (token: string) =>
  s.gql(`mutation($p: ID!) { placeOrder(input: { lines: [{ productId: $p, quantity: 1 }] }) { id } }`, { p: product }, { token });

beforeAll(async () => {
  s = await startTestServer();
  tokenA = await s.token(A);
  tokenB = await s.token(B);
  adminToken = await s.token(`sub-admin-${suffix}`, { admin: true });
  for (const [id, token] of [[A, tokenA], [B, tokenB]] as const) {
    const r = await s.gql(`mutation { createUser(input: { email: "${id}@example.com", name: "${id}" }) { id } }`, {}, { token });
    expect(r.errors).toBeUndefined();
  }
  product = (await createProduct(s, { name: 'Live kettle', stock: 1000, priceCents: 100 })).id;
});
afterAll(async () => {
  await s.close();
});

describe('subscriptions over graphql-ws', () => {
  it('tell anyone about a product change made through the API and one made directly in the table', async () => {
    const client = wsClient(s);
    const sub = collect(client, `subscription($id: ID!) { productUpdated(id: $id) { id priceCents stock } }`, { id: product });
    await subscribed(s, 1);
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 150 }) { id } }`, { id: product });
    expect((await sub.nth(1)).data).toEqual({ productUpdated: { id: product, priceCents: 150, stock: 1000 } });
    // A write that never passed through the API (a script, another service, the console).
    await s.db.doc.send(
      new UpdateCommand({ TableName: s.db.tableName, Key: keys.product(product), UpdateExpression: 'SET stock = :s', ExpressionAttributeValues: { ':s': 7 } }),
    );
    expect((await sub.nth(2)).data).toEqual({ productUpdated: { id: product, priceCents: 150, stock: 7 } });
    sub.stop();
    await client.dispose();
  });

  it("deliver a customer's own order events in order, and never another customer's", async () => {
    const clientA = wsClient(s, tokenA);
    const clientB = wsClient(s, tokenB);
    const q = `subscription { orderEvents { kind at order { id status user { id email } items { quantity product { name } } } } }`;
    const ofA = collect(clientA, q);
    const ofB = collect(clientB, q);
    await subscribed(s, 2);
    const orderOfA = (await place(tokenA)).data!.placeOrder.id;
    await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }`, { id: orderOfA });
    await s.gql(`mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id: orderOfA }, { token: tokenA });
    const orderOfB = (await place(tokenB)).data!.placeOrder.id;

    const kinds = [];
    for (let n = 1; n <= 3; n++) kinds.push((await ofA.nth(n)).data!.orderEvents.kind);
    expect(kinds).toEqual(['PLACED', 'STATUS_CHANGED', 'CANCELLED']);
    const first = (await ofA.nth(1)).data!.orderEvents;
    expect(first.order).toEqual({ id: orderOfA, status: 'PENDING', user: { id: A, email: `${A}@example.com` }, items: [{ quantity: 1, product: { name: 'Live kettle' } }] });
    expect((await ofA.nth(3)).data!.orderEvents.order.status).toBe('CANCELLED');
    // B's first event is B's own order: A's three events (and their nested user) never reached B.
    expect((await ofB.nth(1)).data!.orderEvents.order.id).toBe(orderOfB);
    await sleep(200);
    expect(ofB.results).toHaveLength(1);
    expect(ofA.results).toHaveLength(3);
    ofA.stop();
    ofB.stop();
    await Promise.all([clientA.dispose(), clientB.dispose()]);
  });

  it("answers orderUpdated for another customer's order NOT_FOUND, exactly as for a missing one, and sends the owner every change", async () => {
    const orderOfA = (await place(tokenA)).data!.placeOrder.id;
    const clientA = wsClient(s, tokenA);
    const clientB = wsClient(s, tokenB);
    const q = `subscription($id: ID!) { orderUpdated(id: $id) { id status user { email } } }`;
    const owner = collect(clientA, q, { id: orderOfA });
    const other = collect(clientB, q, { id: orderOfA });
    const missing = collect(clientB, q, { id: `never-${suffix}` });
    const refusedOther = (await other.nth(1)).errors![0]!;
    const refusedMissing = (await missing.nth(1)).errors![0]!;
    expect(refusedOther.extensions?.code).toBe('NOT_FOUND');
    expect(refusedOther.message.replace(orderOfA, 'X')).toBe(refusedMissing.message.replace(`never-${suffix}`, 'X'));
    await subscribed(s, 1);
    await s.gql(`mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id } }`, { id: orderOfA });
    expect((await owner.nth(1)).data).toEqual({ orderUpdated: { id: orderOfA, status: 'PAID', user: { email: `${A}@example.com` } } });
    expect(other.results).toHaveLength(1);
    owner.stop();
    await Promise.all([clientA.dispose(), clientB.dispose()]);
  });

  it('serve only subscriptions over WebSocket, and only queries and mutations over HTTP', async () => {
    const client = wsClient(s, adminToken);
    const query = collect(client, `{ ping }`);
    // Refused before it runs: graphql-ws answers with an error message, which ends the operation.
    expect(JSON.stringify(await query.ended)).toContain('BAD_USER_INPUT');
    const http = await s.gql(`subscription($id: ID!) { productUpdated(id: $id) { id } }`, { id: product });
    expect(http.status).toBe(400);
    expect(http.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    await client.dispose();
  });

  it("refuse a subscription that cannot parse, validate, or skip its root field, as the client's input", async () => {
    const client = wsClient(s, adminToken);
    for (const q of ['subscription { productUpdated(id: "x") { nosuch } }', 'subscription { productUpdated(', 'subscription { productUpdated(id: "x") @skip(if: true) { id } }']) {
      const sub = collect(client, q);
      expect(JSON.stringify(await sub.ended), q).toContain('BAD_USER_INPUT');
    }
    await client.dispose();
  });

  it('hold at most 50 subscriptions per connection and refuse messages larger than the HTTP body limit', async () => {
    const client = wsClient(s);
    const subs = Array.from({ length: 51 }, () => collect(client, `subscription($id: ID!) { productUpdated(id: $id) { id } }`, { id: product }));
    const refused = JSON.stringify(await subs[50]!.ended);
    expect(refused).toContain('BAD_USER_INPUT');
    expect(refused).toContain('at most 50');
    subs.forEach((sub) => sub.stop());
    await client.dispose();
    const big = await closeOf(s, { Authorization: 'x'.repeat(200 * 1024) });
    expect(big.code).toBe(1009); // "message too big"
  });

  it("refuses orderEvents naming another user's id, and anonymous orderEvents", async () => {
    const client = wsClient(s, tokenA);
    const named = collect(client, `subscription($u: ID) { orderEvents(userId: $u) { kind } }`, { u: B });
    expect((await named.nth(1)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = wsClient(s);
    const anon = collect(anonymous, `subscription { orderEvents { kind } }`);
    expect((await anon.nth(1)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await Promise.all([client.dispose(), anonymous.dispose()]);
  });

  it('share one execution between subscribers asking the same question, and never between different ones', async () => {
    const other = (await createProduct(s, { name: 'Other kettle', stock: 5, priceCents: 9 })).id;
    const clients = [wsClient(s), wsClient(s), wsClient(s)];
    const q = `subscription($id: ID!) { productUpdated(id: $id) { id name priceCents } }`;
    const same1 = collect(clients[0]!, q, { id: product });
    const same2 = collect(clients[1]!, q, { id: product });
    const different = collect(clients[2]!, q, { id: other });
    await subscribed(s, 3);
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 111 }) { id } }`, { id: product });
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 222 }) { id } }`, { id: other });
    expect((await same1.nth(1)).data).toEqual({ productUpdated: { id: product, name: 'Live kettle', priceCents: 111 } });
    expect((await same2.nth(1)).data).toEqual((await same1.nth(1)).data);
    expect((await different.nth(1)).data).toEqual({ productUpdated: { id: other, name: 'Other kettle', priceCents: 222 } });
    await sleep(150);
    expect([same1.results.length, same2.results.length, different.results.length]).toEqual([1, 1, 1]);
    [same1, same2, different].forEach((sub) => sub.stop());
    await Promise.all(clients.map((c) => c.dispose()));
    await until(() => (s.server.live?.subscriberCount ?? 0) === 0, 'subscribers to leave');
  });

  it('reads nested fields once per event, however many subscribe', async () => {
    const measure = async (subscribers: number) => {
      const clients = Array.from({ length: subscribers }, () => wsClient(s, adminToken));
      const subs = clients.map((c) => collect(c, `subscription { orderEvents { order { user { name } items { product { name stock } } } } }`));
      await subscribed(s, subscribers);
      const recorder = recordCalls(s.db.client);
      await place(tokenA);
      await Promise.all(subs.map((sub) => sub.nth(1)));
      await sleep(100);
      recorder.stop();
      // The mutation's own calls (BatchGetItem + TransactWriteItems) and then the event's reads.
      const eventCalls = recorder.calls.length - 2;
      subs.forEach((sub) => sub.stop());
      await Promise.all(clients.map((c) => c.dispose()));
      await until(() => (s.server.live?.subscriberCount ?? 0) === 0, 'subscribers to leave');
      return eventCalls;
    };
    const one = await measure(1);
    const many = await measure(8);
    expect(one).toBeGreaterThan(0);
    expect(many).toBe(one);
  });

  it('closes a connection with 4403 for an invalid token, and when its token expires', async () => {
    expect((await closeOf(s, { Authorization: 'Bearer not.a.token' })).code).toBe(4403);
    expect((await closeOf(s, { Authorization: `Bearer ${await s.token(A, { expiresInSeconds: -120 })}` })).code).toBe(4403);
    const started = Date.now();
    const closed = await closeOf(s, { Authorization: `Bearer ${await s.token(A, { expiresInSeconds: 2 })}` });
    expect(closed.code).toBe(4403);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("reconnects after its token expired (4403) with a fresh token from connectionParams, and keeps receiving", async () => {
    const issued: number[] = [];
    const client = wsClient(
      s,
      async () => {
        issued.push(Date.now());
        return s.token(A, { expiresInSeconds: issued.length === 1 ? 1 : 600 });
      },
      { retryAttempts: 5, retryWait: () => sleep(50) },
    );
    const sub = collect(client, `subscription($id: ID!) { productUpdated(id: $id) { priceCents } }`, { id: product });
    await subscribed(s, 1);
    await until(() => issued.length >= 2, 'a reconnect with a fresh token', 10_000);
    await subscribed(s, 1);
    await s.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 303 }) { id } }`, { id: product });
    expect((await sub.nth(1)).data).toEqual({ productUpdated: { priceCents: 303 } });
    sub.stop();
    await client.dispose();
  });

  it('is served by every instance: a mutation on another instance reaches this one', async () => {
    const other = await startTestServer({ db: s.db });
    // The previous test's subscription may still be closing: counted as ours, it would let the
    // mutation go before this subscription is registered.
    await until(() => (s.server.live?.subscriberCount ?? 0) === 0, 'earlier subscriptions to close');
    const client = wsClient(s, tokenA);
    const sub = collect(client, `subscription { orderEvents { kind order { id } } }`);
    await subscribed(s, 1);
    const placed = await other.gql(`mutation($p: ID!) { placeOrder(input: { lines: [{ productId: $p, quantity: 1 }] }) { id } }`, { p: product }, { token: tokenA });
    expect(placed.errors).toBeUndefined();
    expect((await sub.nth(1)).data!.orderEvents).toEqual({ kind: 'PLACED', order: { id: placed.data!.placeOrder.id } });
    sub.stop();
    await client.dispose();
    await other.close();
  });

  it('lets a client reconnect after a restart and resume with new events; shutdown closes sockets cleanly', async () => {
    const first = await startTestServer({ db: s.db });
    const port = Number(new URL(first.url).port);
    const closes: number[] = [];
    const client = wsClient(first, tokenA, {
      retryAttempts: 20,
      retryWait: () => sleep(100),
      shouldRetry: () => true,
      on: { closed: (e) => closes.push((e as { code: number }).code) },
    });
    const sub = collect(client, `subscription($id: ID!) { productUpdated(id: $id) { priceCents } }`, { id: product });
    await subscribed(first, 1);
    await first.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 201 }) { id } }`, { id: product });
    expect((await sub.nth(1)).data).toEqual({ productUpdated: { priceCents: 201 } });

    await first.server.stop();
    await until(() => closes.length > 0, 'the socket to close');
    expect(closes[0]).toBe(1001); // "going away": a clean close, not a dropped connection

    const second = await startTestServer({ db: s.db, port });
    await subscribed(second, 1);
    await second.gql(`mutation($id: ID!) { updateProduct(id: $id, input: { priceCents: 202 }) { id } }`, { id: product });
    expect((await sub.nth(2)).data).toEqual({ productUpdated: { priceCents: 202 } });
    sub.stop();
    await client.dispose();
    await second.server.stop();
  });
});
