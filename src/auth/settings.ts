import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuthConfig } from '../config.js';
import type { AuthSettings } from './verifier.js';

/**
 * The development secret: created once (32 random bytes) and kept in `file`, readable by its
 * owner only, so tokens printed by `npm run token` keep working across restarts. Never used in
 * production (config.ts refuses to start there without a verifier).
 */
export function loadOrCreateDevSecret(file: string): { secret: string; created: boolean } {
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return { secret, created: false };
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret, created: true };
}

/** What the verifier needs, with the development secret read (or created) when that is the mode. */
export function resolveAuthSettings(auth: AuthConfig): { settings: AuthSettings; devSecretCreated?: boolean } {
  const { mode, devSecretFile, ...rest } = auth;
  if (mode !== 'dev') return { settings: rest };
  const { secret, created } = loadOrCreateDevSecret(devSecretFile);
  return { settings: { ...rest, secret }, devSecretCreated: created };
}
