/**
 * Runs the real entry points (the server, `npm start`, the scripts) as child processes with
 * their data in temporary folders, and cleans up after them even when a test fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../../src/auth/sign.js';
import { readDataDirLock } from '../../src/db/embedded-dynamodb.js';

export const root = new URL('../..', import.meta.url).pathname;

const spawned = new Set<ChildProcess>();
const dataDirs = new Set<string>();

export function tempDataDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dataDirs.add(dir);
  return dir;
}

/**
 * The environment of a child: the server's defaults for a development box, data in `dataDir`.
 * Without vitest's AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, so the entry points show
 * whether they silence the SDK's warning themselves.
 */
export function childEnv(dataDir: string, env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
    // NODE_ENV as npm start has it (vitest sets "test", which changes Apollo's signal handling).
    NODE_ENV: 'development',
    PORT: '0',
    DATA_DIR: dataDir,
    AUTH_DEV_SECRET_FILE: join(dataDir, 'dev-jwt-secret'),
    TABLE_NAME: 'startup-table',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...env,
  };
}

export interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/**
 * Starts the server (`node --import tsx src/main.ts`, or `npm start` itself) in a process group
 * of its own and resolves once it serves; rejects with its output and exit code if it exits first.
 */
export function startServer(dataDir: string, env: Record<string, string | undefined> = {}, how: 'node' | 'npm' = 'node'): Promise<Started> {
  const [command, args] = how === 'npm' ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'src/main.ts']];
  const child = spawn(command, args, { cwd: root, env: childEnv(dataDir, env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  spawned.add(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"http:\/\/localhost:(\d+)\/graphql"/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), output: () => out });
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(Object.assign(new Error(`exited with ${code}: ${out}`), { output: out, code })));
  });
}

/** Runs `scripts/<name>.ts` to its end: its exit code and everything it printed. */
export function runScript(
  name: string,
  args: string[],
  dataDir: string,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], {
    cwd: root,
    env: childEnv(dataDir, env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  spawned.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function pgrep(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The DynamoDB Local (java) processes running on `dir`. */
export const javaProcessesFor = (dir: string) => pgrep(`DynamoDBLocal.jar.*${dir}`);

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `check` holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** The lock in `dir`, for the pids of the server, its java and its watchdog. */
export const lockOf = (dir: string) => readDataDirLock(dir);

/** An admin token signed with the development secret the server created beside its data. */
export const adminToken = (dataDir: string) =>
  signToken(readFileSync(join(dataDir, 'dev-jwt-secret'), 'utf8').trim(), { userId: 'startup-admin', groups: ['admin'] });

export async function gql(port: number, dataDir: string, query: string) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken(dataDir)}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

/**
 * Kills whatever the tests started: each child's process group (server, npm, java), then any
 * process still naming a data folder (java, watchdogs), and removes the folders.
 */
export function cleanUp(): void {
  for (const child of spawned) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }
  spawned.clear();
  for (const dir of dataDirs) {
    for (const pid of pgrep(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  dataDirs.clear();
}
