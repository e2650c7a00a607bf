import { getHeapStatistics } from 'node:v8';
import { HEAP_BYTES_PER_ROW, windowRowBudgetFor } from '../../../src/job/rowBudget';

describe('WINDOW_ROW_BUDGET', () => {
  it('a number is the budget itself', () => {
    expect(windowRowBudgetFor(1234, 1)).toBe(1234);
  });

  it("'auto' is one row per 128 heap bytes, in thousands, as measured on the instance sizes", () => {
    // The heap limits Node chose in 512 MB and 2,048 MB memory cgroups (scripts/bench/memoryCgroup.ts).
    expect(windowRowBudgetFor('auto', 259 * 1048576)).toBe(2_121_000);
    expect(windowRowBudgetFor('auto', 1048 * 1048576)).toBe(8_585_000);
    expect(windowRowBudgetFor('auto', 1000)).toBe(1000);
  });

  it("'auto' reads this process's heap limit", () => {
    const limit = getHeapStatistics().heap_size_limit;
    expect(windowRowBudgetFor('auto')).toBe(Math.floor(limit / HEAP_BYTES_PER_ROW / 1000) * 1000);
  });
});
