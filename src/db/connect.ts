import type { Config } from '../config.js';
import { createDatabase, type Database } from './database.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from './embedded-dynamodb.js';

export interface Connection {
  db: Database;
  /** Set when the target is `embedded`: the DynamoDB Local process this connection started. */
  embedded: EmbeddedDynamo | undefined;
  /** Releases the client and stops the embedded DynamoDB Local, if any. */
  close(): Promise<void>;
}

/**
 * The database the configuration points at: for `embedded`, DynamoDB Local is started first
 * (data in DATA_DIR); `endpoint` and `aws` only build the client. Shared by the server and the
 * scripts, so they all reach DynamoDB the same way.
 */
export async function connectDatabase(
  config: Config,
  opts: { timeoutMs?: number; onEmbeddedStart?: (dataDir: string) => void } = {},
): Promise<Connection> {
  let embedded: EmbeddedDynamo | undefined;
  let endpoint = config.dynamo.endpoint;
  if (config.dynamo.target === 'embedded') {
    opts.onEmbeddedStart?.(config.embedded.dataDir);
    embedded = await startEmbeddedDynamo({ port: config.embedded.port, dataDir: config.embedded.dataDir });
    endpoint = embedded.endpoint;
  }
  const db = createDatabase(config.tableName, {
    region: config.dynamo.region,
    endpoint,
    local: config.dynamo.target !== 'aws',
    maxAttempts: config.dynamo.maxAttempts,
    timeoutMs: opts.timeoutMs ?? config.dynamo.timeoutMs,
  });
  return {
    db,
    embedded,
    async close() {
      db.client.destroy();
      await embedded?.stop();
    },
  };
}
