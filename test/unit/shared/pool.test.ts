import { mapLimit, WorkQueue } from '../../../src/shared/pool';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue and mapLimit', () => {
  it('keeps at most `limit` calls in flight and returns results in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      for (let i = 0; i < n; i++) await tick();
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it('takes items a call puts back on the queue, front first, with idle capacity', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue<string>(3, async (item, q) => {
      await tick();
      seen.push(item);
      if (item === 'a') q.unshift('a1', 'a2');
    });
    await queue.run(['a', 'b']);
    expect(seen.sort()).toEqual(['a', 'a1', 'a2', 'b']);
  });

  it('after a failure starts nothing new, lets started calls settle, then rejects with the first failure', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      for (let i = 0; i < (n === 0 ? 3 : 1); i++) await tick();
      if (n === 1) throw new Error('boom 1');
      if (n === 2) throw new Error('boom 2');
      settled.push(n);
      return n;
    });
    await expect(run).rejects.toThrow('boom 1');
    expect(started).toEqual([0, 1]);
    expect(settled).toEqual([0]);
  });

  it('an empty list resolves at once', async () => {
    await expect(mapLimit([], 4, async () => 1)).resolves.toEqual([]);
  });
});
