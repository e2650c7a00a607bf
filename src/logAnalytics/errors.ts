/**
 * Errors of a Log Analytics pull. Each names what failed (table, slice, workspace) and
 * what to do about it; none is raised with partial data: a window either arrives whole
 * or not at all.
 */
import type { TableName } from '../detection/schema';
import { describeSlice, type TimeWindow } from './slices';

export class LogAnalyticsError extends Error {
  override name = 'LogAnalyticsError';
}

/** A slice could not be fetched (after retries, or after halving to the minimum slice). */
export class SliceFailedError extends LogAnalyticsError {
  override name = 'SliceFailedError';
  constructor(
    readonly table: TableName,
    readonly slice: TimeWindow,
    readonly reason: string,
    readonly clientRequestId?: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Could not fetch ${table} for ${describeSlice(slice)}: ${reason}` +
        (clientRequestId ? ` (x-ms-client-request-id ${clientRequestId})` : '') +
        '. No findings were produced for this window.',
      options,
    );
  }
}

/** Bad options given to the source (workspace id, endpoint, limits). */
export class LogAnalyticsConfigError extends LogAnalyticsError {
  override name = 'LogAnalyticsConfigError';
}
