import { existsSync, readFileSync } from 'node:fs';
import { buildClientSchema, buildSchema, findBreakingChanges, getIntrospectionQuery, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const contractCopy = new URL('../../contract/schema.graphql', import.meta.url);
const sharedContract = new URL('../../../shared/contract/schema.graphql', import.meta.url);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('the served schema', () => {
  it('has no breaking change against the contract', async () => {
    const res = await server.gql(getIntrospectionQuery());
    const served = buildClientSchema(res.data as never);
    const contract = buildSchema(readFileSync(contractCopy, 'utf8'));
    expect(findBreakingChanges(contract, served)).toEqual([]);
    expect(printSchema(served)).toContain('placeOrder(input: PlaceOrderInput!): Order!');
  });

  it('is checked against the contract copy that matches the shared contract', () => {
    if (!existsSync(sharedContract)) return; // a clone without ../shared checks the copy only
    expect(readFileSync(contractCopy, 'utf8')).toBe(readFileSync(sharedContract, 'utf8'));
  });
});
