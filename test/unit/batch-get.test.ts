import type { BatchGetCommandInput, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { batchGet, chunkUniqueKeys } from '../../src/db/batch-get.js';
import { keyId, keys, type TableKey } from '../../src/db/keys.js';

describe('chunkUniqueKeys', () => {
  it('sends 250 distinct keys plus duplicates as three calls of at most 100', () => {
    const ids = Array.from({ length: 250 }, (_, i) => `p${i}`);
    const chunks = chunkUniqueKeys([...ids, ...ids.slice(0, 40)].map(keys.product));
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat().map((k) => k.PK)).toEqual(ids.map((i) => `PRODUCT#${i}`));
  });

  it('sends nothing for no keys', () => {
    expect(chunkUniqueKeys([])).toEqual([]);
  });
});

/**
 * In the style of graphql/dataloader's own tests: a recording fake at the DynamoDB boundary.
 * It records the keys of every BatchGetItem call and answers from `stored`; `unprocessed`
 * decides which of a call's keys DynamoDB leaves unprocessed (as it does under throttling).
 */
function recordingTable(stored: readonly TableKey[], unprocessed: (call: number, keys: TableKey[]) => TableKey[] = () => []) {
  const inputs: BatchGetCommandInput[] = [];
  const items = new Map(stored.map((k) => [keyId(k), { ...k, name: `item ${k.PK}` }]));
  const send = async (command: { input: BatchGetCommandInput }) => {
    inputs.push(command.input);
    const [[table, request]] = Object.entries(command.input.RequestItems!) as [[string, { Keys: TableKey[] }]];
    const left = unprocessed(inputs.length, request.Keys);
    const served = request.Keys.filter((k) => !left.some((l) => keyId(l) === keyId(k)));
    return {
      Responses: { [table]: served.flatMap((k) => items.get(keyId(k)) ?? []) },
      ...(left.length ? { UnprocessedKeys: { [table]: { Keys: left } } } : {}),
    };
  };
  const sentKeys = () => inputs.map((i) => (i.RequestItems!.t!.Keys as TableKey[]).map((k) => k.PK));
  return { doc: { send } as unknown as DynamoDBDocumentClient, inputs, sentKeys };
}

const noWait = { backoff: { baseMs: 0, capMs: 0 } };

describe('batchGet', () => {
  it('makes no call for no keys', async () => {
    const { doc, inputs } = recordingTable([]);
    expect(await batchGet(doc, 't', [])).toEqual([]);
    expect(inputs).toEqual([]);
  });

  it('reads the keys in one call and answers in key order, undefined where nothing is stored', async () => {
    const { doc, inputs, sentKeys } = recordingTable([keys.user('a'), keys.user('c')]);
    const found = await batchGet(doc, 't', [keys.user('c'), keys.user('b'), keys.user('a')]);
    expect(sentKeys()).toEqual([['USER#c', 'USER#b', 'USER#a']]);
    expect(inputs[0]).toEqual({ RequestItems: { t: { Keys: [keys.user('c'), keys.user('b'), keys.user('a')] } } });
    expect(found.map((i) => i?.PK)).toEqual(['USER#c', undefined, 'USER#a']);
  });

  it('sends a repeated key once and answers every place it was asked', async () => {
    const { doc, sentKeys } = recordingTable([keys.product('p1'), keys.product('p2')]);
    const found = await batchGet(doc, 't', [keys.product('p1'), keys.product('p2'), keys.product('p1')]);
    expect(sentKeys()).toEqual([['PRODUCT#p1', 'PRODUCT#p2']]);
    expect(found.map((i) => i?.PK)).toEqual(['PRODUCT#p1', 'PRODUCT#p2', 'PRODUCT#p1']);
  });

  it('splits 250 keys into calls of 100, 100 and 50 and puts the answers back in key order', async () => {
    const all = Array.from({ length: 250 }, (_, i) => keys.product(`p${i}`));
    const { doc, sentKeys } = recordingTable(all);
    const asked = [...all].reverse();
    const found = await batchGet(doc, 't', asked);
    expect(sentKeys().map((c) => c.length)).toEqual([100, 100, 50]);
    expect(found.map((i) => i?.PK)).toEqual(asked.map((k) => k.PK));
  });

  it('asks for a consistent read when told to', async () => {
    const { doc, inputs } = recordingTable([]);
    await batchGet(doc, 't', [keys.user('a')], { consistentRead: true });
    expect(inputs[0]?.RequestItems?.t?.ConsistentRead).toBe(true);
  });

  it('sends the unprocessed keys again, and only those, until all are read', async () => {
    const stored = ['a', 'b', 'c'].map(keys.user);
    // The first call leaves b and c, the second leaves c.
    const { doc, sentKeys } = recordingTable(stored, (call, sent) => (call === 1 ? sent.slice(1) : call === 2 ? sent.slice(1) : []));
    const found = await batchGet(doc, 't', stored, noWait);
    expect(sentKeys()).toEqual([['USER#a', 'USER#b', 'USER#c'], ['USER#b', 'USER#c'], ['USER#c']]);
    expect(found.map((i) => i?.PK)).toEqual(['USER#a', 'USER#b', 'USER#c']);
  });

  it('fails with SERVICE_UNAVAILABLE when keys stay unprocessed past the retries, never answering them as missing', async () => {
    const stored = ['a', 'b'].map(keys.user);
    const { doc, inputs } = recordingTable(stored, (_call, sent) => sent.filter((k) => k.PK === 'USER#b'));
    await expect(batchGet(doc, 't', stored, { ...noWait, maxRetries: 2 })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      details: { unprocessedKeys: 1 },
    });
    expect(inputs).toHaveLength(3);
  });
});
