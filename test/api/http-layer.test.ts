import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The HTTP layer on plain node:http (src/http-basics.ts, src/http-graphql.ts): what express and
 * body-parser answered before, and what the rest of the suite does not already pin down.
 */

let s: TestServer;
let base: string;
beforeAll(async () => {
  s = await startTestServer({ production: true });
  base = s.url.replace(/\/graphql$/, '');
});
afterAll(async () => {
  await s.close();
});

const ping = JSON.stringify({ query: '{ ping }' });
const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const errorOf = async (res: Response) => ((await res.json()) as { errors: { message: string; extensions: { code: string } }[] }).errors[0]!;

describe('JSON bodies', () => {
  it('reads gzip, deflate and br bodies, a UTF-8 byte order mark and UTF-16 with one', async () => {
    for (const [encoding, body] of [
      ['gzip', gzipSync(ping)],
      ['deflate', deflateSync(ping)],
      ['br', brotliCompressSync(ping)],
    ] as const) {
      const res = await post(body, { 'content-encoding': encoding });
      expect(res.status, encoding).toBe(200);
      expect(((await res.json()) as { data: unknown }).data).toEqual({ ping: true });
    }
    expect((await post(`\uFEFF${ping}`)).status).toBe(200);
    expect((await post(Buffer.from(`\uFEFF${ping}`, 'utf16le'), { 'content-type': 'application/json; charset=utf-16' })).status).toBe(200);
  });

  it('answers with a Content-Length of the body in bytes, not in characters', async () => {
    // The error message repeats the (non-ASCII) operation name it refuses.
    const res = await post(JSON.stringify({ query: '{ ping }', operationName: 'Ünïcödé' }));
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.toString('utf8')).toContain('Ünïcödé');
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('transfer-encoding')).toBeNull();
  });

  it('applies the body limit to the inflated size (a gzip bomb is 413)', async () => {
    const bomb = gzipSync(JSON.stringify({ query: '{ ping }', variables: { x: 'y'.repeat(20_000_000) } }));
    expect(bomb.length).toBeLessThan(100_000);
    const res = await post(bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ message: 'The request body is larger than the 102400 bytes allowed', extensions: { code: 'BAD_USER_INPUT' } });
    // The connection is still good for the next request.
    expect((await post(ping)).status).toBe(200);
  });

  it('refuses a body that does not inflate (400), an unknown encoding and a non-UTF charset (415)', async () => {
    expect((await post(ping, { 'content-encoding': 'gzip' })).status).toBe(400);
    const encoding = await post(ping, { 'content-encoding': 'x-nope' });
    expect(encoding.status).toBe(415);
    expect((await errorOf(encoding)).message).toBe('unsupported content encoding "x-nope"');
    const charset = await post(ping, { 'content-type': 'application/json; charset=latin1' });
    expect(charset.status).toBe(415);
    expect((await errorOf(charset)).message).toBe('unsupported charset "LATIN1"');
  });

  it('refuses JSON that is not an object or array, and leaves other content types to Apollo', async () => {
    for (const body of ['"just a string"', '123', 'null', '   ']) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect((await errorOf(res)).message).toBe('The request body is not valid JSON');
    }
    const text = await post(ping, { 'content-type': 'application/xml' });
    expect(text.status).toBe(400);
    expect((await errorOf(text)).message).toMatch(/POST body missing, invalid Content-Type/);
  });
});

describe('routes', () => {
  it('answer no-store on /graphql only, and never name the framework', async () => {
    const g = await post(ping);
    expect(g.headers.get('cache-control')).toBe('no-store');
    expect(g.headers.get('x-powered-by')).toBeNull();
    const live = await fetch(`${base}/health/live`);
    expect(live.headers.get('cache-control')).toBeNull();
    expect(live.headers.get('x-powered-by')).toBeNull();
  });

  it('match paths case-insensitively with an optional trailing slash; /graphql serves below itself', async () => {
    expect((await fetch(`${base}/HEALTH/live/`)).status).toBe(200);
    expect((await fetch(`${base}/GraphQL/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ping })).status).toBe(200);
    expect((await fetch(`${base}/graphqlx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ping })).status).toBe(404);
  });

  it('answer HEAD like GET without a body, and OPTIONS on GET routes with what they allow', async () => {
    const head = await fetch(`${base}/health/live`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('15');
    expect(await head.text()).toBe('');
    const options = await fetch(`${base}/metrics`, { method: 'OPTIONS' });
    expect(options.status).toBe(200);
    expect(options.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/health/live`, { method: 'POST' })).status).toBe(404);
  });

  it('redirect / to /graphql, worded for the Accept header', async () => {
    const plain = await fetch(base, { redirect: 'manual' });
    expect(plain.status).toBe(302);
    expect(plain.headers.get('location')).toBe('/graphql');
    expect(await plain.text()).toBe('Found. Redirecting to /graphql');
    const html = await fetch(base, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await html.text()).toContain('<p>Found. Redirecting to /graphql</p>');
  });

  it('answer other paths with a 404 page that escapes the path', async () => {
    const res = await fetch(`${base}/nope/%%?x=1`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(await res.text()).toContain('<pre>Cannot GET /nope/%25%25</pre>');
  });
});
