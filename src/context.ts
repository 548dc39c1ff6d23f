import type { Logger } from 'pino';
import { ANONYMOUS, callerId, type Caller } from './auth/caller.js';
import { createRequestData, type RequestData } from './data/request-data.js';
import { countedDatabase, type CallCounter } from './db/call-counter.js';
import type { Database } from './db/database.js';
import type { LiveEvents } from './events/live-events.js';
import { createRepositories } from './repositories/repositories.js';

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
  /** Every DynamoDB call this request made (its data facade counts them). */
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

/**
 * The request's context. Its repositories are its own, on a view of `db` that counts every call
 * into `calls`: the counter travels with the request's data facade (no async hooks).
 */
export function createContext(
  db: Database,
  calls: CallCounter,
  log: Logger,
  caller: Caller = ANONYMOUS,
  live?: LiveEvents,
): Context {
  return new RequestContext(caller, createRequestData(createRepositories(countedDatabase(db, calls))), calls, log, live);
}

/**
 * Every log line of the request names its caller (never the token). The child logger is made
 * when the request first logs: most requests log nothing below the configured level. `log` is a
 * getter on the prototype, not an own property: Apollo Server hands resolvers a shallow copy of
 * the context (`Object.assign(Object.create(prototype), context)`), which would call an own
 * getter, and so make the child logger, on every request.
 */
class RequestContext implements Context {
  committed = new Map<string, CommittedWrite>();
  /** The child logger, once made (the copy Apollo hands on keeps its own). */
  private requestLog: Logger | undefined;

  constructor(
    readonly caller: Caller,
    readonly data: RequestData,
    readonly calls: CallCounter,
    private readonly baseLog: Logger,
    readonly live: LiveEvents | undefined,
  ) {}

  get log(): Logger {
    if (this.requestLog) return this.requestLog;
    const userId = callerId(this.caller);
    return (this.requestLog = userId ? this.baseLog.child({ userId }) : this.baseLog);
  }
}
