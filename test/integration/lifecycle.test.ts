import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/db/embedded-dynamodb.js';
import { alive, cleanUp, exitOf, gql, javaProcessesFor, lockOf, runScript, startServer, tempDataDir, waitFor, type Started } from './processes.js';

// Every process these tests start (server, npm, java, watchdog) is killed here, pass or fail.
afterAll(cleanUp);

/** Each test starts DynamoDB Local up to three times (about 10 s each on 2 busy cores). */
const LONG = 180_000;

/** SIGTERM: the server exits 0, and its DynamoDB Local is gone with it. */
async function stopsCleanly(server: Started, dir: string): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await exitOf(server.child)).toBe(0);
  expect(javaProcessesFor(dir)).toEqual([]);
}

describe('DynamoDB Local never outlives or doubles the server', () => {
  it('kill -9 of the server leaves no java within a few seconds, nor a lock', async () => {
    const dir = tempDataDir('gql-ddb-kill9-');
    const server = await startServer(dir);
    const lock = lockOf(dir)!;
    expect(lock).toMatchObject({ pid: server.child.pid, owner: 'npm start', endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(javaProcessesFor(dir)).toEqual([lock.javaPid]);

    server.child.kill('SIGKILL');
    await exitOf(server.child);
    expect(await waitFor(() => javaProcessesFor(dir).length === 0, 5000)).toBe(true);
    expect(await waitFor(() => !existsSync(join(dir, LOCK_FILE)), 5000)).toBe(true);
    expect(await waitFor(() => !alive(lock.watchdogPid), 2000)).toBe(true);
  }, LONG);

  it('a second start on the same folder refuses clearly; the scripts write through the running one', async () => {
    const dir = tempDataDir('gql-ddb-shared-');
    const first = await startServer(dir);
    const [java] = javaProcessesFor(dir);
    const owner = `npm start \\(pid ${first.child.pid}\\)`;

    const second = (await startServer(dir).catch((e: unknown) => e)) as { output: string; code: number };
    expect(second.code).toBe(1);
    expect(second.output).toMatch(new RegExp(`${dir} is in use: ${owner} runs DynamoDB Local on it at http://127\\.0\\.0\\.1:\\d+`));
    expect(second.output).toMatch(/Stop that process first, or set DATA_DIR to another folder/);
    expect(javaProcessesFor(dir)).toEqual([java]);
    expect((await fetch(`http://127.0.0.1:${first.port}/health/ready`)).status).toBe(200);

    const created = await runScript('db-create', [], dir);
    expect(created.output).toMatch(new RegExp(`Table startup-table already existed \\(embedded DynamoDB Local of ${owner} at http`));
    expect(created.code).toBe(0);

    const seeded = await runScript('seed', ['--users=2', '--addresses=1', '--orders=1', '--products=5'], dir);
    expect(seeded.code).toBe(0);
    expect(seeded.output).toMatch(new RegExp(`Writing through the embedded DynamoDB Local of ${owner}`));
    expect(seeded.output).not.toMatch(/NodeVersionSupportWarning/);
    const userId = /user\(id: "([^"]+)"\)/.exec(seeded.output)![1]!;
    const readUser = async () => (await gql(first.port, dir, `{ user(id: "${userId}") { id } }`)).data.user;
    expect(await readUser()).toEqual({ id: userId }); // the server sees what the seed wrote
    expect(javaProcessesFor(dir)).toEqual([java]);

    // db:reset: refused without a confirmation, in production and against AWS; nothing deleted.
    const unconfirmed = await runScript('db-reset', [], dir);
    expect(unconfirmed).toMatchObject({ code: 1, output: expect.stringMatching(/db:reset refused: .*not a terminal.*--yes/) });
    const production = await runScript('db-reset', ['--yes'], dir, { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32) });
    expect(production).toMatchObject({ code: 1, output: expect.stringMatching(/db:reset refused: NODE_ENV is production/) });
    const aws = await runScript('db-reset', ['--yes'], dir, { DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1', AUTH_JWT_SECRET: 'x'.repeat(32) });
    expect(aws).toMatchObject({ code: 1, output: expect.stringMatching(/db:reset refused: the target is AWS/) });
    expect(await readUser()).toEqual({ id: userId });

    const reset = await runScript('db-reset', ['--yes'], dir);
    expect(reset.output).toMatch(new RegExp(`Table startup-table deleted and created again, empty \\(embedded DynamoDB Local of ${owner}`));
    expect(reset.code).toBe(0);
    expect(await readUser()).toBeNull();
    expect(javaProcessesFor(dir)).toEqual([java]);

    await stopsCleanly(first, dir);
  }, LONG);

  it('a DynamoDB Local left by a crashed run is stopped by the next start, with or without its lock', async () => {
    const dir = tempDataDir('gql-ddb-stale-');
    /** A crash that takes the watchdog too (kill -9 of both): java stays, and so does the lock. */
    const crash = async (server: Started) => {
      const lock = lockOf(dir)!;
      process.kill(lock.watchdogPid!, 'SIGKILL');
      server.child.kill('SIGKILL');
      await exitOf(server.child);
      await new Promise((r) => setTimeout(r, 1000));
      expect(javaProcessesFor(dir)).toEqual([lock.javaPid]);
      expect(lockOf(dir)).toMatchObject({ pid: lock.pid, token: lock.token });
      return lock;
    };

    const stale = await crash(await startServer(dir));
    const next = await startServer(dir);
    expect(next.output()).toMatch(new RegExp(`"pids":\\[${stale.javaPid}\\].*stopped a DynamoDB Local that an earlier run left on DATA_DIR`));
    expect(javaProcessesFor(dir)).toEqual([lockOf(dir)!.javaPid]);
    expect(lockOf(dir)!.javaPid).not.toBe(stale.javaPid);

    // An orphan with no lock at all (e.g. from a version before the lock) is found all the same.
    const orphan = await crash(next);
    rmSync(join(dir, LOCK_FILE));
    const last = await startServer(dir);
    expect(last.output()).toMatch(new RegExp(`"pids":\\[${orphan.javaPid}\\]`));
    expect(javaProcessesFor(dir)).toEqual([lockOf(dir)!.javaPid]);
    await stopsCleanly(last, dir);
  }, LONG);

  it('SIGTERM to the npm start process stops the server and DynamoDB Local', async () => {
    const dir = tempDataDir('gql-ddb-npm-');
    const npm = await startServer(dir, {}, 'npm');
    const lock = lockOf(dir)!;
    expect(lock.pid).not.toBe(npm.child.pid);
    expect(javaProcessesFor(dir)).toEqual([lock.javaPid]);

    npm.child.kill('SIGTERM'); // npm only, not its process group
    await exitOf(npm.child);
    expect(await waitFor(() => !alive(lock.pid), 10_000)).toBe(true);
    expect(npm.output()).toMatch(/shutting down: draining in-flight requests/);
    expect(npm.output()).toMatch(/"msg":"stopped"/);
    expect(javaProcessesFor(dir)).toEqual([]);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, LONG);
});
