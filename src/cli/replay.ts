/**
 * `runcommand-detect replay --workspace ID --from DAY --to DAY [--mode parity|corrected]`
 *
 * What the job would have found over past days: the job's own window loop over the
 * UTC days [from, to), pulling each day from Log Analytics, with the checkpoint, the
 * findings and corrected mode's baseline kept in memory (the baseline carried over from
 * day to day). Writes nothing to Azure. Prints the per-day counts, then the findings.
 */
import { messageOf } from '../shared/errors';
import { FINDING_COLUMNS, TABLE_NAMES } from '../detection/schema';
import {
  CREDENTIAL_NOTE,
  QUERY_OPTIONS_HELP,
  parseCommandArgs,
  sourceOptions,
  windowOptionsHelp,
  writeOutput,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { replay, ReplayWindowError, type ReplayResult } from '../job/replay';
import type { DetectionMode } from '../detection/schema';
import { formatFindingsTable, parseFormat, type FindingsFormat } from './format';
import { printUsageError, UsageError } from './args';
import type { CliIo } from './io';

export const REPLAY_USAGE = `Usage: runcommand-detect replay --workspace ID --from DAY --to DAY [--mode parity|corrected]
                                [--baseline-days N] [--output FILE] [--format ndjson|json|table]

Runs the daily job's window loop over the UTC days [from, to) (e.g. --from 2026-11-01
--to 2026-12-01 replays November), pulling each day from Log Analytics. Nothing is
written to Azure and no checkpoint is touched: findings are printed, and corrected
mode's baseline is kept in memory, carried over from one day to the next (it starts
empty on the first day, so early days find more than the job would).

Options:
${windowOptionsHelp(true)}; whole UTC days (YYYY-MM-DD)
  --mode M          parity (default: the published rule) or corrected
  --baseline-days N corrected mode's BASELINE_DAYS (default 14)
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default): one finding a line, the rule's 14 columns with
                    WindowStart, DetectionMode (and corrected mode's
                    ExtendedProperties); json: the same rows as one array (per-day
                    counts on stderr for both); table: per-day counts, then the
                    findings as a fixed-width table
${QUERY_OPTIONS_HELP}

Exit status: 0 replayed (findings or not), 1 Azure or file error, 2 usage error.

${CREDENTIAL_NOTE}
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

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  let mode: DetectionMode = 'parity';
  let baselineDays = 14;
  let format = 'ndjson' as FindingsFormat;
  let output: string | undefined;
  const options = parseCommandArgs(
    'replay',
    REPLAY_USAGE,
    argv,
    io,
    deps,
    (flag, value) => {
      if (flag === '--mode') {
        const m = value();
        if (m !== 'parity' && m !== 'corrected') throw new UsageError(`--mode must be parity or corrected, not '${m}'`);
        mode = m;
      } else if (flag === '--baseline-days') {
        const v = value();
        baselineDays = Number(v);
        if (!/^\d+$/.test(v) || baselineDays < 1 || baselineDays > 90)
          throw new UsageError(`--baseline-days must be a whole number from 1 to 90, not '${v}'`);
      } else if (flag === '--format') format = parseFormat(value());
      else if (flag === '--output') output = value();
      else return false;
      return true;
    },
    true,
    () => (output === undefined ? undefined : { file: output }),
  );
  if (typeof options === 'number') return options;
  let result: ReplayResult;
  try {
    const source = new LogAnalyticsSource({ ...sourceOptions(options, deps), mode });
    result = await replay({ from: options.window.start, to: options.window.end, mode, baselineDays, source });
  } catch (err) {
    if (err instanceof ReplayWindowError) return printUsageError(io, 'replay', err.message);
    if (!(err instanceof LogAnalyticsError)) throw err;
    io.stderr.write(`runcommand-detect replay: ${err.message}\n`);
    return 1;
  }
  let text: string;
  if (format === 'table') {
    text =
      formatDays(result) +
      '\n' +
      formatFindingsTable(
        result.findings.map((f) => f.finding),
        mode,
      );
  } else {
    io.stderr.write(formatDays(result));
    const rows = result.findings.map((f) => {
      const row: Record<string, unknown> = { WindowStart: f.window.start, DetectionMode: mode };
      for (const [name] of FINDING_COLUMNS) row[name] = f.finding[name];
      if (f.details) row.ExtendedProperties = f.details;
      return row;
    });
    text =
      format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : rows.map((r) => JSON.stringify(r) + '\n').join('');
  }
  if (!(await writeOutput('replay', io, text, output))) return 1;
  if (result.failed) {
    const e = result.failed.error;
    io.stderr.write(
      `runcommand-detect replay: day ${result.failed.window.start.slice(0, 10)} failed while ${result.failed.phase}: ` +
        `${messageOf(e)}\n`,
    );
    return 1;
  }
  return 0;
}
