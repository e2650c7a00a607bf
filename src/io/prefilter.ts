/**
 * A byte-level pre-filter for rows held as JSON text (an NDJSON line, or one element
 * of a JSON array): it says, before `JSON.parse`, whether a row CAN matter to the rule.
 * Rows it drops are never parsed, coerced or validated: on a 1 GB day nine rows in
 * ten are unrelated operations, files and events, and parsing them is what would
 * cost the time.
 *
 * SOUNDNESS (no relevant row is ever dropped). Each table's first `where` needs text
 * in one string column:
 *
 *   AzureActivity     | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
 *                     → the decoded value contains `runcommand` in some ASCII case mix.
 *   DeviceFileEvents  | where InitiatingProcessFileName == "RunCommandExtension.exe"
 *                     → the decoded value contains `RunCommandExtension.exe` exactly.
 *   DeviceEvents      | extend PowershellFileName = extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)
 *                     | where isnotempty(PowershellFileName)
 *                     → the decoded value contains a match of `-File\s(script[0-9]{1,9}\.ps1)`
 *                       (case-sensitive; `\s` is Unicode White_Space, see docs/kql-semantics.md).
 *
 * How can a decoded JSON string contain a needle while the raw bytes of the line do
 * not? A JSON string writes each character either as itself (UTF-8 bytes) or as an
 * escape. The escapes are `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`, which stand for
 * characters none of our needles contain (`"`, `\`, `/`, control characters), and
 * `\uXXXX`, which may stand for any character. So when the line holds no `\u`, every
 * character of a needle occurrence is written as itself, consecutively, and the raw
 * line contains the needle's bytes (ASCII bytes never occur inside the UTF-8 encoding
 * of another character). Hence:
 *
 *   line has no `\u` and lacks a needle  ⇒  the row cannot pass that `where`.
 *
 * The pre-filter keeps every line that contains `\u` (the bytes backslash, `u`), and
 * every line that contains the needles. The needles contain no `/`, so `\/` never
 * matters. For DeviceEvents the needle is a pattern: `-File`, then the raw form of
 * one White_Space character, then `script`, 1 to 9 digits, `.ps1`. Outside `\u`, a
 * White_Space character is written either as a short escape (`\t` `\n` `\f` `\r`:
 * we accept a backslash followed by any of those letters) or as its UTF-8 bytes
 * (space 20; U+0085 C2 85; U+00A0 C2 A0; U+1680 E1 9A 80; U+2000-U+200A E2 80 80-8A;
 * U+2028/U+2029 E2 80 A8/A9; U+202F E2 80 AF; U+205F E2 81 9F; U+3000 E3 80 80).
 * VT (U+000B) has no short escape, so it only appears as `\u000b`, which is kept by
 * the `\u` rule. Raw control bytes are not valid inside a JSON string. For AzureActivity the case-insensitive search treats ASCII letters only;
 * `=~` could only meet a non-ASCII character that case-maps onto an ASCII letter of
 * `runcommand` (none does: the Kelvin sign maps to `k`, the long s to `s`), and such a
 * character would in any case arrive raw, not as one of the needle's ASCII bytes; the
 * property test (test/unit/io/prefilter.test.ts) checks the implication against the
 * engine's own per-table filters on random rows under random JSON encodings.
 *
 * Which key a needle sits under is not checked: a needle in another column only lets
 * a line through to the exact filter after parsing, which is always applied.
 */
import type { TableName } from '../detection/schema';

const BACKSLASH_U = Buffer.from('\\u', 'latin1');

interface TableNeedles {
  /** Finds the next occurrence of the table's needle at or after `from`, or -1. */
  readonly next: (chunk: Buffer, latin1: string | undefined, from: number) => number;
  /** Whether the search needs the chunk as a latin1 string (a regex; one character per byte). */
  readonly needsLatin1: boolean;
}

function bufferNeedle(text: string): TableNeedles['next'] {
  const needle = Buffer.from(text, 'latin1');
  return (chunk, _latin1, from) => chunk.indexOf(needle, from);
}

/** A global regex run over the chunk read as latin1, so string indexes are byte offsets. */
function latin1Pattern(pattern: RegExp): TableNeedles['next'] {
  return (_chunk, latin1, from) => {
    pattern.lastIndex = from;
    const m = pattern.exec(latin1 as string);
    return m ? m.index : -1;
  };
}

/** `runcommand` in any ASCII case (the non-unicode `i` flag folds ASCII letters onto ASCII letters only). */
const RUNCOMMAND_ANY_CASE = /runcommand/gi;

const PS1 = Buffer.from('.ps1', 'latin1');
const SCRIPT = Buffer.from('script', 'latin1');
const DASH_FILE = Buffer.from('-File', 'latin1');

/** Whether `buf` holds `needle` starting at `at`. */
function bytesAt(buf: Buffer, at: number, needle: Buffer): boolean {
  if (at < 0 || at + needle.length > buf.length) return false;
  for (let i = 0; i < needle.length; i++) if (buf[at + i] !== needle[i]) return false;
  return true;
}

/**
 * Length of the raw JSON form of one White_Space character ending just before `end`,
 * or 0: a space; `\t` `\n` `\f` `\r` (any backslash + letter: a superset); or the
 * UTF-8 bytes of U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000. Several lengths may fit; all are tried by the caller.
 */
function whiteSpaceLengths(buf: Buffer, end: number): number[] {
  const lengths: number[] = [];
  const b1 = buf[end - 1];
  const b2 = buf[end - 2];
  const b3 = buf[end - 3];
  if (b1 === 0x20) lengths.push(1);
  if (b2 === 0x5c && (b1 === 0x74 || b1 === 0x6e || b1 === 0x66 || b1 === 0x72)) lengths.push(2);
  if (b2 === 0xc2 && (b1 === 0x85 || b1 === 0xa0)) lengths.push(2);
  if (
    (b3 === 0xe1 && b2 === 0x9a && b1 === 0x80) ||
    (b3 === 0xe2 && b2 === 0x80 && ((b1 >= 0x80 && b1 <= 0x8a) || b1 === 0xa8 || b1 === 0xa9 || b1 === 0xaf)) ||
    (b3 === 0xe2 && b2 === 0x81 && b1 === 0x9f) ||
    (b3 === 0xe3 && b2 === 0x80 && b1 === 0x80)
  )
    lengths.push(3);
  return lengths;
}

/**
 * The next `-File<white space>script<1-9 digits>.ps1` in raw bytes: found by a native
 * search for `.ps1`, then checked backwards byte by byte. With more than nine digits
 * before `.ps1`, the nine nearest are preceded by a digit, not by `script`: no match,
 * as in the regex.
 */
function nextFileScriptPs1(chunk: Buffer, _latin1: string | undefined, from: number): number {
  for (let dot = chunk.indexOf(PS1, from); dot >= 0; dot = chunk.indexOf(PS1, dot + 1)) {
    let digits = 0;
    while (digits < 10 && dot - digits - 1 >= 0 && chunk[dot - digits - 1] >= 0x30 && chunk[dot - digits - 1] <= 0x39)
      digits++;
    if (digits < 1 || digits > 9) continue;
    const script = dot - digits - SCRIPT.length;
    if (!bytesAt(chunk, script, SCRIPT)) continue;
    for (const ws of whiteSpaceLengths(chunk, script)) {
      const dash = script - ws - DASH_FILE.length;
      if (bytesAt(chunk, dash, DASH_FILE)) return dash;
    }
  }
  return -1;
}

const NEEDLES: { readonly [T in TableName]: TableNeedles } = {
  AzureActivity: { needsLatin1: true, next: latin1Pattern(RUNCOMMAND_ANY_CASE) },
  DeviceFileEvents: { needsLatin1: false, next: bufferNeedle('RunCommandExtension.exe') },
  DeviceEvents: { needsLatin1: false, next: nextFileScriptPs1 },
};

/**
 * Whether one row's JSON text (no newline inside a needle; any bytes) can matter to
 * the rule for `table`. This is the definition; `forEachCandidateLine` is the fast
 * chunk-wide form of the same test.
 */
export function mayMatter(table: TableName, rowJson: Buffer | string): boolean {
  const bytes = typeof rowJson === 'string' ? Buffer.from(rowJson, 'utf8') : rowJson;
  if (bytes.indexOf(BACKSLASH_U) >= 0) return true;
  const needles = NEEDLES[table];
  const latin1 = needles.needsLatin1 ? bytes.toString('latin1') : undefined;
  return needles.next(bytes, latin1, 0) >= 0;
}

/**
 * Calls `onLine(start, end)` (end exclusive, without the `\n`) for each line of
 * `chunk[0, length)` that `mayMatter`, in order. Lines are separated by `\n`; the
 * chunk holds whole lines only. Lines with neither the anchor nor `\u` cost no work
 * in JavaScript: both are found with native searches over the whole chunk.
 */
export function forEachCandidateLine(
  table: TableName,
  chunk: Buffer,
  onLine: (start: number, end: number) => void,
): void {
  const needles = NEEDLES[table];
  const latin1 = needles.needsLatin1 ? chunk.toString('latin1') : undefined;
  let nextAnchor = needles.next(chunk, latin1, 0);
  let nextEscape = chunk.indexOf(BACKSLASH_U, 0);
  while (nextAnchor >= 0 || nextEscape >= 0) {
    const hit = nextAnchor < 0 ? nextEscape : nextEscape < 0 ? nextAnchor : Math.min(nextAnchor, nextEscape);
    const start = chunk.lastIndexOf(10, hit) + 1;
    let end = chunk.indexOf(10, hit);
    if (end < 0) end = chunk.length;
    onLine(start, end);
    if (end >= chunk.length) return;
    if (nextAnchor >= 0 && nextAnchor <= end) nextAnchor = needles.next(chunk, latin1, end + 1);
    if (nextEscape >= 0 && nextEscape <= end) nextEscape = chunk.indexOf(BACKSLASH_U, end + 1);
  }
}
