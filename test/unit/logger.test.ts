import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What a process logging one line with createLogger(level, format) prints (pretty runs in pino's worker). */
function logOnce(format: string, level = 'info'): string {
  const script = `
    const { createLogger } = await import('./src/logger.ts');
    const log = createLogger(${JSON.stringify(level)}, ${JSON.stringify(format)});
    log.info({ operation: 'Ping', variables: { secret: 1 } }, 'graphql request');
    // The exit path main.ts takes after its last line: pino flushes its worker on exit.
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('createLogger', () => {
  it('writes one JSON object per line with LOG_FORMAT=json (production), variables redacted', () => {
    const lines = logOnce('json').trim().split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 30, msg: 'graphql request', operation: 'Ping' });
    expect(entry.variables).toBeUndefined();
  });

  it('writes for people with LOG_FORMAT=pretty (development), variables still redacted', () => {
    const out = logOnce('pretty');
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: graphql request\n\s+operation: "Ping"\n$/);
    expect(out).not.toContain('secret');
  });

  it('starts no worker and writes nothing at level silent', () => {
    expect(logOnce('pretty', 'silent')).toBe('');
  });
});
