import { describe, expect, it } from 'vitest';
import { SettledLoader } from '../../src/data/settled-loader.js';

/** A loader over a recording batch function: ids starting with `bad` fail on their own. */
function recordingLoader() {
  const batches: string[][] = [];
  const loader = new SettledLoader<string, string>(async (ids) => {
    batches.push([...ids]);
    return ids.map((id) => (id.startsWith('bad') ? new Error(`no ${id}`) : `value of ${id}`));
  });
  return { loader, batches };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SettledLoader', () => {
  it('answers a load in flight with its promise, and a settled one in place', async () => {
    const { loader, batches } = recordingLoader();
    const first = loader.now('a');
    expect(first).toBeInstanceOf(Promise);
    expect(loader.now('a')).toBeInstanceOf(Promise);
    await expect(first).resolves.toBe('value of a');
    await tick();
    expect(loader.now('a')).toBe('value of a');
    expect(loader.peek('a')).toEqual({ ok: true, value: 'value of a' });
    expect(batches).toEqual([['a']]);
  });

  it('keeps batching: every key asked for in one tick is one batch', async () => {
    const { loader, batches } = recordingLoader();
    await Promise.all([loader.now('a'), loader.now('b'), loader.load('c')]);
    expect(batches).toEqual([['a', 'b', 'c']]);
  });

  it('answers a settled failure as its rejected load, never a synchronous throw, and only for its own key', async () => {
    const { loader, batches } = recordingLoader();
    const results = await loader.loadMany(['bad1', 'ok']);
    expect(results[0]).toBeInstanceOf(Error);
    await tick();
    expect(loader.peek('bad1')).toMatchObject({ ok: false });
    const failed = loader.now('bad1');
    expect(failed).toBeInstanceOf(Promise);
    await expect(failed).rejects.toThrow('no bad1');
    expect(loader.now('ok')).toBe('value of ok');
    // The failure is DataLoader's cached one: not read again.
    expect(batches).toEqual([['bad1', 'ok']]);
  });

  it('forgets the outcome with the key: a cleared key is loaded again', async () => {
    const { loader, batches } = recordingLoader();
    await loader.load('a');
    await tick();
    loader.clear('a');
    expect(loader.peek('a')).toBeUndefined();
    const again = loader.now('a');
    expect(again).toBeInstanceOf(Promise);
    await again;
    expect(batches).toEqual([['a'], ['a']]);
    loader.clearAll();
    expect(loader.peek('a')).toBeUndefined();
  });

  it('answers a primed value in place, and prime keeps what is cached already', async () => {
    const { loader, batches } = recordingLoader();
    loader.prime('p', 'primed');
    expect(loader.now('p')).toBe('primed');
    loader.prime('p', 'later');
    expect(loader.now('p')).toBe('primed');
    loader.clear('p').prime('p', 'fresh');
    expect(loader.now('p')).toBe('fresh');
    loader.prime('e', new Error('primed failure'));
    expect(loader.peek('e')).toMatchObject({ ok: false });
    await expect(loader.now('e')).rejects.toThrow('primed failure');
    // A key being loaded keeps its load: prime changes nothing, and the load's value is answered.
    const inFlight = loader.load('q');
    loader.prime('q', 'primed meanwhile');
    expect(loader.now('q')).toBeInstanceOf(Promise);
    await inFlight;
    await tick();
    expect(loader.now('q')).toBe('value of q');
    expect(batches).toEqual([['q']]);
  });

  it('uses the cache key function for what it has settled', async () => {
    const loader = new SettledLoader<{ id: string }, string, string>(async (keys) => keys.map((k) => k.id.toUpperCase()), {
      cacheKeyFn: (k) => k.id,
    });
    await loader.load({ id: 'x' });
    await tick();
    expect(loader.now({ id: 'x' })).toBe('X');
  });
});
