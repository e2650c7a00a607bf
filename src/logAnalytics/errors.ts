/**
 * Errors of a Log Analytics pull. Each names what failed (table, slice, workspace) and
 * what to do about it; none is raised with partial data: a window either arrives whole
 * or not at all.
 */
import type { QueryWindow, TableName } from '../detection/schema';
import { AppError, type AppErrorOptions } from '../shared/errors';
import { describeSlice } from './slices';

export class LogAnalyticsError extends AppError {}

/** A slice could not be fetched (after retries, or after halving to the minimum slice). */
export interface SliceFailedErrorOptions extends AppErrorOptions {
  table: TableName;
  slice: QueryWindow;
  /** What went wrong, without the table and slice. */
  reason: string;
  /** The `x-ms-client-request-id` of the last request, for Azure support. */
  clientRequestId?: string;
}

export class SliceFailedError extends LogAnalyticsError {
  readonly table: TableName;
  readonly slice: QueryWindow;
  readonly reason: string;
  readonly clientRequestId: string | undefined;

  constructor(options: SliceFailedErrorOptions) {
    const { table, slice, reason, clientRequestId } = options;
    super(
      `Could not fetch ${table} for ${describeSlice(slice)}: ${reason}` +
        (clientRequestId ? ` (x-ms-client-request-id ${clientRequestId})` : '') +
        '. No findings were produced for this window.',
      options,
    );
    this.table = table;
    this.slice = slice;
    this.reason = reason;
    this.clientRequestId = clientRequestId;
  }
}

/** Bad options given to the source (workspace id, endpoint, limits). */
export class LogAnalyticsConfigError extends LogAnalyticsError {}
