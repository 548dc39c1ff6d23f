import type { Logger } from 'pino';
import { ANONYMOUS, callerId, type Caller } from './auth/caller.js';
import { createRequestData, type RequestData } from './data/request-data.js';
import type { CallCounter } from './db/call-counter.js';
import type { LiveEvents } from './events/live-events.js';
import type { Repositories } from './repositories/repositories.js';

export interface Context {
  /** Who is asking (anonymous, or a signed-in user from a verified token). */
  caller: Caller;
  /**
   * The request's data facade: every read and write of a resolver goes through it. Fresh per
   * request: a cache shared between requests would serve one user's stale reads to another.
   */
  data: RequestData;
  /** This instance's live events (subscriptions over WebSocket); absent where none are served. */
  live?: LiveEvents | undefined;
  calls: CallCounter;
  log: Logger;
  /**
   * Writes this request committed, by the mutation field's response key: an error in that
   * field's answer must still say the write happened (plugins/committed-writes.ts).
   */
  committed: Map<string, CommittedWrite>;
}

export interface CommittedWrite {
  /** The mutation field, e.g. `placeOrder`. */
  field: string;
  /** The entity written, e.g. `Order`, and its id. */
  typename: string;
  id: string;
}

export function createContext(
  repos: Repositories,
  calls: CallCounter,
  log: Logger,
  caller: Caller = ANONYMOUS,
  live?: LiveEvents,
): Context {
  const userId = callerId(caller);
  return {
    caller,
    data: createRequestData(repos),
    calls,
    // Every log line of the request names its caller (never the token).
    log: userId ? log.child({ userId }) : log,
    committed: new Map(),
    live,
  };
}
