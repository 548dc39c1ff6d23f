/**
 * `npm run db:reset`: deletes the table (and every item in it) and creates it again, empty,
 * where the configuration points: the embedded DynamoDB Local on DATA_DIR (the one `npm start`
 * runs, when it runs) or DYNAMODB_ENDPOINT. It asks first; `-- --yes` skips the question.
 * Refused with NODE_ENV=production and with DYNAMODB_TARGET=aws.
 */
import '../src/quiet-sdk-warning.js';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DeleteTableCommand, ResourceNotFoundException, waitUntilTableNotExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfigOrExit } from '../src/config.js';
import { connectDatabase, describeTarget } from '../src/db/connect.js';
import { ensureTable } from '../src/db/ensure-table.js';

const USAGE = 'usage: npm run db:reset [-- --yes]';

function refuse(reason: string): never {
  console.error(`db:reset refused: ${reason}`);
  process.exit(1);
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Deletes the table and waits until it is gone; false when there was none. */
async function deleteTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return false;
    throw e;
  }
  await waitUntilTableNotExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  return true;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { yes: { type: 'boolean', short: 'y', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) return console.log(USAGE);
  // Before the configuration is even read: production data is never reset from here.
  if (process.env.NODE_ENV === 'production') refuse('NODE_ENV is production. It resets development data only.');
  const config = loadConfigOrExit();
  if (config.dynamo.target === 'aws') {
    refuse('the target is AWS (DYNAMODB_TARGET=aws). Delete a real table with the AWS console or CLI, on purpose.');
  }
  if (!values.yes) {
    if (!process.stdin.isTTY) refuse('nobody can confirm here (not a terminal). Run `npm run db:reset -- --yes`.');
    const question = `Delete table ${config.tableName} and everything in it (${describeTarget(config)}), then create it empty? [y/N] `;
    if (!(await ask(question))) {
      console.log('Nothing changed.');
      process.exit(1);
    }
  }

  const connection = await connectDatabase(config, { owner: 'npm run db:reset', shareRunning: true });
  try {
    const { client } = connection.db;
    const deleted = await deleteTable(client, config.tableName);
    await ensureTable(client, config.tableName, { statusShards: config.dynamo.statusShards });
    const where = describeTarget(config, connection.shared);
    console.log(`Table ${config.tableName} ${deleted ? 'deleted and created again' : 'was missing; created'}, empty (${where}).`);
    if (connection.shared) console.log(`Restart ${connection.shared.lock.owner} for its subscriptions to follow the new table's stream.`);
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`db:reset failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
