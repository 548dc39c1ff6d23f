import { pino } from 'pino';
import type { Database } from '../../src/db/database.js';
import { signToken } from '../../src/auth/sign.js';
import { createVerifier, type AuthSettings, type TokenVerifier } from '../../src/auth/verifier.js';
import { createServer, type AppServer } from '../../src/server.js';
import { createTestDatabase, dropTestDatabase } from './dynamo.js';

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  extensions?: { dynamodb?: { calls: number; operations: Record<string, number>; estimate?: number } } & Record<string, any>;
}

export interface TestServer {
  url: string;
  db: Database;
  server: AppServer;
  /**
   * Sends an operation signed in as an admin (so tests of other behaviour need not care about
   * access rules), or with `opts.token` (a token, or null for an anonymous request).
   */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, opts?: { token?: string | null }): Promise<GqlResponse<T>>;
  /** A token for `userId` signed with the server's test secret; `admin` adds the admin group. */
  token(userId: string, opts?: { admin?: boolean; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

/** The shared secret the test servers verify tokens with (HS256, at least 32 characters). */
export const TEST_SECRET = 'test-secret-of-at-least-thirty-two-characters';
export const TEST_AUTH: AuthSettings = { secret: TEST_SECRET, userClaim: 'sub', groupsClaim: 'groups', adminGroup: 'admin' };

/** The real HTTP server on a free port over a fresh table on the run's DynamoDB Local. */
export async function startTestServer(
  opts: { production?: boolean; db?: Database; dynamoExtensions?: boolean; verifier?: TokenVerifier; port?: number } = {},
): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const server = createServer({
    db,
    logger: pino({ level: 'silent' }),
    production: opts.production ?? false,
    dynamoExtensions: opts.dynamoExtensions ?? true,
    verifier: opts.verifier ?? createVerifier(TEST_AUTH),
    // Subscriptions read the stream with short waits: events arrive within tens of milliseconds.
    stream: { idleMs: 20, maxIdleMs: 100, discoverEveryMs: 1000 },
  });
  const token = (userId: string, o: { admin?: boolean; expiresInSeconds?: number } = {}) =>
    signToken(TEST_SECRET, { userId, ...(o.admin ? { groups: ['admin'] } : {}), ...(o.expiresInSeconds !== undefined ? { expiresInSeconds: o.expiresInSeconds } : {}) });
  const adminToken = await token('test-admin', { admin: true });
  const port = await server.listen(opts.port ?? 0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/graphql`;
  return {
    url,
    db,
    server,
    token,
    async gql(query, variables, o = {}) {
      const bearer = o.token === undefined ? adminToken : o.token;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GqlResponse;
      return { ...body, status: res.status } as GqlResponse<any>;
    },
    async close() {
      await server.stop();
      if (!opts.db) await dropTestDatabase(db);
    },
  };
}
