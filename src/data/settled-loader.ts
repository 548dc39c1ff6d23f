import DataLoader from 'dataloader';

/** What a cached load came to, once its promise has settled. */
export type Settled<V> = { ok: true; value: V } | { ok: false; error: unknown };

interface Entry<V> {
  promise: Promise<V>;
  settled?: Settled<V>;
}

/**
 * DataLoader's cache map (the same promises DataLoader keeps) that also notes what each promise
 * settled to. An entry and its outcome are one record, so `clear` and `prime` can never leave
 * an outcome behind for a key whose promise is gone.
 */
class SettledCacheMap<C, V> implements DataLoader.CacheMap<C, Promise<V>> {
  readonly #entries = new Map<C, Entry<V>>();
  /** The value being primed: DataLoader.prime stores it as a promise, but it is known now. */
  priming: Settled<V> | undefined;

  get(key: C): Promise<V> | void {
    return this.#entries.get(key)?.promise;
  }

  set(key: C, promise: Promise<V>): void {
    const entry: Entry<V> = { promise };
    this.#entries.set(key, entry);
    if (this.priming) {
      entry.settled = this.priming;
      return;
    }
    promise.then(
      (value) => {
        entry.settled = { ok: true, value };
      },
      (error: unknown) => {
        entry.settled = { ok: false, error };
      },
    );
  }

  delete(key: C): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  settled(key: C): Settled<V> | undefined {
    return this.#entries.get(key)?.settled;
  }
}

/**
 * A DataLoader that can hand over what it has already loaded synchronously. graphql-js
 * completes a plain value in place, but a promise (even a resolved one) costs a microtask and a
 * promise per object on every level above it; on a nested query that is most of the
 * execution's own time. `now(key)` returns the cached value when its load has succeeded, and
 * the load's promise otherwise: batching and caching are DataLoader's, unchanged.
 */
export class SettledLoader<K, V, C = K> extends DataLoader<K, V, C> {
  readonly #cache: SettledCacheMap<C, V>;
  readonly #cacheKey: (key: K) => C;

  constructor(batch: DataLoader.BatchLoadFn<K, V>, options: Omit<DataLoader.Options<K, V, C>, 'cacheMap' | 'cache'> = {}) {
    const cache = new SettledCacheMap<C, V>();
    super(batch, { ...options, cacheMap: cache });
    this.#cache = cache;
    this.#cacheKey = options.cacheKeyFn ?? ((key: K) => key as unknown as C);
  }

  /** As DataLoader's; a primed value is answered in place at once (prime keeps a cached key's value). */
  override prime(key: K, value: V | Promise<V> | Error): this {
    if (value instanceof Promise) return super.prime(key, value);
    this.#cache.priming = value instanceof Error ? { ok: false, error: value } : { ok: true, value };
    try {
      return super.prime(key, value);
    } finally {
      this.#cache.priming = undefined;
    }
  }

  /** What the load of `key` settled to, if it was loaded (or primed) and has settled. */
  peek(key: K): Settled<V> | undefined {
    return this.#cache.settled(this.#cacheKey(key));
  }

  /**
   * The value of `key` now if it is loaded, else its load. A load that failed is answered as the
   * rejected promise it is, never thrown here: graphql-js stops a parent's remaining fields at a
   * synchronous error in a non-null field, but lets them run (and report their own errors) when
   * a promise rejects, and answers must not depend on whether a failure had settled yet.
   */
  now(key: K): V | Promise<V> {
    const settled = this.peek(key);
    return settled?.ok ? settled.value : this.load(key);
  }
}
