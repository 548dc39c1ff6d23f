import { ConfigError, loadConfig, type Config } from './config.js';
import { createDatabase } from './db/database.js';
import { EmbeddedDynamoError, startEmbeddedDynamo, type EmbeddedDynamo } from './db/embedded-dynamodb.js';
import { ensureTable } from './db/ensure-table.js';
import { createLogger } from './logger.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);

  let embedded: EmbeddedDynamo | undefined;
  let endpoint = config.dynamo.endpoint;
  if (config.dynamo.target === 'embedded') {
    log.info({ dataDir: config.embedded.dataDir }, 'starting embedded DynamoDB Local');
    embedded = await startEmbeddedDynamo({ port: config.embedded.port, dataDir: config.embedded.dataDir });
    endpoint = embedded.endpoint;
    log.info({ endpoint }, 'embedded DynamoDB Local is answering');
  }

  const db = createDatabase(config.tableName, {
    region: config.dynamo.region,
    endpoint,
    local: config.dynamo.target !== 'aws',
    maxAttempts: config.dynamo.maxAttempts,
    timeoutMs: config.dynamo.timeoutMs,
  });
  if (config.dynamo.createTable) {
    const created = await ensureTable(db.client, config.tableName);
    log.info({ table: config.tableName, created }, created ? 'table created' : 'table exists');
  }

  const server = createServer({
    db,
    logger: log,
    production: config.env === 'production',
    dynamoExtensions: config.dynamoExtensions,
    limits: config.limits,
  });
  const port = await server.listen(config.port, config.host);
  log.info({ url: `http://localhost:${port}/graphql`, target: config.dynamo.target }, 'GraphQL server ready');

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
      db.client.destroy();
      await embedded?.stop();
      log.info('stopped');
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e: unknown) => {
  if (e instanceof EmbeddedDynamoError) console.error(e.message);
  else console.error('Start-up failed:', e);
  process.exit(1);
});
