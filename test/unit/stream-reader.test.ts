import { setTimeout as sleep } from 'node:timers/promises';
import { ExpiredIteratorException, type _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StreamReader } from '../../src/events/stream-reader.js';

type Sent = { command: string; input: Record<string, any> };
const record = (seq: string): StreamRecord => ({ eventName: 'MODIFY', dynamodb: { SequenceNumber: seq } });

/**
 * A scripted DynamoDB Streams at the SDK boundary: shard `s1` holds records 1-2 then closes; its
 * child `s2` appears once s1 is closed and holds record 3. The first GetRecords on s2 answers
 * ExpiredIteratorException and the second a throttling error, as real streams may.
 */
function scriptedStream() {
  const sent: Sent[] = [];
  let s1Closed = false;
  let s2Calls = 0;
  const streams = {
    async send(cmd: { constructor: { name: string }; input: Record<string, any> }) {
      const command = cmd.constructor.name.replace(/Command$/, '');
      sent.push({ command, input: cmd.input });
      switch (command) {
        case 'DescribeStream':
          return {
            StreamDescription: {
              Shards: [
                { ShardId: 's1', SequenceNumberRange: s1Closed ? { StartingSequenceNumber: '1', EndingSequenceNumber: '2' } : { StartingSequenceNumber: '1' } },
                ...(s1Closed ? [{ ShardId: 's2', ParentShardId: 's1', SequenceNumberRange: { StartingSequenceNumber: '3' } }] : []),
              ],
            },
          };
        case 'GetShardIterator':
          return { ShardIterator: `${cmd.input.ShardId}:${cmd.input.ShardIteratorType}:${cmd.input.SequenceNumber ?? ''}:0` };
        case 'GetRecords': {
          const [shard, , , n] = String(cmd.input.ShardIterator).split(':');
          if (shard === 's1') {
            if (n === '0') return { Records: [record('1'), record('2')], NextShardIterator: 's1:x::1' };
            s1Closed = true;
            return { Records: [], NextShardIterator: undefined };
          }
          s2Calls++;
          if (s2Calls === 1) throw new ExpiredIteratorException({ message: 'expired', $metadata: {} });
          if (s2Calls === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'LimitExceededException' });
          if (s2Calls === 3) return { Records: [record('3')], NextShardIterator: 's2:x::1' };
          return { Records: [], NextShardIterator: 's2:x::2' };
        }
        default:
          throw new Error(`unexpected ${command}`);
      }
    },
  };
  const dynamo = { send: async () => ({ Table: { LatestStreamArn: 'arn:stream' } }) };
  return { streams, dynamo, sent };
}

describe('StreamReader', () => {
  it('makes no call until started and none after it stopped', async () => {
    const { streams, dynamo, sent } = scriptedStream();
    const reader = new StreamReader({ streams: streams as never, dynamo: dynamo as never, tableName: 't', log: pino({ level: 'silent' }), idleMs: 5, maxIdleMs: 10 });
    await sleep(30);
    expect(sent).toEqual([]);
    const got: string[] = [];
    reader.start((records) => got.push(...records.map((r) => r.dynamodb!.SequenceNumber!)));
    await reader.positioned();
    await sleep(50);
    await reader.stop();
    const after = sent.length;
    await sleep(50);
    expect(sent.length).toBe(after);
  });

  it('reads a shard to its end, then its child from the start, renewing an expired iterator and retrying errors', async () => {
    const { streams, dynamo, sent } = scriptedStream();
    const reader = new StreamReader({ streams: streams as never, dynamo: dynamo as never, tableName: 't', log: pino({ level: 'silent' }), idleMs: 5, maxIdleMs: 10, discoverEveryMs: 20 });
    const got: string[] = [];
    reader.start((records) => got.push(...records.map((r) => r.dynamodb!.SequenceNumber!)));
    for (let i = 0; i < 200 && got.length < 3; i++) await sleep(10);
    await reader.stop();
    // Every record once, in order: the parent's, then the child's.
    expect(got).toEqual(['1', '2', '3']);
    const iterators = sent.filter((c) => c.command === 'GetShardIterator').map((c) => [c.input.ShardId, c.input.ShardIteratorType]);
    expect(iterators[0]).toEqual(['s1', 'LATEST']);
    expect(iterators).toContainEqual(['s2', 'TRIM_HORIZON']);
    // The expired iterator was renewed (a second GetShardIterator for s2).
    expect(iterators.filter(([shard]) => shard === 's2').length).toBeGreaterThanOrEqual(2);
  });
});
