import type { Config } from '../config.js';
import { createDatabase, type Database } from './database.js';
import {
  DataDirInUseError,
  findRunningDynamo,
  startEmbeddedDynamo,
  type EmbeddedDynamo,
  type RunningDynamo,
} from './embedded-dynamodb.js';

export interface Connection {
  db: Database;
  /** Set when the target is `embedded` and this connection started DynamoDB Local. */
  embedded: EmbeddedDynamo | undefined;
  /** Set when the target is `embedded` and another process's DynamoDB Local on DATA_DIR is used. */
  shared: RunningDynamo | undefined;
  /** Releases the client and stops the embedded DynamoDB Local, if this connection started it. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** Called before this connection starts a DynamoDB Local of its own. */
  onEmbeddedStart?: (dataDir: string) => void;
  /** Who is asking, as the data folder's lock shows it to others: `npm start`, `npm run seed`. */
  owner?: string;
  /**
   * Use the DynamoDB Local another process already runs on DATA_DIR (found through the
   * folder's lock) instead of refusing the folder. The scripts do; the server does not, so two
   * servers never depend on each other.
   */
  shareRunning?: boolean;
}

async function openEmbedded(config: Config, opts: ConnectOptions): Promise<{ embedded?: EmbeddedDynamo; shared?: RunningDynamo }> {
  const { dataDir, port } = config.embedded;
  if (opts.shareRunning) {
    const shared = await findRunningDynamo(dataDir);
    if (shared) return { shared };
  }
  opts.onEmbeddedStart?.(dataDir);
  try {
    return { embedded: await startEmbeddedDynamo({ port, dataDir, owner: opts.owner }) };
  } catch (e) {
    // Another process took the folder between the look and the start: use its DynamoDB Local.
    if (opts.shareRunning && e instanceof DataDirInUseError) {
      const shared = await findRunningDynamo(dataDir);
      if (shared) return { shared };
    }
    throw e;
  }
}

/**
 * The database the configuration points at: for `embedded`, DynamoDB Local is started first
 * (data in DATA_DIR) or, with `shareRunning`, the one already running there is used;
 * `endpoint` and `aws` only build the client. Shared by the server and the scripts, so they all
 * reach DynamoDB the same way.
 */
export async function connectDatabase(config: Config, opts: ConnectOptions = {}): Promise<Connection> {
  const { embedded, shared } = config.dynamo.target === 'embedded' ? await openEmbedded(config, opts) : {};
  const db = createDatabase(config.tableName, {
    region: config.dynamo.region,
    endpoint: embedded?.endpoint ?? shared?.endpoint ?? config.dynamo.endpoint,
    local: config.dynamo.target !== 'aws',
    maxAttempts: config.dynamo.maxAttempts,
    timeoutMs: opts.timeoutMs ?? config.dynamo.timeoutMs,
  }, { idempotencyTtlSeconds: config.dynamo.idempotencyTtlSeconds });
  return {
    db,
    embedded,
    shared,
    async close() {
      db.client.destroy();
      await embedded?.stop();
    },
  };
}

/** Where the configuration (and, once connected, a shared DynamoDB Local) puts the table, for messages. */
export function describeTarget(config: Config, shared?: RunningDynamo): string {
  const { target } = config.dynamo;
  if (target === 'embedded') {
    const owner = shared ? ` of ${shared.lock.owner} (pid ${shared.lock.pid}) at ${shared.endpoint}` : '';
    return `embedded DynamoDB Local${owner}, data in ${config.embedded.dataDir}`;
  }
  return target === 'endpoint' ? `endpoint ${config.dynamo.endpoint}` : `AWS ${config.dynamo.region}`;
}
