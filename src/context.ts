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
}

export function createContext(repos: Repositories, calls: CallCounter, log: Logger): Context {
  return { repos, loaders: createLoaders(repos), calls, log };
}
