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
 * so in corrected mode no table is pre-filtered: even AzureActivity's needle
 * (`runcommand/a` in any case, the rule's one operation) would drop the managed
 * `runCommands/write` operations corrected mode reads (corrected/paths.ts
 * RUN_COMMAND_OPERATIONS). Every table is read whole.
 *
 * A cell of the wrong type in a row that matters (`ParityDetection.isRelevant`) is an
 * error naming file and line; in a row the rule drops anyway it is ignored, like the
 * columns the rule does not read.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
// The engine's modules themselves, not ../detection (its index, which loads the whole
// engine and the rule's text): this module is what the worker thread (./tableWorker)
// loads, and its start is part of every parallel read.
import { CorrectedDetection } from '../detection/corrected/detection';
import { ParityDetection } from '../detection/parity/detection';
import { coerceRow, type CellProblem } from '../detection/rows';
import {
  CORRECTED_TABLE_NAMES,
  RULE_COLUMNS,
  TABLE_NAMES,
  requiredColumnNames,
  tablesOfMode,
  type DetectionMode,
  type RuleTableName,
  type TableName,
  type TableRows,
} from '../detection/schema';
import { readCsvFile } from './csv';
import { InputError } from './errors';
import { fileEncoding, utf16Error } from './encoding';
import { decompressedFiles } from './gzip';
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
  /** The file the readers read: the user's file, or the decompressed copy of a gzip one. */
  path: string;
  format: TableFileFormat;
  /** gzip-compressed (named `.gz`, or starting with gzip's magic bytes): read through `openTableFiles`. */
  gzip?: boolean;
  /** The user's file when `path` is its decompressed copy: errors and statistics name this one. */
  source?: string;
}

/** `<Table>.<ext>` or `<Table>.<ext>.gz`: the table and format the name stands for, if any. */
function tableFileName(name: string): { table: string; format: TableFileFormat; gzip: boolean } | undefined {
  const gzip = name.toLowerCase().endsWith('.gz');
  const plain = gzip ? name.slice(0, -3) : name;
  const dot = plain.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const format = EXTENSIONS[plain.slice(dot).toLowerCase()];
  return format === undefined ? undefined : { table: plain.slice(0, dot), format, gzip };
}

/** The file of each table found: the rule's three always, DeviceProcessEvents when present (corrected mode). */
export type TableFiles = { [T in RuleTableName]: TableFile<T> } & {
  DeviceProcessEvents?: TableFile<'DeviceProcessEvents'>;
};

/** Tables whose file may be absent: DeviceProcessEvents (only corrected mode reads it, and only Linux runs need it). */
const OPTIONAL_TABLES: ReadonlySet<TableName> = new Set(['DeviceProcessEvents']);

function listDirectory(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory())
      throw new InputError(dir, undefined, 'is not a directory; --input takes the directory holding the table files');
    return readdirSync(dir);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(
      dir,
      undefined,
      'cannot read this directory; --input takes the directory holding the table files',
    );
  }
}

/**
 * The file of each table in `dir`: exactly one `<Table>.ndjson|.jsonl|.json|.csv`
 * (extension in any case), optionally gzip-compressed as `<Table>.<ext>.gz`. Every
 * table with none (but for an optional table: DeviceProcessEvents, which only corrected
 * mode reads and only Linux runs need), or with more than one, is reported at once, in
 * one error naming the directory. Parity mode never looks for DeviceProcessEvents.
 */
export function locateTableFiles(dir: string, mode: DetectionMode = 'parity'): TableFiles {
  const names = listDirectory(dir);
  const found: Partial<Record<TableName, TableFile>> = {};
  const missing: TableName[] = [];
  const hints: string[] = [];
  const doubled: string[] = [];
  for (const table of tablesOfMode(mode)) {
    const candidates = names.filter((name) => tableFileName(name)?.table === table);
    if (candidates.length === 0 && OPTIONAL_TABLES.has(table)) continue;
    if (candidates.length === 0) {
      const nearly = names.find((name) => name.toLowerCase().startsWith(table.toLowerCase() + '.'));
      if (nearly !== undefined) hints.push(`found ${nearly}: the name is case-sensitive, the extension one of those`);
      missing.push(table);
      continue;
    }
    if (candidates.length > 1) {
      doubled.push(`${candidates.length} files for table ${table} (${candidates.sort().join(', ')}): keep exactly one`);
      continue;
    }
    const name = candidates[0];
    const { format, gzip } = tableFileName(name)!;
    found[table] = { table, path: join(dir, name), format, ...(gzip ? { gzip } : {}) };
  }
  const problems: string[] = [];
  if (missing.length > 0) {
    const one = missing.length === 1;
    problems.push(
      `no file${one ? '' : 's'} for table${one ? '' : 's'} ${missing.join(', ')}: expected ${one ? missing[0] : '<Table>'}.ndjson, ` +
        `.jsonl, .json or .csv (optionally .gz) in this directory${one ? '' : ' for each'}` +
        (hints.length > 0 ? ` (${hints.join('; ')})` : ''),
    );
  }
  problems.push(...doubled);
  if (problems.length > 0) throw new InputError(dir, undefined, problems.join('; '));
  return found as TableFiles;
}

/** The table files of a directory, ready for the readers, and what to clean up after. */
export interface OpenedTableFiles {
  files: TableFiles;
  /** Removes the decompressed copies of gzip files (call when the reading is done). */
  close(): void;
}

/**
 * `locateTableFiles`, then each gzip file (named `.gz`, or starting with gzip's magic
 * bytes) streamed into a temporary decompressed copy (./gzip) that the readers read as
 * any other file; errors still name the user's file.
 */
export async function openTableFiles(dir: string, mode: DetectionMode = 'parity'): Promise<OpenedTableFiles> {
  const located = locateTableFiles(dir, mode);
  const copies = decompressedFiles();
  const files: Partial<Record<TableName, TableFile>> = {};
  try {
    for (const file of Object.values(located) as TableFile[]) {
      const table = file.table;
      if (!file.gzip && !startsWithGzipMagic(file.path)) {
        files[table] = file;
        continue;
      }
      const name = `${table}${Object.keys(EXTENSIONS).find((e) => EXTENSIONS[e] === file.format)}`;
      files[table] = { ...file, gzip: true, source: file.path, path: await copies.gunzip(file.path, name) };
    }
  } catch (err) {
    copies.remove();
    throw err;
  }
  return { files: files as TableFiles, close: () => copies.remove() };
}

/** Whether the file starts with gzip's magic bytes (a file that cannot be read is left to the readers to report). */
function startsWithGzipMagic(path: string): boolean {
  try {
    return fileEncoding(path) === 'gzip';
  } catch {
    return false;
  }
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
  /**
   * The columns the rule reads that appear in at least one parsed row: when every
   * column the rule reads of this table appears, exactly those (`tableShapeProblem`
   * then has nothing to say); otherwise every column the rule reads, of any table,
   * that appears (to say which table the file looks like). So once a file's rows have
   * shown all of its table's columns, the rows after them are not looked at for
   * columns any more (on the 1 GB bench days that was 15 to 20 `in` tests a parsed row).
   */
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
  if (file.source === undefined) return readPlainTableFile(file, onRow, options);
  // A decompressed copy: what is said of it is said of the user's file.
  const source = file.source;
  try {
    return { ...readPlainTableFile(file, onRow, options), file: source };
  } catch (err) {
    if (err instanceof InputError && err.file === file.path)
      throw new InputError(source, err.line, err.detail.split(file.path).join(source));
    throw err;
  }
}

/** Refuses what the readers cannot read: UTF-16 text, and gzip not decompressed by `openTableFiles`. */
function checkEncoding(path: string, shownAs: string): void {
  const encoding = fileEncoding(path);
  if (encoding === 'utf-16le' || encoding === 'utf-16be') throw utf16Error(shownAs, encoding);
  if (encoding === 'gzip')
    throw new InputError(
      shownAs,
      undefined,
      'is gzip-compressed: read it through openTableFiles (as detect does), or decompress it first',
    );
}

function readPlainTableFile<T extends TableName>(
  file: TableFile & { table: T },
  onRow: (row: TableRows[T]) => void,
  options: ReadTableOptions,
): TableReadStats {
  const { table, path, format } = file;
  const mode = options.mode ?? 'parity';
  const prefilter = (options.prefilter ?? true) && prefilterIsSound(table, mode);
  const isRelevant = mode === 'corrected' ? CorrectedDetection.isRelevant : ParityDetection.isRelevant;
  let rowsParsed = 0;
  let unseen = [...ALL_RULE_COLUMNS];
  const own = requiredColumnNames(table);
  let ownUnseen = own.length > 0;
  let firstRowColumns: string[] | undefined;
  let first: string | undefined;
  let last: string | undefined;
  const sink = (raw: RawRow, where: () => RowLocation): void => {
    rowsParsed++;
    firstRowColumns ??= Object.keys(raw).slice(0, 20);
    if (ownUnseen) {
      unseen = unseen.filter((name) => !(name in raw));
      ownUnseen = own.some((name) => unseen.includes(name));
    }
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
    checkEncoding(path, file.source ?? path);
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
    ruleColumnsSeen: ownUnseen ? ALL_RULE_COLUMNS.filter((name) => !unseen.includes(name)) : own,
    firstRowColumns: firstRowColumns ?? [],
    timeSpan: first !== undefined && last !== undefined ? { first, last } : null,
  };
}

/**
 * Whether the byte pre-filter (./prefilter, built on parity's row filters) drops only
 * rows `mode` cannot use: in parity mode for the rule's three tables; in corrected mode
 * for none (see the module comment).
 */
export function prefilterIsSound(table: TableName, mode: DetectionMode): boolean {
  if (mode === 'corrected') return false;
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
 * would not compile the rule against such a table). Optional columns (RULE_COLUMNS'
 * OPTIONAL: SHA256, FolderPath) are not asked for: a file without them is read. With the pre-filter on, only the
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
    requiredColumnNames(file.table).filter((n) => !s.ruleColumnsSeen.includes(n));
  let seen = stats;
  if (missingIn(seen).length > 0 && rescan) {
    seen = readTableFile(file, () => undefined, { prefilter: false, allowEmpty: true });
  }
  const missing = missingIn(seen);
  if (missing.length === 0) return undefined;
  const looksLike = TABLE_NAMES.find(
    (t) => t !== file.table && requiredColumnNames(t).every((n) => seen.ruleColumnsSeen.includes(n)),
  );
  return {
    table: file.table,
    file: file.source ?? file.path,
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
      : missing.length === requiredColumnNames(table).length
        ? ` Its rows have ${firstRowColumns.join(', ')}: is it an export of ${table} at all?`
        : ` (its first row has ${firstRowColumns.join(', ')}.)`;
  return new InputError(
    problem.file,
    undefined,
    `has no ${columns}, which the rule reads from ${table} (KQL would not compile the rule against this table).` +
      `${instead} Export ${table} again with all its columns (${requiredColumnNames(table).join(', ')}).`,
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
  dir: string | TableFiles,
  consumer: RowConsumer,
  options: ReadTableOptions = {},
): TableReadStats[] {
  const files = typeof dir === 'string' ? locateTableFiles(dir, options.mode) : dir;
  const stats = TABLE_NAMES.map((table) =>
    readTableFile<RuleTableName>(files[table], (row) => consumer.add(table, row), options),
  );
  const processes = files.DeviceProcessEvents;
  if (processes && options.mode === 'corrected')
    stats.push(readTableFile(processes, (row) => consumer.add('DeviceProcessEvents', row), options));
  return stats;
}
