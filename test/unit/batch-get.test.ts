import { describe, expect, it } from 'vitest';
import { chunkUniqueKeys } from '../../src/db/batch-get.js';
import { keys } from '../../src/db/keys.js';

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
