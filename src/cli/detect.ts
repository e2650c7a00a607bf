/**
 * `runcommand-detect detect --input DIR [--output FILE] [--format ndjson|json|table] [--mode corrected …]`
 *
 * Runs the rule (parity mode) over one day of exported table files and prints its
 * findings; `--mode corrected` runs corrected mode against a baseline file instead
 * (./detectCorrected). Reads nothing from Azure and writes nothing to it.
 *
 * "0 findings" must mean the rule found nothing, not that the files could not show it:
 * a file missing a column the rule reads (or holding another table's rows) is an input
 * error naming the file and the columns, and the summary gives each table's time span
 * and warns when one ends well before the others (an export cut off) or the spans do
 * not overlap (exports of different days).
 */
import { ParityDetection, type StageCounts, type TableName } from '../detection';
import { InputError } from '../io/errors';
import { readTableDirectoryInParallel } from '../io/parallel';
import {
  openTableFiles,
  readTableDirectory,
  type OpenedTableFiles,
  tableShapeError,
  tableShapeProblem,
  type TableReadStats,
} from '../io/tableFiles';
import { TABLE_NAMES, type DetectionMode } from '../detection/schema';
import { parseBaselineDaysFlag, parseModeFlag, printUsageError, UsageError, walkArgs } from './args';
import { writeOutput, type CliIo } from './io';
import { formatFindings, parseFormat, type FindingsFormat } from './format';
import { detectCorrectedFiles } from './detectCorrected';
import { parseKqlDateTime } from '../detection/datetime';

export const DETECT_USAGE = `Usage: runcommand-detect detect --input DIR [--output FILE] [--format ndjson|json|table]
                                [--allow-empty] [--threads 1|2] [--validate-all]
       runcommand-detect detect --input DIR --mode corrected [--baseline FILE]
                                [--save-baseline FILE] [--baseline-days N] [--from T [--to T]]
                                [--output FILE] [--format F] [--allow-empty]

Runs the Sentinel rule "Azure VM Run Command operations executing a unique PowerShell
script" over exported tables and prints its findings (parity mode: what the rule
returns), or corrected mode against a baseline file.

Required:
  --input DIR       directory with exactly one file per table:
                      AzureActivity.*, DeviceFileEvents.*, DeviceEvents.*
                    each .ndjson/.jsonl (one JSON object a line), .json (a JSON array
                    of objects, or a Log Analytics query API response), or .csv (as
                    the Azure portal exports it, datetimes in UTC), UTF-8; any of
                    them gzip-compressed as .gz

Options:
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default): one finding a line, the rule's 14 columns
                    json: one array; table: a fixed-width table for people
  --allow-empty     accept an empty table file as a table with no rows
                    (default: an empty file is an error, as it usually means a
                    failed export)
  --threads N       1: read the files one after the other on one thread;
                    2 (default): a worker thread reads DeviceEvents meanwhile, and
                    DeviceFileEvents too when it is free before the main thread
  --validate-all    parse and check every row; by default rows that cannot match
                    the rule (no "runcommand" / "RunCommandExtension.exe" /
                    "-File scriptN.ps1" text and no \\u escape) are skipped unread,
                    so errors in them are not reported
  --mode M          parity (default: the published rule) or corrected

Corrected mode (--mode corrected; every row is parsed, on one thread):
  --baseline FILE   the baseline of script fingerprints and caller-machine pairs seen
                    before (written by replay --seed-baseline or --save-baseline);
                    without it every script is new and every execution a finding
  --save-baseline FILE  write the baseline after this window (may be --baseline's
                    file) for the next day's run
  --baseline-days N BASELINE_DAYS, 1 to 90 (default 14)
  --from T [--to T] the window (ISO 8601 UTC); default: the UTC day on which the
                    earliest row falls
  -h, --help        show this help

Exit status: 0 findings written (possibly none), 1 input error (printed as
file:line: what is wrong), 2 usage error.

Reads nothing from Azure and writes nothing to it: no identity is used.
`;

interface DetectOptions {
  input: string;
  output?: string;
  format: FindingsFormat;
  allowEmpty: boolean;
  validateAll: boolean;
  threads: 1 | 2;
  mode: DetectionMode;
  baseline?: string;
  saveBaseline?: string;
  baselineDays: number;
  from?: string;
  to?: string;
}

/** The options only corrected mode takes, by flag. */
const CORRECTED_ONLY = ['--baseline', '--save-baseline', '--baseline-days', '--from', '--to'] as const;

function parseArgs(argv: string[]): DetectOptions | 'help' {
  const o: Omit<DetectOptions, 'input'> & { input?: string } = {
    format: 'ndjson',
    allowEmpty: false,
    validateAll: false,
    threads: 2,
    mode: 'parity',
    baselineDays: 14,
  };
  const given = new Set<string>();
  const help = walkArgs(argv, (flag, value) => {
    given.add(flag);
    switch (flag) {
      case '--input':
        o.input = value();
        return true;
      case '--output':
        o.output = value();
        return true;
      case '--format':
        o.format = parseFormat(value());
        return true;
      case '--allow-empty':
        o.allowEmpty = true;
        return true;
      case '--validate-all':
        o.validateAll = true;
        return true;
      case '--threads': {
        const t = value();
        if (t !== '1' && t !== '2') throw new UsageError(`--threads must be 1 or 2, not '${t}'`);
        o.threads = t === '1' ? 1 : 2;
        return true;
      }
      case '--mode':
        o.mode = parseModeFlag(value());
        return true;
      default:
        return parseCorrectedFlag(o, flag, value);
    }
  });
  if (help) return help;
  if (o.input === undefined) throw new UsageError('--input DIR is required');
  if (o.mode === 'parity') {
    const misplaced = CORRECTED_ONLY.find((f) => given.has(f));
    if (misplaced) throw new UsageError(`${misplaced} is for corrected mode: add --mode corrected`);
  }
  if (o.to !== undefined && o.from === undefined) throw new UsageError('--to needs --from');
  return { ...o, input: o.input };
}

function parseCorrectedFlag(o: Partial<DetectOptions>, flag: string, value: () => string): boolean {
  switch (flag) {
    case '--baseline':
      o.baseline = value();
      return true;
    case '--save-baseline':
      o.saveBaseline = value();
      return true;
    case '--baseline-days':
      o.baselineDays = parseBaselineDaysFlag(value());
      return true;
    case '--from':
    case '--to': {
      const v = value();
      const t = parseKqlDateTime(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
      if (t === null) throw new UsageError(`${flag} must be an ISO 8601 UTC datetime or a date, not '${v}'`);
      if (flag === '--from') o.from = t;
      else o.to = t;
      return true;
    }
    default:
      return false;
  }
}

/** A table ending this long before the latest-ending one looks cut off. */
export const SPAN_CUT_OFF_MS = 2 * 60 * 60 * 1000;

function summary(stats: readonly TableReadStats[], stages: StageCounts): string {
  const kept: Partial<Record<TableName, number>> = {
    AzureActivity: stages.runCommandActivityRows,
    DeviceFileEvents: stages.runCommandExtensionFiles,
    DeviceEvents: stages.scriptCommandRows,
  };
  const span = (s: TableReadStats) =>
    s.timeSpan ? `, TimeGenerated ${s.timeSpan.first} to ${s.timeSpan.last}` : ', no TimeGenerated';
  const tables = stats
    .map((s) => `${s.table} ${s.rowsRead} rows (${kept[s.table]} pass its filters${span(s)})`)
    .join(', ');
  const n = stages.findings;
  return `runcommand-detect detect: read ${tables}; ${n} finding${n === 1 ? '' : 's'}\n`;
}

/**
 * Warnings on the tables' time spans (of the rows parsed): one ending well before the
 * others (an export cut off, e.g. at a line boundary, silently loses findings), or two
 * that do not overlap (exports of different days).
 */
export function spanWarnings(stats: readonly TableReadStats[]): string[] {
  const spans = stats.filter((s) => s.timeSpan !== null) as Array<
    TableReadStats & { timeSpan: { first: string; last: string } }
  >;
  const warnings: string[] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const [a, b] = [spans[i]!, spans[j]!];
      if (a.timeSpan.last < b.timeSpan.first || b.timeSpan.last < a.timeSpan.first) {
        warnings.push(
          `${a.table} (${a.timeSpan.first} to ${a.timeSpan.last}) and ${b.table} (${b.timeSpan.first} to ` +
            `${b.timeSpan.last}) do not overlap: are they exports of the same window? The rule joins them in time.`,
        );
      }
    }
  }
  const latest = spans.reduce<(typeof spans)[number] | undefined>(
    (m, s) => (m === undefined || s.timeSpan.last > m.timeSpan.last ? s : m),
    undefined,
  );
  for (const s of spans) {
    if (!latest || s === latest) continue;
    const gapMs = Date.parse(latest.timeSpan.last) - Date.parse(s.timeSpan.last);
    if (gapMs > SPAN_CUT_OFF_MS) {
      warnings.push(
        `${s.table} ends at ${s.timeSpan.last}, ${(gapMs / 3_600_000).toFixed(1)} h before ${latest.table} ` +
          `(${latest.timeSpan.last}): was ${s.file} cut off? Findings after that time cannot be seen; export it again.`,
      );
    }
  }
  return warnings;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let options: DetectOptions | 'help';
  try {
    options = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return printUsageError(io, 'detect', err.message);
  }
  if (options === 'help') {
    io.stdout.write(DETECT_USAGE);
    return 0;
  }
  if (options.mode === 'corrected') return runCorrected(options, io);
  const detection = new ParityDetection();
  let stats: TableReadStats[];
  let opened: OpenedTableFiles | undefined;
  try {
    opened = await openTableFiles(options.input);
    const files = opened.files;
    const readOptions = { allowEmpty: options.allowEmpty, prefilter: !options.validateAll };
    stats =
      options.threads === 2
        ? await readTableDirectoryInParallel(files, detection, readOptions)
        : readTableDirectory(files, detection, readOptions);
    // A column the rule reads that no row has: the file cannot be that table.
    for (const table of TABLE_NAMES) {
      const stat = stats.find((s) => s.table === table);
      const problem = stat && tableShapeProblem(files[table], stat, !options.validateAll);
      if (problem) throw tableShapeError(problem);
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    opened?.close();
  }
  const { findings, stages } = detection.finish();
  const text = formatFindings(findings, options.format);
  if (!(await writeOutput('detect', io, text, options.output))) return 1;
  io.stderr.write(summary(stats, stages));
  for (const w of spanWarnings(stats)) io.stderr.write(`runcommand-detect detect: warning: ${w}\n`);
  return 0;
}

/** `--mode corrected` (./detectCorrected): one window of files against a baseline file. */
async function runCorrected(options: DetectOptions, io: CliIo): Promise<number> {
  let outcome;
  try {
    outcome = await detectCorrectedFiles({
      input: options.input,
      format: options.format,
      allowEmpty: options.allowEmpty,
      baselineFile: options.baseline,
      saveBaseline: options.saveBaseline,
      baselineDays: options.baselineDays,
      window: options.from === undefined ? undefined : { start: options.from, end: options.to },
    });
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (!(await writeOutput('detect', io, outcome.text, options.output))) return 1;
  try {
    if (outcome.saveBaseline) outcome.notes.push(outcome.saveBaseline());
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return 1;
  }
  for (const note of outcome.notes) io.stderr.write(`runcommand-detect detect: ${note}\n`);
  for (const w of spanWarnings(outcome.stats)) io.stderr.write(`runcommand-detect detect: warning: ${w}\n`);
  return 0;
}
