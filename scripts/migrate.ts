/**
 * `npm run migrate`: brings the table where the configuration points (embedded DynamoDB Local on
 * DATA_DIR, DYNAMODB_ENDPOINT, or AWS) to the current key design; the work is src/db/migrate.ts.
 * `-- --help` lists the flags. A progress bar on stderr, the summary on stdout (`--json`: the
 * report). Exit codes: 0 done (or a dry run), 1 an error (one line), 130 stopped by Ctrl-C (143
 * by SIGTERM) after each segment's current page, its checkpoint saved: run it again to continue.
 */
import '../src/quiet-sdk-warning.js';
import { loadConfig, type Config } from '../src/config.js';
import { connectDatabase, describeTarget } from '../src/db/connect.js';
import { DesignError, readDesign } from '../src/db/design.js';
import { tableExists } from '../src/db/ensure-table.js';
import {
  formatProgress,
  formatSummary,
  migrateTable,
  MigrationError,
  MIGRATE_USAGE,
  parseMigrateArgs,
  resolveTargetShards,
  type MigrationProgress,
} from '../src/db/migrate.js';

/** Where the table is, for the messages; set once the configuration is read. */
let where = '';

/** The progress bar: one updating line on a terminal, a line every ~2 s otherwise. */
function progressBar(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  const every = tty ? 100 : 2000;
  let last = 0;
  let pending: MigrationProgress | undefined;
  let shown = '';
  const draw = (p: MigrationProgress) => {
    const line = formatProgress(p);
    if (line === shown) return;
    shown = line;
    if (tty) stream.write(`\r${line.slice(0, Math.max(20, (stream.columns || 200) - 1))}\x1b[K`);
    else stream.write(`${line}\n`);
  };
  return {
    update(p: MigrationProgress) {
      pending = p;
      const now = Date.now();
      if (now - last < every && !p.done) return;
      last = now;
      draw(p);
    },
    /** The last state, then a line break on a terminal. */
    end() {
      if (pending) draw(pending);
      if (tty && shown) stream.write('\n');
      shown = '';
      pending = undefined;
    },
    /** A message on a line of its own, the bar drawn again after it. */
    say(message: string) {
      if (tty && shown) stream.write('\r\x1b[K');
      stream.write(`${message}\n`);
      shown = '';
      if (tty && pending) draw(pending);
    },
  };
}

async function main(): Promise<number> {
  const args = parseMigrateArgs(process.argv.slice(2));
  if (args.help) {
    console.log(MIGRATE_USAGE);
    return 0;
  }
  const config: Config = loadConfig();
  where = describeTarget(config);
  const connection = await connectDatabase(config, { owner: 'npm run migrate', shareRunning: true });
  where = describeTarget(config, connection.shared);
  const bar = progressBar(process.stderr);
  const stopper = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      // Twice: leave now; the checkpoint of the last finished page holds.
      bar.say('Stopped at once; the checkpoint of each segment\'s last finished page is kept.');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stoppedBy = signal;
    bar.say(`Stopping after each segment's current page (its checkpoint saved)… (${signal} again stops at once)`);
    stopper.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { db } = connection;
    if (!(await tableExists(db.client, config.tableName))) {
      throw new MigrationError(`Table ${config.tableName} does not exist: nothing to migrate (\`npm run db:create\` creates it, already current)`);
    }
    let recorded: number | undefined;
    try {
      recorded = (await readDesign(db.client, config.tableName))?.statusShards;
    } catch (e) {
      if (!(e instanceof DesignError)) throw e; // unreadable: the migration rewrites it
    }
    const targetShards = resolveTargetShards(args.shards, config.dynamo.statusShards, recorded);
    if (args.shards !== undefined && config.dynamo.statusShards !== undefined && args.shards !== config.dynamo.statusShards) {
      bar.say(`Note: --shards ${args.shards} differs from STATUS_SHARDS=${config.dynamo.statusShards}; servers started with STATUS_SHARDS=${config.dynamo.statusShards} will refuse the table.`);
    }
    const report = await migrateTable(db, {
      targetShards,
      ttlSeconds: config.dynamo.idempotencyTtlSeconds,
      dryRun: args.dryRun,
      segments: args.segments,
      pageSize: args.pageSize,
      restart: args.restart,
      ...(args.maxWritesPerSecond !== undefined ? { maxWritesPerSecond: args.maxWritesPerSecond } : {}),
      onProgress: (p) => bar.update(p),
      onNotice: (m) => bar.say(m),
      signal: stopper.signal,
    });
    bar.end();
    if (args.json) console.log(JSON.stringify({ ...report, target: where }, null, 2));
    else for (const line of formatSummary(report)) console.log(line);
    if (!report.completed) return stoppedBy === 'SIGTERM' ? 143 : 130;
    return 0;
  } finally {
    bar.end();
    await connection.close();
  }
}

function oneLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Our own errors carry a complete sentence; SDK errors are clearer with their name.
  const ours = ['ConfigError', 'EmbeddedDynamoError', 'DataDirInUseError', 'MigrationError', 'DesignError'];
  const text = ours.includes(e.name) ? e.message : `${e.name}: ${e.message}`;
  return text.replace(/\s*\n\s*/g, ' ');
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`migrate failed${where ? ` (${where})` : ''}: ${oneLine(e)}`);
    process.exit(1);
  },
);
