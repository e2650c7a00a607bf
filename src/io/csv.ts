/**
 * CSV as the Azure portal's Logs blade exports it ("Export to CSV"): a header row of
 * column names, RFC 4180 quoting (a field in double quotes may hold commas, line
 * breaks and `""` for a quote), CRLF or LF line ends, possibly a UTF-8 BOM.
 *
 * The portal's export differs from the query API in two ways we undo here:
 * - datetime columns are headed `Name [UTC]` (or `Name [Local Time]`: refused, since
 *   the offset is not in the file), and their cells are written as the portal displays
 *   them: `11/25/2026, 1:44:00.073 PM` in the en-US locale, `2026/11/25 13:44:00.073`
 *   in others, or ISO 8601. The portal keeps milliseconds only: sub-millisecond
 *   ticks are lost, which can move a file event across an operation's `between`
 *   edge. Prefer NDJSON from `runcommand-detect export` when ticks matter.
 * - dynamic cells (AdditionalFields) are JSON text; `parse_json` reads text and
 *   objects alike, so they pass through as text.
 * An empty cell is an empty string, or null in a long or datetime column.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parseKqlDateTime } from '../detection/datetime';
import { InputError, excerpt } from './errors';
import type { RawRowSink } from './rawRows';

const CHUNK = 8 << 20;

export interface CsvReadResult {
  rows: number;
}

const LOCAL_TIME = /\s*\[Local Time\]$/i;
const UTC_SUFFIX = /\s*\[UTC\]$/i;

/** en-US portal display form: M/D/YYYY, h:mm:ss[.fff] AM|PM */
const US_DATETIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?\s*([AP]M)$/i;
/** year-first display form: YYYY/M/D H:mm:ss[.fff] (24-hour) */
const YMD_DATETIME = /^(\d{4})\/(\d{1,2})\/(\d{1,2}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$/;

const two = (s: string): string => s.padStart(2, '0');

/**
 * A datetime cell of a portal CSV as ISO 8601 text (UTC), or the cell unchanged when
 * it is in no known form (the row coercion then reports it).
 */
export function portalDateTimeToIso(cell: string): string {
  const text = cell.trim();
  if (text === '' || parseKqlDateTime(text) !== null) return text;
  let m = US_DATETIME.exec(text);
  if (m) {
    const [, mo, d, y, h, mi, s = '00', frac = '', ampm] = m;
    let hour = Number(h);
    if (hour < 1 || hour > 12) return cell;
    if (ampm.toUpperCase() === 'AM') hour = hour === 12 ? 0 : hour;
    else hour = hour === 12 ? 12 : hour + 12;
    return `${y}-${two(mo)}-${two(d)}T${two(String(hour))}:${mi}:${s}${frac ? '.' + frac : ''}Z`;
  }
  m = YMD_DATETIME.exec(text);
  if (m) {
    const [, y, mo, d, h, mi, s = '00', frac = ''] = m;
    return `${y}-${two(mo)}-${two(d)}T${two(h)}:${mi}:${s}${frac ? '.' + frac : ''}Z`;
  }
  return cell;
}

/**
 * Streams the records of a CSV file. `onRecord(fields, line)` gets each record's
 * fields and the line it starts on.
 */
export function forEachCsvRecord(
  file: string,
  onRecord: (fields: string[], line: number) => void,
  chunkBytes = CHUNK,
): void {
  const fd = openSync(file, 'r');
  const decoder = new StringDecoder('utf8');
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let quoteSeen = false; // just read a '"' inside quotes: either the closing quote or the first of '""'
  let line = 1;
  let recordLine = 1;
  let first = true;
  let fieldHasData = false;
  const endField = (): void => {
    fields.push(field);
    field = '';
    fieldHasData = false;
  };
  const endRecord = (): void => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) onRecord(fields, recordLine);
    fields = [];
  };
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let n: number;
    while ((n = readSync(fd, buf, 0, chunkBytes, null)) > 0) {
      let text = decoder.write(buf.subarray(0, n));
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let runStart = 0; // start of plain characters not yet appended to `field`
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (inQuotes) {
          if (quoteSeen) {
            quoteSeen = false;
            if (c === 0x22) {
              runStart = i; // '""' → one '"': keep this second quote as data
              continue;
            }
            inQuotes = false; // that was the closing quote; handle c below
          } else {
            if (c === 0x22) {
              field += text.slice(runStart, i);
              quoteSeen = true;
              runStart = i + 1;
            } else if (c === 0x0a) line++;
            continue;
          }
        }
        if (c === 0x2c /* , */) {
          field += text.slice(runStart, i);
          endField();
          runStart = i + 1;
        } else if (c === 0x0a) {
          field += text.slice(runStart, i);
          if (field.endsWith('\r')) field = field.slice(0, -1);
          endRecord();
          line++;
          recordLine = line;
          runStart = i + 1;
        } else if (c === 0x22) {
          if (fieldHasData || field !== '' || i > runStart)
            throw new InputError(
              file,
              line,
              'a double quote inside an unquoted field; quote the whole field and double the quote ("a ""b"" c")',
            );
          inQuotes = true;
          fieldHasData = true;
          runStart = i + 1;
        }
      }
      field += text.slice(runStart);
    }
    field += decoder.end();
    if (inQuotes && !quoteSeen)
      throw new InputError(
        file,
        recordLine,
        'a quoted field is never closed: the file looks cut off or a quote is missing; export the table again',
      );
    if (field !== '' || fields.length > 0 || fieldHasData) {
      let last = field;
      if (last.endsWith('\r')) last = last.slice(0, -1);
      field = last;
      endRecord();
    }
  } finally {
    closeSync(fd);
  }
}

export function readCsvFile(
  file: string,
  datetimeColumns: ReadonlySet<string>,
  onRow: RawRowSink,
  chunkBytes = CHUNK,
): CsvReadResult {
  let header: string[] | undefined;
  let isDateTime: boolean[] = [];
  let rows = 0;
  forEachCsvRecord(
    file,
    (fields, line) => {
      if (!header) {
        header = fields.map((name) => {
          const trimmed = name.trim();
          if (LOCAL_TIME.test(trimmed))
            throw new InputError(
              file,
              line,
              `column ${excerpt(trimmed)} is in local time; set the portal's time zone to UTC and export again`,
            );
          return trimmed.replace(UTC_SUFFIX, '');
        });
        isDateTime = header.map((name) => datetimeColumns.has(name));
        return;
      }
      rows++;
      if (fields.length !== header.length)
        throw new InputError(
          file,
          line,
          `record has ${fields.length} fields but the header has ${header.length}; ` +
            'a field with a comma, quote or line break must be in double quotes',
        );
      const raw: Record<string, unknown> = {};
      for (let c = 0; c < header.length; c++)
        raw[header[c]] = isDateTime[c] ? portalDateTimeToIso(fields[c]) : fields[c];
      onRow(raw, () => ({ line }));
    },
    chunkBytes,
  );
  if (!header) return { rows: 0 };
  return { rows };
}
