/**
 * Replay: the job's window loop (runDetectionJob) over past days, with nothing
 * touched in Azure: the checkpoint lives in memory (set to the first day), findings
 * are collected instead of written, enrichment is off, and corrected mode's baseline is
 * kept in memory and carried over from day to day. Used by `runcommand-detect replay`
 * and by scripts/compare-modes.ts.
 */
import type { DetectedFinding } from '../detection/detector';
import { MemoryBaseline, type Baseline, type BaselineEntry } from '../detection/corrected/baseline';
import {
  CORRECTED_TABLE_NAMES,
  type DetectionMode,
  type QueryWindow,
  type TableName,
  type TableRows,
} from '../detection/schema';
import { AppError } from '../shared/errors';
import { SILENT_LOG, type Log } from '../shared/log';
import { ConcurrencyConflictError, StateStore } from '../stateStore';
import { detectionPort, type BaselineKeeper } from './detectionPort';
import {
  runDetectionJob,
  type JobPorts,
  type PullStats,
  type WindowSource,
  type WindowSummary,
} from './runDetectionJob';
import { parseDayBoundary } from './windows';

export interface ReplayOptions {
  /** First day (a UTC midnight, 7-digit text) and the end of the last day (exclusive). */
  from: string;
  to: string;
  mode: DetectionMode;
  /** Corrected mode's BASELINE_DAYS (default 14). */
  baselineDays?: number;
  source: WindowSource;
  /** Corrected mode: the baseline to start from (a baseline file); default empty. */
  baseline?: Iterable<BaselineEntry>;
  log?: Log;
}

export interface ReplayedFinding extends DetectedFinding {
  window: QueryWindow;
}

export interface ReplayResult {
  days: WindowSummary[];
  findings: ReplayedFinding[];
  /** Corrected mode's baseline after the last day replayed (empty in parity mode). */
  baseline: Baseline;
  /** Set when a day failed (the days after it were not replayed). */
  failed?: { window: QueryWindow; phase: string; error: unknown };
}

export class ReplayWindowError extends AppError {}

const DAY_MS = 86_400_000;

/** A window's tables, held in memory. */
export type WindowTables = { readonly [T in Exclude<TableName, 'DeviceProcessEvents'>]: readonly TableRows[T][] } & {
  /** Corrected mode's Linux paths; absent: none. */
  readonly DeviceProcessEvents?: readonly TableRows['DeviceProcessEvents'][];
};

/** A source that serves whole tables held in memory (generated days, files, tests). */
export function inMemorySource(tablesOf: (window: QueryWindow) => WindowTables | Promise<WindowTables>): WindowSource {
  return {
    async pullWindowInto(window, rows) {
      const tables = await tablesOf(window);
      const stats = {} as PullStats;
      // DeviceProcessEvents when the tables have it (parity mode's detector ignores its rows).
      for (const table of CORRECTED_TABLE_NAMES) {
        const held = tables[table] as readonly TableRows[TableName][] | undefined;
        if (held === undefined) continue;
        for (const row of held) rows.add(table, row);
        stats[table] = { rows: held.length, slices: 1 };
      }
      return stats;
    },
  };
}

/** Corrected mode's baseline in memory, carried from day to day. */
function memoryKeeper(memory: MemoryBaseline): BaselineKeeper {
  return {
    load: async () => memory.current,
    record: async (_baseline, observations, windowEnd, baselineDays) => {
      const before = memory.current.size;
      memory.record(observations, windowEnd, baselineDays);
      return { baseline: memory.current, written: observations.length, pruned: before - memory.current.size };
    },
  };
}

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const first = parseDayBoundary(options.from);
  const end = parseDayBoundary(options.to);
  if (!first || !end || end <= first) {
    throw new ReplayWindowError(
      `replay needs whole UTC days: --from ${options.from} --to ${options.to} must be dates (YYYY-MM-DD), --to after --from.`,
    );
  }
  const days = Math.round((end.getTime() - first.getTime()) / DAY_MS);
  const store = await StateStore.open({ kind: 'memory' });
  const checkpointName = `replay-${options.mode}`;
  await store.putCheckpoint(checkpointName, options.from, undefined);

  const findings: ReplayedFinding[] = [];
  const memory = new MemoryBaseline(options.baseline);
  const ports: JobPorts<ReplayedFinding> = {
    checkpoints: store,
    isConcurrencyConflict: (e) => e instanceof ConcurrencyConflictError,
    source: options.source,
    detection: detectionPort({
      mode: options.mode,
      baselineDays: options.baselineDays ?? 14,
      baseline: memoryKeeper(memory),
    }),
    toRecord: (detected, { window }) => ({ window, ...detected }),
    writer: {
      flushSpool: async () => ({ sent: 0, remaining: 0 }),
      write: async (records) => {
        findings.push(...records);
        return { sent: records.length, skippedAlreadySent: 0, spooled: 0 };
      },
    },
  };
  const result = await runDetectionJob(ports, {
    // "Now" is just after the last day ends, with no ingestion delay: every day is due.
    now: () => end,
    ingestionDelayMinutes: 0,
    maxCatchupDays: days,
    checkpointName,
    log: options.log ?? SILENT_LOG,
  });
  return {
    days: result.processed,
    findings,
    baseline: memory.current,
    ...(result.outcome === 'failed'
      ? { failed: { window: result.window, phase: result.phase, error: result.error } }
      : {}),
  };
}
