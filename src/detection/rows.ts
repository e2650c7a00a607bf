/**
 * Turns one parsed input record (an NDJSON object, a JSON array element, a query API
 * row mapped to its column names, or CSV text cells) into the typed row the engine
 * reads, the way KQL would see the cell (`docs/kql-semantics.md`, "Values" and
 * "Input tables"). Never throws: a cell of the wrong type becomes the column's empty
 * value and is listed as a {@link CellProblem}, so a reader can report `file:line`.
 */
import { parseKqlDateTime, type KqlDateTime } from './datetime';
import { RULE_COLUMNS, type KqlColumnType, type TableName, type TableRows } from './schema';

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
 * The typed row of `table` for one parsed record. Columns the rule does not read are
 * ignored; missing columns take the empty value of their type. Never throws.
 */
export function coerceRow<T extends TableName>(
  table: T,
  raw: Record<string, unknown>,
): { row: TableRows[T]; problems: CellProblem[] } {
  const problems: CellProblem[] = [];
  let row: TableRows[TableName];
  switch (table as TableName) {
    case 'AzureActivity':
      row = coerceAzureActivity(raw, problems);
      break;
    case 'DeviceFileEvents':
      row = coerceDeviceFileEvents(raw, problems);
      break;
    case 'DeviceEvents':
      row = coerceDeviceEvents(raw, problems);
      break;
    default:
      row = coerceGeneric(table, raw, problems) as never;
  }
  return { row: row as TableRows[T], problems };
}

/** Any table, column by column from RULE_COLUMNS (the specialised coercers below do the same, faster). */
function coerceGeneric(table: TableName, raw: Record<string, unknown>, problems: CellProblem[]): unknown {
  const row: Record<string, unknown> = {};
  for (const [column, type] of RULE_COLUMNS[table] ?? []) row[column] = cellOf(raw, column, type, problems);
  return row;
}

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

function coerceAzureActivity(raw: Record<string, unknown>, problems: CellProblem[]): TableRows['AzureActivity'] {
  return {
    TimeGenerated: datetime(raw, 'TimeGenerated', problems),
    OperationNameValue: str(raw, 'OperationNameValue', problems),
    Authorization: str(raw, 'Authorization', problems),
    CorrelationId: str(raw, 'CorrelationId', problems),
    Caller: str(raw, 'Caller', problems),
    CallerIpAddress: str(raw, 'CallerIpAddress', problems),
    ActivityStatusValue: str(raw, 'ActivityStatusValue', problems),
  };
}

function coerceDeviceFileEvents(raw: Record<string, unknown>, problems: CellProblem[]): TableRows['DeviceFileEvents'] {
  return {
    TimeGenerated: datetime(raw, 'TimeGenerated', problems),
    DeviceName: str(raw, 'DeviceName', problems),
    InitiatingProcessFileName: str(raw, 'InitiatingProcessFileName', problems),
    FileName: str(raw, 'FileName', problems),
    FileSize: long(raw, 'FileSize', problems),
    InitiatingProcessAccountName: str(raw, 'InitiatingProcessAccountName', problems),
    InitiatingProcessAccountDomain: str(raw, 'InitiatingProcessAccountDomain', problems),
    InitiatingProcessFolderPath: str(raw, 'InitiatingProcessFolderPath', problems),
    InitiatingProcessId: long(raw, 'InitiatingProcessId', problems),
  };
}

function coerceDeviceEvents(raw: Record<string, unknown>, problems: CellProblem[]): TableRows['DeviceEvents'] {
  return {
    TimeGenerated: datetime(raw, 'TimeGenerated', problems),
    DeviceName: str(raw, 'DeviceName', problems),
    InitiatingProcessCommandLine: str(raw, 'InitiatingProcessCommandLine', problems),
    AdditionalFields: dynamic(raw, 'AdditionalFields'),
  };
}
