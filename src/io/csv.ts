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
import { parseKqlDateTime } from '../detection/datetime';
import { InputError, excerpt } from './errors';
import type { RawRowSink } from './rawRows';
import { hitPositions } from './prefilter';
import type { TableName } from '../detection/schema';

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
 * Streams the records of a CSV file: `onRecord(fields, line)` gets each record's
 * fields and the line it starts on. Scans bytes (the structural characters `"` `,`
 * CR LF are ASCII and never occur inside a UTF-8 multi-byte character) and decodes
 * each field on its own, so no field keeps a whole chunk alive in memory.
 *
 * With `hitsOf`, a data record (not the header) is decoded only if one of the
 * positions `hitsOf(chunk)` returns falls inside it; the others are only counted.
 * Returns the number of records after the header.
 *
 * One function of about 100 lines on purpose: it is a byte-level state machine (in or
 * out of quotes, field ends, record start, line, carried partial record) whose state
 * lives in locals of one loop, which keeps the loop that sees every byte on registers;
 * split up, that state would travel through an object or closures at every byte.
 */
export function forEachCsvRecord(
  file: string,
  onRecord: (fields: string[], line: number) => void,
  chunkBytes = CHUNK,
  hitsOf?: (chunk: Buffer) => number[],
): number {
  const fd = openSync(file, 'r');
  let records = 0;
  let header = true;
  let line = 1;
  try {
    let buf = Buffer.allocUnsafe(chunkBytes);
    let filled = 0; // bytes in buf: a carried partial record, then what was read
    let fileOffset = 0; // file offset of buf[0]
    let eof = false;
    while (!eof) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const got = readSync(fd, buf, filled, buf.length - filled, null);
      if (got === 0) eof = true;
      const n = filled + got;
      const hits = hitsOf ? hitsOf(buf.subarray(0, n)) : undefined;
      let h = 0;
      let start = fileOffset === 0 && n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
      // Scan whole records from `start`; stop at the first incomplete one.
      let recordLine = line;
      let i = start;
      let inQuotes = false;
      let fieldEnds: number[] = [];
      let complete = -1; // end of the record found, or -1
      for (; i < n; i++) {
        const c = buf[i];
        if (inQuotes) {
          if (c === 0x22) {
            if (i + 1 >= n && !eof) break; // cannot tell '"' from '""' yet
            if (i + 1 < n && buf[i + 1] === 0x22) i++;
            else inQuotes = false;
          } else if (c === 0x0a) line++;
          continue;
        }
        if (c === 0x2c) fieldEnds.push(i);
        else if (c === 0x22) {
          const fieldStart = fieldEnds.length > 0 ? fieldEnds[fieldEnds.length - 1] + 1 : start;
          if (i !== fieldStart)
            throw new InputError(
              file,
              line,
              'a double quote inside an unquoted field; quote the whole field and double the quote ("a ""b"" c")',
            );
          inQuotes = true;
        } else if (c === 0x0a) complete = i;
        if (complete < 0) continue;
        // A record [start, complete): emit it, then go on after its newline.
        const end = complete > start && buf[complete - 1] === 0x0d ? complete - 1 : complete;
        let wanted = header || hits === undefined;
        if (!wanted && hits !== undefined) {
          while (h < hits.length && hits[h] < start) h++;
          wanted = h < hits.length && hits[h] < end;
        }
        if (end > start || fieldEnds.length > 0) {
          if (!header) records++;
          if (wanted) onRecord(decodeFields(file, buf, start, end, fieldEnds, recordLine), recordLine);
          header = false;
        }
        line++;
        start = complete + 1;
        recordLine = line;
        fieldEnds = [];
        complete = -1;
      }
      if (eof) {
        if (inQuotes)
          throw new InputError(
            file,
            recordLine,
            'a quoted field is never closed: the file looks cut off or a quote is missing; export the table again',
          );
        if (start < n) {
          const end = buf[n - 1] === 0x0d ? n - 1 : n;
          let wanted = header || hits === undefined;
          if (!wanted && hits !== undefined) {
            while (h < hits.length && hits[h] < start) h++;
            wanted = h < hits.length && hits[h] < end;
          }
          if (!header) records++;
          if (wanted) onRecord(decodeFields(file, buf, start, end, fieldEnds, recordLine), recordLine);
        }
        break;
      }
      // Carry the incomplete record to the front and read on; it is scanned again.
      buf.copy(buf, 0, start, n);
      fileOffset += start;
      filled = n - start;
      line = recordLine;
    }
  } finally {
    closeSync(fd);
  }
  return records;
}

/** The fields of the record `buf[start, end)`, split at `fieldEnds`, unquoted. */
function decodeFields(
  file: string,
  buf: Buffer,
  start: number,
  end: number,
  fieldEnds: readonly number[],
  line: number,
): string[] {
  const fields: string[] = [];
  let s = start;
  for (let k = 0; k <= fieldEnds.length; k++) {
    const e = k < fieldEnds.length ? fieldEnds[k] : end;
    if (buf[s] === 0x22 && e > s) {
      if (e - s < 2 || buf[e - 1] !== 0x22)
        throw new InputError(file, line, 'text after the closing quote of a field; quote the whole field');
      const text = buf.toString('utf8', s + 1, e - 1);
      fields.push(text.includes('"') ? text.replace(/""/g, '"') : text);
    } else fields.push(buf.toString('utf8', s, e));
    s = e + 1;
  }
  return fields;
}

export interface CsvReadOptions {
  chunkBytes?: number;
  /** Skip, undecoded, the records that cannot matter to the rule for this table. */
  prefilter?: TableName;
}

export function readCsvFile(
  file: string,
  datetimeColumns: ReadonlySet<string>,
  onRow: RawRowSink,
  options: CsvReadOptions = {},
): CsvReadResult {
  let header: string[] | undefined;
  let isDateTime: boolean[] = [];
  const table = options.prefilter;
  const rows = forEachCsvRecord(
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
    options.chunkBytes ?? CHUNK,
    table === undefined ? undefined : (chunk) => hitPositions(table, chunk),
  );
  return { rows };
}
