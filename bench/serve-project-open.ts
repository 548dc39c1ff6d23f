/**
 * The project's server with authorization off, for the signed-in run's comparison: the same
 * createServer (src/server.ts) and options as serve-project.ts, except that every root field gets
 * the `anyone` rule and there is no token verifier; the harness sends its requests without an
 * Authorization header. (With the real rules an anonymous caller is refused user data, hence
 * open rules rather than anonymous requests to the real server.) The difference between the two
 * is what verifying a token and applying the access rules cost per request.
 */
import { pino } from 'pino';
import { ACCESS_RULES, anyone, type Rule } from '../src/auth/rules.js';
import { createDatabase } from '../src/db/database.js';
import { buildSchema } from '../src/schema.js';
import { createServer } from '../src/server.js';
import { announceReady, instrumentClient, startControlServer, VARIANT_TIMEOUT_MS, variantEnv } from './lib/instrument.js';

/**
 * Every root field of the served schema (Query, Mutation, Subscription), each with `anyone`.
 * Read from the schema itself, so a field added later is open here too (the rules' own test
 * makes sure ACCESS_RULES names every one; both lists are merged to be safe).
 */
function openRules(): Record<string, Rule> {
  const schema = buildSchema();
  const names = new Set(Object.keys(ACCESS_RULES));
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.keys(type?.getFields() ?? {})) names.add(`${type!.name}.${field}`);
  }
  return Object.fromEntries([...names].map((name) => [name, anyone]));
}

const { endpoint, tableName, requestHandler } = variantEnv();
const db = createDatabase(tableName, { region: 'us-east-1', endpoint, local: true, maxAttempts: 3, timeoutMs: VARIANT_TIMEOUT_MS, requestHandler });
instrumentClient(db.client);
const server = createServer({
  db,
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' }),
  production: true,
  dynamoExtensions: true,
  // Authorization off: no verifier (requests arrive without a header), every root field open.
  accessRules: openRules(),
});
const port = await server.listen(0, '127.0.0.1');
const control = await startControlServer();
announceReady(port, control.port);
process.on('SIGTERM', () => process.exit(0));
