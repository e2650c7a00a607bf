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
  LOG_ANALYTICS_OPTIONS_HELP,
  parseCommandArgs,
  sourceOptions,
  type LogAnalyticsCliDeps,
} from '../logAnalytics/cli';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { replay, ReplayWindowError, type ReplayResult } from '../job/replay';
import type { DetectionMode } from '../detection/schema';
import { formatFindingsTable } from './format';
import { UsageError } from './args';
import type { CliIo } from './io';

export const REPLAY_USAGE = `Usage: runcommand-detect replay --workspace ID --from DAY --to DAY [--mode parity|corrected] [--baseline-days N] [--format table|ndjson]

Runs the daily job's window loop over the UTC days [from, to) (e.g. --from 2026-11-01
--to 2026-12-01 replays November), pulling each day from Log Analytics. Nothing is
written to Azure and no checkpoint is touched: findings are printed, and corrected
mode's baseline is kept in memory, carried over from one day to the next (it starts
empty on the first day, so early days find more than the job would).

Options:
${LOG_ANALYTICS_OPTIONS_HELP}
  --mode M          parity (default: the published rule) or corrected
  --baseline-days N corrected mode's BASELINE_DAYS (default 14)
  --format F        table (default: per-day counts, then the findings) or ndjson (one
                    finding a line, with WindowStart and DetectionMode; counts on stderr)
  -h, --help        show this help

Exit status: 0 replayed (findings or not), 1 Azure error, 2 usage error.
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
  let format: 'table' | 'ndjson' = 'table';
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
      } else if (flag === '--format') {
        const f = value();
        if (f !== 'table' && f !== 'ndjson') throw new UsageError(`--format must be table or ndjson, not '${f}'`);
        format = f;
      } else return false;
      return true;
    },
    true,
  );
  if (typeof options === 'number') return options;
  let result: ReplayResult;
  try {
    const source = new LogAnalyticsSource({ ...sourceOptions(options, io.env, deps), mode });
    result = await replay({ from: options.window.start, to: options.window.end, mode, baselineDays, source });
  } catch (err) {
    if (err instanceof ReplayWindowError) {
      io.stderr.write(`runcommand-detect replay: ${err.message}\n\n${REPLAY_USAGE}`);
      return 2;
    }
    if (!(err instanceof LogAnalyticsError)) throw err;
    io.stderr.write(`runcommand-detect replay: ${err.message}\n`);
    return 1;
  }
  if (format === 'table') {
    io.stdout.write(formatDays(result) + '\n' + formatFindingsTable(result.findings.map((f) => f.finding)));
  } else {
    io.stderr.write(formatDays(result));
    for (const f of result.findings) {
      const row: Record<string, unknown> = { WindowStart: f.window.start, DetectionMode: mode };
      for (const [name] of FINDING_COLUMNS) row[name] = f.finding[name];
      if (f.details) row.ExtendedProperties = f.details;
      io.stdout.write(JSON.stringify(row) + '\n');
    }
  }
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
