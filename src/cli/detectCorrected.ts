/**
 * `detect --mode corrected`: corrected mode over one window of table files, against a
 * baseline file (`--baseline FILE`, as `replay --seed-baseline` writes it) instead of
 * the job's state store, and optionally the baseline after this window written back
 * (`--save-baseline FILE`), so that day after day of files can be run without Azure.
 *
 * The window: `--from`/`--to` when given; else from the UTC midnight on which the
 * earliest row read falls, for one day. Corrected mode reads rows the rule drops (any
 * case of RunCommandExtension.exe and -File, every Run Command path), so the rule's
 * byte pre-filter is off: every row is parsed.
 */
import { CorrectedDetection, type CorrectedResult } from '../detection/corrected';
import { MemoryBaseline, type Baseline } from '../detection/corrected/baseline';
import { fromDate, type KqlDateTime } from '../detection/datetime';
import { FINDING_COLUMNS, type QueryWindow } from '../detection/schema';
import { readBaselineFile, writeBaselineFile, type BaselineFile } from '../io/baselineFile';
import {
  openTableFiles,
  readTableDirectory,
  tableShapeError,
  tableShapeProblem,
  type TableReadStats,
} from '../io/tableFiles';
import { formatFindingsTable, type FindingsFormat } from './format';

export interface CorrectedDetectOptions {
  input: string;
  format: FindingsFormat;
  allowEmpty: boolean;
  baselineFile?: string;
  saveBaseline?: string;
  baselineDays: number;
  /** The window, when given on the command line (else from the rows). */
  window?: { start: KqlDateTime; end?: KqlDateTime };
}

export interface CorrectedDetectOutcome {
  text: string;
  /** The stderr summary lines (the first is the one-line summary). */
  notes: string[];
  stats: TableReadStats[];
  /** With --save-baseline: writes the baseline after this window (call once the findings are written); returns a note. */
  saveBaseline?: () => string;
}

const DAY_MS = 86_400_000;

/** Canonical KQL datetime text to epoch milliseconds (sub-millisecond digits dropped). */
const epochMs = (t: KqlDateTime): number => Date.parse(t.slice(0, 23) + 'Z');

const laterOf = (a: KqlDateTime | null, b: KqlDateTime): KqlDateTime => (a !== null && a > b ? a : b);

/** The window of files read without --from: the UTC day on which the earliest row read falls. */
export function windowOfRows(stats: readonly TableReadStats[]): QueryWindow | undefined {
  const firsts = stats.flatMap((s) => (s.timeSpan ? [s.timeSpan.first] : [])).sort();
  if (firsts.length === 0) return undefined;
  const start = Date.parse(firsts[0]!.slice(0, 10) + 'T00:00:00Z');
  return { start: fromDate(new Date(start)), end: fromDate(new Date(start + DAY_MS)) };
}

/** Runs corrected mode over the files of `options.input`; input errors are thrown as InputError. */
export async function detectCorrectedFiles(options: CorrectedDetectOptions): Promise<CorrectedDetectOutcome> {
  const baselineFile: BaselineFile | undefined =
    options.baselineFile === undefined ? undefined : readBaselineFile(options.baselineFile);
  const detection = new CorrectedDetection();
  const opened = await openTableFiles(options.input, 'corrected');
  let stats: TableReadStats[];
  try {
    const readOptions = { allowEmpty: options.allowEmpty, prefilter: false, mode: 'corrected' as const };
    stats = readTableDirectory(opened.files, detection, readOptions);
    for (const s of stats) {
      const file = opened.files[s.table];
      const problem = file && tableShapeProblem(file, s, false);
      if (problem) throw tableShapeError(problem);
    }
  } finally {
    opened.close();
  }
  const fromRows = windowOfRows(stats);
  const start = options.window?.start ?? fromRows?.start ?? fromDate(new Date(0));
  const end = options.window?.end ?? fromDate(new Date(epochMs(start) + DAY_MS));
  const window: QueryWindow = { start, end };
  const memory = new MemoryBaseline(baselineFile?.entries);
  const baseline: Baseline = memory.current;
  const result = detection.finish({ windowStart: start, baselineDays: options.baselineDays, baseline });
  const notes = [summaryLine(stats, result, window, options, baselineFile, baseline.size)];
  notes.push(...baselineWarnings(options, baselineFile, window));
  const save = options.saveBaseline;
  // Stored after the findings are written, as the job does: a run whose findings were
  // lost must not have taught the baseline its scripts.
  const saveBaseline =
    save === undefined
      ? undefined
      : (): string => {
          memory.record(result.observations, end, options.baselineDays);
          writeBaselineFile(save, {
            baselineDays: options.baselineDays,
            observedThrough: laterOf(baselineFile?.observedThrough ?? null, end),
            entries: [...memory.current.values()],
          });
          return `baseline after this window (${memory.current.size} entries, observed through ${end}) written to ${save}`;
        };
  return { text: formatCorrected(result, options.format), notes, stats, saveBaseline };
}

function summaryLine(
  stats: readonly TableReadStats[],
  result: CorrectedResult,
  window: QueryWindow,
  options: CorrectedDetectOptions,
  file: BaselineFile | undefined,
  entries: number,
): string {
  const s = result.stages;
  const tables = stats.map((t) => `${t.table} ${t.rowsRead} rows`).join(', ');
  const against =
    file === undefined
      ? 'no baseline (--baseline FILE): with no baseline every script and every caller-machine pair is new, so every ' +
        'execution is a finding; seed one with `runcommand-detect replay --mode corrected --seed-baseline FILE`'
      : `baseline ${options.baselineFile} (${entries} entries, observed through ${file.observedThrough ?? 'nothing yet'})`;
  return (
    `corrected mode, window [${window.start}, ${window.end}), BASELINE_DAYS ${options.baselineDays}, ${against}; ` +
    `read ${tables}; ${s.executions} executions (${s.knownExecutions} known to the baseline), ` +
    `${s.findings} script finding${s.findings === 1 ? '' : 's'}, ` +
    `${s.controlPlaneFindings} control-plane finding${s.controlPlaneFindings === 1 ? '' : 's'}`
  );
}

/** A baseline that cannot know this window's scripts: it ends before the horizon, or starts after the window. */
function baselineWarnings(
  options: CorrectedDetectOptions,
  file: BaselineFile | undefined,
  window: QueryWindow,
): string[] {
  if (!file) return [];
  const out: string[] = [];
  if (file.baselineDays < options.baselineDays)
    out.push(
      `warning: the baseline was kept for ${file.baselineDays} days, less than BASELINE_DAYS ${options.baselineDays}: ` +
        'scripts seen only in the days before that were pruned and count as new',
    );
  const through = file.observedThrough;
  const gapDays = through === null ? 0 : (epochMs(window.start) - epochMs(through)) / DAY_MS;
  if (gapDays > options.baselineDays)
    out.push(
      `warning: the baseline ends at ${through}, ${Math.floor(gapDays)} days before this window and beyond ` +
        `BASELINE_DAYS ${options.baselineDays}: it knows nothing this window can use; seed it again`,
    );
  else if (gapDays >= 1)
    out.push(
      `warning: the baseline ends at ${through}, ${Math.floor(gapDays)} day(s) before this window: ` +
        'scripts that ran only in the days between count as new',
    );
  return out;
}

/** ndjson/json: the rule's 14 columns, then FindingKind and ExtendedProperties; table: the fixed-width table. */
export function formatCorrected(result: CorrectedResult, format: FindingsFormat): string {
  if (format === 'table')
    return formatFindingsTable(
      result.findings.map((f) => f.finding),
      'corrected',
    );
  const rows = result.findings.map((f) => {
    const row: Record<string, unknown> = {};
    for (const [name] of FINDING_COLUMNS) row[name] = f.finding[name];
    row.DetectionMode = 'corrected';
    row.FindingKind = f.kind;
    row.ExtendedProperties = f.details;
    return row;
  });
  return format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : rows.map((r) => JSON.stringify(r) + '\n').join('');
}
