import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The GraphQL-over-HTTP audit suite of graphql-http, run against the real server. Every MUST
 * audit passes; the SHOULD and MAY audits that do not are listed (and explained) in
 * docs/http-audit.md, and this test keeps that list honest.
 */

let s: TestServer;
beforeAll(async () => {
  // Development mode: several audits use introspection (`__type`), which production turns off.
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const audits = serverAudits({ url: () => s.url, fetchFn: fetch });
const musts = audits.filter((a) => a.name.startsWith('MUST'));
const others = audits.filter((a) => !a.name.startsWith('MUST'));

/** Non-passing SHOULD/MAY audits by id, as explained in docs/http-audit.md. */
const DOCUMENTED_MISSES: Record<string, string> = {
  // Apollo answers 400, not 200, to request errors under `Accept: application/json`.
  '572B': 'SHOULD use 200 status code on document parsing failure when accepting application/json',
  FDE2: 'SHOULD use 200 status code on document validation failure when accepting application/json',
  '7B9B': 'SHOULD use a status code of 200 on variable coercion failure when accepting application/json',
  // CSRF prevention refuses GETs that carry no preflight-forcing header.
  '5A70': 'MAY accept application/x-www-form-urlencoded formatted GET requests',
  '6A70': 'MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json',
  D6D5: 'MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/graphql-response+json',
};

async function reasonOf(r: AuditResult): Promise<string> {
  if (r.status === 'ok') return 'ok';
  let body = '';
  try {
    body = (await r.response.clone().text()).slice(0, 200);
  } catch {
    body = '(body already read)';
  }
  return `${r.reason} [HTTP ${r.response.status}] ${body}`;
}

describe('graphql-http server audits', () => {
  it('contain MUST audits to run', () => {
    expect(musts.length).toBeGreaterThanOrEqual(10);
  });

  it.each(musts.map((a) => [a.name, a] as const))('pass: %s', async (_name, audit) => {
    const r = await audit.fn();
    expect(r.status === 'ok' ? 'ok' : await reasonOf(r)).toBe('ok');
  });

  it('miss no SHOULD or MAY audit beyond those documented in docs/http-audit.md', async () => {
    const failing: Record<string, string> = {};
    const score = { SHOULD: { ok: 0, total: 0 }, MAY: { ok: 0, total: 0 } };
    for (const audit of others) {
      const level = audit.name.startsWith('SHOULD') ? 'SHOULD' : 'MAY';
      const r = await audit.fn();
      score[level].total++;
      if (r.status === 'ok') score[level].ok++;
      else failing[audit.id] = `${audit.name} -> ${await reasonOf(r)}`;
    }
    // A passing run is quiet; VERBOSE_TESTS=1 prints the score and the documented misses.
    if (process.env.VERBOSE_TESTS) {
      console.log(
        `[http-audit] MUST ${musts.length}/${musts.length} (each its own test), SHOULD ${score.SHOULD.ok}/${score.SHOULD.total}, MAY ${score.MAY.ok}/${score.MAY.total}`,
      );
      for (const [id, what] of Object.entries(failing)) console.log(`[http-audit] not passed ${id}: ${what}`);
    }
    expect(Object.keys(failing).sort()).toEqual(Object.keys(DOCUMENTED_MISSES).sort());
  });
});
