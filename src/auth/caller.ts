/**
 * Who is asking. Anonymous callers have no user id; signed-in callers have the id their token
 * names (the claim AUTH_USER_CLAIM) and are admins when their groups include AUTH_ADMIN_GROUP.
 */
export type Caller = { kind: 'anonymous' } | { kind: 'user'; userId: string; admin: boolean; groups: readonly string[]; expiresAt?: number };

export const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' });

/** The longest user id a token may carry, as for every id the API accepts. */
export const MAX_USER_ID_LENGTH = 128;

/**
 * A user id from a token must be safe to put in a key: not empty, at most 128 characters, well
 * formed, and free of the characters the key design uses as separators (`#`) or that no id
 * should hold (control characters). Otherwise a token could address another key.
 */
export function isSafeUserId(id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= MAX_USER_ID_LENGTH &&
    id.isWellFormed() &&
    // eslint-disable-next-line no-control-regex
    !/[#\u0000-\u001f\u007f]/.test(id)
  );
}

export const isSignedIn = (c: Caller): c is Extract<Caller, { kind: 'user' }> => c.kind === 'user';
export const isAdmin = (c: Caller): boolean => c.kind === 'user' && c.admin;
/** The caller's user id, or undefined for anonymous callers. */
export const callerId = (c: Caller): string | undefined => (c.kind === 'user' ? c.userId : undefined);
