import { pino } from 'pino';
import type { Database } from '../../src/db/database.js';
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
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

/** The real HTTP server on a free port over a fresh table on the run's DynamoDB Local. */
export async function startTestServer(opts: { production?: boolean; db?: Database; dynamoExtensions?: boolean } = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const server = createServer({
    db,
    logger: pino({ level: 'silent' }),
    production: opts.production ?? false,
    dynamoExtensions: opts.dynamoExtensions ?? true,
  });
  const port = await server.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/graphql`;
  return {
    url,
    db,
    server,
    async gql(query, variables) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
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
