/**
 * The one reader of table files, for every caller (`detect`, the demo, the bench, and
 * whatever reads back what `export` wrote): finds `DIR/<Table>.<ext>` for the three
 * tables the rule reads, reads each in its format, and types each row as KQL would
 * (`coerceRow`). Rows the byte pre-filter (./prefilter) proves irrelevant are dropped
 * unparsed; the others are handed on, and the consumer (`ParityDetection.add`)
 * applies the table's own filters.
 *
 * A cell of the wrong type in a row that matters (`ParityDetection.isRelevant`) is an
 * error naming file and line; in a row the rule drops anyway it is ignored, like the
 * columns the rule does not read.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { coerceRow, ParityDetection, type CellProblem } from '../detection';
import { RULE_COLUMNS, TABLE_NAMES, type TableName, type TableRows } from '../detection/schema';
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

export interface TableFile {
  table: TableName;
  path: string;
  format: TableFileFormat;
}

/**
 * The file of each table in `dir`: exactly one `<Table>.ndjson|.jsonl|.json|.csv`
 * (extension in any case). None, or more than one, is an error naming the directory.
 */
export function locateTableFiles(dir: string): Record<TableName, TableFile> {
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
  for (const table of TABLE_NAMES) {
    const candidates = names.filter((name) => {
      const dot = name.lastIndexOf('.');
      return dot > 0 && name.slice(0, dot) === table && name.slice(dot).toLowerCase() in EXTENSIONS;
    });
    const expected = `${table}.ndjson, .jsonl, .json or .csv`;
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
  return found;
}

export interface ReadTableOptions {
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
}

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
  const prefilter = options.prefilter ?? true;
  let rowsParsed = 0;
  const sink = (raw: RawRow, where: () => RowLocation): void => {
    rowsParsed++;
    const { row, problems } = coerceRow(table, raw);
    if (problems.length > 0) {
      // A bad cell matters only in a row the rule keeps; elsewhere it is ignored.
      if (!ParityDetection.isRelevant(table, row)) return;
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
  return { table, file: path, format, rowsRead, rowsParsed };
}

const DATETIME_COLUMNS = Object.fromEntries(
  TABLE_NAMES.map((t) => [t, new Set(RULE_COLUMNS[t].filter(([, type]) => type === 'datetime').map(([n]) => n))]),
) as unknown as Record<TableName, ReadonlySet<string>>;

/** Something that takes the rows of the three tables, such as `ParityDetection`. */
export interface RowConsumer {
  add<T extends TableName>(table: T, row: TableRows[T]): void;
}

/**
 * Reads the three table files of `dir` into `consumer` (AzureActivity, DeviceFileEvents,
 * DeviceEvents, in that order) and returns what was read from each.
 */
export function readTableDirectory(
  dir: string,
  consumer: RowConsumer,
  options: ReadTableOptions = {},
): TableReadStats[] {
  const files = locateTableFiles(dir);
  return TABLE_NAMES.map((table) => readTableFile(files[table], (row) => consumer.add(table, row), options));
}
