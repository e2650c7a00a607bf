/**
 * `WINDOW_ROW_BUDGET=auto`: how many rows a window may pull, from the memory this
 * process may use.
 *
 * Node sizes V8's heap from the instance's memory (measured: a heap limit of 259 MB in a
 * 512 MB memory cgroup, 1,048 MB in 2,048 MB), and the detector keeps what the rule
 * needs of every pulled row until the window's joins run. Measured with bench:job
 * (2,008,434 push-down rows): 175 MB live when `finish` starts (87 bytes a row), 231 MB
 * once the joins have run (115 bytes a row). A 512 MB instance completed that day
 * (peak RSS 317 MB) and ran out of heap at 4,000,000 rows. So the budget is one row per
 * 128 bytes of the heap limit: 2.1 million rows on 512 MB, 8.5 million on 2,048 MB. A
 * day above it fails cleanly (WindowRowBudgetError), before the pull, from the
 * push-down counts, or during it.
 */
import { getHeapStatistics } from 'node:v8';

/** Heap bytes the budget allows per pulled row (see above). */
export const HEAP_BYTES_PER_ROW = 128;

/** The budget for a WINDOW_ROW_BUDGET setting: the number itself, or for 'auto' the heap limit's share. */
export function windowRowBudgetFor(
  setting: number | 'auto',
  heapLimitBytes: number = getHeapStatistics().heap_size_limit,
): number {
  if (setting !== 'auto') return setting;
  return Math.max(1000, Math.floor(heapLimitBytes / HEAP_BYTES_PER_ROW / 1000) * 1000);
}
