import './quiet-sdk-warning.js';
import { resolveAuthSettings } from './auth/settings.js';
import { createVerifier } from './auth/verifier.js';
import { loadConfigOrExit } from './config.js';
import { connectDatabase } from './db/connect.js';
import { EmbeddedDynamoError } from './db/embedded-dynamodb.js';
import { DesignError, ensureTimeToLive, layoutToServe, readOrAdoptDesign, type TableLayout } from './db/design.js';
import { ensureStream, ensureTable } from './db/ensure-table.js';
import { createLogger } from './logger.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, config.logFormat);

  const connection = await connectDatabase(config, {
    owner: 'npm start',
    onEmbeddedStart: (dataDir) => log.info({ dataDir }, 'starting embedded DynamoDB Local'),
  });
  const { db, embedded } = connection;
  if (embedded?.staleStopped.length) {
    log.warn({ pids: embedded.staleStopped }, 'stopped a DynamoDB Local that an earlier run left on DATA_DIR');
  }
  if (embedded) log.info({ endpoint: embedded.endpoint }, 'embedded DynamoDB Local is answering');
  if (config.dynamo.createTable) {
    const created = await ensureTable(db.client, config.tableName, { statusShards: config.dynamo.statusShards });
    log.info({ table: config.tableName, created }, created ? 'table created' : 'table exists');
  }
  // The table's key design must be this server's: an older one is brought up to date by
  // `npm run migrate`, never by a server starting (src/db/design.ts).
  let layout: TableLayout;
  try {
    layout = layoutToServe(config.tableName, await readOrAdoptDesign(db.client, config.tableName, config.dynamo.statusShards), config.dynamo.statusShards);
  } catch (e) {
    if (!(e instanceof DesignError)) throw e;
    log.fatal(e.message);
    await connection.close();
    process.exit(1);
  }
  log.info({ table: config.tableName, statusShards: layout.statusShards }, 'key design checked');
  // Idempotency records expire through DynamoDB's TTL: a table made before it gets it now.
  try {
    if ((await ensureTimeToLive(db.client, config.tableName)) === 'enabled') log.info({ table: config.tableName }, 'enabled TTL (expiresAt) on the table');
  } catch (e) {
    log.warn({ err: e, table: config.tableName }, 'could not check or enable TTL: expired idempotency records stay stored (they are ignored all the same)');
  }
  // Subscriptions read the table's change stream: a table made before them gets one now.
  try {
    const stream = await ensureStream(db.client, config.tableName);
    if (stream === 'enabled') log.info({ table: config.tableName }, 'the table had no stream (NEW_AND_OLD_IMAGES): enabled it for subscriptions');
  } catch (e) {
    log.warn({ err: e, table: config.tableName }, 'could not check or enable the table stream: subscriptions will not receive events');
  }

  const { settings: auth, devSecretCreated } = resolveAuthSettings(config.auth);
  if (config.auth.mode === 'dev') {
    log.info(
      { secretFile: config.auth.devSecretFile, created: devSecretCreated },
      'no AUTH_JWKS_URL or AUTH_JWT_SECRET: development tokens are signed with a local secret. ' +
        'Get one with `npm run token -- --user <id>` (or `-- --admin`) and send it as Authorization: Bearer <token>',
    );
  } else {
    log.info({ mode: config.auth.mode, issuer: config.auth.issuer, audience: config.auth.audience }, 'tokens verified');
    if (config.auth.mode === 'jwks' && (!config.auth.issuer || !config.auth.audience)) {
      log.warn('AUTH_ISSUER or AUTH_AUDIENCE is not set: tokens the identity provider issued for other applications are accepted too');
    }
  }

  const server = createServer({
    db: { ...db, layout },
    logger: log,
    verifier: createVerifier(auth),
    production: config.env === 'production',
    dynamoExtensions: config.dynamoExtensions,
    metrics: config.metricsEnabled,
    limits: config.limits,
  });
  const port = await server.listen(config.port, config.host);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      log.warn('drain timed out; closing connections');
      server.httpServer.closeAllConnections();
    }, config.shutdownTimeoutMs);
    try {
      await server.stop();
    } finally {
      clearTimeout(force);
      await connection.close();
      log.info('stopped');
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Announced once a signal is handled: whoever waits for this line may stop the server at once.
  log.info({ url: `http://localhost:${port}/graphql`, target: config.dynamo.target }, 'GraphQL server ready');
}

main().catch((e: unknown) => {
  if (e instanceof EmbeddedDynamoError) console.error(e.message);
  else console.error('Start-up failed:', e);
  process.exit(1);
});
