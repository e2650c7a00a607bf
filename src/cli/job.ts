/**
 * `runcommand-detect job [--settings FILE] [--dry-run [--format F]] [--from DATE --to DATE [--force]]`
 * `runcommand-detect job [--settings FILE] --import-baseline FILE`
 *
 * One occurrence of the daily job, through the same code as the timer handler
 * (src/job/occurrence.ts), with the settings read from environment variables of the
 * same names as the app settings; `--settings FILE` fills in, from a
 * local.settings.json's `Values`, those the environment does not set.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type JobConfig } from '../config/settings';
import { fromDate } from '../detection/datetime';
import { formatWouldSend, runOccurrence } from '../job/occurrence';
import type { FindingRecord } from '../ingestion/record';
import { latestDueBoundary, parseDayBoundary } from '../job/windows';
import { runFailure, WindowFailedError, type JobRunResult } from '../job/runDetectionJob';
import { openBaselineStore } from '../job/createJobPorts';
import { BaselineImportRefusedError, importBaseline } from '../job/importBaseline';
import { readBaselineFile } from '../io/baselineFile';
import { messageOf } from '../shared/errors';
import type { Log } from '../shared/log';
import { printUsageError, UsageError, walkArgs } from './args';
import { formatFindingsTable, parseFormat, type FindingsFormat } from './format';
import { MAX_WINDOW_DAYS } from './logAnalyticsCommand';
import type { CliIo } from './io';

export const JOB_USAGE = `Usage: runcommand-detect job [--settings FILE] [--dry-run [--format ndjson|json|table]]
                             [--from DATE --to DATE [--force]]
       runcommand-detect job [--settings FILE] --import-baseline FILE

Runs one occurrence of the daily job, exactly as the Function App's timer does: the
windows due from the checkpoint are pulled, detected, written to RunCommandFindings_CL
and checkpointed, and the run's health records are written. Settings come from
environment variables with the app settings' names (see docs/operations.md).

Options:
  --settings FILE    read the settings the environment does not set from FILE, a
                     local.settings.json (its "Values")
  --dry-run          pull and detect the due windows and print the findings records
                     they would send (standard output); writes nothing: no findings,
                     no ledger, no checkpoint, no baseline, no health records
  --format F         with --dry-run: ndjson (default): one record a line, as sent to
                     RunCommandFindings_CL; json: one array; table: fixed-width
  --from DATE --to DATE
                     backfill the UTC days [from, to) (YYYY-MM-DD) instead of the due
                     windows: through the ledger, so a finding already sent is not sent
                     again; the job's checkpoint does not move. Days that are not over
                     (with INGESTION_DELAY_MINUTES) are refused
  --force            take a backfill longer than ${MAX_WINDOW_DAYS} days
  --import-baseline FILE
                     corrected mode: merge a baseline file (written by replay --mode
                     corrected --seed-baseline, or detect --save-baseline) into the
                     job's state store, so its first window is judged against the
                     weeks before it; runs no window
  -h, --help         show this help

Exit status: 0 every due window processed (or none due), 1 a window failed (the
message names the window and the phase), 2 usage or settings error.

Not a dry run: findings go to the real findings table of the DCR the settings name.

Identity: in Azure, and wherever IDENTITY_ENDPOINT is set, the managed identity
(AZURE_CLIENT_ID for a user-assigned one); elsewhere your Azure CLI sign-in (az login),
then your Azure Developer CLI sign-in (azd auth login); nothing else is tried. A private
CA (stand-ins, proxies) is trusted through NODE_EXTRA_CA_CERTS.
`;

interface JobArgs {
  settingsFile?: string;
  dryRun: boolean;
  format?: FindingsFormat;
  force: boolean;
  from?: string;
  to?: string;
  importBaseline?: string;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let args: JobArgs;
  let config: JobConfig;
  try {
    const parsed = parseJobArgs(argv);
    if (parsed === 'help') {
      io.stdout.write(JOB_USAGE);
      return 0;
    }
    args = parsed;
    config = loadConfig(settingsEnv(io.env, args.settingsFile));
  } catch (error) {
    return usageFailure(io, error);
  }
  if (args.importBaseline !== undefined) return importBaselineFile(io, config, args.importBaseline);
  let backfill: { from: string; to: string } | undefined;
  try {
    backfill = backfillDays(args, config, new Date());
  } catch (error) {
    return usageFailure(io, error);
  }
  const log = stderrLog(io);
  let result;
  try {
    result = await runOccurrence(config, { dryRun: args.dryRun, backfill }, log);
  } catch (error) {
    if (error instanceof ConfigError) return usageFailure(io, error);
    io.stderr.write(`runcommand-detect job: ${messageOf(error)}\n`);
    return 1;
  }
  if (args.dryRun) await write(io.stdout, formatRecords(result.wouldSend, args.format ?? 'ndjson'));
  io.stderr.write(`runcommand-detect job: ${summary(result.run, args.dryRun)}\n`);
  const failure = runFailure(result.run);
  if (failure && result.run.outcome !== 'failed') io.stderr.write(`runcommand-detect job: ${failure.message}\n`);
  return failure ? 1 : 0;
}

function parseJobArgs(argv: string[]): JobArgs | 'help' {
  const args: JobArgs = { dryRun: false, force: false };
  const help = walkArgs(argv, (flag, value) => {
    if (flag === '--settings') args.settingsFile = value();
    else if (flag === '--dry-run') args.dryRun = true;
    else if (flag === '--from') args.from = value();
    else if (flag === '--to') args.to = value();
    else if (flag === '--format') args.format = parseFormat(value());
    else if (flag === '--force') args.force = true;
    else if (flag === '--import-baseline') args.importBaseline = value();
    else return false;
    return true;
  });
  if (help) return 'help';
  if (args.importBaseline !== undefined && (args.dryRun || args.from !== undefined || args.format !== undefined))
    throw new UsageError('--import-baseline runs no window: give it without --dry-run, --format, --from and --to');
  if ((args.from === undefined) !== (args.to === undefined)) throw new UsageError('--from and --to go together');
  if (args.format !== undefined && !args.dryRun)
    throw new UsageError('--format applies to --dry-run only (a run sends its findings to the findings table)');
  return args;
}

/** The environment, with the settings FILE's `Values` for the names it does not set. */
function settingsEnv(env: NodeJS.ProcessEnv, file: string | undefined): NodeJS.ProcessEnv {
  if (file === undefined) return env;
  let values: unknown;
  try {
    values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: unknown }).Values;
  } catch (error) {
    throw new UsageError(`--settings ${file}: cannot read it as a local.settings.json (${messageOf(error)})`);
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    throw new UsageError(`--settings ${file}: has no "Values" object (the shape of local.settings.json)`);
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
    if ((merged[name] === undefined || merged[name] === '') && value !== null && value !== undefined)
      merged[name] = String(value);
  }
  return merged;
}

/** `--import-baseline FILE`: exit 0 imported, 1 the file or the state store failed, 2 the settings refuse it. */
async function importBaselineFile(io: CliIo, config: JobConfig, path: string): Promise<number> {
  try {
    const file = readBaselineFile(path);
    const done = await importBaseline(config, file, await openBaselineStore(config), new Date());
    io.stderr.write(
      `runcommand-detect job: imported ${done.imported} baseline entr${done.imported === 1 ? 'y' : 'ies'} from ${path} ` +
        `(observed through ${done.observedThrough}) into the state store table ${config.stateStoreTableName}: ` +
        `${done.written} written, ${done.pruned} pruned behind the ${config.baselineDays}-day horizon, ` +
        `${done.entries} entries now\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof BaselineImportRefusedError) {
      io.stderr.write(`runcommand-detect job: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`runcommand-detect job: ${messageOf(error)}\n`);
    return 1;
  }
}

/** The backfill days, checked: whole UTC days, --to after --from, and every day over (with the ingestion delay). */
function backfillDays(args: JobArgs, config: JobConfig, now: Date): { from: string; to: string } | undefined {
  if (args.from === undefined || args.to === undefined) return undefined;
  const day = (flag: string, text: string): Date => {
    const d = /^\d{4}-\d{2}-\d{2}$/.test(text) ? parseDayBoundary(`${text}T00:00:00Z`) : undefined;
    if (!d) throw new UsageError(`${flag} '${text}' is not a date (YYYY-MM-DD, a UTC day)`);
    return d;
  };
  const from = day('--from', args.from);
  const to = day('--to', args.to);
  if (to <= from) throw new UsageError(`--to ${args.to} must be after --from ${args.from}`);
  const days = Math.round((to.getTime() - from.getTime()) / 86_400_000);
  if (days > MAX_WINDOW_DAYS && !args.force)
    throw new UsageError(
      `--from ${args.from} --to ${args.to} spans ${days} days, more than ${MAX_WINDOW_DAYS}: give --force to backfill them anyway, or fewer days`,
    );
  const due = latestDueBoundary(now, config.ingestionDelayMinutes);
  if (to > due) {
    throw new UsageError(
      `--to ${args.to}: the days up to it are not all over (with INGESTION_DELAY_MINUTES=${config.ingestionDelayMinutes}, ` +
        `the last complete day ends ${fromDate(due).slice(0, 10)}); backfill only past days`,
    );
  }
  return { from: fromDate(from), to: fromDate(to) };
}

function usageFailure(io: CliIo, error: unknown): number {
  if (error instanceof UsageError) return printUsageError(io, 'job', error.message);
  if (error instanceof ConfigError) {
    io.stderr.write(`runcommand-detect job: ${error.message}\n`);
    return 2;
  }
  throw error;
}

/** The job's log as JSON lines on stderr, as the Functions host would record them. */
function stderrLog(io: CliIo): Log {
  const line = (level: string, message: string, data?: Record<string, unknown>) =>
    io.stderr.write(JSON.stringify({ level, message, ...data }) + '\n');
  return {
    info: (message, data) => line('info', message, data),
    warn: (message, data) => line('warn', message, data),
    error: (message, data) => line('error', message, data),
  };
}

function summary(run: JobRunResult, dryRun: boolean): string {
  const findings = run.processed.reduce((n, s) => n + s.findings, 0);
  const done = `${run.processed.length} window(s) processed, ${findings} finding(s)${dryRun ? ' (dry run: nothing written)' : ''}`;
  switch (run.outcome) {
    case 'completed':
      return done;
    case 'yielded':
      return `${done}; stopped at [${run.window.start}, ${run.window.end}): another invocation took it over`;
    case 'failed':
      return `${done}; ${new WindowFailedError(run.window, run.phase, run.error).message}`;
  }
}

/** A dry run's records: whole, as they would be sent (ndjson, json), or the table `run` prints. */
function formatRecords(records: readonly FindingRecord[], format: FindingsFormat): string {
  if (format === 'ndjson') return formatWouldSend(records);
  if (format === 'json') return JSON.stringify(records, null, 2) + '\n';
  return formatFindingsTable(records, records[0]?.DetectionMode ?? 'parity');
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (e) => (e ? reject(e) : resolve())));
}
