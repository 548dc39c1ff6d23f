/**
 * The project's server, unchanged (src/server.ts createServer), for the harness: its own process
 * so its peak RSS can be read and the load generator does not share its event loop. It also
 * serves the subscription run (graphql-ws on the same port, fed by the table's stream), with the
 * stream reader's production timing.
 */
import { pino } from 'pino';
import { createVerifier } from '../src/auth/verifier.js';
import { createDatabase } from '../src/db/database.js';
import { createServer } from '../src/server.js';
import { announceReady, instrumentClient, instrumentStreamsClient, startControlServer, VARIANT_TIMEOUT_MS, variantEnv } from './lib/instrument.js';

const { endpoint, tableName, requestHandler } = variantEnv();
const db = createDatabase(tableName, { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: VARIANT_TIMEOUT_MS, requestHandler });
instrumentClient(db.client);
instrumentStreamsClient(db.streams);
const server = createServer({
  db,
  // Per-request info lines off: the other variants do not log either (see bench/README.md).
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' }),
  production: true,
  dynamoExtensions: true,
  // Signed-in requests: tokens verified (HS256) and access rules applied, as in production.
  verifier: createVerifier({ secret: process.env.BENCH_AUTH_SECRET!, userClaim: 'sub', groupsClaim: 'groups', adminGroup: 'admin' }),
  // The stream reader polls with its production timing (100 ms after an empty answer, doubling
  // to 1 s) unless BENCH_STREAM_IDLE_MS / BENCH_STREAM_MAX_IDLE_MS say otherwise.
  ...(process.env.BENCH_STREAM_IDLE_MS || process.env.BENCH_STREAM_MAX_IDLE_MS
    ? {
        stream: {
          ...(process.env.BENCH_STREAM_IDLE_MS ? { idleMs: Number(process.env.BENCH_STREAM_IDLE_MS) } : {}),
          ...(process.env.BENCH_STREAM_MAX_IDLE_MS ? { maxIdleMs: Number(process.env.BENCH_STREAM_MAX_IDLE_MS) } : {}),
        },
      }
    : {}),
});
const port = await server.listen(0, '127.0.0.1');
const control = await startControlServer();
announceReady(port, control.port);
process.on('SIGTERM', () => process.exit(0));
