/**
 * Window arithmetic of the daily job. The rule's query period is one day; the job
 * cuts time into contiguous, half-open UTC days [00:00, 24:00) and processes each
 * exactly once, oldest first.
 *
 * - A window is due once it ended at least INGESTION_DELAY_MINUTES ago (late rows
 *   are still arriving in Log Analytics just after midnight), less EARLY_FIRE_TOLERANCE_MS:
 *   a timer that fires a moment early (00:14:59.999 for 00:15) must not cost a day.
 *   What arrives later still is caught by the settle passes (./settle).
 * - The checkpoint is the end of the last window processed = the start of the next.
 * - First run (no checkpoint): the first window is DETECTION_START_DATE, by default
 *   the window ending at the latest due boundary; the job stores it as the checkpoint
 *   before processing it, so a first run that dies does not lose that day.
 * - Catch-up: every due window from the checkpoint on, at most MAX_CATCHUP_DAYS;
 *   older ones are skipped, and skipping fails the invocation (the job says how to
 *   backfill them).
 * - A checkpoint in the future (more than FUTURE_CHECKPOINT_TOLERANCE_MS ahead of the
 *   clock) would stall the job for good: it is an error, as is one that is no day boundary.
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

/** A timer occurrence this early still sees its day as due (timers may fire a little early). */
export const EARLY_FIRE_TOLERANCE_MS = 60_000;

/**
 * How far ahead of this host's clock a checkpoint may be before it is refused: a host
 * whose clock ran ahead (a day processed early) and was then corrected stays within it.
 */
export const FUTURE_CHECKPOINT_TOLERANCE_MS = 60 * 60_000;

/** A checkpoint after the latest day that can have ended: the job would wait for it for good. */
export class FutureCheckpointError extends AppError {
  constructor(
    readonly checkpointName: string,
    readonly value: string,
    now: Date,
    latestDue: Date,
  ) {
    super(
      `Checkpoint '${checkpointName}' holds ${value}, which is in the future (this host's clock says ` +
        `${now.toISOString()}): the job would process nothing until then. It was set by hand or written by a host ` +
        `whose clock ran ahead. Set its Value (state table, partition 'checkpoint') to the start of the first day ` +
        `still to process, e.g. ${fromDate(latestDue)}, or delete it to start again from the latest complete day.`,
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

/** The end of the newest window due at `now`: `latestDueBoundary`, with the early-fire tolerance. */
export function dueBoundary(now: Date, ingestionDelayMinutes: number): Date {
  return latestDueBoundary(new Date(now.getTime() + EARLY_FIRE_TOLERANCE_MS), ingestionDelayMinutes);
}

/** Refuses a checkpoint in the future (see FutureCheckpointError). */
export function checkNotInFuture(checkpointName: string, value: string, checkpoint: Date, now: Date, delay: number) {
  if (checkpoint.getTime() > now.getTime() + FUTURE_CHECKPOINT_TOLERANCE_MS) {
    throw new FutureCheckpointError(checkpointName, value, now, dueBoundary(now, delay));
  }
}

/**
 * The start of the first window when there is no checkpoint: the UTC day of
 * DETECTION_START_DATE, else the window that ends at the latest due boundary.
 */
export function firstWindowStart(params: {
  now: Date;
  ingestionDelayMinutes: number;
  detectionStartDate?: KqlDateTime;
}): Date {
  if (params.detectionStartDate !== undefined) {
    // The UTC day it falls in (settings validate it as a datetime).
    const t = Date.parse(params.detectionStartDate);
    if (Number.isNaN(t)) throw new RangeError(`DETECTION_START_DATE '${params.detectionStartDate}' is not a datetime`);
    return new Date(Math.floor(t / DAY_MS) * DAY_MS);
  }
  return new Date(dueBoundary(params.now, params.ingestionDelayMinutes).getTime() - DAY_MS);
}

/**
 * The windows a run started at `now` processes, given the checkpoint (end of the
 * last window done; undefined on a first run that has not stored its first window).
 */
export function planWindows(params: {
  checkpoint: Date | undefined;
  now: Date;
  ingestionDelayMinutes: number;
  maxCatchupDays: number;
}): WindowPlan {
  const lastEnd = dueBoundary(params.now, params.ingestionDelayMinutes).getTime();
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
