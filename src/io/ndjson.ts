/**
 * NDJSON (`.ndjson`, `.jsonl`): one JSON object a line, as `export` writes the tables
 * and as Log Analytics and Defender exports commonly arrive.
 *
 * Only the lines the byte pre-filter (./prefilter) keeps are parsed; the others are
 * skipped unread, and so unvalidated. The first line, and a last line that has no
 * closing newline, are always parsed, so that a file that is not NDJSON at all, or
 * an export cut off mid-row, is reported rather than read as fewer rows.
 */
import type { TableName } from '../detection/schema';
import { byteScanner } from './byteScan';
import { countNewlines, forEachLineChunk, lineNumberAt } from './chunks';
import { InputError, jsonExcerpt, jsonLayoutMistake, ndjsonFixHint, type JsonLayoutMistake } from './errors';
import { forEachCandidateLine } from './prefilter';
import type { RawRowSink } from './rawRows';

export interface NdjsonReadOptions {
  /** Skip lines that cannot matter to the rule without parsing them (default true). */
  prefilter?: boolean;
  /** Read size (tests use small ones to put lines across chunk boundaries). */
  chunkBytes?: number;
}

export interface NdjsonReadResult {
  /** Lines in the file (rows read, blank lines included), counted natively. */
  lines: number;
  /** Lines parsed (passed the pre-filter, or first/last). */
  parsed: number;
}

/**
 * Reads the lines of `file` that may matter to `table` (all of them without the
 * pre-filter) into `onRow`. A little over 80 lines: the per-chunk bookkeeping of which
 * lines are always parsed (the first, an unterminated last one) and of BOM and CR
 * sits in one place with the parse it decides on, rather than spread over helpers
 * sharing that state.
 */
export function readNdjsonFile(
  file: string,
  table: TableName,
  onRow: RawRowSink,
  options: NdjsonReadOptions = {},
): NdjsonReadResult {
  const prefilter = options.prefilter ?? true;
  let lines = 0;
  let parsed = 0;
  let firstDone = false;

  const parseLine = (buf: Buffer, start: number, end: number, fileOffset: number, atEnd: boolean): void => {
    if (start === 0 && fileOffset === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3; // BOM
    const text = buf.toString('utf8', start, end);
    if (text.trim() === '') return;
    parsed++;
    const line = (): number => lineNumberAt(file, fileOffset + start);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const layout = jsonLayoutMistake(text);
      if (layout) throw layoutError(file, line(), layout);
      if (atEnd)
        throw new InputError(
          file,
          line(),
          `the last line is not complete JSON (${why}); the file looks cut off: export the table again`,
        );
      throw new InputError(
        file,
        line(),
        `not valid JSON (${why}): each line must be one JSON object, e.g. {"TimeGenerated":"…",…}; fix or remove the line`,
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new InputError(
        file,
        line(),
        `expected one JSON object per line, found ${Array.isArray(value) ? 'an array' : jsonExcerpt(text)}; ` +
          'write each row as {"Column":value,…} on its own line',
      );
    onRow(value as Record<string, unknown>, () => ({ line: line() }));
  };

  forEachLineChunk(
    file,
    ({ buffer, length, fileOffset, last }) => {
      const endsWithNewline = length > 0 && buffer[length - 1] === 10;
      // Every line of the chunk ends with "\n" except perhaps the file's last line.
      const body = endsWithNewline ? length - 1 : length;
      let firstEnd = -1;
      if (!firstDone) {
        firstDone = true;
        firstEnd = buffer.indexOf(10, 0);
        if (firstEnd < 0 || firstEnd > body) firstEnd = body;
        parseLine(buffer, 0, stripCr(buffer, 0, firstEnd), fileOffset, last && firstEnd === body && !endsWithNewline);
      }
      const lastStart = last && !endsWithNewline ? buffer.lastIndexOf(10, body - 1) + 1 : -1;
      const visit = (start: number, end: number): void => {
        if (start === 0 && firstEnd >= 0) return; // the first line, already parsed
        if (start === lastStart) return; // the unterminated last line, parsed below
        parseLine(buffer, start, stripCr(buffer, start, end), fileOffset, false);
      };
      // The chunk's lines: the `\n`s of its body, and one more (the body's last line).
      if (prefilter) {
        lines += forEachCandidateLine(table, buffer.subarray(0, body), visit) + 1;
      } else {
        lines += countNewlines(buffer, body) + 1;
        let start = 0;
        while (start < body) {
          let end = buffer.indexOf(10, start);
          if (end < 0 || end > body) end = body;
          visit(start, end);
          start = end + 1;
        }
      }
      if (lastStart > 0 || (lastStart === 0 && firstEnd < 0))
        parseLine(buffer, lastStart, stripCr(buffer, lastStart, body), fileOffset, true);
    },
    options.chunkBytes,
    // Read into the scanner's memory, where the pre-filter's kernel scans the chunk in place.
    (prefilter && byteScanner()) || undefined,
  );
  return { lines, parsed };
}

function stripCr(buf: Buffer, start: number, end: number): number {
  return end > start && buf[end - 1] === 13 ? end - 1 : end;
}

/** A line that is concatenated objects (`{…}{…}`), or the first line of a pretty-printed object or array. */
function layoutError(file: string, line: number, layout: JsonLayoutMistake): InputError {
  if (layout.kind === 'concatenated')
    return new InputError(
      file,
      line,
      'concatenated JSON objects without line breaks ("}{"): NDJSON needs each row on its own line; ' +
        ndjsonFixHint(file),
    );
  return new InputError(
    file,
    line,
    'an object or array spread over several lines (pretty-printed JSON), not one object a line: name a JSON ' +
      `array .json, or ${ndjsonFixHint(file)}`,
  );
}
