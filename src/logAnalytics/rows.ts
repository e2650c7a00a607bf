/**
 * Turns the cells of one query-result table into engine rows.
 *
 * The query (./queries) projects `TimeGenerated` and `AdditionalFields` as text; here
 * `TimeGenerated` is read with `parseKqlDateTime` into canonical 7-digit text, so no
 * tick is lost, and every other column is typed as `RULE_COLUMNS` says.
 */
import type { LogsTable } from '@azure/monitor-query-logs';
import { parseKqlDateTime } from '../detection/datetime';
import { RULE_COLUMNS, type TableName, type TableRows } from '../detection/schema';

export class UnexpectedResultShapeError extends Error {
  override readonly name = 'UnexpectedResultShapeError';
}

/** Column name → cell, for one row, in the shape the NDJSON exports have. */
export type RawRow = Record<string, unknown>;

/** Reads a result table into raw rows keyed by column name (checks the columns are the ones asked for). */
export function rawRowsOf(table: TableName, result: LogsTable): RawRow[] {
  const names = result.columnDescriptors.map((c) => c.name ?? '');
  for (const [name] of RULE_COLUMNS[table]) {
    if (!names.includes(name)) {
      throw new UnexpectedResultShapeError(
        `The ${table} result has no column '${name}' (columns: ${names.join(', ')}).`,
      );
    }
  }
  return result.rows.map((cells) => {
    const raw: RawRow = {};
    names.forEach((n, i) => (raw[n] = cells[i]));
    return raw;
  });
}

function asString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) throw new UnexpectedResultShapeError('a datetime arrived as a Date: ticks were lost');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function asLong(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** One raw row as the engine's typed row of `table`. */
export function typedRow<T extends TableName>(table: T, raw: RawRow): TableRows[T] {
  const row: Record<string, unknown> = {};
  for (const [name, type] of RULE_COLUMNS[table]) {
    const v = raw[name];
    switch (type) {
      case 'datetime': {
        const text = asString(v);
        row[name] = text === '' ? null : parseKqlDateTime(text);
        if (text !== '' && row[name] === null) {
          throw new UnexpectedResultShapeError(`${table}.${name}: '${text}' is not a datetime`);
        }
        break;
      }
      case 'long':
      case 'int':
      case 'real':
        row[name] = asLong(v);
        break;
      case 'dynamic':
        row[name] = v === undefined || v === '' ? null : v;
        break;
      default:
        row[name] = asString(v);
    }
  }
  return row as unknown as TableRows[T];
}
