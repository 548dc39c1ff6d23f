/**
 * Prints a signed token for development: `npm run token -- --user <id>` (a customer),
 * `npm run token -- --admin` (an admin), with `--groups a,b` and `--expires 2h` (s, m, h, d).
 * Signed with AUTH_JWT_SECRET when set, otherwise with the development secret the server keeps
 * in AUTH_DEV_SECRET_FILE (created here if the server has not run yet). With AUTH_JWKS_URL,
 * tokens come from the identity provider, not from here.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadOrCreateDevSecret } from '../src/auth/settings.js';
import { signToken } from '../src/auth/sign.js';
import { loadConfigOrExit } from '../src/config.js';

const USAGE = 'usage: npm run token -- --user <id> | --admin [--user <id>] [--groups a,b] [--expires 1h]';

/** Pure: "90", "90s", "15m", "2h", "7d" as seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      admin: { type: 'boolean', default: false },
      groups: { type: 'string' },
      expires: { type: 'string', default: '1h' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const config = loadConfigOrExit();
  if (config.auth.mode === 'jwks') fail('AUTH_JWKS_URL is set: tokens come from your identity provider, not from this script.');
  const userId = values.user ?? (values.admin ? 'admin' : undefined);
  if (!userId) fail(USAGE);
  const expiresInSeconds = parseDuration(values.expires);
  if (!expiresInSeconds) fail(`--expires accepts a duration such as 3600, 90s, 15m, 2h or 7d; got ${values.expires}`);
  const groups = [...(values.groups ? values.groups.split(',').map((g) => g.trim()).filter(Boolean) : []), ...(values.admin ? [config.auth.adminGroup] : [])];
  const secret = config.auth.secret ?? loadOrCreateDevSecret(config.auth.devSecretFile).secret;
  const token = await signToken(secret, {
    userId,
    groups,
    expiresInSeconds,
    userClaim: config.auth.userClaim,
    groupsClaim: config.auth.groupsClaim,
    ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}),
    ...(config.auth.audience ? { audience: config.auth.audience } : {}),
  });
  console.log(token);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
