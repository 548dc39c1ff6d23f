import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { CallCounter, countingDocumentClient, traceCountedCalls } from '../../src/db/call-counter.js';

/** A DocumentClient stand-in that answers every command after a tick with some consumed capacity. */
function fakeDoc() {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const doc = {
    config: { marker: 'own' },
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      sent.push({ name: command.constructor.name, input: { ...command.input } });
      await new Promise((r) => setTimeout(r, 1));
      return command instanceof BatchGetCommand
        ? { ConsumedCapacity: [{ CapacityUnits: 1.5 }, { CapacityUnits: 2 }] }
        : { ConsumedCapacity: { CapacityUnits: 0.5 } };
    },
  };
  return { doc: doc as unknown as DynamoDBDocumentClient, sent };
}

describe('countingDocumentClient', () => {
  it('counts each send by its DynamoDB operation into its own counter, even when requests interleave', async () => {
    const { doc, sent } = fakeDoc();
    const a = new CallCounter();
    const b = new CallCounter();
    const da = countingDocumentClient(doc, a);
    const db = countingDocumentClient(doc, b);
    await Promise.all([
      da.send(new GetCommand({ TableName: 't', Key: { PK: 'x', SK: 'y' } })),
      db.send(new QueryCommand({ TableName: 't', KeyConditionExpression: 'PK = :p' })),
      da.send(new BatchGetCommand({ RequestItems: {} })),
      db.send(new TransactWriteCommand({ TransactItems: [] })),
      db.send(new QueryCommand({ TableName: 't', KeyConditionExpression: 'PK = :p' })),
    ]);
    expect(a.toJSON()).toEqual({ calls: 2, operations: { GetItem: 1, BatchGetItem: 1 } });
    expect(b.toJSON()).toEqual({ calls: 3, operations: { Query: 2, TransactWriteItems: 1 } });
    expect(a.consumedCapacityUnits).toBe(4);
    expect(b.consumedCapacityUnits).toBe(1.5);
    // Consumed capacity is asked for, unless the caller said otherwise.
    expect(sent.every((s) => s.input.ReturnConsumedCapacity === 'TOTAL')).toBe(true);
    const none = new QueryCommand({ TableName: 't', KeyConditionExpression: 'PK = :p', ReturnConsumedCapacity: 'NONE' });
    await da.send(none);
    expect(sent.at(-1)!.input.ReturnConsumedCapacity).toBe('NONE');
  });

  it('passes other commands through uncounted and keeps the rest of the client', async () => {
    const { doc, sent } = fakeDoc();
    const c = new CallCounter();
    const counted = countingDocumentClient(doc, c);
    await counted.send(new DescribeTableCommand({ TableName: 't' }) as never);
    expect(c.calls).toBe(0);
    expect(sent).toHaveLength(1);
    expect((counted as unknown as { config: unknown }).config).toEqual({ marker: 'own' });
  });

  it('tells the tracer when each call starts and ends, and counts failed calls', async () => {
    const events: string[] = [];
    traceCountedCalls((counter, op) => {
      events.push(`start ${counter.origin} ${op}`);
      return () => events.push(`end ${op}`);
    });
    try {
      const failing = { send: async () => Promise.reject(new Error('down')) } as unknown as DynamoDBDocumentClient;
      const c = new CallCounter('subscription');
      await expect(countingDocumentClient(failing, c).send(new GetCommand({ TableName: 't', Key: {} }))).rejects.toThrow('down');
      expect(c.calls).toBe(1);
      expect(events).toEqual(['start subscription GetItem', 'end GetItem']);
    } finally {
      traceCountedCalls(undefined);
    }
  });
});

describe('the server', () => {
  it('uses no async hooks (AsyncLocalStorage would turn on promise hooks for the whole process)', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const offenders = files('src').filter((f) => /\.ts$/.test(f) && /node:async_hooks|AsyncLocalStorage\s*\(|createHook\s*\(/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
