import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { Logger } from 'pino';
import { createRequestData, type RequestData } from '../data/request-data.js';
import { AppError } from '../errors.js';
import type { Repositories } from '../repositories/repositories.js';
import { toLiveEvent, type LiveEvent } from './live-event.js';

/** Where events come from: started while anyone subscribes, stopped when the last one leaves. */
export interface EventSource {
  start(onRecords: (records: StreamRecord[]) => void): void;
  stop(): Promise<void>;
  /** Resolves once a started source sees every write from then on. */
  positioned(): Promise<void>;
}

/** An event as a subscriber receives it, with the data facade its nested fields read through. */
interface Delivery {
  event: LiveEvent;
  /** One per event, shared by every subscriber: N subscribers asking for the same products make the calls of one. */
  data: RequestData;
}

/** Events waiting for a slow subscriber, at most; past it the subscription ends with an error. */
const MAX_QUEUED = 1000;
/** Subscriptions one instance serves at once; past it, new ones are refused (SERVICE_UNAVAILABLE). */
export const MAX_SUBSCRIBERS = 10_000;

class Subscriber {
  readonly queue: Delivery[] = [];
  private wake: (() => void) | undefined;
  closed = false;
  overflowed = false;

  push(d: Delivery): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.queue.push(d);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  waitForMore(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}

/**
 * This instance's subscribers and the events they follow. Events come only from the table's
 * change stream (an EventSource): every writer is seen, whichever instance, script or console
 * made the write, and every instance serves its own subscribers from the stream itself. The hub
 * only hands each stream record to the local subscribers who asked for it, in stream order,
 * each at most once.
 */
export class LiveEvents {
  private readonly subscribers = new Set<Subscriber>();

  constructor(
    private readonly source: EventSource,
    private readonly repos: Repositories,
    private readonly log: Logger,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Resolves once the stream is being read at its newest records (nothing written after is missed). */
  positioned(): Promise<void> {
    return this.source.positioned();
  }

  /** Stops reading the stream and ends every subscription (shutdown). */
  async close(): Promise<void> {
    for (const s of this.subscribers) s.close();
    this.subscribers.clear();
    await this.source.stop();
  }

  private deliver(records: StreamRecord[]): void {
    for (const record of records) {
      let event: LiveEvent | undefined;
      try {
        event = toLiveEvent(record);
      } catch (e) {
        this.log.error({ err: e, sequence: record.dynamodb?.SequenceNumber }, 'stream: a record could not be read; skipped');
      }
      if (!event) continue;
      const delivery: Delivery = { event, data: createRequestData(this.repos) };
      for (const s of this.subscribers) s.push(delivery);
    }
  }

  /**
   * The values `pick` makes of the events that follow, for one subscription. Before each value
   * is handed on, `onEvent` gets the event's shared data facade (the subscription's resolvers
   * read nested fields through it: one read per event for all subscribers).
   */
  subscribe<T>(pick: (event: LiveEvent) => T | undefined, onEvent: (data: RequestData) => void): AsyncIterableIterator<T> {
    if (this.subscribers.size >= MAX_SUBSCRIBERS) {
      throw new AppError('SERVICE_UNAVAILABLE', `This server holds ${MAX_SUBSCRIBERS} subscriptions already; try again later or another instance`);
    }
    const sub = new Subscriber();
    this.subscribers.add(sub);
    if (this.subscribers.size === 1) this.source.start((records) => this.deliver(records));
    const leave = () => {
      sub.close();
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) {
        this.source.stop().catch((e: unknown) => this.log.warn({ err: e }, 'stream: stopping the reader failed'));
      }
    };
    // A hand-written iterator rather than an async generator: `return()` must end a subscription
    // at once, even while it waits for the next event (a generator would queue it until then).
    const next = async (): Promise<IteratorResult<T>> => {
      for (;;) {
        const delivery = sub.queue.shift();
        if (delivery) {
          const value = pick(delivery.event);
          if (value === undefined) continue;
          onEvent(delivery.data);
          return { value, done: false };
        }
        if (sub.closed) {
          leave();
          if (sub.overflowed) {
            this.log.warn('subscription ended: it fell more than 1000 events behind');
            throw new Error('This subscription fell too far behind the events and was ended; subscribe again');
          }
          return { value: undefined, done: true };
        }
        await sub.waitForMore();
      }
    };
    const iterator: AsyncIterableIterator<T> & { return: () => Promise<IteratorResult<T>> } = {
      next,
      return: async () => {
        leave();
        return { value: undefined, done: true };
      },
      throw: async (e: unknown) => {
        leave();
        throw e;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
