import { createServer, type Server } from 'node:http';
import { isObjectType } from 'graphql';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSafeUserId } from '../../src/auth/caller.js';
import { ACCESS_RULES } from '../../src/auth/rules.js';
import { signToken } from '../../src/auth/sign.js';
import { bearerToken, createVerifier, InvalidTokenError, type TokenVerifier } from '../../src/auth/verifier.js';
import { buildSchema } from '../../src/schema.js';

describe('the access rules', () => {
  it('give every field of Query, Mutation and Subscription of the served schema a rule', () => {
    const schema = buildSchema();
    const missing: string[] = [];
    for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      if (!type || !isObjectType(type)) continue;
      for (const name of Object.keys(type.getFields())) if (!ACCESS_RULES[`${type.name}.${name}`]) missing.push(`${type.name}.${name}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('isSafeUserId', () => {
  it.each([
    ['alice', true],
    ['01J9Z8Y7X6W5V4T3S2R1Q0P9N8', true],
    ['auth0|5f7c8ec7c33c6c004bbafe82', true],
    ['', false],
    ['u'.repeat(129), false],
    ['a#b', false],
    ['a\u0000b', false],
    ['a\ud800', false],
    [42, false],
  ])('%j is %s', (id, safe) => {
    expect(isSafeUserId(id)).toBe(safe);
  });
});

describe('the groups claim', () => {
  const verifier = createVerifier({ secret: 's'.repeat(32), userClaim: 'sub', groupsClaim: 'groups', adminGroup: 'admin' });
  const nested = createVerifier({ secret: 's'.repeat(32), userClaim: 'sub', groupsClaim: 'realm_access.roles', adminGroup: 'admin' });
  const token = (claims: Record<string, unknown>) =>
    new SignJWT({ sub: 'carol', ...claims }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode('s'.repeat(32)));

  it.each([
    [{ groups: ['admin'] }, true],
    [{ groups: 'admin' }, true],
    [{ groups: 'Billing admin' }, false],
    [{ groups: 'admin,x' }, false],
    [{ groups: ['not admin'] }, false],
    [{ groups: 42 }, false],
  ])('%j makes an admin: %s', async (claims, admin) => {
    expect(await verifier.verify(await token(claims))).toMatchObject({ admin });
  });

  it('walks a dotted claim name into nested objects only', async () => {
    expect(await nested.verify(await token({ realm_access: { roles: ['admin'] } }))).toMatchObject({ admin: true });
    expect(await nested.verify(await token({ 'realm_access.roles': ['admin'], realm_access: { roles: [] } }))).toMatchObject({ admin: false });
  });
});

describe('verified tokens', () => {
  it('are remembered until they expire, not beyond', async () => {
    const secret = 's'.repeat(32);
    const verifier = createVerifier({ secret, userClaim: 'sub', groupsClaim: 'groups', adminGroup: 'admin' });
    const token = await signToken(secret, { userId: 'dora', expiresInSeconds: 60 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    const expired = await signToken(secret, { userId: 'dora', expiresInSeconds: -60 });
    await expect(verifier.verify(expired)).rejects.toBeInstanceOf(InvalidTokenError);
  });
});

describe('bearerToken', () => {
  it('reads "Bearer <token>" and refuses anything else in the header', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
    for (const bad of ['Basic abc', 'Bearer', 'Bearer a b', 'abc.def.ghi', '']) expect(() => bearerToken(bad)).toThrow(InvalidTokenError);
  });
});

describe('a verifier with a JSON Web Key Set', () => {
  let server: Server;
  let url: string;
  const published: JWK[] = [];
  let fetches = 0;
  let verifier: TokenVerifier;
  const issuer = 'https://issuer.example.com/';
  const audience = 'shop-api';

  const keyPair = async (alg: 'RS256' | 'ES256', kid: string) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as JWK };
  };
  type Pair = Awaited<ReturnType<typeof keyPair>>;
  const sign = (key: Pair, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number } = {}) =>
    new SignJWT({ sub: 'alice', 'cognito:groups': ['admin'], ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? audience)
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(key.privateKey);
  let rsa: Pair;
  let ec: Pair;

  beforeAll(async () => {
    rsa = await keyPair('RS256', 'k1');
    ec = await keyPair('ES256', 'k2');
    published.push(rsa.jwk, ec.jwk);
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
    verifier = createVerifier({ jwksUrl: url, issuer, audience, userClaim: 'sub', groupsClaim: 'cognito:groups', adminGroup: 'admin', jwksCooldownMs: 0 });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('accepts RS256 and ES256 tokens of the published keys, with the groups claim Cognito uses', async () => {
    await expect(verifier.verify(await sign(rsa))).resolves.toMatchObject({ kind: 'user', userId: 'alice', admin: true });
    await expect(verifier.verify(await sign(ec, { 'cognito:groups': ['staff'] }))).resolves.toMatchObject({ admin: false, groups: ['staff'] });
  });

  it('refuses a wrong issuer, a wrong audience, an expired token and an HS256 token (algorithm confusion)', async () => {
    const refused = async (token: string) => expect(verifier.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
    await refused(await sign(rsa, {}, { iss: 'https://evil.example.com/' }));
    await refused(await sign(rsa, {}, { aud: 'another-api' }));
    await refused(await sign(rsa, {}, { exp: Math.floor(Date.now() / 1000) - 120 }));
    await refused(await signToken('a-shared-secret-of-at-least-32-characters', { userId: 'alice', issuer, audience }));
  });

  it('follows a key rotation without a restart: a new kid fetches the key set again', async () => {
    const fetchesBefore = fetches;
    const rotated = await keyPair('RS256', 'k3');
    // Not published yet: refused.
    await expect(verifier.verify(await sign(rotated))).rejects.toBeInstanceOf(InvalidTokenError);
    published.splice(0, published.length, rotated.jwk, ec.jwk);
    await expect(verifier.verify(await sign(rotated))).resolves.toMatchObject({ userId: 'alice' });
    expect(fetches).toBeGreaterThan(fetchesBefore);
    // New tokens of the retired key fail once the set no longer holds it (a token verified
    // before stays valid until it expires: verified tokens are remembered).
    await expect(verifier.verify(await sign(rsa, { jti: 'after-rotation' }))).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
