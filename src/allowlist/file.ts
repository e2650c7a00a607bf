/**
 * The allowlist from a CSV file: the file a SOC uploads as the watchlist (a header row
 * with Kind, Value, Reason and, optionally, Expires; other columns are ignored), for
 * `runcommand-detect allowlist --file`. Rows are named by their line.
 */
import { basename } from 'node:path';
import { forEachCsvRecord } from '../io/csv';
import { InputError } from '../io/errors';
import { ALLOWLIST_COLUMNS, parseAllowlist, type Allowlist, type AllowlistRow } from './allowlist';

/** Reads `file`; a missing column or an unreadable file is an InputError naming it, a bad row is refused. */
export function readAllowlistFile(file: string): Allowlist {
  const rows: AllowlistRow[] = [];
  let columns: Map<string, number> | undefined;
  const onRecord = (fields: string[], line: number): void => {
    if (!columns) {
      columns = new Map(fields.map((name, i) => [name.trim().toLowerCase(), i]));
      const missing = ALLOWLIST_COLUMNS.filter((c) => c !== 'Expires' && !columns!.has(c.toLowerCase()));
      if (missing.length > 0) {
        throw new InputError(
          file,
          line,
          `the header has no ${missing.join(', ')} column; an allowlist file has the columns ` +
            `${ALLOWLIST_COLUMNS.join(',')} (docs/operations.md, "Allowlist")`,
        );
      }
      return;
    }
    if (fields.every((f) => f.trim() === '')) return;
    const cell = (name: string): string => {
      const i = columns!.get(name.toLowerCase());
      return i === undefined ? '' : (fields[i] ?? '');
    };
    rows.push({
      where: `${basename(file)} line ${line}`,
      Kind: cell('Kind'),
      Value: cell('Value'),
      Reason: cell('Reason'),
      Expires: cell('Expires'),
    });
  };
  try {
    forEachCsvRecord(file, onRecord);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof InputError || code === undefined) throw err;
    throw new InputError(file, undefined, `cannot read it (${code}); check the path`);
  }
  if (!columns) throw new InputError(file, 1, 'the file is empty; it needs a header row Kind,Value,Reason,Expires');
  return parseAllowlist(file, rows);
}
