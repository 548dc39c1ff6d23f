import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('defaults to the embedded DynamoDB Local on port 4000', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.dynamo.target).toBe('embedded');
    expect(c.dynamo.createTable).toBe(true);
    expect(c.dynamoExtensions).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('uses an endpoint when DYNAMODB_ENDPOINT is set', () => {
    const c = loadConfig({ DYNAMODB_ENDPOINT: 'http://localhost:8000' });
    expect(c.dynamo.target).toBe('endpoint');
    expect(c.dynamo.endpoint).toBe('http://localhost:8000');
  });

  it('selects real AWS only when asked explicitly, and then needs a region', () => {
    expect(() => loadConfig({ DYNAMODB_TARGET: 'aws' })).toThrow(/AWS_REGION/);
    const secret = { AUTH_JWT_SECRET: 'x'.repeat(32) };
    const c = loadConfig({ DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1', ...secret });
    expect(c.dynamo.target).toBe('aws');
    expect(c.dynamo.createTable).toBe(false);
    // Real AWS never runs on the development token secret, whatever NODE_ENV says.
    expect(() => loadConfig({ DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1' })).toThrow(/DYNAMODB_TARGET=aws needs a token verifier/);
  });

  it('takes JWKS only over https (plain http only for localhost outside production)', () => {
    const prod = { NODE_ENV: 'production', DYNAMODB_ENDPOINT: 'http://localhost:8000' };
    expect(loadConfig({ ...prod, AUTH_JWKS_URL: 'https://id.example.com/jwks.json' }).auth.mode).toBe('jwks');
    expect(() => loadConfig({ ...prod, AUTH_JWKS_URL: 'http://id.example.com/jwks.json' })).toThrow(/https/);
    expect(() => loadConfig({ ...prod, AUTH_JWKS_URL: 'http://localhost:9000/jwks.json' })).toThrow(/https/);
    expect(() => loadConfig({ AUTH_JWKS_URL: 'ftp://id.example.com/jwks.json' })).toThrow(/https/);
    expect(loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:9000/jwks.json' }).auth.mode).toBe('jwks');
  });

  it.each([
    [{ PORT: 'abc' }, /PORT accepts a whole number from 0 to 65535 \(got "abc"\)/],
    [{ PORT: '70000' }, /PORT accepts/],
    [{ TABLE_NAME: 'ab' }, /TABLE_NAME accepts 3 to 255 characters/],
    [{ DYNAMODB_ENDPOINT: 'nope' }, /DYNAMODB_ENDPOINT accepts an http\(s\) URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL accepts/],
    [{ DYNAMODB_EXTENSIONS: 'maybe' }, /DYNAMODB_EXTENSIONS accepts true or false/],
    [{ DYNAMODB_TARGET: 'cloud' }, /DYNAMODB_TARGET accepts embedded, endpoint or aws/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT accepts json or pretty \(got "xml"\)/],
    [{ METRICS_ENABLED: 'sometimes' }, /METRICS_ENABLED accepts true or false/],
  ])('stops with one line naming the variable for %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

/** What production needs anyway (a token verifier), so the tests below see only what they vary. */
const PROD = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32) };

describe('loadConfig in production', () => {
  it('refuses to start without a named database, in one line naming DYNAMODB_TARGET and DYNAMODB_ENDPOINT', () => {
    let message = '';
    try {
      loadConfig(PROD);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: production needs a database target: .*DYNAMODB_TARGET=aws.*DYNAMODB_ENDPOINT.*DYNAMODB_TARGET=embedded/);
    expect(message).not.toContain('\n');
  });

  it('runs the embedded DynamoDB Local only when asked for explicitly, and any named target', () => {
    expect(loadConfig({ ...PROD, DYNAMODB_TARGET: 'embedded' }).dynamo.target).toBe('embedded');
    expect(loadConfig({ ...PROD, DYNAMODB_ENDPOINT: 'http://dynamodb:8000' }).dynamo.target).toBe('endpoint');
    expect(loadConfig({ ...PROD, DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1' }).dynamo.target).toBe('aws');
    // An empty variable is no choice (compose passes unset variables as empty strings).
    expect(() => loadConfig({ ...PROD, DYNAMODB_TARGET: '' })).toThrow(/production needs a database target/);
  });

  it('leaves extensions.dynamodb off unless DYNAMODB_EXTENSIONS=true, and logs JSON', () => {
    const c = loadConfig({ ...PROD, DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1' });
    expect(c.dynamoExtensions).toBe(false);
    expect(c.logFormat).toBe('json');
    expect(c.metricsEnabled).toBe(true);
    expect(loadConfig({ ...PROD, DYNAMODB_ENDPOINT: 'http://dynamodb:8000', DYNAMODB_EXTENSIONS: 'true' }).dynamoExtensions).toBe(true);
  });
});

describe('loadConfig defaults that depend on NODE_ENV', () => {
  it('binds 127.0.0.1 outside production unless HOST says otherwise; 0.0.0.0 in production', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ ...PROD, DYNAMODB_ENDPOINT: 'http://dynamodb:8000' }).host).toBe('0.0.0.0');
    expect(loadConfig({ ...PROD, DYNAMODB_ENDPOINT: 'http://dynamodb:8000', HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
  });

  it('logs pretty in development and JSON otherwise, unless LOG_FORMAT says', () => {
    expect(loadConfig({}).logFormat).toBe('pretty');
    expect(loadConfig({ NODE_ENV: 'test' }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ ...PROD, DYNAMODB_ENDPOINT: 'http://dynamodb:8000', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  });

  it('puts extensions.dynamodb on responses outside production unless switched off; metrics on unless switched off', () => {
    expect(loadConfig({}).dynamoExtensions).toBe(true);
    expect(loadConfig({ DYNAMODB_EXTENSIONS: 'false' }).dynamoExtensions).toBe(false);
    expect(loadConfig({}).metricsEnabled).toBe(true);
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metricsEnabled).toBe(false);
  });
});
