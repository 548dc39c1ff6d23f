import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** Dockerfile instructions per stage, continuation lines joined. */
function dockerStages(text: string): { from: string; instructions: { op: string; args: string }[] }[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; instructions: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

/** Where `tsc -p tsconfig.build.json` writes the JavaScript for a .ts file of the repository. */
function emittedPath(tsFile: string): string {
  const build = JSON.parse(read('tsconfig.build.json'));
  const base = build.extends ? JSON.parse(read(build.extends)) : {};
  const options = { ...base.compilerOptions, ...build.compilerOptions };
  expect(options.noEmit).toBe(false);
  const rel = relative(join(root, options.rootDir), join(root, tsFile));
  return join(options.outDir, rel).replace(/\.ts$/, '.js').split('\\').join('/');
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'));
  const { dynamodb, app } = compose.services;

  it('runs DynamoDB Local 3.3.0 with one shared database file in the named volume', () => {
    expect(dynamodb.image).toBe('amazon/dynamodb-local:3.3.0');
    expect(dynamodb.command).toEqual(['-jar', 'DynamoDBLocal.jar', '-sharedDb', '-dbPath', '/home/dynamodblocal/data']);
    expect(dynamodb.volumes).toEqual(['dynamodb-data:/home/dynamodblocal/data']);
    expect(Object.keys(compose.volumes)).toContain('dynamodb-data');
  });

  it('keeps DynamoDB Local on its non-root image user and hands the volume over in a one-shot service', () => {
    expect(dynamodb.user).toBeUndefined();
    const init = compose.services['dynamodb-volume-init'];
    expect(init.image).toBe(dynamodb.image);
    expect(init.entrypoint.join(' ')).toBe('chown -R dynamodblocal:dynamodblocal /home/dynamodblocal/data');
    expect(init.volumes).toEqual(dynamodb.volumes);
    expect(dynamodb.depends_on['dynamodb-volume-init'].condition).toBe('service_completed_successfully');
  });

  it('reports DynamoDB Local healthy once it answers a bare GET with 400', () => {
    const test = dynamodb.healthcheck.test as string[];
    expect(test[0]).toBe('CMD-SHELL');
    expect(test[1]).toContain('http://localhost:8000');
    expect(test[1]).toContain('400');
  });

  it('builds the app from the Dockerfile and starts it only after DynamoDB Local is healthy', () => {
    expect(app.build).toMatchObject({ context: '.', dockerfile: 'Dockerfile' });
    expect(app.depends_on.dynamodb.condition).toBe('service_healthy');
    expect(app.ports).toEqual(['4000:4000']);
  });

  it('points the app at the dynamodb service, which the configuration reads as a local endpoint that gets its table created', () => {
    expect(app.environment).toMatchObject({
      DYNAMODB_ENDPOINT: 'http://dynamodb:8000',
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'graphql-dynamodb',
      PORT: '4000',
    });
    const config = loadConfig({ ...interpolate(app.environment, { AUTH_JWT_SECRET: 'x'.repeat(32) }), NODE_ENV: 'production' });
    expect(config.dynamo.target).toBe('endpoint');
    expect(config.dynamo.createTable).toBe(true);
    expect(config.port).toBe(4000);
  });

  it('names every sign-in variable, takes them from .env, and cannot start in production without one', () => {
    const names = ['AUTH_JWT_SECRET', 'AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_USER_CLAIM', 'AUTH_GROUPS_CLAIM', 'AUTH_ADMIN_GROUP'];
    for (const n of names) expect(app.environment[n], n).toMatch(new RegExp(`^\\$\\{${n}:-`));
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    for (const n of names) expect(example, n).toMatch(new RegExp(`^${n}=`, 'm'));
    // No .env: the image's production mode refuses to start, naming the variables.
    expect(() => loadConfig({ ...interpolate(app.environment, {}), NODE_ENV: 'production' })).toThrow(/AUTH_JWKS_URL.*AUTH_JWT_SECRET/);
    const jwks = loadConfig({ ...interpolate(app.environment, { AUTH_JWKS_URL: 'https://id.example.com/jwks.json', AUTH_GROUPS_CLAIM: 'cognito:groups' }), NODE_ENV: 'production' });
    expect(jwks.auth).toMatchObject({ mode: 'jwks', groupsClaim: 'cognito:groups', userClaim: 'sub' });
  });

  it('checks the app on its readiness endpoint', () => {
    expect(app.healthcheck.test.join(' ')).toContain('http://127.0.0.1:4000/health/ready');
  });

  it('interpolates only the sign-in variables, each with a default (so a missing .env never breaks the file)', () => {
    const interpolated = [...read('docker-compose.yml').matchAll(/\$\{?([A-Za-z_]\w*)(:-)?/g)].map((m) => [m[1], m[2]]);
    expect(interpolated.length).toBeGreaterThan(0);
    for (const [name, dflt] of interpolated) {
      expect(name).toMatch(/^AUTH_/);
      expect(dflt).toBe(':-');
    }
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages(read('Dockerfile'));
  const final = stages.at(-1)!;
  const ops = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);

  it('compiles in a build stage and runs from a separate node:22-bookworm-slim stage', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]!.from).toBe('node:22-bookworm-slim AS build');
    expect(stages[0]!.instructions.map((i) => i.args)).toEqual(expect.arrayContaining(['npm ci', 'npm run build']));
    expect(final.from).toMatch(/^node:22-bookworm-slim\b/);
    expect(ops('COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('installs only production dependencies with NODE_ENV=production in the final stage', () => {
    expect(ops('ENV')).toContain('NODE_ENV=production');
    expect(ops('RUN').some((r) => r.startsWith('npm ci --omit=dev'))).toBe(true);
  });

  it('ships the SDL files the server reads at run time', () => {
    expect(ops('COPY')).toContain('schema ./schema');
  });

  it('runs as the non-root user node from the USER line on', () => {
    const users = ops('USER');
    expect(users.at(-1)).toBe('node');
    const userAt = final.instructions.findIndex((i) => i.op === 'USER');
    const cmdAt = final.instructions.findIndex((i) => i.op === 'CMD');
    expect(userAt).toBeLessThan(cmdAt);
    expect(final.instructions.slice(userAt).some((i) => i.op === 'RUN')).toBe(false);
  });

  it('starts the file that npm run build emits for src/main.ts, on the port compose publishes', () => {
    const main = emittedPath('src/main.ts');
    expect(main).toBe('dist/src/main.js');
    // The image starts node exactly as `npm run start:prod` does (same V8 flags, same file).
    const cmd = JSON.parse(ops('CMD').at(-1)!) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd.at(-1)).toBe(main);
    expect(JSON.parse(read('package.json')).scripts['start:prod']).toBe(cmd.join(' '));
    expect(ops('EXPOSE')).toEqual(['4000']);
  });

  it('emits the scripts next to the server, under dist/scripts', () => {
    expect(emittedPath('scripts/db-create.ts')).toBe('dist/scripts/db-create.js');
  });

  it('checks health with node against /health/ready', () => {
    const [check] = ops('HEALTHCHECK');
    expect(check).toMatch(/CMD \["node", "-e", .*\/health\/ready/);
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore').split(/\r?\n/).map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', 'dist', '.git', 'bench/results']));
  });
});

/** Compose's `${NAME:-default}` interpolation, from `env` (what .env or the shell would hold). */
function interpolate(environment: Record<string, string>, env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([k, v]) => [k, v.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, name: string, dflt: string) => env[name] || dflt)]),
  );
}
