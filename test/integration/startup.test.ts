import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/sign.js';

const root = new URL('../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'gql-ddb-start-'));

const spawned: ChildProcess[] = [];

afterAll(() => {
  // A failed test must not leave the server or its java child behind.
  for (const child of spawned) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of javaProcessesFor(dataDir)) process.kill(Number(pid), 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** Runs the server the way `npm start` does, with its data in a temporary folder. */
function start(env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    // NODE_ENV as npm start has it (vitest sets "test", which changes Apollo's signal handling).
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: '0',
      DATA_DIR: dataDir,
      AUTH_DEV_SECRET_FILE: secretFile(),
      TABLE_NAME: 'startup-table',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"http:\/\/localhost:(\d+)\/graphql"/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(Object.assign(new Error(`exited with ${code}: ${out}`), { output: out, code })));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function javaProcessesFor(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `DynamoDBLocal.jar.*${dir}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The development secret the server created (and keeps) beside its data. */
const secretFile = () => join(dataDir, 'dev-jwt-secret');

/** An admin token signed with the running server's development secret, as `npm run token -- --admin` makes. */
const adminToken = () => signToken(readFileSync(secretFile(), 'utf8').trim(), { userId: 'startup-admin', groups: ['admin'] });

async function gql(port: number, query: string) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

describe('npm start', () => {
  it('serves on an embedded DynamoDB Local, keeps data across restarts and leaves no java process on Ctrl-C', async () => {
    const first = await start();
    expect((await fetch(`http://127.0.0.1:${first.port}/health/ready`)).status).toBe(200);
    const created = await gql(first.port, `mutation { createUser(input: { email: "kept@example.com", name: "Kept" }) { id } }`);
    const id = created.data.createUser.id as string;
    expect(javaProcessesFor(dataDir)).toHaveLength(1);
    first.child.kill('SIGINT');
    expect(await exitOf(first.child)).toBe(0);
    expect(javaProcessesFor(dataDir)).toEqual([]);

    const second = await start();
    expect(second.output()).toContain('table exists');
    const read = await gql(second.port, `{ user(id: "${id}") { email } }`);
    expect(read.data.user).toEqual({ email: 'kept@example.com' });
    second.child.kill('SIGTERM');
    expect(await exitOf(second.child)).toBe(0);
    expect(javaProcessesFor(dataDir)).toEqual([]);
  });

  it('drains an in-flight request on SIGTERM before it exits', async () => {
    const server = await start({ QUERY_MAX_CALLS: '1000', SHUTDOWN_TIMEOUT_MS: '20000' });
    const ids = Array.from({ length: 400 }, (_, i) => `missing-${i}`);
    // 400 single-partition Queries: long enough to be in flight when SIGTERM arrives.
    const pending = fetch(`http://127.0.0.1:${server.port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken()}` },
      body: JSON.stringify({ query: 'query($ids: [ID!]!) { users(ids: $ids) { addresses { id } } }', variables: { ids } }),
    });
    await new Promise((r) => setTimeout(r, 150));
    server.child.kill('SIGTERM');
    const res = await pending;
    const body = (await res.json()) as { data: { users: unknown[] } };
    expect(res.status).toBe(200);
    expect(body.data.users).toHaveLength(400);
    expect(await exitOf(server.child)).toBe(0);
    expect(server.output()).toMatch(/draining in-flight requests/);
    expect(javaProcessesFor(dataDir)).toEqual([]);
  });

  it('without Java fails with one message naming the three ways out', async () => {
    const err = (await start({ PATH: '/nonexistent' }).catch((e: unknown) => e)) as { output: string; code: number };
    expect(err.code).toBe(1);
    expect(err.output).toMatch(/Java was not found/);
    expect(err.output).toMatch(/install Java 17/);
    expect(err.output).toMatch(/docker compose up/);
    expect(err.output).toMatch(/DYNAMODB_ENDPOINT/);
  });

  it('stops with one line naming a bad variable', async () => {
    const err = (await start({ PORT: 'eighty' }).catch((e: unknown) => e)) as { output: string; code: number };
    expect(err.code).toBe(1);
    expect(err.output.trim()).toMatch(/^Invalid configuration: PORT accepts a whole number from 0 to 65535 \(got "eighty"\)$/m);
  });
});
