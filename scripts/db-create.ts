/**
 * `npm run db:create`: creates the table and its indexes where the configuration points
 * (embedded DynamoDB Local on DATA_DIR, DYNAMODB_ENDPOINT, or AWS) and says whether it was
 * created or already existed. Running it twice changes nothing.
 *
 * With the embedded target, do not run it while the server uses the same DATA_DIR: two
 * DynamoDB Local processes on one data file are not supported.
 */
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { ensureTable } from '../src/db/ensure-table.js';

/** Where the table goes, for the messages; set once the configuration is read. */
let where = '';

async function main(): Promise<void> {
  // The SDK's warning that its 2027 releases need Node 22 would bury the one-line result.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = loadConfig();
  const { target } = config.dynamo;
  where =
    target === 'embedded'
      ? `embedded DynamoDB Local, data in ${config.embedded.dataDir}`
      : target === 'endpoint'
        ? `endpoint ${config.dynamo.endpoint}`
        : `AWS ${config.dynamo.region}`;
  const connection = await connectDatabase(config);
  try {
    const created = await ensureTable(connection.db.client, config.tableName);
    console.log(`Table ${config.tableName} ${created ? 'created' : 'already existed'} (${where}).`);
  } finally {
    await connection.close();
  }
}

function oneLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Our own errors carry a complete sentence; SDK errors are clearer with their name.
  const text = ['ConfigError', 'EmbeddedDynamoError'].includes(e.name) ? e.message : `${e.name}: ${e.message}`;
  return text.replace(/\s*\n\s*/g, ' ');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`db:create failed${where ? ` (${where})` : ''}: ${oneLine(e)}`);
    process.exit(1);
  },
);
