/**
 * Turns one parsed input record (an NDJSON object, a JSON array element, a query API
 * row mapped to its column names, or CSV text cells) into the typed row the engine
 * reads, the way KQL would see the cell (`docs/kql-semantics.md`, "Values" and
 * "Input tables"). Never throws: a cell of the wrong type becomes the column's empty
 * value and is listed as a {@link CellProblem}, so a reader can report `file:line`.
 */
import { parseKqlDateTime, type KqlDateTime } from './datetime';
import { CORRECTED_TABLE_NAMES, RULE_COLUMNS, type KqlColumnType, type TableName, type TableRows } from './schema';

export { RULE_COLUMNS, TABLE_NAMES } from './schema';
export type { KqlColumnType, TableName, TableRows } from './schema';

/** A cell whose value does not fit its column type. */
export interface CellProblem {
  column: string;
  expected: KqlColumnType;
  /** A short description of the value found, e.g. `"abc"` or `object {"a":1}`. */
  found: string;
}

/** The names of the columns of `table` that the rule reads. */
export function columnNames(table: TableName): string[] {
  return RULE_COLUMNS[table].map(([name]) => name);
}

const MAX_FOUND = 60;

function describe(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (Array.isArray(value)) text = 'array ' + safeJson(value);
  else if (typeof value === 'object' && value !== null) text = 'object ' + safeJson(value);
  else text = `${typeof value} ${String(value)}`;
  return text.length > MAX_FOUND ? text.slice(0, MAX_FOUND - 1) + '…' : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

type Cell = { value: unknown; ok: boolean };

/** string: null/missing → "" (KQL strings are never null); a number or bool → its text. */
function coerceString(raw: unknown): Cell {
  if (raw === null || raw === undefined) return { value: '', ok: true };
  if (typeof raw === 'string') return { value: raw, ok: true };
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return { value: String(raw), ok: true };
  }
  // An object or array in a string column: keep its compact JSON text, as tostring would.
  return { value: safeJson(raw), ok: false };
}

const INTEGER_TEXT = /^[+-]?\d+$/;

/** long/int: a whole number or its text → number; null/missing/"" → null; anything else → null + problem. */
function coerceLong(raw: unknown): Cell {
  if (raw === null || raw === undefined) return { value: null, ok: true };
  if (typeof raw === 'number') {
    return Number.isInteger(raw) ? { value: raw, ok: true } : { value: null, ok: false };
  }
  if (typeof raw === 'bigint') return { value: Number(raw), ok: true };
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') return { value: null, ok: true };
    if (INTEGER_TEXT.test(text)) return { value: Number(text), ok: true };
    // "12.0" style text of a whole number (CSV exports of a long sometimes look like this).
    const n = Number(text);
    if (Number.isInteger(n) && /^[+-]?\d+\.0*$/.test(text)) return { value: n, ok: true };
    return { value: null, ok: false };
  }
  return { value: null, ok: false };
}

/** real: a finite number or its text → number. */
function coerceReal(raw: unknown): Cell {
  if (raw === null || raw === undefined) return { value: null, ok: true };
  if (typeof raw === 'number') return Number.isFinite(raw) ? { value: raw, ok: true } : { value: null, ok: false };
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') return { value: null, ok: true };
    const n = Number(text);
    return Number.isFinite(n) ? { value: n, ok: true } : { value: null, ok: false };
  }
  return { value: null, ok: false };
}

/** datetime: ISO 8601 text → canonical 7-digit text; null/missing/"" → null; anything else → null + problem. */
function coerceDateTime(raw: unknown): Cell {
  if (raw === null || raw === undefined) return { value: null, ok: true };
  if (typeof raw !== 'string') return { value: null, ok: false };
  if (raw.trim() === '') return { value: null, ok: true };
  const dt: KqlDateTime | null = dateTimeOf(raw);
  return dt === null ? { value: null, ok: false } : { value: dt, ok: true };
}

const FRACTION_ZEROS = '0000000';

function digitsAt(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function numberAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * `parseKqlDateTime`, with a fast path for the UTC form every export uses
 * (`2026-11-25T04:13:54.314Z`, 0 to 7 fractional digits, years 1900 to 9999): the
 * same result, read with char codes and no Date. Text already canonical is returned
 * as is. Anything else goes to `parseKqlDateTime`.
 */
export function dateTimeOf(text: string): KqlDateTime | null {
  const n = text.length;
  if (
    n >= 20 &&
    n <= 28 &&
    n !== 21 &&
    text.charCodeAt(n - 1) === 90 && // Z
    text.charCodeAt(4) === 45 && // -
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 && // T
    text.charCodeAt(13) === 58 && // :
    text.charCodeAt(16) === 58 &&
    (n === 20 || text.charCodeAt(19) === 46) && // .
    digitsAt(text, 0, 4) &&
    digitsAt(text, 5, 7) &&
    digitsAt(text, 8, 10) &&
    digitsAt(text, 11, 13) &&
    digitsAt(text, 14, 16) &&
    digitsAt(text, 17, 19) &&
    digitsAt(text, 20, n - 1)
  ) {
    const year = numberAt(text, 0, 4);
    const month = numberAt(text, 5, 7);
    const day = numberAt(text, 8, 10);
    if (year >= 1900) {
      const valid =
        month >= 1 &&
        month <= 12 &&
        day >= 1 &&
        day <= daysInMonth(year, month) &&
        numberAt(text, 11, 13) <= 23 &&
        numberAt(text, 14, 16) <= 59 &&
        numberAt(text, 17, 19) <= 59;
      if (!valid) return null;
      if (n === 28) return text;
      if (n === 20) return text.slice(0, 19) + '.' + FRACTION_ZEROS + 'Z';
      return text.slice(0, n - 1) + FRACTION_ZEROS.slice(n - 21) + 'Z';
    }
  }
  return parseKqlDateTime(text);
}

function coerceBool(raw: unknown): Cell {
  if (raw === null || raw === undefined) return { value: null, ok: true };
  if (typeof raw === 'boolean') return { value: raw, ok: true };
  if (raw === 'true' || raw === 'True' || raw === 1 || raw === '1') return { value: true, ok: true };
  if (raw === 'false' || raw === 'False' || raw === 0 || raw === '0') return { value: false, ok: true };
  return { value: null, ok: false };
}

/** Coerces one cell to a KQL column type. */
export function coerceCell(type: KqlColumnType, raw: unknown): { value: unknown; ok: boolean } {
  switch (type) {
    case 'string':
    case 'guid':
      return coerceString(raw);
    case 'long':
    case 'int':
      return coerceLong(raw);
    case 'real':
      return coerceReal(raw);
    case 'datetime':
      return coerceDateTime(raw);
    case 'bool':
      return coerceBool(raw);
    case 'dynamic':
      // dynamic: passed through as-is (an object, or the JSON text of one); missing → null.
      return { value: raw === undefined ? null : raw, ok: true };
  }
}

/**
 * The typed row of `table` for one parsed record, column by column as RULE_COLUMNS
 * declares them. Columns the rule does not read are ignored; missing columns take the
 * empty value of their type. Never throws.
 */
export function coerceRow<T extends TableName>(
  table: T,
  raw: Record<string, unknown>,
): { row: TableRows[T]; problems: CellProblem[] } {
  const problems: CellProblem[] = [];
  const coerce = COERCERS[table];
  if (!coerce) throw new TypeError(`unknown table ${String(table)}`);
  const row = coerce(raw, problems, READER_OF_TYPE);
  return { row: row as TableRows[T], problems };
}

type ColumnReader = (raw: Record<string, unknown>, column: string, problems: CellProblem[]) => unknown;

/** The reader of each KQL type: the common cases without a detour through `coerceCell`. */
const READER_OF_TYPE: Record<KqlColumnType, ColumnReader> = {
  string: (raw, column, problems) => str(raw, column, problems),
  datetime: (raw, column, problems) => datetime(raw, column, problems),
  long: (raw, column, problems) => long(raw, column, problems),
  dynamic: (raw, column) => dynamic(raw, column),
  real: (raw, column, problems) => cellOf(raw, column, 'real', problems),
  int: (raw, column, problems) => cellOf(raw, column, 'int', problems),
  bool: (raw, column, problems) => cellOf(raw, column, 'bool', problems),
  guid: (raw, column, problems) => cellOf(raw, column, 'guid', problems),
};

type TableCoercer = (
  raw: Record<string, unknown>,
  problems: CellProblem[],
  readers: Record<KqlColumnType, ColumnReader>,
) => Record<string, unknown>;

/**
 * Each table's coercer, written out from RULE_COLUMNS once at load: one object literal
 * per row, `{ TimeGenerated: readers.datetime(raw, "TimeGenerated", problems), … }`.
 * A literal gives every row of a table one shape and costs a third of a loop over the
 * columns (0.4 µs against 1.5 µs a DeviceFileEvents row, measured on this machine). Only
 * the constant column names and types of RULE_COLUMNS go into the text (each checked to
 * be an identifier); no input data does.
 */
const COERCERS = Object.fromEntries(
  CORRECTED_TABLE_NAMES.map((table): [TableName, TableCoercer] => {
    const cells = RULE_COLUMNS[table].map(([column, type]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(column) || !(type in READER_OF_TYPE))
        throw new TypeError(`RULE_COLUMNS.${table}: bad column ${column}: ${type}`);
      return `${column}: readers.${type}(raw, ${JSON.stringify(column)}, problems)`;
    });
    return [table, new Function('raw', 'problems', 'readers', `return { ${cells.join(', ')} };`) as TableCoercer];
  }),
) as Record<TableName, TableCoercer>;

function cellOf(raw: Record<string, unknown>, column: string, type: KqlColumnType, problems: CellProblem[]): unknown {
  const cell = raw[column];
  const { value, ok } = coerceCell(type, cell);
  if (!ok) problems.push({ column, expected: type, found: describe(cell) });
  return value;
}

function str(raw: Record<string, unknown>, column: string, problems: CellProblem[]): string {
  const cell = raw[column];
  return typeof cell === 'string' ? cell : (cellOf(raw, column, 'string', problems) as string);
}

function long(raw: Record<string, unknown>, column: string, problems: CellProblem[]): number | null {
  const cell = raw[column];
  return typeof cell === 'number' && Number.isInteger(cell)
    ? cell
    : (cellOf(raw, column, 'long', problems) as number | null);
}

function datetime(raw: Record<string, unknown>, column: string, problems: CellProblem[]): KqlDateTime | null {
  const cell = raw[column];
  if (typeof cell === 'string' && cell.length >= 20) {
    const dt = dateTimeOf(cell);
    if (dt !== null) return dt;
  }
  return cellOf(raw, column, 'datetime', problems) as KqlDateTime | null;
}

function dynamic(raw: Record<string, unknown>, column: string): unknown {
  const cell = raw[column];
  return cell === undefined ? null : cell;
}
