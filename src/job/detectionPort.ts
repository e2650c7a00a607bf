/**
 * The job's detection step for either mode, wired once for the Functions job, the
 * `job` command and replay: a fresh Detector per window and, in corrected mode, the
 * baseline it is judged against, read before the window and stored after its findings
 * are written. Where the baseline lives is the caller's choice (`BaselineKeeper`: the
 * state table in Azure, memory in replay).
 */
import type { WindowsManagedHandler } from '../detection/corrected/paths';
import { createDetector, type Detector } from '../detection/detector';
import type { Baseline, BaselineEntry } from '../detection/corrected/baseline';
import type { DetectionMode, QueryWindow } from '../detection/schema';
import type { Log } from '../shared/log';
import type { DetectionPort } from './runDetectionJob';

/** Where corrected mode's baseline is kept between windows. */
export interface BaselineKeeper {
  load(): Promise<Baseline>;
  /** Stores a window's observations (merge, prune); returns the baseline as now stored and what changed. */
  record(
    baseline: Baseline,
    observations: readonly BaselineEntry[],
    windowEnd: QueryWindow['end'],
    baselineDays: number,
  ): Promise<{ baseline: Baseline; written: number; pruned: number }>;
}

export interface DetectionPortOptions {
  mode: DetectionMode;
  /** Corrected mode: BASELINE_DAYS and where the baseline is kept. */
  baselineDays: number;
  baseline?: BaselineKeeper;
  /** Corrected mode: how the Windows managed handler is recognised (MANAGED_HANDLER_* settings). */
  windowsManagedHandler?: WindowsManagedHandler;
  log?: Log;
}

export function detectionPort(options: DetectionPortOptions): DetectionPort {
  if (options.mode === 'parity') return { mode: 'parity', detectorFor: async () => createDetector('parity') };
  const { baselineDays, log } = options;
  const keeper = options.baseline;
  if (!keeper) throw new TypeError('corrected mode needs a place to keep its baseline');
  // The baseline as stored after the last window of this run (catch-up reads it once),
  // and the one the current window was judged against.
  let stored: Baseline | undefined;
  let judgedAgainst: { window: QueryWindow; baseline: Baseline } | undefined;
  return {
    mode: 'corrected',
    async detectorFor(window) {
      const baseline = stored ?? (await keeper.load());
      judgedAgainst = { window, baseline };
      const detector = createDetector('corrected', {
        windowStart: window.start,
        baselineDays,
        baseline,
        windowsManagedHandler: options.windowsManagedHandler,
      });
      return logStages(detector, window, baseline.size, log);
    },
    async recordBaseline(window, observations) {
      if (!judgedAgainst || judgedAgainst.window.start !== window.start) return;
      const { written, pruned, baseline } = await keeper.record(
        judgedAgainst.baseline,
        observations,
        window.end,
        baselineDays,
      );
      judgedAgainst = undefined;
      stored = baseline;
      log?.info('Baseline updated', { window, written, pruned, entries: baseline.size });
    },
  };
}

/** Logs corrected mode's stage counts when the window's detection finishes. */
function logStages(detector: Detector, window: QueryWindow, baselineEntries: number, log: Log | undefined): Detector {
  if (!log) return detector;
  return {
    mode: detector.mode,
    isRelevant: (table, row) => detector.isRelevant(table, row),
    add: (table, row) => detector.add(table, row),
    finish() {
      const result = detector.finish();
      log.info('Corrected detection', { window, ...result.stages, baselineEntries });
      return result;
    },
  };
}
