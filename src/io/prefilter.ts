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

/** `-File`, one White_Space character as raw JSON bytes (read as latin1), `script[0-9]{1,9}.ps1`. */
const FILE_SCRIPT_PS1 =
  /-File(?: |\\[tnfr]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80)script[0-9]{1,9}\.ps1/g;

const NEEDLES: { readonly [T in TableName]: TableNeedles } = {
  AzureActivity: { needsLatin1: true, next: latin1Pattern(RUNCOMMAND_ANY_CASE) },
  DeviceFileEvents: { needsLatin1: false, next: bufferNeedle('RunCommandExtension.exe') },
  DeviceEvents: { needsLatin1: true, next: latin1Pattern(FILE_SCRIPT_PS1) },
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
