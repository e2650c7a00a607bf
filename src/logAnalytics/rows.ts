/**
 * Turns the cells of one query-result table into engine rows.
 *
 * The query (./queries) projects `TimeGenerated` and `AdditionalFields` as text; here
 * `TimeGenerated` is read into canonical 7-digit text (`parseKqlDateTime`), so no tick
 * is lost, and every other column is typed as `RULE_COLUMNS` says.
 */
import { AppError } from '../shared/errors';
import type { LogsTable } from '@azure/monitor-query-logs';
import { coerceRow } from '../detection/rows';
import { RULE_COLUMNS, requiredColumnNames, type TableName, type TableRows } from '../detection/schema';

export class UnexpectedResultShapeError extends AppError {}

/** Column name → cell, for one row, in the shape the NDJSON exports have. */
export type RawRow = Record<string, unknown>;

/**
 * The column names of a result table, checked to be the ones asked for: each name once
 * (a duplicated name would let the last copy win) and every column the rule reads.
 */
export function columnNamesOf(table: TableName, result: LogsTable): string[] {
  const names = result.columnDescriptors.map((c) => c.name ?? '');
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      throw new UnexpectedResultShapeError(
        `The ${table} result has the column '${name}' more than once (columns: ${names.join(', ')}).`,
      );
    }
    seen.add(name);
  }
  // An optional column (SHA256, FolderPath) may be absent: its cells are read as empty.
  for (const name of requiredColumnNames(table)) {
    if (!names.includes(name)) {
      throw new UnexpectedResultShapeError(
        `The ${table} result has no column '${name}' (columns: ${names.join(', ')}).`,
      );
    }
  }
  return names;
}

/** One row's cells keyed by the column names of {@link columnNamesOf}. */
export function rawRowOf(names: readonly string[], cells: readonly unknown[]): RawRow {
  const raw: RawRow = {};
  for (let i = 0; i < names.length; i++) raw[names[i]!] = cells[i];
  return raw;
}

/** Reads a result table into raw rows keyed by column name (checks the columns are the ones asked for). */
export function rawRowsOf(table: TableName, result: LogsTable): RawRow[] {
  const names = columnNamesOf(table, result);
  return result.rows.map((cells) => rawRowOf(names, cells));
}

/**
 * One raw row as the engine's typed row of `table` (the engine's `coerceRow`: the same
 * typing the file readers use, so `run` and `detect` see identical rows). A cell of
 * the wrong type means the answer is not what the query asked for: an error.
 */
export function typedRow<T extends TableName>(table: T, raw: RawRow): TableRows[T] {
  for (const [name, type] of RULE_COLUMNS[table]) {
    // `tostring` of a null dynamic is "": read it back as null (the rule reads both alike).
    if (type === 'dynamic' && raw[name] === '') raw[name] = null;
  }
  const { row, problems } = coerceRow(table, raw);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new UnexpectedResultShapeError(`${table}.${p.column}: expected ${p.expected}, found ${p.found}`);
  }
  return row;
}
