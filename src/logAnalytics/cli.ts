/**
 * What the Log Analytics subcommands (`export`, `run`, `verify`, `replay`) share: their
 * options and usage errors, the credential, the pull with its progress line on stderr,
 * and parity detection over the pulled rows.
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { UsageError, walkArgs } from '../cli/args';
import type { CliIo } from '../cli/io';
import { ParityDetection } from '../detection';
import type { RunCommandFinding, TableName, TableRows } from '../detection/schema';
import { LogAnalyticsError } from './errors';
import type { QueryWindow } from '../detection/schema';
import { InvalidWindowError, lastCompleteUtcDay, parseWindow } from './slices';
import { LogAnalyticsSource } from './source';
import type { Log } from '../shared/log';
import type { LogAnalyticsSourceOptions, PullProgress, PulledWindow, RetryOptions } from './source';
import { TABLE_NAMES } from '../detection/schema';

/** Injected by tests (a fake credential, the stand-in's CA); the CLI itself passes nothing. */
export interface LogAnalyticsCliDeps {
  credential?: TokenCredential;
  clientOptions?: LogsQueryClientOptions;
  /** Retry timing (tests keep the waits tiny). */
  retry?: RetryOptions;
  now?: () => Date;
}

export const LOG_ANALYTICS_OPTIONS_HELP = `  --workspace ID    the Log Analytics workspace id (a GUID; env LOG_ANALYTICS_WORKSPACE_ID)
  --from T --to T   the window [from, to): ISO 8601 UTC datetimes or dates
                    (e.g. --from 2026-11-25 --to 2026-11-26); 7 fractional digits kept
  --endpoint URL    the query API including /v1 (env LOG_ANALYTICS_ENDPOINT; default
                    https://api.loganalytics.io/v1; sovereign clouds differ)
  --max-concurrency N  queries in flight at once (default 5, the API's per-user limit)
  --row-cap N       a slice answering N rows is halved and asked again (default 500000)

Credential: DefaultAzureCredential (environment, workload or managed identity, Azure
CLI, ...); set AZURE_CLIENT_ID to use a user-assigned managed identity. The identity
needs "Log Analytics Reader" on the workspace. A private CA (tests, proxies) is
trusted through NODE_EXTRA_CA_CERTS.`;

export interface LogAnalyticsCliOptions {
  workspaceId: string;
  window: QueryWindow;
  endpoint?: string;
  maxConcurrency?: number;
  rowCap?: number;
}

/**
 * Consumes the shared options from `argv` (`--flag value` or `--flag=value`) and hands
 * every other argument to `other(flag, value)`, which returns false for an unknown one.
 */
export function parseLogAnalyticsArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  now: Date,
  other: (flag: string, value: () => string) => boolean,
  requireWindow: boolean,
): LogAnalyticsCliOptions | 'help' {
  let workspaceId = env.LOG_ANALYTICS_WORKSPACE_ID;
  let endpoint = env.LOG_ANALYTICS_ENDPOINT || undefined;
  let from: string | undefined;
  let to: string | undefined;
  let maxConcurrency: number | undefined;
  let rowCap: number | undefined;
  const positiveInt = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not '${v}'`);
    return n;
  };
  const help = walkArgs(argv, (flag, value) => {
    switch (flag) {
      case '--workspace':
        workspaceId = value();
        return true;
      case '--endpoint':
        endpoint = value();
        return true;
      case '--from':
        from = value();
        return true;
      case '--to':
        to = value();
        return true;
      case '--max-concurrency':
        maxConcurrency = positiveInt(flag, value());
        return true;
      case '--row-cap':
        rowCap = positiveInt(flag, value());
        return true;
      default:
        return other(flag, value);
    }
  });
  if (help) return help;
  if (!workspaceId) throw new UsageError('--workspace ID is required (or set LOG_ANALYTICS_WORKSPACE_ID)');
  if ((from === undefined) !== (to === undefined)) throw new UsageError('give both --from and --to, or neither');
  if (from === undefined && requireWindow) throw new UsageError('--from and --to are required');
  const window =
    from !== undefined && to !== undefined ? parseWindow(from, to, '--from/--to') : lastCompleteUtcDay(now);
  return { workspaceId, window, endpoint, maxConcurrency, rowCap };
}

/** The source options of the parsed CLI options. */
export function sourceOptions(
  o: LogAnalyticsCliOptions,
  env: NodeJS.ProcessEnv,
  deps: LogAnalyticsCliDeps,
  logger?: Pick<Log, 'info' | 'warn'>,
): LogAnalyticsSourceOptions {
  const clientId = env.AZURE_CLIENT_ID;
  return {
    workspaceId: o.workspaceId,
    credential: deps.credential ?? new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}),
    endpoint: o.endpoint,
    clientOptions: deps.clientOptions,
    maxConcurrency: o.maxConcurrency,
    rowCap: o.rowCap,
    retry: deps.retry,
    logger,
  };
}

/** A one-line progress display on stderr, only when stderr is a terminal. */
export function progressReporter(io: CliIo, command: string): { onProgress(p: PullProgress): void; done(): void } {
  const tty = io.stderr.isTTY === true;
  let shown = false;
  return {
    onProgress(p) {
      if (!tty) return;
      shown = true;
      io.stderr.write(`\r${command}: slices ${p.slicesDone}/${p.slicesTotal}, rows ${p.rowsSoFar}   `);
    },
    done() {
      if (shown) io.stderr.write('\n');
    },
  };
}

/** `AzureActivity 12 rows (3.4 kB, 4 slices, 4 queries, 0 retries), ...` */
export function pullSummary(pulled: PulledWindow): string {
  return TABLE_NAMES.map((t) => {
    const s = pulled.stats[t];
    return `${t} ${s.rows} rows (${s.bytes} bytes, ${s.slices} slices, ${s.queries} queries, ${s.retries} retries)`;
  }).join(', ');
}

/**
 * Parses a subcommand's arguments (see `parseLogAnalyticsArgs`; `check` may refuse the
 * result with a UsageError). A usage error is printed with the usage (exit 2), `--help`
 * prints the usage (exit 0): returns the options, or the exit code to return.
 */
export function parseCommandArgs(
  command: string,
  usage: string,
  argv: string[],
  io: CliIo,
  deps: LogAnalyticsCliDeps,
  other: (flag: string, value: () => string) => boolean,
  requireWindow: boolean,
  check?: (options: LogAnalyticsCliOptions) => void,
): LogAnalyticsCliOptions | number {
  try {
    const options = parseLogAnalyticsArgs(argv, io.env, deps.now?.() ?? new Date(), other, requireWindow);
    if (options === 'help') {
      io.stdout.write(usage);
      return 0;
    }
    check?.(options);
    return options;
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof InvalidWindowError)) throw err;
    io.stderr.write(`runcommand-detect ${command}: ${err.message}\n\n${usage}`);
    return 2;
  }
}

/**
 * Pulls the window with a progress line on a terminal. A Log Analytics error (a slice
 * that could not be fetched, a refusal) is printed and gives undefined: the command
 * exits 1 and produces nothing from incomplete data.
 */
export async function pullForCommand(
  command: string,
  options: LogAnalyticsCliOptions,
  io: CliIo,
  deps: LogAnalyticsCliDeps,
): Promise<PulledWindow | undefined> {
  const progress = progressReporter(io, command);
  let pulled: PulledWindow;
  try {
    pulled = await new LogAnalyticsSource(sourceOptions(options, io.env, deps)).pullWindow(
      options.window,
      progress.onProgress,
    );
  } catch (err) {
    progress.done();
    if (!(err instanceof LogAnalyticsError)) throw err;
    io.stderr.write(`runcommand-detect ${command}: ${err.message}\n`);
    return undefined;
  }
  progress.done();
  return pulled;
}

/** Parity mode over pulled rows: the same engine, fed the same typed rows, as `detect` feeds it from files. */
export function parityFindings(pulled: PulledWindow): RunCommandFinding[] {
  const detection = new ParityDetection();
  for (const table of TABLE_NAMES) {
    for (const row of pulled.tables[table] as TableRows[TableName][]) detection.add(table, row);
  }
  return detection.finish().findings;
}
