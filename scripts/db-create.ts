/**
 * `npm run db:create`: creates the table and its indexes where the configuration points
 * (embedded DynamoDB Local on DATA_DIR, DYNAMODB_ENDPOINT, or AWS) and says whether it was
 * created or already existed. Running it twice changes nothing.
 *
 * With the embedded target it uses the DynamoDB Local that `npm start` runs on DATA_DIR (found
 * through the data folder's lock), or starts one for the run when none is running.
 */
import '../src/quiet-sdk-warning.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase, describeTarget } from '../src/db/connect.js';
import { ensureTable } from '../src/db/ensure-table.js';

/** Where the table goes, for the messages; set once the configuration is read. */
let where = '';

async function main(): Promise<void> {
  const config = loadConfig();
  where = describeTarget(config);
  const connection = await connectDatabase(config, { owner: 'npm run db:create', shareRunning: true });
  where = describeTarget(config, connection.shared);
  try {
    const created = await ensureTable(connection.db.client, config.tableName, { statusShards: config.dynamo.statusShards });
    console.log(`Table ${config.tableName} ${created ? 'created' : 'already existed'} (${where}).`);
  } finally {
    await connection.close();
  }
}

function oneLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Our own errors carry a complete sentence; SDK errors are clearer with their name.
  const text = ['ConfigError', 'EmbeddedDynamoError', 'DataDirInUseError'].includes(e.name) ? e.message : `${e.name}: ${e.message}`;
  return text.replace(/\s*\n\s*/g, ' ');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`db:create failed${where ? ` (${where})` : ''}: ${oneLine(e)}`);
    process.exit(1);
  },
);
