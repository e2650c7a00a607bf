/**
 * `LogAnalyticsSource`: pulls the rows of the three tables the rule reads, for one
 * time window, from a Log Analytics workspace through the query API
 * (`LogsQueryClient.queryWorkspace` of `@azure/monitor-query-logs`).
 *
 * Limits of the query API it works within (Azure Monitor service limits):
 * - at most 500,000 rows or ~64 MB per response: each table is fetched in time slices;
 *   a slice whose answer is too large (`E_QUERY_RESULT_SET_TOO_LARGE`, any
 *   `PartialError`, or a row count at the cap) is halved and asked again, down to a
 *   minimum slice length, after which the whole window fails;
 * - about 5 concurrent queries per user: at most `maxConcurrency` (5) in flight;
 * - 200 requests per 30 s (HTTP 429) and transient 5xx/504: retried with exponential
 *   backoff, honouring `Retry-After`; the SDK's own retry policy is switched off so
 *   that every retry is counted and bounded here;
 * - 3 minutes per query unless `Prefer: wait=600`: sent as `serverTimeoutInSeconds`.
 *
 * A slice that cannot be fetched fails the whole window (`SliceFailedError`, naming the
 * table and the slice): the rule never runs on incomplete data. So does an answer that
 * is not what was asked: more or less than one table, a column named twice, or a row
 * outside the slice.
 *
 * Memory: `pullWindowInto` hands each slice's rows to the detector as the slice arrives
 * and drops them; a window whose rows (after the push-down, all tables) exceed `windowRowBudget`
 * fails cleanly (`WindowRowBudgetError`, naming the tables and the counts)
 * rather than growing without bound.
 *
 * Source health: `countWindow` asks each table how many rows it has in the window at
 * all, without the rule's filters (`| count`), so that a table with none (a connector
 * or diagnostic setting gone) is told apart from a quiet day.
 */
import { messageOf } from '../shared/errors';
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { isRestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import {
  LogsQueryClient,
  LogsQueryResultStatus,
  type LogsErrorInfo,
  type LogsQueryClientOptions,
  type LogsTable,
} from '@azure/monitor-query-logs';
import { TABLE_NAMES, tablesOfMode, type TableName, type TableRecord, type TableRows } from '../detection/schema';
import { toUnixTicks } from '../detection/datetime';
import { LogAnalyticsConfigError, LogAnalyticsError, SliceFailedError } from './errors';
import { buildCountQuery, buildKeptCountQuery, buildTableQuery } from './queries';
import { WINDOWS_MANAGED_HANDLER, type WindowsManagedHandler } from '../detection/corrected/paths';
import { columnNamesOf, rawRowOf, typedRow, UnexpectedResultShapeError } from './rows';
import {
  checkWindow,
  describeSlice,
  halveSlice,
  splitWindow,
  TICKS_PER_SECOND,
  timespanCovering,
  windowTicks,
} from './slices';
import type { DetectionMode, QueryWindow } from '../detection/schema';
import type { RowSink } from '../detection/detector';
import { logAnalyticsScope } from '../shared/azureScopes';
import type { Log } from '../shared/log';
import { mapLimit, WorkQueue } from '../shared/pool';

export interface RetryOptions {
  /** Retries of one query after a 429, 5xx or network failure. Default 5. */
  maxRetries?: number;
  /** First backoff; doubles each retry, with jitter. Default 1000 ms. */
  baseDelayMs?: number;
  /** Longest backoff between two attempts. Default 60,000 ms. */
  maxDelayMs?: number;
  /** Longest `Retry-After` honoured (a longer one is cut to this). Default 300,000 ms. */
  maxRetryAfterMs?: number;
}

export interface LogAnalyticsSourceOptions {
  /** The workspace id (a GUID, "Workspace ID" in the portal), not its resource id. */
  workspaceId: string;
  credential: TokenCredential;
  /** Query API base URL including the version, e.g. `https://api.loganalytics.io/v1` (default). */
  endpoint?: string;
  /** Extra client options (tests pass `tlsOptions: { ca }`). */
  clientOptions?: LogsQueryClientOptions;
  /** Queries in flight at once. Default 5, the API's per-user concurrency limit. */
  maxConcurrency?: number;
  /** Slices each table's window starts with, at least. Default 4 (6 hours for a day). */
  initialSlicesPerTable?: number;
  /**
   * Count each table's push-down rows first (`| count`, one cheap query per table) and
   * cut its window into enough slices of about `targetRowsPerSlice` rows. Default true:
   * the answers in flight are what the pull holds in memory, so their size bounds it.
   */
  planSlicesByCount?: boolean;
  /**
   * Rows per slice the plan aims at. Default 2,000 (about 0.7 MB of DeviceEvents answer;
   * 5 in flight). Measured with bench:job at 2,000,000 push-down rows: 10,000-row answers
   * outlive the young generation and inflate the peak heap (about 2.2 times the state
   * the detector keeps, against 1.5 with 2,000); on the service, 2,000,000 rows are then
   * 1,000 queries, within the API's 200 requests per 30 s in about 2.5 minutes.
   */
  targetRowsPerSlice?: number;
  /** A slice this short (in 100 ns ticks) is never halved. Default 1 second. */
  minSliceTicks?: bigint;
  /** A response with this many rows counts as truncated and is halved. Default 500,000. */
  rowCap?: number;
  /** `Prefer: wait=…`. Default 600 (the API's maximum). */
  serverTimeoutInSeconds?: number;
  retry?: RetryOptions;
  logger?: Pick<Log, 'info' | 'warn'>;
  /** Tables to pull. Default: those of `mode` (parity: the rule's three; corrected: and DeviceProcessEvents). */
  tables?: readonly TableName[];
  /** Whose row filters are pushed down: 'parity' (default, the rule's) or 'corrected' (see queries.ts). */
  mode?: DetectionMode;
  /** Corrected mode: how the Windows managed handler is recognised (MANAGED_HANDLER_* settings; default the unverified defaults). */
  windowsManagedHandler?: WindowsManagedHandler;
  /**
   * WINDOW_ROW_BUDGET: rows the tables together may deliver (after the push-down) in one
   * window. Beyond it the window fails with WindowRowBudgetError. Default 5,000,000 (the
   * job passes the budget of its setting, src/job/rowBudget.ts).
   */
  windowRowBudget?: number;
}

/**
 * A window holds more rows (kept by the rule's filters, all tables together) than
 * WINDOW_ROW_BUDGET allows: found from the push-down counts before the pull, or by the
 * rows received during it. `table` is the table with the most of them.
 */
export class WindowRowBudgetError extends LogAnalyticsError {
  readonly table: TableName;
  readonly rows: number;
  constructor(
    readonly window: QueryWindow,
    readonly rowsByTable: Partial<Record<TableName, number>>,
    readonly budget: number,
    readonly when: 'counted before the pull' | 'received so far',
  ) {
    const entries = Object.entries(rowsByTable) as Array<[TableName, number]>;
    const rows = entries.reduce((sum, [, n]) => sum + n, 0);
    const table = entries.reduce((most, e) => (e[1] > most[1] ? e : most), entries[0] ?? ['AzureActivity', 0])[0];
    super(
      `${describeSlice(window)} holds more than WINDOW_ROW_BUDGET=${budget} rows kept by the rule's filters ` +
        `(${rows} ${when}: ${entries.map(([t, n]) => `${t} ${n}`).join(', ')}; most in ${table}); the window was ` +
        `stopped before memory ran out. Check the workspace for a burst of ${table} rows; if the volume is real, ` +
        `give the Function App more memory (instanceMemoryMB; WINDOW_ROW_BUDGET=auto grows with it) or set ` +
        `WINDOW_ROW_BUDGET, and let the next run retry the window.`,
    );
    this.table = table;
    this.rows = rows;
  }
}

export interface TablePullStats {
  /** Rows received (sum over the slices kept). */
  rows: number;
  /** Response body bytes received, retries and discarded too-large answers included. */
  bytes: number;
  /** Slices the table's window was finally fetched in. */
  slices: number;
  /** HTTP requests sent. */
  queries: number;
  /** Requests repeated after a 429/5xx/network failure. */
  retries: number;
  /** Slices halved because the answer was too large or partial. */
  halvings: number;
}

/** The rows of each table pulled (DeviceProcessEvents only in corrected mode). */
export type PulledTables = { [T in Exclude<TableName, 'DeviceProcessEvents'>]: TableRows[T][] } & {
  DeviceProcessEvents?: TableRows['DeviceProcessEvents'][];
};

export interface PulledWindow {
  window: QueryWindow;
  tables: PulledTables;
  stats: TableRecord<TablePullStats>;
}

export interface PullProgress {
  table: TableName;
  slice: QueryWindow;
  slicesDone: number;
  slicesTotal: number;
  rowsSoFar: number;
}

const DEFAULTS = {
  maxConcurrency: 5,
  initialSlicesPerTable: 4,
  targetRowsPerSlice: 2_000,
  minSliceTicks: TICKS_PER_SECOND,
  rowCap: 500_000,
  serverTimeoutInSeconds: 600,
  windowRowBudget: 5_000_000,
  maxRetries: 5,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
};

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REQUEST_ID_HEADER = 'x-ms-client-request-id';

type Attempt =
  { kind: 'rows'; table: LogsTable; requestId: string } | { kind: 'tooLarge'; reason: string; requestId: string };

interface SliceTask {
  table: TableName;
  slice: QueryWindow;
}

/** Reads `Retry-After` (seconds or an HTTP date) or `retry-after-ms` / `x-ms-retry-after-ms`, in ms. */
export function retryAfterMs(headers: { get(name: string): string | undefined }, now = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = headers.get(name);
    if (v !== undefined && v.trim() !== '' && Number.isFinite(Number(v))) return Math.max(0, Number(v));
  }
  const v = headers.get('retry-after');
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The text of an error and of everything nested in it (details, innererror). */
function errorText(e: LogsErrorInfo | undefined): string {
  if (!e) return '';
  const parts = [e.code, e.message];
  for (const d of e.details ?? []) parts.push(d.code, d.message, JSON.stringify(d.additionalProperties ?? {}));
  const inner = (e as { innererror?: LogsErrorInfo }).innererror;
  if (inner) parts.push(errorText(inner));
  parts.push(JSON.stringify(e));
  return parts.filter(Boolean).join(' ');
}

const TOO_LARGE = /E_QUERY_RESULT_SET_TOO_LARGE|exceeded the internal (record count|data size) limit/i;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class LogAnalyticsSource {
  private readonly client: LogsQueryClient;
  private readonly opts: Required<
    Omit<LogAnalyticsSourceOptions, 'endpoint' | 'clientOptions' | 'logger' | 'retry'>
  > & {
    retry: Required<RetryOptions>;
    logger?: Pick<Log, 'info' | 'warn'>;
  };
  /** Response bytes by client request id, filled by a pipeline policy. */
  private readonly responseBytes = new Map<string, number>();

  constructor(options: LogAnalyticsSourceOptions) {
    if (!/^[0-9a-fA-F-]{36}$/.test(options.workspaceId ?? '')) {
      throw new LogAnalyticsConfigError(
        `Workspace id '${options.workspaceId}' is not a GUID: give the workspace's "Workspace ID" ` +
          '(Log Analytics workspace > Overview), not its name or resource id.',
      );
    }
    if (options.endpoint !== undefined && !/^https:\/\/[^/]+(\/.*)?\/v1\/?$/.test(options.endpoint)) {
      throw new LogAnalyticsConfigError(
        `Log Analytics endpoint '${options.endpoint}' must be an https URL ending in /v1, ` +
          'e.g. https://api.loganalytics.io/v1.',
      );
    }
    const maxConcurrency = options.maxConcurrency ?? DEFAULTS.maxConcurrency;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new LogAnalyticsConfigError(`maxConcurrency must be a positive integer, got ${maxConcurrency}.`);
    }
    const positive = (name: string, v: number | bigint | undefined) => {
      if (v !== undefined && !(typeof v === 'bigint' ? v > 0n : Number.isInteger(v) && v > 0)) {
        throw new LogAnalyticsConfigError(`${name} must be a positive integer, got ${v}.`);
      }
    };
    positive('initialSlicesPerTable', options.initialSlicesPerTable);
    positive('minSliceTicks', options.minSliceTicks);
    positive('rowCap', options.rowCap);
    positive('serverTimeoutInSeconds', options.serverTimeoutInSeconds);
    positive('windowRowBudget', options.windowRowBudget);
    positive('targetRowsPerSlice', options.targetRowsPerSlice);
    this.opts = {
      workspaceId: options.workspaceId,
      credential: options.credential,
      maxConcurrency,
      initialSlicesPerTable: options.initialSlicesPerTable ?? DEFAULTS.initialSlicesPerTable,
      planSlicesByCount: options.planSlicesByCount ?? true,
      targetRowsPerSlice: options.targetRowsPerSlice ?? DEFAULTS.targetRowsPerSlice,
      minSliceTicks: options.minSliceTicks ?? DEFAULTS.minSliceTicks,
      rowCap: options.rowCap ?? DEFAULTS.rowCap,
      serverTimeoutInSeconds: options.serverTimeoutInSeconds ?? DEFAULTS.serverTimeoutInSeconds,
      tables: options.tables ?? tablesOfMode(options.mode ?? 'parity'),
      mode: options.mode ?? 'parity',
      windowsManagedHandler: options.windowsManagedHandler ?? WINDOWS_MANAGED_HANDLER,
      windowRowBudget: options.windowRowBudget ?? DEFAULTS.windowRowBudget,
      logger: options.logger,
      retry: {
        maxRetries: options.retry?.maxRetries ?? DEFAULTS.maxRetries,
        baseDelayMs: options.retry?.baseDelayMs ?? DEFAULTS.baseDelayMs,
        maxDelayMs: options.retry?.maxDelayMs ?? DEFAULTS.maxDelayMs,
        maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
      },
    };
    const scope = options.endpoint ? logAnalyticsScope(options.endpoint) : undefined;
    this.client = new LogsQueryClient(options.credential, {
      ...(scope ? { credentials: { scopes: [scope] } } : {}),
      ...options.clientOptions,
      ...(options.endpoint ? { endpoint: options.endpoint.replace(/\/$/, '') } : {}),
      // Retries are ours (counted, bounded, Retry-After honoured): the SDK's are off.
      retryOptions: { maxRetries: 0 },
    });
    const bytes = this.responseBytes;
    const measure: PipelinePolicy = {
      name: 'runcommandResponseSizePolicy',
      async sendRequest(request, next) {
        const response = await next(request);
        const id = request.headers.get(REQUEST_ID_HEADER);
        if (id) {
          const size = response.bodyAsText != null ? Buffer.byteLength(response.bodyAsText, 'utf8') : 0;
          bytes.set(id, (bytes.get(id) ?? 0) + size);
        }
        return response;
      },
    };
    this.client.pipeline.addPolicy(measure);
  }

  /** The tables a pull reports (rows and stats): the rule's three always (empty when not pulled), and any other it pulls. */
  private reported(): readonly TableName[] {
    return [...TABLE_NAMES, ...this.opts.tables.filter((t) => !(TABLE_NAMES as readonly TableName[]).includes(t))];
  }

  /**
   * Pulls the rule's rows of every table for `[window.start, window.end)`. Resolves only
   * when every slice of every table arrived whole; otherwise rejects with the first
   * `SliceFailedError` (the other queries in flight are awaited, none new is started).
   */
  async pullWindow(window: QueryWindow, onProgress?: (p: PullProgress) => void): Promise<PulledWindow> {
    const pieces = Object.fromEntries(this.reported().map((t) => [t, []])) as unknown as Record<
      TableName,
      { start: bigint; rows: unknown[] }[]
    >;
    const stats = await this.pullSlices(
      window,
      (table, slice, answer) => {
        const rows: unknown[] = [];
        answer.forEach((row) => rows.push(row));
        pieces[table].push({ start: toUnixTicks(slice.start), rows });
      },
      onProgress,
    );
    const result = {} as PulledTables;
    for (const table of this.reported()) {
      const ordered = pieces[table].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      (result as Record<TableName, unknown[]>)[table] = ordered.flatMap((p) => p.rows);
    }
    return { window, tables: result, stats };
  }

  /**
   * The same pull, each slice's rows added to `rows` as the slice arrives, one by one as
   * they are typed, and then dropped: memory holds the answers in flight, not the window
   * (nor a typed copy of an answer). On a failure `rows` has seen part of the window:
   * the caller discards it.
   */
  async pullWindowInto(
    window: QueryWindow,
    rows: RowSink,
    onProgress?: (p: PullProgress) => void,
  ): Promise<PulledWindow['stats']> {
    return this.pullSlices(
      window,
      (table, _slice, answer) => answer.forEach((row) => rows.add(table, row)),
      onProgress,
    );
  }

  private async pullSlices(
    window: QueryWindow,
    onSlice: <T extends TableName>(table: T, slice: QueryWindow, answer: SliceAnswer<T>) => void,
    onProgress?: (p: PullProgress) => void,
  ): Promise<PulledWindow['stats']> {
    checkWindow(window);
    const tables = this.opts.tables;
    const perTable = new Map<TableName, TablePullStats>(
      this.reported().map((t) => [t, { rows: 0, bytes: 0, slices: 0, queries: 0, retries: 0, halvings: 0 }]),
    );
    const stats = Object.fromEntries(perTable) as PulledWindow['stats'];
    const initial: SliceTask[] = [];
    const plans = await mapLimit(tables, this.opts.maxConcurrency, (table) => this.slicesFor(table, window));
    const counted = Object.fromEntries(tables.map((t, i) => [t, plans[i]!.count ?? 0])) as Record<TableName, number>;
    if (Object.values(counted).reduce((a, b) => a + b, 0) > this.opts.windowRowBudget) {
      throw new WindowRowBudgetError(window, counted, this.opts.windowRowBudget, 'counted before the pull');
    }
    tables.forEach((table, i) => {
      for (const slice of splitWindow(window, plans[i]!.slices)) initial.push({ table, slice });
    });
    let slicesTotal = initial.length;
    let slicesDone = 0;
    let rowsSoFar = 0;
    // Up to maxConcurrency slices in flight; halving a slice puts its two halves at the
    // front of the queue, and idle capacity takes them at once.
    const queue = new WorkQueue<SliceTask>(this.opts.maxConcurrency, async (task, q) => {
      const result = await this.fetchSlice(task, perTable.get(task.table)!);
      if (result === 'halve') {
        const halves = halveSlice(task.slice)!;
        perTable.get(task.table)!.halvings++;
        slicesTotal++;
        q.unshift({ table: task.table, slice: halves[0] }, { table: task.table, slice: halves[1] });
        return;
      }
      if (rowsSoFar + result.length > this.opts.windowRowBudget) {
        const received = Object.fromEntries(tables.map((t) => [t, perTable.get(t)!.rows])) as Record<TableName, number>;
        received[task.table] += result.length;
        throw new WindowRowBudgetError(window, received, this.opts.windowRowBudget, 'received so far');
      }
      onSlice(task.table, task.slice, result);
      perTable.get(task.table)!.rows += result.length;
      perTable.get(task.table)!.slices++;
      slicesDone++;
      rowsSoFar += result.length;
      onProgress?.({ table: task.table, slice: task.slice, slicesDone, slicesTotal, rowsSoFar });
    });
    try {
      await queue.run(initial);
    } catch (failure) {
      this.opts.logger?.warn('Log Analytics pull failed', { window, error: String(failure), stats });
      throw failure;
    }

    this.opts.logger?.info('Log Analytics pull complete', {
      window,
      ...Object.fromEntries(tables.map((t) => [t, stats[t]])),
    });
    return stats;
  }

  /**
   * How many slices `table`'s window starts in: `initialSlicesPerTable`, or more when a
   * count of its push-down rows says the slices would hold more than `targetRowsPerSlice`.
   * A count that cannot be had fails the pull as a slice would (SliceFailedError).
   */
  private async slicesFor(table: TableName, window: QueryWindow): Promise<{ slices: number; count?: number }> {
    const base = this.opts.initialSlicesPerTable;
    if (!this.opts.planSlicesByCount) return { slices: base };
    // Not part of the pull's statistics (those count the pull's own queries).
    const scratch = { rows: 0, bytes: 0, slices: 0, queries: 0, retries: 0, halvings: 0 };
    const attempt = await this.queryWithRetries(
      table,
      window,
      scratch,
      buildKeptCountQuery(table, window, this.opts.mode, this.opts.windowsManagedHandler),
    );
    const cell = attempt.kind === 'rows' ? attempt.table.rows[0]?.[0] : undefined;
    const n = typeof cell === 'string' ? Number(cell) : cell;
    if (typeof n !== 'number' || !Number.isFinite(n)) return { slices: base };
    // The window-size ceiling: a slice is at least minSliceTicks long.
    const maxSlices = Number(windowTicks(window) / this.opts.minSliceTicks);
    return { slices: Math.max(base, Math.min(maxSlices, Math.ceil(n / this.opts.targetRowsPerSlice))), count: n };
  }

  /** The answer of one slice, or 'halve' when it was too large or partial. */
  private async fetchSlice<T extends TableName>(
    task: SliceTask & { table: T },
    stats: TablePullStats,
  ): Promise<SliceAnswer<T> | 'halve'> {
    const { table, slice } = task;
    const attempt = await this.queryWithRetries(table, slice, stats);
    const canHalve = toUnixTicks(slice.end) - toUnixTicks(slice.start) >= 2n * this.opts.minSliceTicks;
    if (attempt.kind === 'tooLarge') {
      if (canHalve) {
        this.opts.logger?.info('Slice answer too large; halving', { table, slice, reason: attempt.reason });
        return 'halve';
      }
      throw new SliceFailedError({
        table,
        slice,
        reason:
          `the answer is still too large or partial at the minimum slice length (${attempt.reason}). ` +
          'Lower the row cap or the minimum slice, or check the workspace for a burst of rows',
        clientRequestId: attempt.requestId,
      });
    }
    if (attempt.table.rows.length >= this.opts.rowCap) {
      if (canHalve) {
        this.opts.logger?.info('Slice answer at the row cap; halving', {
          table,
          slice,
          rows: attempt.table.rows.length,
        });
        return 'halve';
      }
      throw new SliceFailedError({
        table,
        slice,
        reason: `${attempt.table.rows.length} rows reach the row cap (${this.opts.rowCap}) at the minimum slice length`,
        clientRequestId: attempt.requestId,
      });
    }
    return sliceAnswer(table, slice, attempt.table, attempt.requestId);
  }

  /**
   * Rows of each table in `window` without the rule's filters (`| count`), for source
   * health. Rejects with a SliceFailedError like a pull.
   */
  async countWindow(window: QueryWindow): Promise<Partial<Record<TableName, number>>> {
    checkWindow(window);
    const counts: Partial<Record<TableName, number>> = {};
    await Promise.all(
      this.opts.tables.map(async (table) => {
        const scratch = { rows: 0, bytes: 0, slices: 0, queries: 0, retries: 0, halvings: 0 };
        const attempt = await this.queryWithRetries(table, window, scratch, buildCountQuery(table, window));
        const fail = (reason: string) =>
          new SliceFailedError({
            table,
            slice: window,
            reason: `counting rows: ${reason}`,
            clientRequestId: attempt.requestId,
          });
        if (attempt.kind !== 'rows') throw fail(attempt.reason);
        const cell = attempt.table.rows[0]?.[0];
        const n = typeof cell === 'string' && /^\d+$/.test(cell) ? Number(cell) : cell;
        if (attempt.table.rows.length !== 1 || typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
          throw fail(`the answer is not one count (${JSON.stringify(attempt.table.rows).slice(0, 100)})`);
        }
        counts[table] = n;
      }),
    );
    this.opts.logger?.info('Log Analytics row counts', { window, ...counts });
    return counts;
  }

  /**
   * What a failed query means: a too-large answer (halve the slice), a retry after
   * `waitMs` (429, 5xx, network), or a SliceFailedError thrown (no token, a refusal, or
   * retries used up), each saying what to do.
   */
  private classifyFailure(
    err: unknown,
    table: TableName,
    slice: QueryWindow,
    requestId: string,
    attemptNo: number,
  ): Extract<Attempt, { kind: 'tooLarge' }> | { kind: 'retry'; status: number | undefined; waitMs: number } {
    const { retry } = this.opts;
    const status = isRestError(err) ? err.statusCode : undefined;
    const details = isRestError(err) ? (err.details as { error?: LogsErrorInfo } | undefined) : undefined;
    const text = `${messageOf(err)} ${errorText(details?.error)}`;
    if (TOO_LARGE.test(text)) return { kind: 'tooLarge', reason: 'E_QUERY_RESULT_SET_TOO_LARGE', requestId };
    const networkFailure = isRestError(err) && status === undefined;
    const retryable = networkFailure || (status !== undefined && RETRYABLE_STATUS.has(status));
    const fail = (reason: string) =>
      new SliceFailedError({ table, slice, reason, clientRequestId: requestId, cause: err });
    if (isCredentialError(err)) {
      throw fail(
        `no token for the query API (${oneLine(text)}). Sign in (az login) or, for a user-assigned ` +
          'managed identity, set AZURE_CLIENT_ID to its client id',
      );
    }
    if (!retryable) throw fail(refusalAdvice(status, text, this.opts.workspaceId, table));
    if (attemptNo >= retry.maxRetries) {
      throw fail(
        `${status ? `HTTP ${status}` : 'network failure'} persisted after ${retry.maxRetries} retries (${oneLine(text)})`,
      );
    }
    const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attemptNo) * (0.5 + Math.random() / 2);
    const headers = isRestError(err) ? err.response?.headers : undefined;
    const after = headers ? retryAfterMs(headers) : undefined;
    return { kind: 'retry', status, waitMs: Math.max(backoff, Math.min(after ?? 0, retry.maxRetryAfterMs)) };
  }

  private async queryWithRetries(
    table: TableName,
    slice: QueryWindow,
    stats: TablePullStats,
    query = buildTableQuery(table, slice, this.opts.mode, this.opts.windowsManagedHandler),
  ): Promise<Attempt> {
    for (let attemptNo = 0; ; attemptNo++) {
      const requestId = randomUUID();
      stats.queries++;
      try {
        const result = await this.client.queryWorkspace(this.opts.workspaceId, query, timespanCovering(slice), {
          serverTimeoutInSeconds: this.opts.serverTimeoutInSeconds,
          requestOptions: { headers: { [REQUEST_ID_HEADER]: requestId } },
        });
        if (result.status === LogsQueryResultStatus.PartialFailure) {
          const text = errorText(result.partialError);
          const reason = TOO_LARGE.test(text)
            ? 'E_QUERY_RESULT_SET_TOO_LARGE'
            : `PartialError: ${result.partialError.message ?? result.partialError.code}`;
          return { kind: 'tooLarge', reason, requestId };
        }
        // The queries have one tabular result: a second table (or none) means the answer is not to them.
        if (result.tables.length !== 1) {
          throw new SliceFailedError({
            table,
            slice,
            reason: `the answer holds ${result.tables.length} tables, not exactly one`,
            clientRequestId: requestId,
          });
        }
        return { kind: 'rows', table: result.tables[0]!, requestId };
      } catch (err) {
        if (err instanceof SliceFailedError) throw err;
        const failed = this.classifyFailure(err, table, slice, requestId, attemptNo);
        if (failed.kind === 'tooLarge') return failed;
        stats.retries++;
        this.opts.logger?.warn('Query failed; retrying', {
          table,
          slice: describeSlice(slice),
          status: failed.status ?? 'network',
          attempt: attemptNo + 1,
          waitMs: Math.round(failed.waitMs),
        });
        await sleep(failed.waitMs);
      } finally {
        stats.bytes += this.responseBytes.get(requestId) ?? 0;
        this.responseBytes.delete(requestId);
      }
    }
  }
}

/**
 * One slice's answer, read row by row: `forEach` types each row (`typedRow`), checks it
 * lies in the slice and hands it on, so that no typed copy of the whole answer is built
 * (on bench:job's day, 5 answers of 10,000 rows in flight and their typed copies were
 * much of the peak heap). The columns are checked at once; a row that is not an answer to the
 * query fails the slice (SliceFailedError) when it is reached.
 */
export interface SliceAnswer<T extends TableName> {
  readonly length: number;
  forEach(visit: (row: TableRows[T]) => void): void;
}

function sliceAnswer<T extends TableName>(
  table: T,
  slice: QueryWindow,
  answer: LogsTable,
  clientRequestId: string,
): SliceAnswer<T> {
  const failed = (err: unknown) =>
    err instanceof UnexpectedResultShapeError
      ? new SliceFailedError({ table, slice, reason: err.message, clientRequestId, cause: err })
      : err;
  let names: string[];
  try {
    names = columnNamesOf(table, answer);
  } catch (err) {
    throw failed(err);
  }
  const lo = toUnixTicks(slice.start);
  const hi = toUnixTicks(slice.end);
  return {
    length: answer.rows.length,
    forEach(visit) {
      try {
        for (const cells of answer.rows) {
          const row = typedRow<T>(table, rawRowOf(names, cells));
          // The query asked for [start, end): a row outside it is not an answer to it.
          const t = row.TimeGenerated === null ? null : toUnixTicks(row.TimeGenerated);
          if (t === null || t < lo || t >= hi) {
            throw new UnexpectedResultShapeError(
              `a row has TimeGenerated ${row.TimeGenerated ?? 'null'}, outside the slice asked for`,
            );
          }
          visit(row);
        }
      } catch (err) {
        throw failed(err);
      }
    },
  };
}

/** Errors of `@azure/identity` credentials (no sign-in, no managed identity, refused). */
function isCredentialError(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return /^(CredentialUnavailableError|AuthenticationError|AggregateAuthenticationError|AuthenticationRequiredError)$/.test(
    name,
  );
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 400 ? t.slice(0, 400) + '…' : t;
}

/** What to tell the user when the API refuses a query outright. */
function refusalAdvice(status: number | undefined, text: string, workspaceId: string, table: TableName): string {
  if (status === 401) {
    return `HTTP 401: the credential's token was refused by the query API (${oneLine(text)}). Check the identity and the endpoint's audience`;
  }
  if (status === 403) {
    return (
      `HTTP 403: the identity may not read workspace ${workspaceId}. Grant it "Log Analytics Reader" ` +
      `on the workspace (or read access to the ${table} table)`
    );
  }
  if (status === 404) {
    return `HTTP 404: workspace ${workspaceId} was not found at this endpoint. Check the workspace id and the endpoint`;
  }
  if (status === 400 && /resolve table|table expression/i.test(text)) {
    return `HTTP 400: workspace ${workspaceId} has no ${table} table. Connect its data source (${table === 'AzureActivity' ? 'Azure Activity' : 'Microsoft Defender XDR'}) or check the workspace id`;
  }
  return `HTTP ${status ?? '?'}: the query was refused (${oneLine(text)})`;
}
