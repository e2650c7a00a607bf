/**
 * What the job remembers of the windows it processed, beyond the checkpoint:
 *
 * - Settle passes. Log Analytics makes most rows queryable within minutes, but not all:
 *   a row that becomes queryable after its day was pulled would be lost for good. So
 *   each processed day is queried again SETTLE_AFTER_HOURS after it ended (default 6,
 *   24 and 72 hours; see the README, "Late data"), and the findings the more complete
 *   day yields are written (the findings writer's ledger sends each once). A pass is
 *   due when `end + h` has passed since the day was last pulled; passes that fall due
 *   between two runs are done by one pull. This also covers a host whose clock ran
 *   ahead (the day was pulled before it ended: the next pass sees the rest).
 * - Row counts. Each table's rows in recent windows (without the rule's filters), so a
 *   table far below its recent days is reported (SOURCE_LOW_PERCENT).
 *
 * Both live in one small state entity next to the checkpoint (partition 'checkpoint',
 * `<checkpoint name>-history`), as JSON text.
 */
import { fromDate, type KqlDateTime } from '../detection/datetime';
import type { QueryWindow, TableName } from '../detection/schema';
import { TABLE_NAMES } from '../detection/schema';
import { AppError } from '../shared/errors';

/** SETTLE_AFTER_HOURS default: see the README ("Late data") for the latencies behind it. */
export const DEFAULT_SETTLE_AFTER_HOURS: readonly number[] = [6, 24, 72];
/** SOURCE_LOW_PERCENT default. */
export const DEFAULT_SOURCE_LOW_PERCENT = 10;
/** Windows of row counts kept, and the fewest earlier ones a "far below" verdict needs. */
export const VOLUME_WINDOWS = 7;
export const VOLUME_MIN_WINDOWS = 3;

export const HISTORY_SUFFIX = '-history';

const HOUR_MS = 3_600_000;

export interface SettleEntry {
  /** The window's start (its end is a day later). */
  start: KqlDateTime;
  /** When it was last pulled (ISO 8601, the host's clock). */
  pulledAt: string;
}

export interface VolumeEntry {
  start: KqlDateTime;
  rows: Partial<Record<TableName, number>>;
}

export interface WindowHistory {
  settle: SettleEntry[];
  volume: VolumeEntry[];
}

export const EMPTY_HISTORY: WindowHistory = { settle: [], volume: [] };

/** The history entity holds something the job did not write. */
export class WindowHistoryError extends AppError {
  constructor(name: string, why: string) {
    super(
      `The job's window history '${name}' (state table, partition 'checkpoint') ${why}. ` +
        `Delete that entity: the job starts a new one (days processed in the last ` +
        `${Math.max(...DEFAULT_SETTLE_AFTER_HOURS) / 24} days then get no further settle pass).`,
    );
  }
}

export function parseHistory(name: string, value: string): WindowHistory {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new WindowHistoryError(name, 'is not JSON');
  }
  const h = parsed as Partial<WindowHistory> | null;
  if (
    typeof h !== 'object' ||
    h === null ||
    !Array.isArray(h.settle) ||
    !Array.isArray(h.volume) ||
    !h.settle.every((e) => typeof e?.start === 'string' && typeof e?.pulledAt === 'string') ||
    !h.volume.every((e) => typeof e?.start === 'string' && typeof e?.rows === 'object' && e.rows !== null)
  ) {
    throw new WindowHistoryError(name, 'is not in the shape the job writes ({"settle":[…],"volume":[…]})');
  }
  return { settle: h.settle, volume: h.volume };
}

export function serializeHistory(history: WindowHistory): string {
  return JSON.stringify(history);
}

function endOf(start: KqlDateTime): number {
  return Date.parse(start) + 24 * HOUR_MS;
}

/** Whether a pass of `hours` is still to come for a day pulled at `pulledAt`. */
function passesLeft(start: KqlDateTime, pulledAt: number, hours: readonly number[]): number[] {
  return hours.filter((h) => endOf(start) + h * HOUR_MS > pulledAt);
}

/**
 * The windows a settle pass is due for at `now`, oldest first: processed (they end at
 * or before `checkpoint`), and some `end + h` lies after their last pull and at or
 * before now.
 */
export function settlePassesDue(
  history: WindowHistory,
  now: Date,
  hours: readonly number[],
  checkpoint: Date | undefined,
): QueryWindow[] {
  if (checkpoint === undefined) return [];
  const due = history.settle.filter((e) => {
    const end = endOf(e.start);
    if (end > checkpoint.getTime()) return false;
    const pulled = Date.parse(e.pulledAt);
    return hours.some((h) => end + h * HOUR_MS > pulled && end + h * HOUR_MS <= now.getTime());
  });
  return due
    .map((e) => e.start)
    .sort()
    .map((start) => ({ start, end: fromDate(new Date(endOf(start))) }));
}

/** The history after `window` was pulled at `at`: its next passes, or none left. */
export function recordPull(
  history: WindowHistory,
  window: QueryWindow,
  at: Date,
  hours: readonly number[],
): WindowHistory {
  const settle = history.settle.filter((e) => e.start !== window.start);
  if (passesLeft(window.start, at.getTime(), hours).length > 0) {
    settle.push({ start: window.start, pulledAt: at.toISOString() });
  }
  settle.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return { ...history, settle };
}

/** The history with `window`'s row counts, keeping the VOLUME_WINDOWS latest windows. */
export function recordVolume(
  history: WindowHistory,
  window: QueryWindow,
  rows: Partial<Record<TableName, number>>,
): WindowHistory {
  const volume = history.volume.filter((e) => e.start !== window.start);
  volume.push({ start: window.start, rows: { ...rows } });
  volume.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return { ...history, volume: volume.slice(-VOLUME_WINDOWS) };
}

export interface LowTable {
  table: TableName;
  rows: number;
  /** The median of the table's rows in the earlier windows compared against. */
  median: number;
  windows: number;
}

/**
 * Tables with rows in `window`, but fewer than `percent` % of the median of their
 * earlier recorded windows (at least VOLUME_MIN_WINDOWS of them). A table with no rows
 * at all is a source gap, reported apart.
 */
export function lowTables(
  history: WindowHistory,
  window: QueryWindow,
  rows: Partial<Record<TableName, number>>,
  percent: number,
): LowTable[] {
  const low: LowTable[] = [];
  for (const table of TABLE_NAMES) {
    const n = rows[table];
    if (n === undefined || n === 0) continue;
    const earlier = history.volume
      .filter((e) => e.start < window.start && typeof e.rows[table] === 'number')
      .slice(-VOLUME_WINDOWS)
      .map((e) => e.rows[table]!)
      .sort((a, b) => a - b);
    if (earlier.length < VOLUME_MIN_WINDOWS) continue;
    const mid = earlier.length >> 1;
    const median = earlier.length % 2 ? earlier[mid]! : (earlier[mid - 1]! + earlier[mid]!) / 2;
    if (n < (median * percent) / 100) low.push({ table, rows: n, median, windows: earlier.length });
  }
  return low;
}
