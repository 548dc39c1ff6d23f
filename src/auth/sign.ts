import { SignJWT } from 'jose';

export interface TokenRequest {
  userId: string;
  groups?: readonly string[];
  /** Lifetime in seconds (default one hour). */
  expiresInSeconds?: number;
  issuer?: string;
  audience?: string;
  /** Claim names, as the server reads them (AUTH_USER_CLAIM, AUTH_GROUPS_CLAIM). */
  userClaim?: string;
  groupsClaim?: string;
}

/**
 * An HS256 token for development and tests (`npm run token`), signed with the shared or
 * development secret. Identity providers sign their own tokens in production.
 */
export async function signToken(secret: string, req: TokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    [req.userClaim ?? 'sub']: req.userId,
    ...(req.groups?.length ? { [req.groupsClaim ?? 'groups']: [...req.groups] } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + (req.expiresInSeconds ?? 3600));
  if (req.issuer) jwt.setIssuer(req.issuer);
  if (req.audience) jwt.setAudience(req.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
