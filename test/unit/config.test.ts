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
    const c = loadConfig({ DYNAMODB_TARGET: 'aws', AWS_REGION: 'eu-west-1' });
    expect(c.dynamo.target).toBe('aws');
    expect(c.dynamo.createTable).toBe(false);
  });

  it.each([
    [{ PORT: 'abc' }, /PORT accepts a whole number from 0 to 65535 \(got "abc"\)/],
    [{ PORT: '70000' }, /PORT accepts/],
    [{ TABLE_NAME: 'ab' }, /TABLE_NAME accepts 3 to 255 characters/],
    [{ DYNAMODB_ENDPOINT: 'nope' }, /DYNAMODB_ENDPOINT accepts an http\(s\) URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL accepts/],
    [{ DYNAMODB_EXTENSIONS: 'maybe' }, /DYNAMODB_EXTENSIONS accepts true or false/],
    [{ DYNAMODB_TARGET: 'cloud' }, /DYNAMODB_TARGET accepts embedded, endpoint or aws/],
  ])('stops with one line naming the variable for %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
