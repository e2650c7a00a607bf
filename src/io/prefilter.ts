/**
 * A byte-level pre-filter for rows held as JSON text (an NDJSON line, or one element
 * of a JSON array) or CSV text: it says, before `JSON.parse` or decoding, whether a row
 * CAN matter to the rule.
 * Rows it drops are never parsed, coerced or validated: on a 1 GB day nine rows in
 * ten are unrelated operations, files and events, and parsing them is what would
 * cost the time.
 *
 * SOUNDNESS (no relevant row is ever dropped). Each table's first `where` needs text
 * in one string column:
 *
 *   AzureActivity     | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
 *                     → the decoded value contains `runcommand/a` in some ASCII case mix.
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
 * characters none of our needles contain (`"`, `\`, control characters) but for `/`
 * (the needle `runcommand/a` accepts `/` and `\/` alike), and `\uXXXX`, which may
 * stand for any character. So when the line holds no `\u`, every
 * character of a needle occurrence is written as itself, consecutively, and the raw
 * line contains the needle's bytes (ASCII bytes never occur inside the UTF-8 encoding
 * of another character). Hence:
 *
 *   line has no `\u` and lacks a needle  ⇒  the row cannot pass that `where`.
 *
 * The pre-filter keeps every line that contains a `\u` escape (a backslash that ends
 * an odd run of backslashes, then `u`; an even run is escaped backslashes), and every
 * line that contains the needles. For DeviceEvents the needle is a pattern: `-File`, then the raw form of
 * one White_Space character, then `script`, 1 to 9 digits, `.ps1`. Outside `\u`, a
 * White_Space character is written either as a short escape (`\t` `\n` `\f` `\r`:
 * we accept a backslash followed by any of those letters) or as its UTF-8 bytes
 * (space 20; U+0085 C2 85; U+00A0 C2 A0; U+1680 E1 9A 80; U+2000-U+200A E2 80 80-8A;
 * U+2028/U+2029 E2 80 A8/A9; U+202F E2 80 AF; U+205F E2 81 9F; U+3000 E3 80 80).
 * VT (U+000B) has no short escape, so it only appears as `\u000b`, which is kept by
 * the `\u` rule. Raw control bytes are not valid inside a JSON string.
 *
 * For AzureActivity the search is case-insensitive over ASCII letters. `=~` compares
 * after `caseFold` (src/detection/kql.ts), under which a non-ASCII character never
 * folds to an ASCII one (and even plain upper-casing maps no non-ASCII character to
 * one of r, u, n, c, o, m, a, d: the only non-ASCII characters that case-map into
 * ASCII are ı→I, ſ→S, K (Kelvin)→k and ligatures that expand), and `/` has no case, so
 * a matching value holds `runcommand/a` as ASCII characters, the letters in some case,
 * consecutively: the `/` written `/` or `\/` (or `\u002f`, kept by the `\u` rule).
 * Longer needles would be as sound; `/a` already tells the rule's operation from
 * `runCommands/write` and the other managed Run Command operations.
 *
 * CSV records (./csv) use the same needles: a CSV field is the cell's text as is, but
 * for a quote written `""`, and no needle holds a quote. Their white space before
 * `script` is the raw character, so raw TAB..CR bytes are accepted there too (in
 * JSON they cannot occur raw, so this only widens the JSON test).
 *
 * HOW THE CHUNK-WIDE FORM FINDS THEM. `mayMatter` searches a row with the plain forms
 * below (`Buffer.indexOf`, and a Boyer-Moore-Horspool loop for `runcommand` in any
 * case): it is the definition. The chunk-wide forms (`forEachCandidateLine`,
 * `hitPositions`) ask the WebAssembly SIMD kernel of ./byteScan for candidate positions
 * and check each one here with the same position tests (`NeedleOf.at`,
 * `unicodeEscapeAt`), so they find the same positions as the plain forms provided the
 * candidates include every true position. They do: each needle is reported at the
 * position of two adjacent bytes that every occurrence has (its `anchor`), and the
 * kernel reports every position where an anchor pair or a `\u` stands inside the
 * chunk. The anchors: the `mm` of `runcommand`, compared after `| 0x20`, which equals
 * `m` exactly for the bytes `m` `M`, so no case mix is missed; the `Ex` of
 * `RunCommandExtension.exe`; for DeviceEvents the `t` of `script` and the digit after
 * it, the digit compared after `| 0x0f` with 0x3f, which holds for 0x30-0x3f, every
 * digit among them. (The white space before `script` is 1 to 3 bytes, so no byte
 * after `-File` is at a fixed offset from it; `scriptTOfMatchAt` tries the three
 * lengths back from the `t`.) Reports the kernel makes in error (bytes past the
 * chunk's end, a `\\u`) are rejected by the position tests, which look at the chunk's
 * own bytes only. The position of an occurrence lies inside it, so inside its line,
 * JSON array element or CSV record, which is all the readers ask of it. Where the
 * engine cannot run WebAssembly SIMD the plain forms do the chunk-wide search too.
 *
 * The property test (test/unit/io/prefilter.test.ts) checks the implication against
 * the engine's own per-table filters, on random rows under random JSON encodings, and
 * that the chunk-wide forms find exactly the lines and positions of the plain forms,
 * escapes and chunk edges included.
 *
 * Which key a needle sits under is not checked: a needle in another column only lets
 * a line through to the exact filter after parsing, which is always applied.
 */
import type { RuleTableName, TableName } from '../detection/schema';
import { byteScanner, type PairAnchor } from './byteScan';
import { countNewlines } from './chunks';

const BACKSLASH_U = Buffer.from('\\u', 'latin1');

/**
 * Whether a `\u` escape starts at `at`. A backslash begins an escape only when the run
 * of backslashes it ends is odd: `\\u` (as in the JSON text of the path
 * `C:\\update.log`) is an escaped backslash followed by a plain `u`. Windows paths
 * are full of those, so telling them apart keeps the pre-filter sharp.
 */
function unicodeEscapeAt(chunk: Buffer, at: number): boolean {
  if (chunk[at] !== 0x5c || chunk[at + 1] !== 0x75) return false;
  let run = 1;
  while (at - run >= 0 && chunk[at - run] === 0x5c) run++;
  return run % 2 === 1;
}

/** The next `\u` escape at or after `from`, or -1. */
function nextUnicodeEscape(chunk: Buffer, from: number): number {
  for (let at = chunk.indexOf(BACKSLASH_U, from); at >= 0; at = chunk.indexOf(BACKSLASH_U, at + 1))
    if (unicodeEscapeAt(chunk, at)) return at;
  return -1;
}

/**
 * One table's needle: a plain search, a test at one position, and the kernel's anchor.
 * Each occurrence is reported at one position inside it, where its anchor stands:
 * the first `m` of `runcommand`, the `E` of `Extension`, the `t` of `script`.
 */
interface NeedleOf {
  /** The next occurrence in `chunk` reported at or after `from`, or -1. */
  next(chunk: Buffer, from: number): number;
  /** Whether an occurrence is reported at `at` (bytes outside `chunk` count as absent). */
  at(chunk: Buffer, at: number): boolean;
  /** Two bytes every occurrence has (see the header). */
  anchor: PairAnchor;
}

/** A needle matched exactly, reported `offset` bytes into it (where its anchor stands). */
function exactNeedle(text: string, offset: number, anchor: PairAnchor): NeedleOf {
  const needle = Buffer.from(text, 'latin1');
  return {
    next: (chunk, from) => {
      const start = chunk.indexOf(needle, Math.max(0, from - offset));
      return start < 0 ? -1 : start + offset;
    },
    at: (chunk, at) => bytesAt(chunk, at - offset, needle),
    anchor,
  };
}

const RUNCOMMAND = Buffer.from('runcommand', 'latin1');

/**
 * Boyer-Moore-Horspool shifts for `runcommand` in any ASCII case: for each byte, how
 * far the window may move when that byte is under the window's last position.
 */
const RUNCOMMAND_SHIFT = (() => {
  const m = RUNCOMMAND.length;
  const shift = new Uint8Array(256).fill(m);
  for (let i = 0; i < m - 1; i++) {
    shift[RUNCOMMAND[i]] = m - 1 - i;
    shift[RUNCOMMAND[i] ^ 0x20] = m - 1 - i; // the upper-case letter
  }
  return shift;
})();

/**
 * The next `runcommand` in any ASCII case (Boyer-Moore-Horspool). A byte `b` equals
 * a lower-case ASCII letter `c` up to case exactly when `(b | 0x20) === c`: only the
 * bytes of `c` and its upper case have that property (bytes 0x80-0xFF never do).
 */
function nextRunCommandAnyCase(chunk: Buffer, from: number): number {
  const m = RUNCOMMAND.length;
  const last = RUNCOMMAND[m - 1];
  const n = chunk.length;
  for (let i = from + m - 1; i < n; i += RUNCOMMAND_SHIFT[chunk[i]]) {
    if ((chunk[i] | 0x20) !== last) continue;
    let j = m - 2;
    let k = i - 1;
    while (j >= 0 && (chunk[k] | 0x20) === RUNCOMMAND[j]) {
      j--;
      k--;
    }
    if (j < 0) return i - m + 1;
  }
  return -1;
}

/** Whether `runcommand` in some ASCII case starts at `at`. */
function runCommandAnyCaseAt(chunk: Buffer, at: number): boolean {
  if (at < 0 || at + RUNCOMMAND.length > chunk.length) return false;
  for (let i = 0; i < RUNCOMMAND.length; i++) if ((chunk[at + i] | 0x20) !== RUNCOMMAND[i]) return false;
  return true;
}

/**
 * Whether `runcommand/a` in some ASCII case starts at `at`, the `/` written raw or as
 * `\/` (the rule's operation name goes on `…/runCommand/action`; `runCommands/write`
 * and the other managed Run Command operations do not).
 */
function runCommandSlashAAt(chunk: Buffer, at: number): boolean {
  if (!runCommandAnyCaseAt(chunk, at)) return false;
  let next = at + RUNCOMMAND.length;
  if (chunk[next] === 0x5c) next++; // the `\` of `\/`
  return chunk[next] === 0x2f && (chunk[next + 1] | 0x20) === 0x61;
}

/** Where `runcommand/a` is reported: at its first `m`, the kernel's anchor `mm`. */
const MM_OF_RUNCOMMAND = 5;

/** Whether a `runcommand/a` (see `runCommandSlashAAt`) is reported at `at`. */
function runCommandSlashAReportedAt(chunk: Buffer, at: number): boolean {
  return runCommandSlashAAt(chunk, at - MM_OF_RUNCOMMAND);
}

/** The next `runcommand/a` in any ASCII case reported at or after `from` (its first `m`), or -1. */
function nextRunCommandSlashA(chunk: Buffer, from: number): number {
  const first = Math.max(0, from - MM_OF_RUNCOMMAND);
  for (let at = nextRunCommandAnyCase(chunk, first); at >= 0; at = nextRunCommandAnyCase(chunk, at + 1))
    if (runCommandSlashAAt(chunk, at)) return at + MM_OF_RUNCOMMAND;
  return -1;
}

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
 * Length of the raw JSON form of one White_Space character starting at `at`, or 0: a
 * space; `\t` `\n` `\f` `\r` (any backslash + one of those letters); the UTF-8 bytes of
 * U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; or, for
 * CSV, a raw TAB..CR byte. The forms start with different bytes, so one length fits.
 */
function whiteSpaceLength(buf: Buffer, at: number): number {
  const b0 = buf[at];
  const b1 = buf[at + 1];
  const b2 = buf[at + 2];
  if (b0 === 0x20 || (b0 >= 0x09 && b0 <= 0x0d)) return 1; // raw: space; TAB..CR in CSV
  if (b0 === 0x5c) return b1 === 0x74 || b1 === 0x6e || b1 === 0x66 || b1 === 0x72 ? 2 : 0;
  if (b0 === 0xc2) return b1 === 0x85 || b1 === 0xa0 ? 2 : 0;
  if (
    (b0 === 0xe1 && b1 === 0x9a && b2 === 0x80) ||
    (b0 === 0xe2 && b1 === 0x80 && ((b2 >= 0x80 && b2 <= 0x8a) || b2 === 0xa8 || b2 === 0xa9 || b2 === 0xaf)) ||
    (b0 === 0xe2 && b1 === 0x81 && b2 === 0x9f) ||
    (b0 === 0xe3 && b1 === 0x80 && b2 === 0x80)
  )
    return 3;
  return 0;
}

/**
 * Whether `-File<white space>script<1-9 digits>.ps1` starts at `dash` in raw bytes,
 * checked forwards byte by byte. With more than nine digits before `.ps1` there is no
 * match at that `script`, as in the regex (the ninth digit is followed by a digit, not `.`).
 */
function fileScriptPs1At(chunk: Buffer, dash: number): boolean {
  if (!bytesAt(chunk, dash, DASH_FILE)) return false;
  const ws = whiteSpaceLength(chunk, dash + DASH_FILE.length);
  if (ws === 0) return false;
  const script = dash + DASH_FILE.length + ws;
  if (!bytesAt(chunk, script, SCRIPT)) return false;
  const firstDigit = script + SCRIPT.length;
  let digits = 0;
  while (digits < 10 && firstDigit + digits < chunk.length && isDigit(chunk[firstDigit + digits])) digits++;
  return digits >= 1 && digits <= 9 && bytesAt(chunk, firstDigit + digits, PS1);
}

/** Where `script` starts in a match of `-File<white space>script…` whose `t` is at `t`. */
const T_OF_SCRIPT = SCRIPT.length - 1;

/**
 * Whether the `t` of `script` in a match of `-File<white space>script<1-9 digits>.ps1`
 * is at `t`: the position the DeviceEvents search reports, since a digit follows it in
 * every match (the kernel's anchor, see the header), while `-File` and `script` are
 * common in command lines on their own. The white space before `script` is one of the
 * raw forms of `whiteSpaceLength`, 1 to 3 bytes long, each tried: so this holds exactly
 * when `fileScriptPs1At(dash)` holds for a `dash` 11 to 13 bytes before `t`.
 */
function scriptTOfMatchAt(chunk: Buffer, t: number): boolean {
  const script = t - T_OF_SCRIPT;
  if (!isDigit(chunk[t + 1]) || !bytesAt(chunk, script, SCRIPT)) return false;
  for (let ws = 1; ws <= 3; ws++) {
    const dash = script - ws - DASH_FILE.length;
    if (dash >= 0 && whiteSpaceLength(chunk, script - ws) === ws && fileScriptPs1At(chunk, dash)) return true;
  }
  return false;
}

/** The next match's `t` of `script` (see `scriptTOfMatchAt`) at or after `from`: a native search for `script`, then the check. */
function nextScriptTOfMatch(chunk: Buffer, from: number): number {
  const start = Math.max(0, from - T_OF_SCRIPT);
  for (let at = chunk.indexOf(SCRIPT, start); at >= 0; at = chunk.indexOf(SCRIPT, at + 1))
    if (scriptTOfMatchAt(chunk, at + T_OF_SCRIPT)) return at + T_OF_SCRIPT;
  return -1;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

const NEEDLES: { readonly [T in RuleTableName]: NeedleOf } = {
  AzureActivity: {
    next: nextRunCommandSlashA,
    at: runCommandSlashAReportedAt,
    // The `mm` of `runcommand`: rarer in these tables than `r`…`d` (1.4 M pairs in the
    // noise-heavy bench day's AzureActivity, against 87,000 for `mm`, two per row).
    anchor: { a: 0x6d /* m */, b: 0x6d /* m */, fold: 0x20 },
  },
  // Reported at the `Ex` of `Extension`.
  DeviceFileEvents: exactNeedle('RunCommandExtension.exe', 10, { a: 0x45 /* E */, b: 0x78 /* x */, fold: 0 }),
  DeviceEvents: {
    next: nextScriptTOfMatch,
    at: scriptTOfMatchAt,
    // `t` then a digit: `(b | 0x0f) == 0x3f` holds for the bytes 0x30-0x3f, the ten
    // digits among them. `-F` stood in 0.8 M places of the noise-heavy day's DeviceEvents
    // (`-File C:\…`, `-File scriptx.ps1`), `t` and a digit in 4,000.
    anchor: { a: 0x74 /* t */, b: 0x3f /* 0-9 : ; < = > ? */, fold: 0, foldB: 0x0f },
  },
};

/** The two bytes the kernel looks for in `table`'s chunks (the bench's scan floor, scripts/bench/floor.ts, uses them). */
export function kernelAnchorOf(table: RuleTableName): PairAnchor {
  return NEEDLES[table].anchor;
}

/**
 * The needle of `table`: only the rule's three tables have one (parity's row filters).
 * DeviceProcessEvents (corrected mode only) is never pre-filtered (../io/tableFiles).
 */
function needleOf(table: TableName): NeedleOf {
  if (table === 'DeviceProcessEvents') throw new TypeError('DeviceProcessEvents has no pre-filter');
  return NEEDLES[table];
}

/**
 * Whether one row's JSON text (no newline inside a needle; any bytes) can matter to
 * the rule for `table`. This is the definition; `forEachCandidateLine` and
 * `hitPositions` are the fast chunk-wide forms of the same test.
 */
export function mayMatter(table: TableName, rowJson: Buffer | string): boolean {
  const bytes = typeof rowJson === 'string' ? Buffer.from(rowJson, 'utf8') : rowJson;
  if (nextUnicodeEscape(bytes, 0) >= 0) return true;
  return needleOf(table).next(bytes, 0) >= 0;
}

/** Which search the chunk-wide forms use: the SIMD kernel where it runs (`auto`), or the plain forms. */
export type ChunkSearch = 'auto' | 'plain';

/**
 * Calls `each(p)` in ascending order for every position of `chunk` where a needle of
 * `table` is reported (see `NeedleOf`) or a `\u` escape starts, until `each` returns a position to go on from
 * (positions before it are skipped; -1 or undefined: go on with the next one). Returns
 * the number of `\n` bytes in `chunk` when the kernel ran (it counts them in the same
 * pass), else undefined.
 */
function forEachHit(
  table: TableName,
  chunk: Buffer,
  each: (p: number) => number | undefined,
  search: ChunkSearch = 'auto',
): number | undefined {
  const needle = needleOf(table);
  const scanner = search === 'auto' ? byteScanner() : null;
  if (scanner) {
    let skipTo = 0;
    return scanner.forEachCandidate(chunk, needle.anchor, (p) => {
      if (p < skipTo || !(needle.at(chunk, p) || unicodeEscapeAt(chunk, p))) return;
      skipTo = each(p) ?? -1;
    });
  }
  let nextNeedle = needle.next(chunk, 0);
  let nextEscape = nextUnicodeEscape(chunk, 0);
  while (nextNeedle >= 0 || nextEscape >= 0) {
    const hit = nextNeedle < 0 ? nextEscape : nextEscape < 0 ? nextNeedle : Math.min(nextNeedle, nextEscape);
    const from = Math.max(hit + 1, each(hit) ?? -1);
    if (from >= chunk.length) return undefined;
    if (nextNeedle >= 0 && nextNeedle < from) nextNeedle = needle.next(chunk, from);
    if (nextEscape >= 0 && nextEscape < from) nextEscape = nextUnicodeEscape(chunk, from);
  }
  return undefined;
}

/**
 * Calls `onLine(start, end)` (end exclusive, without the `\n`) for each line of
 * `chunk` that `mayMatter`, in order, and returns the number of `\n` bytes in `chunk`.
 * Lines are separated by `\n`; the chunk holds whole lines only. Lines with neither the
 * anchor nor `\u` cost no work in JavaScript: the kernel finds the candidates over the
 * whole chunk, and counts its lines in the same pass.
 */
export function forEachCandidateLine(
  table: TableName,
  chunk: Buffer,
  onLine: (start: number, end: number) => void,
  search: ChunkSearch = 'auto',
): number {
  const newlines = forEachHit(
    table,
    chunk,
    (hit) => {
      const start = chunk.lastIndexOf(10, hit) + 1;
      let end = chunk.indexOf(10, hit);
      if (end < 0) end = chunk.length;
      onLine(start, end);
      return end + 1; // the rest of the line is decided
    },
    search,
  );
  return newlines ?? countNewlines(chunk, chunk.length);
}

/**
 * Where in `chunk` a needle of `table` is reported (a position inside it, see
 * `NeedleOf`) or a `\u` escape starts, in ascending order: a row whose bytes hold none
 * of these positions cannot matter. For readers whose rows
 * are not lines (JSON array elements, CSV records), which check each row's span.
 */
export function hitPositions(table: TableName, chunk: Buffer, search: ChunkSearch = 'auto'): number[] {
  const hits: number[] = [];
  forEachHit(table, chunk, (p) => void hits.push(p), search);
  return hits;
}
