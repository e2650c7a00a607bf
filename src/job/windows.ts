/**
 * Window arithmetic of the daily job. The rule's query period is one day; the job
 * cuts time into contiguous, half-open UTC days [00:00, 24:00) and processes each
 * exactly once, oldest first.
 *
 * - A window is due once it ended at least INGESTION_DELAY_MINUTES ago (late rows
 *   are still arriving in Log Analytics just after midnight).
 * - The checkpoint is the end of the last window processed = the start of the next.
 * - First run (no checkpoint): only the window ending at the latest due boundary.
 * - Catch-up: every due window from the checkpoint on, at most MAX_CATCHUP_DAYS;
 *   older ones are skipped and reported.
 *
 * Boundaries are whole UTC days, so JavaScript Date arithmetic is exact here; the
 * windows are handed on as canonical 7-digit KQL datetimes.
 */
import { fromDate, parseKqlDateTime, type KqlDateTime } from '../detection/datetime';
import type { QueryWindow } from '../detection/schema';
import { AppError } from '../shared/errors';

/** Due windows older than the catch-up limit, not processed: [start, end) of the skipped span. */
export interface SkippedDays {
  start: KqlDateTime;
  end: KqlDateTime;
  days: number;
}

export interface WindowPlan {
  /** Windows to process now, oldest first. */
  windows: QueryWindow[];
  skipped?: SkippedDays;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A checkpoint value that is not a UTC midnight: the state store was edited by hand or by another tool. */
export class InvalidCheckpointError extends AppError {
  constructor(
    readonly checkpointName: string,
    readonly value: string,
  ) {
    super(
      `Checkpoint '${checkpointName}' holds '${value}', which is not a UTC day boundary (YYYY-MM-DDT00:00:00.0000000Z). ` +
        `Set it to the start of the first day still to process, or delete it to start again from the latest complete day.`,
    );
  }
}

/** The latest UTC midnight at or before `now - delay`: the end of the newest due window. */
export function latestDueBoundary(now: Date, ingestionDelayMinutes: number): Date {
  const t = now.getTime() - ingestionDelayMinutes * 60_000;
  return new Date(Math.floor(t / DAY_MS) * DAY_MS);
}

/** The UTC midnight a checkpoint value names, or undefined if it is not one. */
export function parseDayBoundary(value: string): Date | undefined {
  const canonical = parseKqlDateTime(value);
  if (canonical === null || !canonical.endsWith('T00:00:00.0000000Z')) return undefined;
  return new Date(canonical.slice(0, 10) + 'T00:00:00Z');
}

/**
 * The windows a run started at `now` processes, given the checkpoint (end of the
 * last window done; undefined on the first run).
 */
export function planWindows(params: {
  checkpoint: Date | undefined;
  now: Date;
  ingestionDelayMinutes: number;
  maxCatchupDays: number;
}): WindowPlan {
  const lastEnd = latestDueBoundary(params.now, params.ingestionDelayMinutes).getTime();
  const firstStart = params.checkpoint === undefined ? lastEnd - DAY_MS : params.checkpoint.getTime();
  const dueDays = Math.max(0, Math.round((lastEnd - firstStart) / DAY_MS));
  const processDays = Math.min(dueDays, params.maxCatchupDays);
  const skippedDays = dueDays - processDays;
  const windows: QueryWindow[] = [];
  for (let start = lastEnd - processDays * DAY_MS; start < lastEnd; start += DAY_MS) {
    windows.push({ start: fromDate(new Date(start)), end: fromDate(new Date(start + DAY_MS)) });
  }
  const plan: WindowPlan = { windows };
  if (skippedDays > 0) {
    plan.skipped = {
      start: fromDate(new Date(firstStart)),
      end: fromDate(new Date(firstStart + skippedDays * DAY_MS)),
      days: skippedDays,
    };
  }
  return plan;
}
