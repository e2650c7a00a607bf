/**
 * Time slices of a query window, exact to the 100 ns tick.
 *
 * A window and every slice of it are half-open, `[start, end)`, so that the slices of
 * a window tile it with no gap and no overlap: a row whose `TimeGenerated` falls on a
 * boundary belongs to exactly one slice, and is fetched once. Boundaries are held as
 * canonical KQL datetime text and split with bigint tick arithmetic, never through a
 * JavaScript `Date` (which would round them to milliseconds).
 */
import { AppError } from '../shared/errors';
import { fromUnixTicks, parseKqlDateTime, toUnixTicks, type KqlDateTime } from '../detection/datetime';
import type { QueryWindow } from '../detection/schema';

/** One hundred-nanosecond tick per unit; 10,000 per millisecond. */
export const TICKS_PER_MS = 10_000n;
export const TICKS_PER_SECOND = 10_000_000n;
export const TICKS_PER_HOUR = 3600n * TICKS_PER_SECOND;
export const TICKS_PER_DAY = 24n * TICKS_PER_HOUR;

export class InvalidWindowError extends AppError {}

/** ISO 8601 datetime text, or a bare date (`2026-11-25`, midnight UTC). */
export function parseWindowBound(text: string): KqlDateTime | null {
  const t = text.trim();
  return parseKqlDateTime(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
}

/** Parses and checks a window given as text; `what` names it in the error message. */
export function parseWindow(start: string, end: string, what = 'window'): QueryWindow {
  const s = parseWindowBound(start);
  const e = parseWindowBound(end);
  if (s === null)
    throw new InvalidWindowError(
      `${what}: start '${start}' is not an ISO 8601 date or datetime (e.g. 2026-11-25 or 2026-11-25T06:00:00Z).`,
    );
  if (e === null)
    throw new InvalidWindowError(
      `${what}: end '${end}' is not an ISO 8601 date or datetime (e.g. 2026-11-25 or 2026-11-25T06:00:00Z).`,
    );
  const window = { start: s, end: e };
  checkWindow(window, what);
  return window;
}

export function checkWindow(window: QueryWindow, what = 'window'): void {
  if (toUnixTicks(window.end) <= toUnixTicks(window.start)) {
    throw new InvalidWindowError(`${what}: end ${window.end} must be after start ${window.start}.`);
  }
}

export function windowTicks(window: QueryWindow): bigint {
  return toUnixTicks(window.end) - toUnixTicks(window.start);
}

/**
 * Splits a window into `count` contiguous slices of (almost) equal length. The last
 * slice ends exactly at the window's end.
 */
export function splitWindow(window: QueryWindow, count: number): QueryWindow[] {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`slice count must be a positive integer, got ${count}`);
  const start = toUnixTicks(window.start);
  const total = toUnixTicks(window.end) - start;
  const n = BigInt(count) > total ? total : BigInt(count);
  const slices: QueryWindow[] = [];
  let from = start;
  for (let i = 1n; i <= n; i++) {
    const to = i === n ? start + total : start + (total * i) / n;
    slices.push({ start: fromUnixTicks(from), end: fromUnixTicks(to) });
    from = to;
  }
  return slices;
}

/** The two halves `[start, mid)` and `[mid, end)` of a slice, or null if it is one tick long. */
export function halveSlice(slice: QueryWindow): [QueryWindow, QueryWindow] | null {
  const start = toUnixTicks(slice.start);
  const end = toUnixTicks(slice.end);
  if (end - start < 2n) return null;
  const mid = start + (end - start) / 2n;
  const m = fromUnixTicks(mid);
  return [
    { start: slice.start, end: m },
    { start: m, end: slice.end },
  ];
}

/**
 * The query API's `timespan` for a slice. The API takes it at millisecond precision
 * (the SDK sends `Date.toISOString()`), so it is widened outward to whole milliseconds:
 * it always covers the slice, and the exact tick bounds are enforced by the KQL filter.
 */
export function timespanCovering(slice: QueryWindow): { startTime: Date; endTime: Date } {
  const start = toUnixTicks(slice.start);
  const end = toUnixTicks(slice.end);
  const floorMs = floorDiv(start, TICKS_PER_MS);
  const ceilMs = -floorDiv(-end, TICKS_PER_MS);
  return { startTime: new Date(Number(floorMs)), endTime: new Date(Number(ceilMs)) };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** The last complete UTC day before `now`: `[yesterday 00:00, today 00:00)`. */
export function lastCompleteUtcDay(now: Date = new Date()): QueryWindow {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const endTicks = BigInt(today) * TICKS_PER_MS;
  return { start: fromUnixTicks(endTicks - TICKS_PER_DAY), end: fromUnixTicks(endTicks) };
}

/** Human-readable slice text for messages: `[start, end)`. */
export function describeSlice(slice: QueryWindow): string {
  return `[${slice.start}, ${slice.end})`;
}
