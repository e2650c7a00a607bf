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
  const dt: KqlDateTime | null = parseKqlDateTime(raw);
  return dt === null ? { value: null, ok: false } : { value: dt, ok: true };
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
  const row: Record<string, unknown> = {};
  const problems: CellProblem[] = [];
  for (const [column, type] of RULE_COLUMNS[table]) {
    const cell = raw[column];
    const { value, ok } = coerceCell(type, cell);
    row[column] = value;
    if (!ok) problems.push({ column, expected: type, found: describe(cell) });
  }
  return { row: row as unknown as TableRows[T], problems };
}
