/**
 * The one reader of table files, for every caller (`detect`, the demo, the bench, and
 * whatever reads back what `export` wrote): finds `DIR/<Table>.<ext>` for the three
 * tables the rule reads (and, in corrected mode, an optional DeviceProcessEvents file:
 * the Linux Run Command paths), reads each in its format, and types each row as KQL
 * would (`coerceRow`). Rows the byte pre-filter (./prefilter) proves irrelevant are
 * dropped unparsed; the others are handed on, and the consumer (`ParityDetection.add`,
 * or a corrected-mode Detector) applies the table's own filters.
 *
 * The pre-filter's needles are parity's row filters. Corrected mode keeps rows parity
 * drops (managed-handler and Linux script files, `-file`, managed `.ps1` command lines),
 * so in corrected mode only AzureActivity is pre-filtered: its needle (`runcommand` in
 * any case) is in every corrected-mode operation name too (corrected/paths.ts
 * RUN_COMMAND_OPERATIONS), so it stays sound; the other tables are read whole.
 *
 * A cell of the wrong type in a row that matters (`ParityDetection.isRelevant`) is an
 * error naming file and line; in a row the rule drops anyway it is ignored, like the
 * columns the rule does not read.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { coerceRow, CorrectedDetection, ParityDetection, type CellProblem } from '../detection';
import {
  CORRECTED_TABLE_NAMES,
  RULE_COLUMNS,
  TABLE_NAMES,
  tablesOfMode,
  type DetectionMode,
  type RuleTableName,
  type TableName,
  type TableRows,
} from '../detection/schema';
import { readCsvFile } from './csv';
import { InputError } from './errors';
import { firstSignificantByte, readJsonFile } from './json';
import { readNdjsonFile } from './ndjson';
import type { RawRow, RowLocation } from './rawRows';

export type TableFileFormat = 'ndjson' | 'json' | 'csv';

/** File extensions per format. `.json` may hold a JSON array or a query API response. */
export const EXTENSIONS: Readonly<Record<string, TableFileFormat>> = {
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'json',
  '.csv': 'csv',
};

export interface TableFile<T extends TableName = TableName> {
  table: T;
  path: string;
  format: TableFileFormat;
}

/** The file of each table found: the rule's three always, DeviceProcessEvents when present (corrected mode). */
export type TableFiles = { [T in RuleTableName]: TableFile<T> } & {
  DeviceProcessEvents?: TableFile<'DeviceProcessEvents'>;
};

/** Tables whose file may be absent: DeviceProcessEvents (only corrected mode reads it, and only Linux runs need it). */
const OPTIONAL_TABLES: ReadonlySet<TableName> = new Set(['DeviceProcessEvents']);

/**
 * The file of each table of `mode` in `dir` (parity: the rule's three; corrected: and
 * DeviceProcessEvents, which may be absent): exactly one `<Table>.ndjson|.jsonl|.json|.csv`
 * (extension in any case). None (but for an optional table), or more than one, is an
 * error naming the directory. Parity mode never looks for DeviceProcessEvents.
 */
export function locateTableFiles(dir: string, mode: DetectionMode = 'parity'): TableFiles {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory())
      throw new InputError(dir, undefined, 'is not a directory; --input takes the directory holding the table files');
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(
      dir,
      undefined,
      'cannot read this directory; --input takes the directory holding the table files',
    );
  }
  const found = {} as Record<TableName, TableFile>;
  for (const table of tablesOfMode(mode)) {
    const candidates = names.filter((name) => {
      const dot = name.lastIndexOf('.');
      return dot > 0 && name.slice(0, dot) === table && name.slice(dot).toLowerCase() in EXTENSIONS;
    });
    const expected = `${table}.ndjson, .jsonl, .json or .csv`;
    if (candidates.length === 0 && OPTIONAL_TABLES.has(table)) continue;
    if (candidates.length === 0) {
      const nearly = names.find((name) => name.toLowerCase().startsWith(table.toLowerCase() + '.'));
      const hint =
        nearly === undefined ? '' : ` (found ${nearly}: the name is case-sensitive, the extension one of those)`;
      throw new InputError(dir, undefined, `no file for table ${table}: expected ${expected} in this directory${hint}`);
    }
    if (candidates.length > 1)
      throw new InputError(
        dir,
        undefined,
        `${candidates.length} files for table ${table} (${candidates.sort().join(', ')}): keep exactly one`,
      );
    const name = candidates[0];
    found[table] = {
      table,
      path: join(dir, name),
      format: EXTENSIONS[name.slice(name.lastIndexOf('.')).toLowerCase()],
    };
  }
  return found as TableFiles;
}

export interface ReadTableOptions {
  /**
   * The detection mode the rows are for (default parity): which rows matter (a bad cell
   * is an error only in a row the mode can use), and which tables are pre-filtered (see
   * the module comment).
   */
  mode?: DetectionMode;
  /** Skip JSON rows that cannot matter without parsing them (default true). */
  prefilter?: boolean;
  /**
   * Accept an empty file (no bytes, only white space, or only a CSV header) as a table
   * with no rows. Default false: an empty export usually means a failed export, and
   * reading it as "no rows" would silently hide every finding.
   */
  allowEmpty?: boolean;
}

export interface TableReadStats {
  table: TableName;
  file: string;
  format: TableFileFormat;
  /** Rows in the file (NDJSON: lines). */
  rowsRead: number;
  /** Rows parsed and typed (the others were dropped unparsed by the pre-filter);
   *  the table's own filters are applied by the consumer. */
  rowsParsed: number;
  /** The columns the rule reads, of any of the three tables, that appear in at least one parsed row. */
  ruleColumnsSeen: string[];
  /** The column names of the first parsed row (at most 20), to say what the file holds instead. */
  firstRowColumns: string[];
  /** The first and last TimeGenerated of the parsed rows (canonical text), null when none has one. */
  timeSpan: { first: string; last: string } | null;
}

/** Every column the engine reads, of the rule's three tables and DeviceProcessEvents. */
const ALL_RULE_COLUMNS: readonly string[] = [
  ...new Set(CORRECTED_TABLE_NAMES.flatMap((t) => RULE_COLUMNS[t].map(([n]) => n))),
];

function problemText(problems: readonly CellProblem[]): string {
  return problems.map((p) => `column ${p.column} should be a ${p.expected} but is ${p.found}`).join('; ');
}

function located(file: string, where: RowLocation, detail: string): InputError {
  return new InputError(
    file,
    where.line,
    where.label && where.line === undefined ? `${where.label}: ${detail}` : detail,
  );
}

/**
 * Reads one table file, calling `onRow` with every typed row that may matter to the
 * rule: all parsed rows without cell problems (the consumer, e.g. `ParityDetection.add`,
 * applies the table's filters itself), and none with a problem (those are errors
 * when `ParityDetection.isRelevant`, and ignored otherwise).
 */
export function readTableFile<T extends TableName>(
  file: TableFile & { table: T },
  onRow: (row: TableRows[T]) => void,
  options: ReadTableOptions = {},
): TableReadStats {
  const { table, path, format } = file;
  const mode = options.mode ?? 'parity';
  const prefilter = (options.prefilter ?? true) && prefilterIsSound(table, mode);
  const isRelevant = mode === 'corrected' ? CorrectedDetection.isRelevant : ParityDetection.isRelevant;
  let rowsParsed = 0;
  let unseen = [...ALL_RULE_COLUMNS];
  let firstRowColumns: string[] | undefined;
  let first: string | undefined;
  let last: string | undefined;
  const sink = (raw: RawRow, where: () => RowLocation): void => {
    rowsParsed++;
    firstRowColumns ??= Object.keys(raw).slice(0, 20);
    if (unseen.length > 0) unseen = unseen.filter((name) => !(name in raw));
    const { row, problems } = coerceRow(table, raw);
    const t = row.TimeGenerated;
    if (t !== null) {
      // Canonical 7-digit text: ordered as text.
      if (first === undefined || t < first) first = t;
      if (last === undefined || t > last) last = t;
    }
    if (problems.length > 0) {
      // A bad cell matters only in a row the rule keeps; elsewhere it is ignored.
      if (!isRelevant(table, row)) return;
      throw located(path, where(), `${problemText(problems)}; fix the cell or export the table again`);
    }
    onRow(row);
  };

  let rowsRead = 0;
  try {
    if (!options.allowEmpty && firstSignificantByte(path) === undefined)
      throw new InputError(
        path,
        undefined,
        `is empty. If ${table} really had no rows in this window, pass --allow-empty; otherwise export it again`,
      );

    switch (format) {
      case 'ndjson':
        rowsRead = readNdjsonFile(path, table, sink, { prefilter }).lines;
        break;
      case 'json':
        rowsRead = readJsonFile(path, table, sink, { prefilter }).rows;
        break;
      case 'csv':
        rowsRead = readCsvFile(path, DATETIME_COLUMNS[table], sink, { prefilter: prefilter ? table : undefined }).rows;
        if (rowsRead === 0 && !options.allowEmpty)
          throw new InputError(
            path,
            undefined,
            `has a header but no rows. If ${table} really had no rows in this window, pass --allow-empty; otherwise export it again`,
          );
        break;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code !== 'string') throw err;
    throw new InputError(path, undefined, `cannot read this file (${code}); check that it exists and is readable`);
  }
  return {
    table,
    file: path,
    format,
    rowsRead,
    rowsParsed,
    ruleColumnsSeen: ALL_RULE_COLUMNS.filter((name) => !unseen.includes(name)),
    firstRowColumns: firstRowColumns ?? [],
    timeSpan: first !== undefined && last !== undefined ? { first, last } : null,
  };
}

/**
 * Whether the byte pre-filter (./prefilter, built on parity's row filters) drops only
 * rows `mode` cannot use: in parity mode for the rule's three tables; in corrected mode
 * for AzureActivity only (see the module comment).
 */
export function prefilterIsSound(table: TableName, mode: DetectionMode): boolean {
  if (mode === 'corrected') return table === 'AzureActivity';
  return table !== 'DeviceProcessEvents';
}

/** A table file that cannot be the table it is named for: a column the rule reads never appears in it. */
export interface TableShapeProblem {
  table: TableName;
  file: string;
  missing: string[];
  /** Another of the three tables whose columns the file has: the files were swapped or misnamed. */
  looksLike?: TableName;
  firstRowColumns: string[];
}

/**
 * The columns the rule reads of `stats.table` that appear in no row of its file (KQL
 * would not compile the rule against such a table). With the pre-filter on, only the
 * rows it let through were looked at: `rescan` reads the whole file again, without it,
 * before a column is called missing. An empty table (no rows) has nothing to check.
 */
export function tableShapeProblem(
  file: TableFile,
  stats: TableReadStats,
  rescan: boolean,
): TableShapeProblem | undefined {
  if (stats.rowsRead === 0) return undefined;
  const missingIn = (s: TableReadStats) =>
    RULE_COLUMNS[file.table].map(([n]) => n).filter((n) => !s.ruleColumnsSeen.includes(n));
  let seen = stats;
  if (missingIn(seen).length > 0 && rescan) {
    seen = readTableFile(file, () => undefined, { prefilter: false, allowEmpty: true });
  }
  const missing = missingIn(seen);
  if (missing.length === 0) return undefined;
  const looksLike = TABLE_NAMES.find(
    (t) => t !== file.table && RULE_COLUMNS[t].every(([n]) => seen.ruleColumnsSeen.includes(n)),
  );
  return {
    table: file.table,
    file: file.path,
    missing,
    ...(looksLike ? { looksLike } : {}),
    firstRowColumns: seen.firstRowColumns,
  };
}

/** The input error for a shape problem: names the file, the missing columns and what the file seems to be. */
export function tableShapeError(problem: TableShapeProblem): InputError {
  const { table, missing, looksLike, firstRowColumns } = problem;
  const columns = missing.length === 1 ? `column ${missing[0]}` : `columns ${missing.join(', ')}`;
  const instead = looksLike
    ? ` Its columns are those of ${looksLike}: is it the ${looksLike} export under ${table}'s name (files swapped)?`
    : firstRowColumns.length === 0
      ? ''
      : missing.length === RULE_COLUMNS[table].length
        ? ` Its rows have ${firstRowColumns.join(', ')}: is it an export of ${table} at all?`
        : ` (its first row has ${firstRowColumns.join(', ')}.)`;
  return new InputError(
    problem.file,
    undefined,
    `has no ${columns}, which the rule reads from ${table} (KQL would not compile the rule against this table).` +
      `${instead} Export ${table} again with all its columns (${RULE_COLUMNS[table].map(([n]) => n).join(', ')}).`,
  );
}

const DATETIME_COLUMNS = Object.fromEntries(
  CORRECTED_TABLE_NAMES.map((t) => [
    t,
    new Set(RULE_COLUMNS[t].filter(([, type]) => type === 'datetime').map(([n]) => n)),
  ]),
) as unknown as Record<TableName, ReadonlySet<string>>;

/** Something that takes the rows of the three tables, such as `ParityDetection`. */
export interface RowConsumer {
  add<T extends TableName>(table: T, row: TableRows[T]): void;
}

/**
 * Reads the table files of `dir` into `consumer` (AzureActivity, DeviceFileEvents,
 * DeviceEvents, in that order, then in corrected mode DeviceProcessEvents if its file
 * is there) and returns what was read from each.
 */
export function readTableDirectory(
  dir: string,
  consumer: RowConsumer,
  options: ReadTableOptions = {},
): TableReadStats[] {
  const files = locateTableFiles(dir, options.mode);
  const stats = TABLE_NAMES.map((table) =>
    readTableFile<RuleTableName>(files[table], (row) => consumer.add(table, row), options),
  );
  const processes = files.DeviceProcessEvents;
  if (processes && options.mode === 'corrected')
    stats.push(readTableFile(processes, (row) => consumer.add('DeviceProcessEvents', row), options));
  return stats;
}
