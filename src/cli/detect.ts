/**
 * `runcommand-detect detect --input DIR [--output FILE] [--format ndjson|json|table]`
 *
 * Runs the rule (parity mode) over one day of exported table files and prints its
 * findings. Reads nothing from Azure and writes nothing to it.
 *
 * "0 findings" must mean the rule found nothing, not that the files could not show it:
 * a file missing a column the rule reads (or holding another table's rows) is an input
 * error naming the file and the columns, and the summary gives each table's time span
 * and warns when one ends well before the others (an export cut off) or the spans do
 * not overlap (exports of different days).
 */
import { writeFileSync } from 'node:fs';
import { ParityDetection, type StageCounts, type TableName } from '../detection';
import { InputError } from '../io/errors';
import { readTableDirectoryInParallel } from '../io/parallel';
import {
  locateTableFiles,
  readTableDirectory,
  tableShapeError,
  tableShapeProblem,
  type TableReadStats,
} from '../io/tableFiles';
import { TABLE_NAMES } from '../detection/schema';
import { UsageError, walkArgs } from './args';
import type { CliIo } from './io';
import { FINDINGS_FORMATS, formatFindings, type FindingsFormat } from './format';

export const DETECT_USAGE = `Usage: runcommand-detect detect --input DIR [--output FILE] [--format ndjson|json|table]
                                [--allow-empty] [--threads 1|2] [--validate-all]

Runs the Sentinel rule "Azure VM Run Command operations executing a unique PowerShell
script" over exported tables and prints its findings.

Options:
  --input DIR       directory with exactly one file per table:
                      AzureActivity.*, DeviceFileEvents.*, DeviceEvents.*
                    each .ndjson/.jsonl (one JSON object a line), .json (a JSON array
                    of objects, or a Log Analytics query API response), or .csv (as
                    the Azure portal exports it, datetimes in UTC)
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default): one finding a line, the rule's 14 columns
                    json: one array; table: a fixed-width table for people
  --allow-empty     accept an empty table file as a table with no rows
                    (default: an empty file is an error, as it usually means a
                    failed export)
  --threads N       1: read the files one after the other on one thread;
                    2 (default): read DeviceEvents in a worker thread meanwhile
  --validate-all    parse and check every row; by default rows that cannot match
                    the rule (no "runcommand" / "RunCommandExtension.exe" /
                    "-File scriptN.ps1" text and no \\u escape) are skipped unread,
                    so errors in them are not reported
  -h, --help        show this help

Exit status: 0 findings written (possibly none), 1 input error (printed as
file:line: what is wrong), 2 usage error.
`;

interface DetectOptions {
  input: string;
  output?: string;
  format: FindingsFormat;
  allowEmpty: boolean;
  validateAll: boolean;
  threads: 1 | 2;
}

function parseArgs(argv: string[]): DetectOptions | 'help' {
  let input: string | undefined;
  let output: string | undefined;
  let format: FindingsFormat = 'ndjson';
  let allowEmpty = false;
  let validateAll = false;
  let threads: 1 | 2 = 2;
  const help = walkArgs(argv, (flag, value) => {
    switch (flag) {
      case '--input':
        input = value();
        return true;
      case '--output':
        output = value();
        return true;
      case '--format': {
        const f = value();
        if (!(FINDINGS_FORMATS as readonly string[]).includes(f))
          throw new UsageError(`--format must be one of ${FINDINGS_FORMATS.join(', ')}, not '${f}'`);
        format = f as FindingsFormat;
        return true;
      }
      case '--allow-empty':
        allowEmpty = true;
        return true;
      case '--validate-all':
        validateAll = true;
        return true;
      case '--threads': {
        const t = value();
        if (t !== '1' && t !== '2') throw new UsageError(`--threads must be 1 or 2, not '${t}'`);
        threads = t === '1' ? 1 : 2;
        return true;
      }
      default:
        return false;
    }
  });
  if (help) return help;
  if (input === undefined) throw new UsageError('--input DIR is required');
  return { input, output, format, allowEmpty, validateAll, threads };
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
    io.stderr.write(`runcommand-detect detect: ${err.message}\n\n${DETECT_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    io.stdout.write(DETECT_USAGE);
    return 0;
  }
  const detection = new ParityDetection();
  let stats: TableReadStats[];
  try {
    const readOptions = { allowEmpty: options.allowEmpty, prefilter: !options.validateAll };
    stats =
      options.threads === 2
        ? await readTableDirectoryInParallel(options.input, detection, readOptions)
        : readTableDirectory(options.input, detection, readOptions);
    // A column the rule reads that no row has: the file cannot be that table.
    const files = locateTableFiles(options.input);
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
  }
  const { findings, stages } = detection.finish();
  const text = formatFindings(findings, options.format);
  if (options.output !== undefined) {
    try {
      writeFileSync(options.output, text);
    } catch (err) {
      const why = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : String(err);
      io.stderr.write(`${options.output}: cannot write the findings (${why}); check the path and its permissions\n`);
      return 1;
    }
  } else {
    await new Promise<void>((resolve, reject) => io.stdout.write(text, (e) => (e ? reject(e) : resolve())));
  }
  io.stderr.write(summary(stats, stages));
  for (const w of spanWarnings(stats)) io.stderr.write(`runcommand-detect detect: warning: ${w}\n`);
  return 0;
}
