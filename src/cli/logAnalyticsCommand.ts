/**
 * What the Log Analytics subcommands (`export`, `run`, `verify`, `replay`) share: their
 * options, the checks made before any query (window, output path, settings from the
 * environment), usage errors, the credential, the pull with its progress line on stderr,
 * and parity detection over the pulled rows.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { createCredential } from '../config/credential';
import { ConfigError, formatProblem, parseSetting, type SettingName } from '../config/settings';
import { ParityDetection } from '../detection';
import { fromDate } from '../detection/datetime';
import type { QueryWindow, RunCommandFinding, RuleTableName, TableRows } from '../detection/schema';
import { CORRECTED_TABLE_NAMES, TABLE_NAMES } from '../detection/schema';
import { latestDueBoundary } from '../job/windows';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { InvalidWindowError, parseWindow } from '../logAnalytics/slices';
import { LogAnalyticsSource } from '../logAnalytics/source';
import type { LogAnalyticsSourceOptions, PullProgress, PulledWindow, RetryOptions } from '../logAnalytics/source';
import { AppError } from '../shared/errors';
import type { Log } from '../shared/log';
import { printUsageError, UsageError, walkArgs } from './args';
import type { CliIo } from './io';
export { writeOutput } from './io';

/** Injected by tests (a fake credential, the stand-in's CA); the CLI itself passes nothing. */
export interface LogAnalyticsCliDeps {
  credential?: TokenCredential;
  clientOptions?: LogsQueryClientOptions;
  /** Retry timing (tests keep the waits tiny). */
  retry?: RetryOptions;
  now?: () => Date;
}

/** The longest window taken without --force (a month of 31 days). */
export const MAX_WINDOW_DAYS = 31;

/** `--workspace`, first among every Log Analytics command's required options. */
export const WORKSPACE_OPTION_HELP = `  --workspace ID    the Log Analytics Workspace ID, a GUID (default: the
                    environment variable LOG_ANALYTICS_WORKSPACE_ID)`;

/**
 * `--from`/`--to`. `windowRequired` false: `run`, whose window defaults to the last
 * complete day (listed among the options, not the required ones).
 */
export function windowOptionHelp(windowRequired: boolean): string {
  return `  --from T --to T   the window [from, to): ISO 8601 UTC datetimes or dates, e.g.
                    --from 2026-11-25 --to 2026-11-26 (7 fractional digits kept)${
                      windowRequired
                        ? ''
                        : `
                    (default: the last complete UTC day, complete once
                    INGESTION_DELAY_MINUTES, default 15, have passed after midnight)`
                    }`;
}

/** `--workspace` and the window, the required options of a command whose window is required. */
export function windowOptionsHelp(windowRequired: boolean): string {
  return `${WORKSPACE_OPTION_HELP}\n${windowOptionHelp(windowRequired)}`;
}

/** The options every Log Analytics command takes after its own. */
export const QUERY_OPTIONS_HELP = `  --endpoint URL    the query API including /v1 (default: the environment variable
                    LOG_ANALYTICS_ENDPOINT, else https://api.loganalytics.azure.com/v1;
                    sovereign clouds differ)
  --max-concurrency N  queries in flight at once (default 5, the API's per-user limit)
  --row-cap N       a slice answering N rows is halved and asked again (default 500000)
  --force           take a window longer than ${MAX_WINDOW_DAYS} days
  -h, --help        show this help`;

/** The end of every Log Analytics command's help: which identity it queries as, and the checks. */
export const CREDENTIAL_NOTE = `Before any query: a window that has not ended INGESTION_DELAY_MINUTES (default 15)
ago is refused (its rows are still arriving), and so is one longer than ${MAX_WINDOW_DAYS} days
without --force; an output path that cannot be written is refused.

Identity: where IDENTITY_ENDPOINT is set (Azure), the managed identity (AZURE_CLIENT_ID
for a user-assigned one); elsewhere your Azure CLI sign-in (az login), then your Azure
Developer CLI sign-in (azd auth login); nothing else is tried. It needs read access to
AzureActivity, DeviceFileEvents and DeviceEvents in the workspace. A private CA
(stand-ins, proxies) is trusted through NODE_EXTRA_CA_CERTS.`;

export interface LogAnalyticsCliOptions {
  workspaceId: string;
  window: QueryWindow;
  endpoint: string;
  maxConcurrency?: number;
  rowCap?: number;
  /** The identity to query as, chosen before any work (a settings problem is a usage error). */
  credential?: TokenCredential;
}

/** An output path that cannot be written, found before any pull: exit 1, nothing pulled. */
export class OutputPathError extends AppError {}

/**
 * One setting's value for the CLI: the option's value when given (a bad one names the
 * option), else the environment variable of the same setting (a bad one names the
 * variable), else the setting's default.
 */
function settingValue<N extends SettingName>(
  name: N,
  env: NodeJS.ProcessEnv,
  option?: { flag: string; value: string | undefined },
): Extract<ReturnType<typeof parseSetting<N>>, { ok: true }>['value'] {
  const fromOption = option?.value !== undefined;
  const r = parseSetting(name, fromOption ? option!.value : env[name]);
  if (r.ok) return r.value;
  if (fromOption) throw new UsageError(formatProblem({ ...r.problem, setting: option!.flag }));
  const origin = option ? `environment variable, the default of ${option.flag}` : 'environment variable';
  throw new UsageError(formatProblem(r.problem, origin));
}

/**
 * Consumes the shared options from `argv` (`--flag value` or `--flag=value`) and hands
 * every other argument to `other(flag, value)`, which returns false for an unknown one.
 * Checks the window against `now`: not over yet (with INGESTION_DELAY_MINUTES) is
 * refused, longer than a month needs --force.
 */
export function parseLogAnalyticsArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  now: Date,
  other: (flag: string, value: () => string) => boolean,
  requireWindow: boolean,
): LogAnalyticsCliOptions | 'help' {
  let workspace: string | undefined;
  let endpointOption: string | undefined;
  let from: string | undefined;
  let to: string | undefined;
  let maxConcurrency: number | undefined;
  let rowCap: number | undefined;
  let force = false;
  const positiveInt = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not '${v}'`);
    return n;
  };
  const help = walkArgs(argv, (flag, value) => {
    switch (flag) {
      case '--workspace':
        workspace = value();
        return true;
      case '--endpoint':
        endpointOption = value();
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
      case '--force':
        force = true;
        return true;
      default:
        return other(flag, value);
    }
  });
  if (help) return help;
  if (workspace === undefined && (env.LOG_ANALYTICS_WORKSPACE_ID ?? '').trim() === '')
    throw new UsageError('--workspace ID is required (or set LOG_ANALYTICS_WORKSPACE_ID)');
  const workspaceId = settingValue('LOG_ANALYTICS_WORKSPACE_ID', env, { flag: '--workspace', value: workspace });
  const endpoint = settingValue('LOG_ANALYTICS_ENDPOINT', env, { flag: '--endpoint', value: endpointOption });
  if ((from === undefined) !== (to === undefined)) throw new UsageError('give both --from and --to, or neither');
  if (from === undefined && requireWindow) throw new UsageError('--from and --to are required');
  const delay = settingValue('INGESTION_DELAY_MINUTES', env);
  let window: QueryWindow;
  if (from !== undefined && to !== undefined) {
    window = parseWindow(from, to, '--from/--to');
    checkWindowTime(window, now, delay, force);
  } else {
    // The job's own rule (src/job/windows.ts): a day is due INGESTION_DELAY_MINUTES after it ends.
    const end = latestDueBoundary(now, delay);
    window = { start: fromDate(new Date(end.getTime() - DAY_MS)), end: fromDate(end) };
  }
  return { workspaceId, window, endpoint, maxConcurrency, rowCap };
}

const DAY_MS = 86_400_000;

/** Canonical KQL datetime text (7 fractional digits, Z) to epoch milliseconds (sub-millisecond digits dropped). */
function epochMs(t: string): number {
  return Date.parse(t.slice(0, 23) + 'Z');
}

/** A window whose rows are still arriving is refused; one over a month needs --force. */
export function checkWindowTime(window: QueryWindow, now: Date, delayMinutes: number, force: boolean): void {
  const latestEnd = now.getTime() - delayMinutes * 60_000;
  if (epochMs(window.end) > latestEnd) {
    throw new UsageError(
      `--to ${window.end} has not ended ${delayMinutes} minute(s) ago (INGESTION_DELAY_MINUTES): its rows are still ` +
        `arriving in Log Analytics. Give a --to at or before ${fromDate(new Date(latestEnd))}`,
    );
  }
  const days = (epochMs(window.end) - epochMs(window.start)) / DAY_MS;
  if (days > MAX_WINDOW_DAYS && !force) {
    throw new UsageError(
      `the window [${window.start}, ${window.end}) spans ${Math.round(days * 10) / 10} days, more than ` +
        `${MAX_WINDOW_DAYS}: give --force to pull it anyway (it takes many queries), or a shorter window`,
    );
  }
}

/** Why `file` cannot be written (it, or the folder it would be created in), or undefined. */
export function outputFileProblem(file: string): string | undefined {
  const path = resolve(file);
  const st = statOrCode(path);
  if (typeof st !== 'string') {
    if (st.isDirectory()) return `${file} is a folder; give a file path`;
    return writable(path) ? undefined : `${file}: cannot write to it (no write permission)`;
  }
  if (st !== 'ENOENT' && st !== 'ENOTDIR') return `${file}: cannot write to it (${st}); check the path`;
  const dir = dirname(path);
  const parent = statOrCode(dir);
  if (typeof parent === 'string') return `${file}: cannot create it: its folder ${dir} does not exist (${parent})`;
  if (!parent.isDirectory()) return `${file}: cannot create it: ${dir} is not a folder`;
  return writable(dir) ? undefined : `${file}: cannot create it: no write permission on ${dir}`;
}

/** Why the folder `dir` cannot be written or created (from its nearest existing ancestor), or undefined. */
export function outputDirProblem(dir: string): string | undefined {
  for (let path = resolve(dir); ; path = dirname(path)) {
    const st = statOrCode(path);
    if (typeof st === 'string') {
      if ((st !== 'ENOENT' && st !== 'ENOTDIR') || dirname(path) === path)
        return `${dir}: cannot create it (${st} on ${path})`;
      continue;
    }
    if (!st.isDirectory()) return `${dir}: cannot create it: ${path} is a file, not a folder`;
    return writable(path) ? undefined : `${dir}: cannot write into it: no write permission on ${path}`;
  }
}

function statOrCode(path: string): Stats | string {
  try {
    return statSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The source options of the parsed CLI options. */
export function sourceOptions(
  o: LogAnalyticsCliOptions,
  deps: LogAnalyticsCliDeps,
  logger?: Pick<Log, 'info' | 'warn'>,
): LogAnalyticsSourceOptions {
  const credential = deps.credential ?? o.credential;
  if (!credential) throw new Error('sourceOptions: no credential (parseCommandArgs chooses it)');
  return {
    workspaceId: o.workspaceId,
    credential,
    endpoint: o.endpoint,
    clientOptions: deps.clientOptions,
    maxConcurrency: o.maxConcurrency,
    rowCap: o.rowCap,
    retry: deps.retry,
    logger,
  };
}

/**
 * The identity the CLI queries as: the job's own choice (src/config/credential.ts), the
 * managed identity where IDENTITY_ENDPOINT is set, else the developer's sign-in.
 */
function cliCredential(env: NodeJS.ProcessEnv): TokenCredential {
  const clientId = (env.AZURE_CLIENT_ID ?? '').trim() === '' ? undefined : settingValue('AZURE_CLIENT_ID', env);
  try {
    return createCredential({ azureClientId: clientId }, env).credential;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.problems.map((p) => formatProblem(p)).join('; '));
    throw err;
  }
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
  return CORRECTED_TABLE_NAMES.flatMap((t) => {
    const s = pulled.stats[t];
    if (!s) return [];
    return `${t} ${s.rows} rows (${s.bytes} bytes, ${s.slices} slices, ${s.queries} queries, ${s.retries} retries)`;
  }).join(', ');
}

/** What a command writes to: a file (`--output FILE`), a folder (`export --out DIR`), or nothing to check. */
export type OutputPath = { file: string } | { dir: string } | undefined;

/**
 * Parses a subcommand's arguments (see `parseLogAnalyticsArgs`; `check` may refuse the
 * result with a UsageError, and returns the output path to check), then makes every
 * check that needs no query: the output path is writable (else exit 1), the identity
 * can be chosen. A usage error is printed as one line plus where the help is (exit 2);
 * `--help` prints the usage (exit 0). Returns the options, or the exit code to return.
 */
export function parseCommandArgs(
  command: string,
  usage: string,
  argv: string[],
  io: CliIo,
  deps: LogAnalyticsCliDeps,
  other: (flag: string, value: () => string) => boolean,
  requireWindow: boolean,
  check?: (options: LogAnalyticsCliOptions) => OutputPath | void,
): LogAnalyticsCliOptions | number {
  try {
    const options = parseLogAnalyticsArgs(argv, io.env, deps.now?.() ?? new Date(), other, requireWindow);
    if (options === 'help') {
      io.stdout.write(usage);
      return 0;
    }
    const output = check?.(options);
    const problem = !output
      ? undefined
      : 'file' in output
        ? outputFileProblem(output.file)
        : outputDirProblem(output.dir);
    if (problem) throw new OutputPathError(problem);
    if (!deps.credential) options.credential = cliCredential(io.env);
    return options;
  } catch (err) {
    if (err instanceof OutputPathError) {
      io.stderr.write(`runcommand-detect ${command}: ${err.message}; nothing was pulled\n`);
      return 1;
    }
    if (!(err instanceof UsageError || err instanceof InvalidWindowError)) throw err;
    return printUsageError(io, command, err.message);
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
    pulled = await new LogAnalyticsSource(sourceOptions(options, deps)).pullWindow(options.window, progress.onProgress);
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
    for (const row of pulled.tables[table] as TableRows[RuleTableName][]) detection.add(table, row);
  }
  return detection.finish().findings;
}
