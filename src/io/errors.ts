/**
 * Errors a user can hit while handing table files to `detect`. Each one names the
 * file (and line, where there is one) and says what to do, so the CLI can print it as
 * one line `file:line: message` without a stack trace.
 */
import { AppError } from '../shared/errors';

export class InputError extends AppError {
  constructor(
    /** The file (or directory) at fault. */
    readonly file: string,
    /** 1-based line in `file`, when the fault has one. */
    readonly line: number | undefined,
    /** What is wrong and what to do, without the location prefix. */
    readonly detail: string,
  ) {
    super(line === undefined ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
  }
}

/** Shortens a cell or line for an error message. */
export function excerpt(text: string, max = 60): string {
  const flat = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? flat.slice(0, -1) + '…"' : flat;
}

/** Shortens JSON text for an error message, as it stands in the file. */
export function jsonExcerpt(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max) + '…' : text;
}

/** Where JSON text that `JSON.parse` refused shows a known layout mistake. */
export type JsonLayoutMistake =
  /** A complete object or array, then another (`{…}{…}`), `lineBreak` when a line break separates them. */
  | { kind: 'concatenated'; lineBreak: boolean; secondAt: number }
  /** Only the opening of an object or array: one spread over several lines (pretty-printed). */
  | { kind: 'pretty-printed' };

/**
 * Recognises JSON values written back to back (`{…}{…}`, as `ConvertTo-Json` in a loop
 * or some exporters write them) and a lone `{` / `[` line (pretty-printed JSON read as
 * NDJSON). A scan of the text's first value: nesting depth and strings only.
 */
export function jsonLayoutMistake(text: string): JsonLayoutMistake | undefined {
  let i = 0;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  const open = text[i];
  if (open !== '{' && open !== '[') return undefined;
  if (text.slice(i + 1).trim() === '') return { kind: 'pretty-printed' };
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) break;
  }
  if (depth !== 0) return undefined;
  let j = i + 1;
  let lineBreak = false;
  while (j < text.length && /\s/.test(text[j]!)) if (text[j++] === '\n') lineBreak = true;
  return text[j] === '{' || text[j] === '[' ? { kind: 'concatenated', lineBreak, secondAt: j } : undefined;
}

/** How to split concatenated or pretty-printed objects into NDJSON, for `file`. */
export function ndjsonFixHint(file: string): string {
  return `rewrite it as one object a line, e.g. jq -c . '${file}' > '${file}.new' && mv '${file}.new' '${file}'`;
}
