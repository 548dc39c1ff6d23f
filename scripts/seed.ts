/**
 * `npm run seed`: writes a deterministic demo data set into the configured table.
 *
 *   npm run seed                         50 users x 2 addresses x 5 orders, 100 products
 *   npm run seed -- --users=200 --orders=10 --addresses=3 --products=500
 *
 * Configuration is the server's (see src/config.ts): with the default `embedded` target it
 * writes through the DynamoDB Local that `npm start` runs on DATA_DIR (found through the data
 * folder's lock), or starts one of its own for the run when none is running.
 * A second run finds the seed marker and changes nothing.
 */
import '../src/quiet-sdk-warning.js';
import { loadConfigOrExit } from '../src/config.js';
import { connectDatabase, describeTarget } from '../src/db/connect.js';
import { EmbeddedDynamoError } from '../src/db/embedded-dynamodb.js';
import { layoutToServe, readOrAdoptDesign } from '../src/db/design.js';
import { ensureTable, tableExists } from '../src/db/ensure-table.js';
import { seedDatabase, type SeedOptions, type SeedProgress } from './seed/seed-data.js';

const DEFAULTS = { users: 50, addressesPerUser: 2, ordersPerUser: 5, products: 100 };

const FLAGS: Record<string, keyof typeof DEFAULTS | 'seed' | 'concurrency'> = {
  users: 'users',
  addresses: 'addressesPerUser',
  orders: 'ordersPerUser',
  products: 'products',
  seed: 'seed',
  concurrency: 'concurrency',
};

function parseArgs(argv: string[]): Omit<SeedOptions, 'onProgress'> {
  const opts: Omit<SeedOptions, 'onProgress'> = { ...DEFAULTS };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      console.log('Usage: npm run seed -- [--users=N] [--addresses=N] [--orders=N] [--products=N] [--seed=N] [--concurrency=N]');
      process.exit(0);
    }
    const m = /^--([a-z]+)=(\d+)$/.exec(arg);
    const key = m ? FLAGS[m[1]!] : undefined;
    if (!m || !key) {
      console.error(`Unknown argument ${JSON.stringify(arg)}; try --help`);
      process.exit(2);
    }
    (opts as unknown as Record<string, number>)[key] = Number(m[2]);
  }
  return opts;
}

function progressPrinter(): (p: SeedProgress) => void {
  const tty = process.stdout.isTTY === true;
  let lastQuarter = -1;
  let lastPhase = '';
  return (p) => {
    if (p.phase === 'done') {
      if (tty) process.stdout.write('\n');
      return;
    }
    const line = `  ${p.phase.padEnd(8)} ${String(p.done).padStart(6)}/${p.total}`;
    if (tty) {
      // Overwrite the line in place; a newline when a phase ends.
      process.stdout.write(`\r${line}`);
      if (p.done === p.total) process.stdout.write('\n');
      return;
    }
    // Not a terminal (CI, a pipe): a few lines per phase.
    if (p.phase !== lastPhase) {
      lastPhase = p.phase;
      lastQuarter = -1;
    }
    const quarter = p.total === 0 ? 4 : Math.floor((p.done / p.total) * 4);
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      console.log(line);
    }
  };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const opts = parseArgs(process.argv.slice(2));

  const connection = await connectDatabase(config, {
    timeoutMs: Math.max(config.dynamo.timeoutMs, 10_000),
    owner: 'npm run seed',
    shareRunning: true,
    onEmbeddedStart: (dataDir) => console.log(`Starting the embedded DynamoDB Local on ${dataDir} for this run`),
  });
  if (connection.shared) console.log(`Writing through the ${describeTarget(config, connection.shared)}`);
  const { db: connected } = connection;
  try {
    if (config.dynamo.createTable) {
      const created = await ensureTable(connected.client, config.tableName, { statusShards: config.dynamo.statusShards });
      if (created) console.log(`Created table ${config.tableName}`);
    } else if (!(await tableExists(connected.client, config.tableName))) {
      throw new Error(`Table ${config.tableName} does not exist (CREATE_TABLE is off); run npm run db:create first`);
    }
    // Orders go where the server reads them: the table's own status shards.
    const design = await readOrAdoptDesign(connected.client, config.tableName, config.dynamo.statusShards);
    const db = { ...connected, layout: layoutToServe(config.tableName, design, config.dynamo.statusShards) };
    console.log(
      `Seeding ${config.tableName} (${config.dynamo.target}): ${opts.users} users x ${opts.addressesPerUser} addresses x ` +
        `${opts.ordersPerUser} orders, ${opts.products} products`,
    );
    const summary = await seedDatabase(db, { ...opts, onProgress: progressPrinter() });
    if (summary.skipped) {
      console.log(`Already seeded on ${summary.seededAt} (marker SEED#v1 found); nothing written.`);
    } else {
      const c = summary.counts;
      console.log(
        `Seeded in ${(summary.durationMs / 1000).toFixed(1)} s with ${summary.dynamodbCalls} DynamoDB calls: ` +
          `${c.products} products (${c.featuredProducts} featured), ${c.users} users, ${c.addresses} addresses, ` +
          `${c.orders} orders with ${c.orderLines} lines`,
      );
      console.log(`Orders by status: ${Object.entries(c.ordersByStatus).map(([s, n]) => `${s} ${n}`).join(', ')}`);
      const u = summary.users[0];
      if (u) console.log(`Try: { user(id: "${u.id}") { name addresses { city } orders(first: 3) { edges { node { totalCents } } } } }`);
    }
  } finally {
    await connection.close();
  }
}

main().catch((e: unknown) => {
  if (e instanceof EmbeddedDynamoError) console.error(e.message);
  else console.error('Seeding failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
