import type { Logger } from 'pino';
import type { CallCounter } from './db/call-counter.js';
import { createLoaders, type Loaders } from './loaders/loaders.js';
import type { Repositories } from './repositories/repositories.js';

export interface Context {
  repos: Repositories;
  /** Fresh per request: a cache shared between requests would serve one user's stale reads to another. */
  loaders: Loaders;
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

export function createContext(repos: Repositories, calls: CallCounter, log: Logger): Context {
  return { repos, loaders: createLoaders(repos), calls, log, committed: new Map() };
}
