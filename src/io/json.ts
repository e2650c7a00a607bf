/**
 * `.json` table files, in either of two shapes:
 *
 * - a JSON array of row objects, `[{"TimeGenerated":"…",…},…]`: streamed element by
 *   element (a byte-level splitter finds where each top-level element starts and
 *   ends), and each element goes through the same pre-filter as an NDJSON line;
 * - a Log Analytics query API response, `{"tables":[{"name","columns":[{"name","type"}],
 *   "rows":[[…],…]}]}`: read whole (the query API caps a response at 64 MB and
 *   500,000 rows), each row array mapped to its column names.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { TableName } from '../detection/schema';
import { InputError, jsonExcerpt, jsonLayoutMistake } from './errors';
import { hitPositions, mayMatter } from './prefilter';
import type { RawRowSink } from './rawRows';

const CHUNK = 8 << 20;

/** The query API answers at most 64 MB; anything much bigger was not one response. */
const MAX_RESPONSE_BYTES = 256 << 20;

export interface JsonReadResult {
  /** Rows (array elements, or response rows) in the file. */
  rows: number;
  /** Rows parsed (passed the pre-filter). */
  parsed: number;
}

export interface JsonReadOptions {
  prefilter?: boolean;
  /** Read size (tests use small ones to put elements across chunk boundaries). */
  chunkBytes?: number;
}

/** The first byte that is not whitespace or a UTF-8 BOM, or undefined for an empty file. */
export function firstSignificantByte(file: string): number | undefined {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 << 10);
    let n: number;
    let offset = 0;
    while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) {
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (offset === 0 && i < 3 && (b === 0xef || b === 0xbb || b === 0xbf)) continue;
        if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
      }
      offset += n;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export function readJsonFile(
  file: string,
  table: TableName,
  onRow: RawRowSink,
  options: JsonReadOptions = {},
): JsonReadResult {
  const first = firstSignificantByte(file);
  if (first === 0x5b /* [ */)
    return readJsonArray(file, table, onRow, options.prefilter ?? true, options.chunkBytes ?? CHUNK);
  if (first === 0x7b /* { */) return readQueryApiResponse(file, table, onRow);
  throw new InputError(
    file,
    1,
    'a .json table file must hold a JSON array of row objects or a Log Analytics query API response ' +
      '({"tables":[…]}); for one object per line, name the file .ndjson',
  );
}

/**
 * Streams the elements of a top-level JSON array. Tracks only what is needed to find
 * element boundaries: nesting depth, and whether we are inside a string (and after a
 * backslash there). The pre-filter's needles are found by native searches over each
 * chunk; an element that lies inside one chunk is parsed only if a needle starts in
 * it. An element that spans chunks (a needle might straddle the boundary) is checked
 * on its own bytes with `mayMatter`. No line-aligned chunks: a minified array is one
 * long line.
 *
 * About 130 lines on purpose: a byte-level state machine (depth, in string, after a
 * backslash, element start, line) whose state must stay in locals of the one loop that
 * sees every byte (see below); the element handling is a local closure that does not
 * capture that state.
 */
function readJsonArray(
  file: string,
  table: TableName,
  onRow: RawRowSink,
  prefilter: boolean,
  chunkBytes: number,
): JsonReadResult {
  let rows = 0;
  let parsed = 0;

  const element = (bytes: Buffer, atLine: number, hit: boolean): void => {
    rows++;
    if (prefilter && !hit) return;
    parsed++;
    const text = bytes.toString('utf8').trim();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (jsonLayoutMistake(text)?.kind === 'concatenated')
        throw new InputError(
          file,
          atLine,
          `array element ${rows} is concatenated JSON objects without a comma ("}{"); put a comma between the objects`,
        );
      throw new InputError(
        file,
        atLine,
        `array element ${rows} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix the element or export again`,
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new InputError(
        file,
        atLine,
        `array element ${rows} is ${Array.isArray(value) ? 'an array' : jsonExcerpt(text)}, not a row object {"Column":value,…}`,
      );
    const label = `array element ${rows}`;
    onRow(value as Record<string, unknown>, () => ({ line: atLine, label }));
  };

  // The scanning state lives in plain locals that no closure captures, so that the
  // byte loop below runs on registers: it is the hot path for large arrays.
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let closed = false;
  let pending: Buffer[] = []; // bytes of the current element from earlier chunks
  let elementLine = 0;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let n: number;
    let fileOffset = 0;
    while ((n = readSync(fd, buf, 0, chunkBytes, null)) > 0) {
      const hits = prefilter ? hitPositions(table, buf.subarray(0, n)) : [];
      let h = 0; // first hit not before the current element
      let elementStart = pending.length > 0 ? 0 : -1;
      let i = fileOffset === 0 && n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
      for (; i < n; i++) {
        let b = buf[i];
        if (inString) {
          if (escaped) {
            escaped = false;
            continue;
          }
          // String contents are the bulk of the bytes: skip plain ones in a tight loop.
          while (b !== 0x22 && b !== 0x5c && b !== 0x0a && ++i < n) b = buf[i];
          if (i >= n) break;
          if (b === 0x5c) escaped = true;
          else if (b === 0x22) inString = false;
          else line++;
          continue;
        }
        if (b === 0x0a) {
          line++;
          continue;
        }
        if (b === 0x20 || b === 0x0d || b === 0x09) continue;
        if (closed) throw new InputError(file, line, 'unexpected text after the closing "]" of the array; remove it');
        if (depth === 0) {
          if (b !== 0x5b) throw new InputError(file, line, 'expected "[" to open the array of rows');
          depth = 1;
          continue;
        }
        if (depth === 1 && elementStart < 0) {
          if (b === 0x5d /* ] */) {
            closed = true;
            depth = 0;
            continue;
          }
          if (b === 0x2c /* , */)
            throw new InputError(file, line, 'empty array element (",," or "[,"); remove the extra comma');
          elementStart = i;
          elementLine = line;
        }
        let end = -1;
        if (b === 0x22) inString = true;
        else if (b === 0x7b || b === 0x5b) depth++;
        else if (b === 0x7d || b === 0x5d) {
          if (depth > 1) depth--;
          else {
            end = i; // "]" closing the array right after an element
            closed = true;
            depth = 0;
          }
        } else if (b === 0x2c && depth === 1) end = i;
        if (end >= 0) {
          const part = buf.subarray(elementStart, end);
          let bytes = part;
          let hit = false;
          if (pending.length > 0) {
            // It began in an earlier chunk: a needle may straddle the boundary, so test its own bytes.
            bytes = Buffer.concat([...pending, part]);
            hit = prefilter && mayMatter(table, bytes);
            pending = [];
          } else if (prefilter) {
            while (h < hits.length && hits[h] < elementStart) h++;
            hit = h < hits.length && hits[h] < end;
          }
          elementStart = -1;
          element(bytes, elementLine, hit);
        }
      }
      if (elementStart >= 0) pending.push(Buffer.from(buf.subarray(elementStart, n)));
      fileOffset += n;
    }
  } finally {
    closeSync(fd);
  }
  if (!closed)
    throw new InputError(
      file,
      line,
      depth === 0
        ? 'the file holds no JSON array'
        : 'the array is not closed ("]" missing): the file looks cut off; export the table again',
    );
  return { rows, parsed };
}

interface ApiColumn {
  name: string;
  type?: string;
}

/** A query API response: rows are arrays in column order; map them to named cells. */
function readQueryApiResponse(file: string, table: TableName, onRow: RawRowSink): JsonReadResult {
  if (statSync(file).size > MAX_RESPONSE_BYTES)
    throw new InputError(
      file,
      undefined,
      `a query API response is read whole, and this one is over ${MAX_RESPONSE_BYTES >> 20} MB; ` +
        'export the table as NDJSON (runcommand-detect export) or as a JSON array instead',
    );
  let doc: unknown;
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const layout = jsonLayoutMistake(text);
    if (layout?.kind === 'concatenated') {
      const line = text.slice(0, layout.secondAt).split('\n').length;
      throw new InputError(
        file,
        line,
        layout.lineBreak
          ? 'one JSON object a line is NDJSON, not a .json file: rename the file to .ndjson'
          : `concatenated JSON objects without line breaks ("}{"): write one object a line as .ndjson, e.g. ` +
              `jq -c . '${file}' > '${file.replace(/\.json$/i, '')}.ndjson' (and remove the .json), or a JSON array`,
      );
    }
    const at = /position (\d+)/.exec(why);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : undefined;
    throw new InputError(file, line, `not valid JSON (${why}); export the table again`);
  }
  const tables = (doc as { tables?: unknown }).tables;
  if (!Array.isArray(tables) || tables.length === 0)
    throw new InputError(
      file,
      undefined,
      'a JSON object here must be a Log Analytics query API response with a "tables" array; ' +
        'for plain rows use a JSON array or NDJSON',
    );
  const chosen =
    tables.length === 1
      ? tables[0]
      : tables.find((t: { name?: unknown }) => t?.name === 'PrimaryResult' || t?.name === table);
  const columns = (chosen as { columns?: unknown })?.columns;
  const rows = (chosen as { rows?: unknown })?.rows;
  if (!Array.isArray(columns) || !Array.isArray(rows) || !columns.every((c: ApiColumn) => typeof c?.name === 'string'))
    throw new InputError(
      file,
      undefined,
      'the query API response has no table with "columns":[{"name","type"}] and "rows":[[…]]; export the table again',
    );
  const names = (columns as ApiColumn[]).map((c) => c.name);
  let index = 0;
  for (const r of rows) {
    index++;
    if (!Array.isArray(r) || r.length !== names.length)
      throw new InputError(
        file,
        undefined,
        `row ${index} of the query API response is not an array of ${names.length} cells; export the table again`,
      );
    const raw: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) raw[names[c]] = r[c];
    const label = `row ${index} of the query API response`;
    onRow(raw, () => ({ label }));
  }
  return { rows: rows.length, parsed: rows.length };
}
