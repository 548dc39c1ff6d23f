import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
  type DynamoDBStreamsClient,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export interface StreamReaderOptions {
  streams: DynamoDBStreamsClient;
  dynamo: DynamoDBClient;
  tableName: string;
  log: Logger;
  /** Wait after an empty answer, doubling up to `maxIdleMs` while the shard stays quiet. */
  idleMs?: number;
  maxIdleMs?: number;
  /** How often the shard list is read again (shards close and split over time). */
  discoverEveryMs?: number;
}

interface ShardState {
  id: string;
  parentId: string | undefined;
  lastSequence: string | undefined;
  done: boolean;
}

/**
 * The table's change stream as an event source: `start` begins a run of readers, `stop` ends it.
 * Each run is separate (a stop that is still winding down never delivers into the next run), so
 * subscribers who come and go quickly never see a record twice.
 */
export class StreamReader {
  private current: ReaderRun | undefined;

  constructor(private readonly opts: StreamReaderOptions) {}

  get isRunning(): boolean {
    return this.current !== undefined;
  }

  /** `onRecords` gets the records of one shard, in stream order, once per GetRecords answer that holds any. */
  start(onRecords: (records: StreamRecord[]) => void): void {
    this.current ??= new ReaderRun(this.opts, onRecords);
  }

  /**
   * Resolves once the running reader holds a position in every open shard: from then on, every
   * write reaches `onRecords`. (Tests and the benchmark wait for it before writing.)
   */
  async positioned(): Promise<void> {
    await this.current?.positioned;
  }

  async stop(): Promise<void> {
    const run = this.current;
    this.current = undefined;
    await run?.stop();
  }
}

/**
 * One run: tails every shard of the table's stream, from the newest record on: GetRecords polling with a
 * doubling wait while a shard is quiet, closed shards followed by their children (started from
 * their first record, after the parent is read to its end, so an item's changes stay in order),
 * expired iterators renewed after the last record read, and every error retried with backoff:
 * a reader never crashes the server. Started and stopped by its owner (only while someone
 * subscribes, so an idle server makes no stream calls).
 */
class ReaderRun {
  private running = true;
  private readonly shards = new Map<string, ShardState>();
  private readonly loops = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private streamArn: string | undefined;
  private readonly firstPositions: Promise<unknown>[] = [];
  private markPositioned: () => void = () => undefined;
  readonly positioned = new Promise<void>((resolve) => (this.markPositioned = resolve));

  constructor(
    private readonly opts: StreamReaderOptions,
    private readonly onRecords: (records: StreamRecord[]) => void,
  ) {
    this.track(this.discoverLoop());
  }

  /** Stops polling; resolves once every loop has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled([...this.loops]);
  }

  private track(loop: Promise<void>): void {
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** Finds the stream and its shards, now and every `discoverEveryMs`; starts a loop per new shard. */
  private async discoverLoop(): Promise<void> {
    let firstRound = true;
    let failures = 0;
    while (this.running) {
      try {
        const shards = await this.describeShards();
        for (const shard of shards) this.adopt(shard, firstRound);
        if (firstRound) void Promise.allSettled(this.firstPositions).then(() => this.markPositioned());
        firstRound = false;
        failures = 0;
        await this.pause(this.opts.discoverEveryMs ?? 10_000);
      } catch (e) {
        failures++;
        // The table may have been re-created (npm run db:reset): find its stream again.
        this.streamArn = undefined;
        this.opts.log.warn({ err: e, failures }, 'stream: could not read the shard list; retrying');
        await this.pause(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private async discoverOnce(): Promise<void> {
    try {
      for (const shard of await this.describeShards()) this.adopt(shard, false);
    } catch (e) {
      this.opts.log.warn({ err: e }, 'stream: could not read the shard list; the periodic look retries');
    }
  }

  private async describeShards(): Promise<Shard[]> {
    if (!this.streamArn) {
      const table = await this.opts.dynamo.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
      this.streamArn = table.Table?.LatestStreamArn;
      if (!this.streamArn) throw new Error(`table ${this.opts.tableName} has no stream`);
    }
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const out = await this.opts.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
      );
      shards.push(...(out.StreamDescription?.Shards ?? []));
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  /**
   * Starts reading a shard we do not read yet. At start, open shards are read from LATEST (what
   * happened before anyone subscribed is not an event for them) and closed ones are skipped; a
   * shard that appears later (a split's child) is read from its first record.
   */
  private adopt(shard: Shard, firstRound: boolean): void {
    const id = shard.ShardId;
    if (!id || this.shards.has(id)) return;
    const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
    const state: ShardState = { id, parentId: shard.ParentShardId, lastSequence: undefined, done: false };
    this.shards.set(id, state);
    if (firstRound && closed) {
      state.done = true;
      return;
    }
    let positioned: () => void = () => undefined;
    if (firstRound) this.firstPositions.push(new Promise<void>((resolve) => (positioned = resolve)));
    this.track(this.shardLoop(state, firstRound ? 'LATEST' : 'TRIM_HORIZON', positioned));
  }

  private async iterator(state: ShardState, type: ShardIteratorType): Promise<string | undefined> {
    const out = await this.opts.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: state.id,
        ...(state.lastSequence ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: state.lastSequence } : { ShardIteratorType: type }),
      }),
    );
    return out.ShardIterator;
  }

  private async shardLoop(state: ShardState, startAt: ShardIteratorType, positioned: () => void): Promise<void> {
    // A child waits for its parent to be read to its end: an item's changes stay in order.
    while (this.running && state.parentId && this.shards.get(state.parentId) && !this.shards.get(state.parentId)!.done) {
      await this.pause(this.opts.idleMs ?? 100);
    }
    const idleMs = this.opts.idleMs ?? 100;
    const maxIdleMs = this.opts.maxIdleMs ?? 1000;
    let wait = idleMs;
    let failures = 0;
    let iterator: string | undefined;
    while (this.running) {
      try {
        iterator ??= await this.iterator(state, startAt);
        positioned();
        if (!iterator) break;
        const out = await this.opts.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        failures = 0;
        const records = out.Records ?? [];
        if (records.length) {
          state.lastSequence = records.at(-1)!.dynamodb?.SequenceNumber ?? state.lastSequence;
          try {
            this.onRecords(records);
          } catch (e) {
            this.opts.log.error({ err: e }, 'stream: delivering records failed');
          }
          wait = idleMs;
        }
        iterator = out.NextShardIterator;
        // No next iterator: the shard is closed and read to its end; its children take over,
        // found right away rather than at the next periodic look.
        if (!iterator) {
          state.done = true;
          this.track(this.discoverOnce());
          break;
        }
        if (!records.length) {
          await this.pause(wait);
          wait = Math.min(maxIdleMs, wait * 2);
        }
      } catch (e) {
        if (!this.running) break;
        if (e instanceof ExpiredIteratorException) {
          iterator = undefined; // renewed after the last record read (or LATEST)
          continue;
        }
        if (e instanceof TrimmedDataAccessException) {
          // Records older than 24 h are gone; carry on from the oldest still there.
          state.lastSequence = undefined;
          startAt = 'TRIM_HORIZON';
          iterator = undefined;
          continue;
        }
        failures++;
        this.opts.log.warn({ err: e, shard: state.id, failures }, 'stream: reading a shard failed; retrying');
        iterator = undefined;
        await this.pause(Math.min(30_000, 200 * 2 ** Math.min(failures, 7)));
      }
    }
    positioned();
    state.done = true;
  }
}
