/**
 * Replay: the job's window loop (runDetectionJob) over past days, with nothing
 * touched in Azure: the checkpoint lives in memory (set to the first day), findings
 * are collected instead of written, enrichment is off, and corrected mode's baseline is
 * kept in memory and carried over from day to day. Used by `runcommand-detect replay`
 * and by scripts/compare-modes.ts.
 */
import type { RunCommandFinding } from '../detection/schema';
import { detectParity } from '../detection';
import { CorrectedDetection, MemoryBaseline, type CorrectedFindingDetails } from '../detection/corrected';
import { TABLE_NAMES, type TableName, type TableRows } from '../detection/schema';
import { StateStore } from '../stateStore';
import { ConcurrencyConflictError } from '../stateStore/errors';
import {
  runDetectionJob,
  type JobLog,
  type JobPorts,
  type PulledWindowPort,
  type WindowSummary,
} from './runDetectionJob';
import { parseDayBoundary, type QueryWindow } from './windows';

export type ReplayMode = 'parity' | 'corrected';

export interface ReplayOptions {
  /** First day (a UTC midnight, 7-digit text) and the end of the last day (exclusive). */
  from: string;
  to: string;
  mode: ReplayMode;
  /** Corrected mode's BASELINE_DAYS (default 14). */
  baselineDays?: number;
  source: { pullWindow(window: QueryWindow): Promise<PulledWindowPort> };
  log?: JobLog;
}

export interface ReplayedFinding {
  window: QueryWindow;
  finding: RunCommandFinding;
  /** Corrected mode's details (ExtendedProperties); undefined in parity mode. */
  details?: CorrectedFindingDetails;
}

export interface ReplayResult {
  days: WindowSummary[];
  findings: ReplayedFinding[];
  /** Set when a day failed (the days after it were not replayed). */
  failed?: { window: QueryWindow; phase: string; error: unknown };
}

export class ReplayWindowError extends Error {
  override readonly name = 'ReplayWindowError';
}

const SILENT: JobLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const DAY_MS = 86_400_000;

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const first = parseDayBoundary(options.from);
  const end = parseDayBoundary(options.to);
  if (!first || !end || end <= first) {
    throw new ReplayWindowError(
      `replay needs whole UTC days: --from ${options.from} --to ${options.to} must be dates (YYYY-MM-DD), --to after --from.`,
    );
  }
  const days = Math.round((end.getTime() - first.getTime()) / DAY_MS);
  const baselineDays = options.baselineDays ?? 14;
  const store = await StateStore.open({ memory: true });
  const checkpointName = `replay-${options.mode}`;
  await store.putCheckpoint(checkpointName, options.from, undefined);

  const baseline = new MemoryBaseline();
  const details = new WeakMap<RunCommandFinding, CorrectedFindingDetails>();
  let pendingObservations: Parameters<MemoryBaseline['record']>[0] = [];
  const findings: ReplayedFinding[] = [];

  const ports: JobPorts<ReplayedFinding> = {
    checkpoints: store,
    isConcurrencyConflict: (e) => e instanceof ConcurrencyConflictError,
    source: options.source,
    detect(tables, window) {
      if (options.mode === 'parity') return detectParity(tables);
      const detection = new CorrectedDetection();
      for (const table of TABLE_NAMES) {
        for (const row of tables[table] as TableRows[TableName][]) detection.add(table, row);
      }
      const result = detection.finish({ windowStart: window.start, baselineDays, baseline: baseline.current });
      pendingObservations = result.observations;
      for (const f of result.findings) details.set(f.finding, f.details);
      return result.findings.map((f) => f.finding);
    },
    recordBaseline:
      options.mode === 'corrected'
        ? async (window) => {
            baseline.record(pendingObservations, window.end, baselineDays);
            pendingObservations = [];
          }
        : undefined,
    toRecord: (finding, { window }) => ({ window, finding, details: details.get(finding) }),
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
    detectionMode: options.mode,
    checkpointName,
    log: options.log ?? SILENT,
  });
  return {
    days: result.processed,
    findings,
    ...(result.failed ? { failed: result.failed } : {}),
  };
}
