import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { isSafeUserId, type Caller } from './caller.js';

/** How the server checks tokens (see README "Authentication"); built from the environment in config.ts. */
export interface AuthSettings {
  /** A JSON Web Key Set URL (RS256/ES256 keys of an identity provider), or… */
  jwksUrl?: string | undefined;
  /** …a shared secret for HS256 (at least 32 characters). */
  secret?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** The claim that holds the caller's user id (default `sub`). */
  userClaim: string;
  /** The claim that lists the caller's groups (default `groups`; Cognito: `cognito:groups`). */
  groupsClaim: string;
  /** Members of this group are admins (default `admin`). */
  adminGroup: string;
  /** Least time between two fetches of the key set (jose's cooldown); a new `kid` refetches after it. */
  jwksCooldownMs?: number;
}

/** A token that is not valid. `reason` is for the log only: clients are told "invalid token". */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
  constructor(readonly reason: string) {
    super('invalid token');
  }
}

export interface TokenVerifier {
  /** The caller a token names, or InvalidTokenError. */
  verify(token: string): Promise<Caller>;
}

/** Identity providers sign with these; HS256 only with a shared secret. "none" is never accepted. */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** The contract's clock tolerance for `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Verified tokens remembered (until they expire) per verifier. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * A claim by name. A dotted name (Keycloak's `realm_access.roles`) walks into nested objects
 * only: a top-level claim literally named "realm_access.roles" must not stand in for it.
 */
function claim(payload: JWTPayload, name: string): unknown {
  if (!name.includes('.')) return Object.hasOwn(payload, name) ? payload[name] : undefined;
  let value: unknown = payload;
  for (const key of name.split('.')) {
    if (!value || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * Groups as a list: an array of names, or one string holding one name. A string is never split
 * (a group called "Billing admin" does not make its members admins).
 */
function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string') return [value];
  return [];
}

/**
 * Verifies signature, algorithm, expiry and not-before (30 s tolerance), and issuer and audience
 * when set, with jose. A key set is fetched once and cached; a token with an unknown `kid`
 * fetches it again (at most once per cooldown), so a provider's key rotation needs no restart.
 */
export function createVerifier(settings: AuthSettings): TokenVerifier {
  const { jwksUrl, secret } = settings;
  if (!jwksUrl && !secret) throw new Error('createVerifier needs a JWKS URL or a shared secret');
  const options = {
    algorithms: jwksUrl ? ASYMMETRIC : ['HS256'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // Tokens without an expiry would be valid forever (and a subscription would never close).
    requiredClaims: ['exp'],
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  const jwks = jwksUrl
    ? createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: settings.jwksCooldownMs ?? 30_000, timeoutDuration: 5_000 })
    : undefined;
  const key = new TextEncoder().encode(secret ?? '');

  // A token verified once is remembered until it expires: the signature check (an HMAC or RSA
  // operation through WebCrypto) is most of the cost of authorization, and clients send the
  // same token with every request. Bounded: the oldest entry goes first.
  const verified = new Map<string, Extract<Caller, { kind: 'user' }>>();
  const stillValid = (c: Extract<Caller, { kind: 'user' }>) => c.expiresAt !== undefined && Date.now() / 1000 < c.expiresAt + CLOCK_TOLERANCE_SECONDS;

  return {
    async verify(token) {
      const known = verified.get(token);
      if (known && stillValid(known)) return known;
      if (known) verified.delete(token);
      let payload: JWTPayload;
      try {
        payload = (jwks ? await jwtVerify(token, jwks, options) : await jwtVerify(token, key, options)).payload;
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new InvalidTokenError(`${code ?? 'ERR_JWT_INVALID'}: ${(e as Error).message}`);
      }
      const userId = claim(payload, settings.userClaim);
      if (!isSafeUserId(userId)) {
        throw new InvalidTokenError(`claim ${settings.userClaim} is not a safe user id (1-128 characters, no '#' or control characters)`);
      }
      const groups = groupsOf(claim(payload, settings.groupsClaim));
      const caller: Extract<Caller, { kind: 'user' }> = {
        kind: 'user',
        userId,
        groups,
        admin: groups.includes(settings.adminGroup),
        ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
      };
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(token, caller);
      return caller;
    },
  };
}

/** The token of an `Authorization` header: `Bearer <token>`. Anything else there is invalid. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i.exec(header);
  if (!m) throw new InvalidTokenError('the Authorization header is not "Bearer <token>"');
  return m[1];
}
