/**
 * `runcommand-detect replay --workspace ID --from DAY --to DAY [--mode parity|corrected]`
 *
 * What the job would have found over past days: the job's own window loop over the
 * UTC days [from, to), pulling each day from Log Analytics, with the checkpoint, the
 * findings and corrected mode's baseline kept in memory (the baseline carried over from
 * day to day). Writes nothing to Azure. Prints the per-day counts, then the findings.
 *
 * `--input DIR` reads the days from files (DIR/YYYY-MM-DD/, src/io/dayFolders.ts)
 * instead, with no Azure at all; `--seed-baseline FILE` (corrected mode) writes the
 * baseline after the last day to FILE instead of printing findings, to start
 * `detect --mode corrected --baseline FILE` from history.
 */
import { messageOf } from '../shared/errors';
import { FINDING_COLUMNS, TABLE_NAMES } from '../detection/schema';
import {
  CREDENTIAL_NOTE,
  OutputPathError,
  QUERY_OPTIONS_HELP,
  outputFileProblem,
  parseCommandArgs,
  sourceOptions,
  windowOptionsHelp,
  writeOutput,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { replay, ReplayWindowError, type ReplayResult } from '../job/replay';
import type { DetectionMode, QueryWindow } from '../detection/schema';
import { readBaselineFile, writeBaselineFile } from '../io/baselineFile';
import { checkDayFolders, dayFolderSource } from '../io/dayFolders';
import { InputError } from '../io/errors';
import type { WindowSource } from '../job/runDetectionJob';
import { parseDayBoundary } from '../job/windows';
import { InvalidWindowError, parseWindow } from '../logAnalytics/slices';
import { formatFindingsTable, parseFormat, type FindingsFormat } from './format';
import { parseBaselineDaysFlag, parseModeFlag, printUsageError, UsageError, walkArgs } from './args';
import type { CliIo } from './io';

export const REPLAY_USAGE = `Usage: runcommand-detect replay --workspace ID --from DAY --to DAY [--mode parity|corrected]
                                [--baseline-days N] [--output FILE] [--format ndjson|json|table]
       runcommand-detect replay --input DIR --from DAY --to DAY [options as above]
       runcommand-detect replay ... --mode corrected --seed-baseline FILE [--baseline FILE]

Runs the daily job's window loop over the UTC days [from, to) (e.g. --from 2026-11-01
--to 2026-12-01 replays November), pulling each day from Log Analytics, or reading it
from DIR/YYYY-MM-DD/ (--input). Nothing is written to Azure and no checkpoint is
touched: findings are printed, and corrected mode's baseline is kept in memory, carried
over from one day to the next (it starts empty on the first day, or from --baseline
FILE, so early days find more than the job would).

Required (--input DIR instead of --workspace to read files):
${windowOptionsHelp(true)};
                    whole UTC days (YYYY-MM-DD)
  --input DIR       read the days from files instead of Log Analytics: one folder per
                    UTC day, DIR/YYYY-MM-DD/, each holding the three table files as
                    detect --input reads them (no Azure, no identity)

Options:
  --mode M          parity (default: the published rule) or corrected
  --baseline-days N corrected mode's BASELINE_DAYS (default 14)
  --seed-baseline FILE  corrected mode: write the baseline after the last day to FILE
                    (the format of detect --baseline) and print no findings, only the
                    per-day counts: seed it over the BASELINE_DAYS before the first day
                    you run corrected mode on, so that day does not report every script
  --baseline FILE   corrected mode: start from this baseline instead of an empty one
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default): one finding a line, the rule's 14 columns with
                    WindowStart, DetectionMode (and corrected mode's
                    ExtendedProperties); json: the same rows as one array (per-day
                    counts on stderr for both); table: per-day counts, then the
                    findings as a fixed-width table
${QUERY_OPTIONS_HELP}

Exit status: 0 replayed (findings or not), 1 Azure or file error, 2 usage error.

${CREDENTIAL_NOTE}
With --input, no identity is used and nothing is queried.
`;

export function formatDays(result: ReplayResult): string {
  const lines = ['Day         AzureActivity  DeviceFileEvents  DeviceEvents  Findings'];
  for (const d of result.days) {
    lines.push(
      [
        d.window.start.slice(0, 10).padEnd(10),
        ...TABLE_NAMES.map((t, i) => String(d.rows[t]).padStart([13, 16, 12][i]!)),
        String(d.findings).padStart(8),
      ].join('  '),
    );
  }
  lines.push(`${result.findings.length} finding(s) over ${result.days.length} day(s)`);
  return lines.join('\n') + '\n';
}

/** What replay does, whichever source the days come from. */
interface ReplayPlan {
  mode: DetectionMode;
  baselineDays: number;
  format: FindingsFormat;
  output?: string;
  /** Corrected mode: where to write the final baseline (no findings are printed then). */
  seedBaseline?: string;
  /** Corrected mode: the baseline file to start from. */
  baseline?: string;
}

/** Replay's own options (the rest are the Log Analytics commands' or --input's); false for an unknown flag. */
function planFlag(plan: ReplayPlan, flag: string, value: () => string): boolean {
  if (flag === '--mode') plan.mode = parseModeFlag(value());
  else if (flag === '--baseline-days') plan.baselineDays = parseBaselineDaysFlag(value());
  else if (flag === '--format') plan.format = parseFormat(value());
  else if (flag === '--output') plan.output = value();
  else if (flag === '--seed-baseline') plan.seedBaseline = value();
  else if (flag === '--baseline') plan.baseline = value();
  else return false;
  return true;
}

/** Refuses corrected-mode options without --mode corrected (a UsageError). */
function checkPlan(plan: ReplayPlan): void {
  if (plan.mode === 'corrected') return;
  if (plan.seedBaseline !== undefined)
    throw new UsageError('--seed-baseline is for corrected mode: add --mode corrected');
  if (plan.baseline !== undefined) throw new UsageError('--baseline is for corrected mode: add --mode corrected');
}

const newPlan = (): ReplayPlan => ({ mode: 'parity', baselineDays: 14, format: 'ndjson' });

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  if (argv.some((a) => a === '--input' || a.startsWith('--input='))) return runOverFiles(argv, io);
  const plan = newPlan();
  const options = parseCommandArgs(
    'replay',
    REPLAY_USAGE,
    argv,
    io,
    deps,
    (flag, value) => planFlag(plan, flag, value),
    true,
    () => {
      checkPlan(plan);
      const seedProblem = plan.seedBaseline === undefined ? undefined : outputFileProblem(plan.seedBaseline);
      if (seedProblem) throw new OutputPathError(seedProblem);
      return plan.output === undefined ? undefined : { file: plan.output };
    },
  );
  if (typeof options === 'number') return options;
  const source = new LogAnalyticsSource({ ...sourceOptions(options, deps), mode: plan.mode });
  return replayAndPrint(plan, options.window, source, io);
}

/** `replay --input DIR`: the days from DIR/YYYY-MM-DD/ (src/io/dayFolders.ts); no Azure. */
async function runOverFiles(argv: string[], io: CliIo): Promise<number> {
  const plan = newPlan();
  let input: string | undefined;
  let from: string | undefined;
  let to: string | undefined;
  let window: QueryWindow;
  try {
    const help = walkArgs(argv, (flag, value) => {
      if (flag === '--input') input = value();
      else if (flag === '--from') from = value();
      else if (flag === '--to') to = value();
      else if (flag === '--workspace')
        throw new UsageError('give --workspace (Log Analytics) or --input (files), not both');
      else return planFlag(plan, flag, value);
      return true;
    });
    if (help) {
      io.stdout.write(REPLAY_USAGE);
      return 0;
    }
    checkPlan(plan);
    if (from === undefined || to === undefined) throw new UsageError('--from and --to are required');
    window = parseWindow(from, to, '--from/--to');
    const first = parseDayBoundary(window.start);
    const end = parseDayBoundary(window.end);
    if (!first || !end)
      throw new UsageError(`--from ${from} --to ${to} must be whole UTC days (YYYY-MM-DD), --to after --from`);
    checkDayFolders(input!, first, end);
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr.write(`runcommand-detect replay: ${err.message}\n`);
      return 1;
    }
    if (!(err instanceof UsageError || err instanceof InvalidWindowError)) throw err;
    return printUsageError(io, 'replay', err.message);
  }
  return replayAndPrint(plan, window, dayFolderSource(input!, plan.mode), io);
}

/** Replays the window's days from `source` and prints the findings (or writes the seeded baseline). */
async function replayAndPrint(plan: ReplayPlan, window: QueryWindow, source: WindowSource, io: CliIo): Promise<number> {
  let result: ReplayResult;
  try {
    const start = plan.baseline === undefined ? undefined : readBaselineFile(plan.baseline);
    result = await replay({
      from: window.start,
      to: window.end,
      mode: plan.mode,
      baselineDays: plan.baselineDays,
      source,
      baseline: start?.entries,
    });
  } catch (err) {
    if (err instanceof ReplayWindowError) return printUsageError(io, 'replay', err.message);
    if (!(err instanceof LogAnalyticsError || err instanceof InputError)) throw err;
    io.stderr.write(`runcommand-detect replay: ${err.message}\n`);
    return 1;
  }
  if (plan.seedBaseline !== undefined) return writeSeed(plan, plan.seedBaseline, result, io);
  if (plan.format !== 'table') io.stderr.write(formatDays(result)); // the findings alone on standard output
  if (!(await writeOutput('replay', io, replayText(result, plan), plan.output))) return 1;
  return reportFailure(result, io);
}

function replayText(result: ReplayResult, plan: ReplayPlan): string {
  if (plan.format === 'table')
    return (
      formatDays(result) +
      '\n' +
      formatFindingsTable(
        result.findings.map((f) => f.finding),
        plan.mode,
      )
    );
  return findingRows(result, plan);
}

function findingRows(result: ReplayResult, plan: ReplayPlan): string {
  const rows = result.findings.map((f) => {
    const row: Record<string, unknown> = { WindowStart: f.window.start, DetectionMode: plan.mode };
    for (const [name] of FINDING_COLUMNS) row[name] = f.finding[name];
    if (f.details) row.ExtendedProperties = f.details;
    return row;
  });
  return plan.format === 'json'
    ? JSON.stringify(rows, null, 2) + '\n'
    : rows.map((r) => JSON.stringify(r) + '\n').join('');
}

/** `--seed-baseline`: the per-day counts, then the baseline after the last day replayed, in FILE. */
function writeSeed(plan: ReplayPlan, file: string, result: ReplayResult, io: CliIo): number {
  io.stderr.write(formatDays(result));
  if (result.failed) return reportFailure(result, io);
  const last = result.days.at(-1)?.window.end ?? null;
  try {
    writeBaselineFile(file, {
      baselineDays: plan.baselineDays,
      observedThrough: last,
      entries: [...result.baseline.values()],
    });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    io.stderr.write(`runcommand-detect replay: ${err.message}\n`);
    return 1;
  }
  io.stderr.write(
    `runcommand-detect replay: baseline of ${result.days.length} day(s) (${result.baseline.size} entries, observed ` +
      `through ${last ?? 'nothing'}) written to ${file}; its findings were not printed. Use it with ` +
      `detect --mode corrected --baseline ${file}\n`,
  );
  return 0;
}

function reportFailure(result: ReplayResult, io: CliIo): number {
  if (!result.failed) return 0;
  const e = result.failed.error;
  io.stderr.write(
    `runcommand-detect replay: day ${result.failed.window.start.slice(0, 10)} failed while ${result.failed.phase}: ` +
      `${messageOf(e)}\n`,
  );
  return 1;
}
