/**
 * What every reader hands on: one row as a plain object of column name → JSON value
 * (or CSV text), before any typing, and a way to name where it is in its file.
 */
export type RawRow = Record<string, unknown>;

/** Where a row is: its 1-based line, and/or a label such as "row 12 of the response". */
export interface RowLocation {
  line?: number;
  label?: string;
}

/** `where()` computes the row's location on demand (for error messages only). */
export type RawRowSink = (raw: RawRow, where: () => RowLocation) => void;
