/**
 * The raw SDK baseline over HTTP: a plain node:http server that reads the same request body as
 * the GraphQL servers, dispatches on `operationName` to hand-written SDK calls
 * (bench/lib/raw-handlers.ts) and answers the same JSON, with the same call counting.
 */
import { createServer } from 'node:http';
import { CallCounter, countedDatabase } from '../src/db/call-counter.js';
import { createDatabase } from '../src/db/database.js';
import { announceReady, instrumentClient, startControlServer, VARIANT_TIMEOUT_MS, variantEnv } from './lib/instrument.js';
import type { OperationName } from './lib/operations.js';
import { RawError, rawHandlers } from './lib/raw-handlers.js';

const { endpoint, tableName, requestHandler } = variantEnv();
const db = createDatabase(tableName, { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: VARIANT_TIMEOUT_MS, requestHandler });
instrumentClient(db.client);

const server = createServer((req, res) => {
  if (req.method !== 'POST' || !req.url?.startsWith('/graphql')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const calls = new CallCounter();
    const reply = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(body));
    };
    void (async () => {
      try {
        const { operationName, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          operationName: OperationName;
          variables?: Record<string, unknown>;
        };
        const handler = rawHandlers[operationName];
        if (!handler) return reply(400, { errors: [{ message: `Unknown operation ${operationName}`, extensions: { code: 'BAD_USER_INPUT' } }] });
        const data = await handler(countedDatabase(db, calls), variables ?? {});
        reply(200, { data, extensions: { dynamodb: calls.toJSON() } });
      } catch (e) {
        const code = e instanceof RawError ? e.code : 'INTERNAL_SERVER_ERROR';
        reply(200, { data: null, errors: [{ message: (e as Error).message, extensions: { code } }], extensions: { dynamodb: calls.toJSON() } });
      }
    })();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const control = await startControlServer();
announceReady((server.address() as { port: number }).port, control.port);
process.on('SIGTERM', () => process.exit(0));
