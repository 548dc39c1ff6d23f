import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffOptions {
  /** First delay in ms before jitter. */
  baseMs: number;
  /** Upper bound of a single delay in ms. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 25, capMs: 1000 };

/**
 * "Full jitter" exponential backoff (AWS Architecture Blog): a uniform delay in
 * [0, min(cap, base * 2^attempt)], which spreads out retries of many clients that failed
 * together instead of having them collide again.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
  return Math.random() * ceiling;
}

export async function sleepBackoff(attempt: number, opts?: BackoffOptions): Promise<void> {
  await sleep(backoffDelay(attempt, opts));
}
