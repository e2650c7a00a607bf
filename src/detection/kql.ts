/**
 * The KQL operators the rule uses, one function each, with the meaning fixed in
 * `docs/kql-semantics.md` (quoted above each function). Pure, no I/O.
 */
import { createHash } from 'node:crypto';

// ---------------------------------------------------------------------------
// Case mapping

/**
 * Simple upper-case mappings that JavaScript cannot give: for these characters
 * `toUpperCase` returns the *full* mapping (two characters, e.g. `ᾳ` → `ΑΙ`) while the
 * Unicode simple mapping (UnicodeData.txt), which .NET uses, is one character.
 * Greek letters with ypogegrammeni: U+1F80..87 → U+1F88..8F, U+1F90..97 → U+1F98..9F,
 * U+1FA0..A7 → U+1FA8..AF, U+1FB3 → U+1FBC, U+1FC3 → U+1FCC, U+1FF3 → U+1FFC.
 */
function simpleUpperSpecial(cp: number): number | undefined {
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) {
    return cp + 8;
  }
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return cp + 9;
  return undefined;
}

/** U+0131 LATIN SMALL LETTER DOTLESS I: .NET's invariant culture keeps it (ICU would give `I`). */
const DOTLESS_I = 0x131;

function upperCodePoint(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (cp === DOTLESS_I) return ch;
  const special = simpleUpperSpecial(cp);
  if (special !== undefined) return String.fromCodePoint(special);
  const up = ch.toUpperCase();
  // One code point in, one code point of the same UTF-16 length out: that is the
  // simple mapping. Anything longer (ß → SS, ﬁ → FI) is a full mapping: keep the char.
  if (up.length !== ch.length) return ch;
  if (up.length === 2 && up.codePointAt(0)! <= 0xffff) return ch;
  return up;
}

// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * `toupper(s)`. Doc decision: ".NET `ToUpperInvariant`, a simple one-to-one mapping per
 * character: `é`→`É`, `σ`→`Σ`; characters whose upper case is longer (`ß`, the
 * ligature `ﬁ`) stay as they are."
 *
 * Our decisions where the doc is silent: the mapping is per Unicode code point, so a
 * surrogate pair (an astral letter such as U+10428 DESERET SMALL LETTER LONG I) maps
 * to its simple upper case (U+10400), as .NET's ICU casing does; a lone surrogate stays
 * as is; U+0131 `ı` stays `ı` (.NET invariant behaviour). The result always has the
 * same UTF-16 length as the input. Checked against .NET 10 on every code point
 * (test/unit/detection/fixtures/dotnet10-ToUpperInvariant.txt); the only differences are
 * letters new in Unicode 16/17, which depend on the runtime's ICU version.
 */
export function toupper(s: string): string {
  if (ASCII_ONLY.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) out += upperCodePoint(ch);
  return out;
}

/**
 * The case folding of KQL's case-insensitive comparisons (`=~`, `has`). Decision: .NET
 * `StringComparison.OrdinalIgnoreCase`, which compares the {@link toupper} mapping of
 * each code point, except that a non-ASCII character never folds to an ASCII one:
 * `ſ` (U+017F) ≠ `s`, `ı` ≠ `i`, the Kelvin sign ≠ `k`; `é` = `É`, `σ` = `ς`, `µ` = `μ`.
 * (Checked against .NET 10.) The result has the input's UTF-16 length.
 */
export function caseFold(s: string): string {
  if (ASCII_ONLY.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    if (ch.charCodeAt(0) < 0x80) {
      out += ch.toUpperCase();
      continue;
    }
    const up = upperCodePoint(ch);
    out += up.charCodeAt(0) < 0x80 ? ch : up;
  }
  return out;
}

/** `a =~ b`: "case-insensitive equality", folded by {@link caseFold}. */
export function equalsIgnoreCase(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  if (a === b) return true;
  return caseFold(a) === caseFold(b);
}

/** `a == b`, `a != b`: "case-sensitive, ordinal". */
export function equalsOrdinal(a: string, b: string): boolean {
  return a === b;
}

/**
 * Ordinal comparison: "Decision: ordinal order (UTF-16 code units, as JavaScript `<`)",
 * used by `order by ... asc` and `max()` on strings.
 */
export function ordinalCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Terms: has, has_any

const LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;

/**
 * "A term is a maximal run of alphanumeric characters (Unicode letters and digits)";
 * "Decision: `_` is not alphanumeric." Letters are the Unicode categories L*, digits Nd
 * (as .NET `char.IsLetterOrDigit`), judged per code point.
 */
export function isAlphanumericCodePoint(cp: number): boolean {
  if (cp < 0x80) {
    return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
  }
  return LETTER_OR_DIGIT.test(String.fromCodePoint(cp));
}

/** The code point that ends just before UTF-16 index `i` (or -1 at the start). */
function codePointBefore(s: string, i: number): number {
  if (i <= 0) return -1;
  const low = s.charCodeAt(i - 1);
  if (low >= 0xdc00 && low <= 0xdfff && i >= 2) {
    const high = s.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) return s.codePointAt(i - 2) as number;
  }
  return low;
}

/** The code point that starts at UTF-16 index `i` (or -1 at the end). */
function codePointAt(s: string, i: number): number {
  return i >= s.length ? -1 : (s.codePointAt(i) as number);
}

/**
 * `haystack has needle`: "case-insensitive whole-term match. Where the needle starts
 * with an alphanumeric character, the character before the hit must not be
 * alphanumeric (or the hit starts the string); where it ends with one, the character
 * after must not be alphanumeric (or the hit ends the string)."
 * Case-insensitive by {@link caseFold}. Decision: an empty needle has no term and
 * matches nothing.
 */
export function has(haystack: string, needle: string): boolean {
  if (needle === '' || needle.length > haystack.length) return false;
  const checkStart = isAlphanumericCodePoint(needle.codePointAt(0) as number);
  const checkEnd = isAlphanumericCodePoint(codePointBefore(needle, needle.length));
  // Fast path for an ASCII needle (all the rule's): a hit in the needle's own case is a
  // hit in any case (folding keeps positions, and only ASCII folds to ASCII), so one
  // that stands as a whole term needs no case-folded copy of the haystack.
  if (isAscii(needle)) {
    for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
      const startOk = !checkStart || !isAlphanumericCodePoint(codePointBefore(haystack, at));
      const endOk = !checkEnd || !isAlphanumericCodePoint(codePointAt(haystack, at + needle.length));
      if (startOk && endOk) return true;
    }
  }
  const h = caseFold(haystack);
  const n = caseFold(needle);
  let at = h.indexOf(n);
  while (at !== -1) {
    const end = at + n.length;
    const startOk = !checkStart || !isAlphanumericCodePoint(codePointBefore(haystack, at));
    const endOk = !checkEnd || !isAlphanumericCodePoint(codePointAt(haystack, end));
    if (startOk && endOk) return true;
    at = h.indexOf(n, at + 1);
  }
  return false;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** `s has_any (n1, n2, ...)`: `s has` any of the needles. */
export function hasAny(haystack: string, needles: readonly string[]): boolean {
  for (const needle of needles) if (has(haystack, needle)) return true;
  return false;
}

/**
 * `list has_any ("a","b")` on a dynamic array: "true when the array's JSON text `has`
 * any of the needles".
 */
export function listHasAny(list: readonly unknown[], needles: readonly string[]): boolean {
  return hasAny(JSON.stringify(list), needles);
}

// ---------------------------------------------------------------------------
// dynamic values

/**
 * `parse_json(s)`: "valid JSON gives the value; invalid JSON gives the original string
 * as a dynamic string; a value that is already dynamic passes through."
 */
export function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value === undefined ? null : value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/**
 * `d.name`: "Property access (`.scope`, `.Command`) on anything but an object gives
 * null. Property names are case-sensitive."
 */
export function getProperty(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  if (!Object.prototype.hasOwnProperty.call(value, name)) return null;
  const v = (value as Record<string, unknown>)[name];
  return v === undefined ? null : v;
}

/**
 * `tostring(v)`: "`tostring(null)` is `""`; `tostring` of a dynamic string is the bare
 * string; of a number, its digits (`42`, a real `118.0` prints `118`); of an array or
 * object, compact JSON with no spaces". Decision: JSON text is JavaScript's
 * `JSON.stringify`. Booleans print `true`/`false`. Non-integer reals print JavaScript's
 * shortest round-trip form (an area the rule never reaches with real data).
 */
export function tostring(value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return compactJson(value);
  }
}

/**
 * Compact JSON text of a dynamic array or object, with no limit on its nesting. Kusto
 * documents no depth limit for `dynamic` (only the 1 MB cell size; Doc: "The dynamic
 * data type"), and `parse_json` of such text gives the nested value, so `tostring` of
 * a property nested thousands deep must give its text, never a stack overflow.
 * `JSON.stringify` recurses (RangeError at a few thousand levels): it is used as is for
 * ordinary values, and an explicit stack does the same work when it runs out of stack.
 * The output is `JSON.stringify`'s, character for character.
 */
export function compactJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return compactJsonIterative(value);
  }
}

type JsonFrame =
  | { array: readonly unknown[]; next: number }
  | { object: Record<string, unknown>; keys: string[]; next: number; written: number };

function compactJsonIterative(root: unknown): string {
  const out: string[] = [];
  const stack: JsonFrame[] = [];
  // Writes a value: a scalar at once, an array or object by pushing its frame.
  const open = (value: unknown, inArray: boolean): void => {
    if (Array.isArray(value)) {
      out.push('[');
      stack.push({ array: value, next: 0 });
    } else if (typeof value === 'object' && value !== null) {
      out.push('{');
      stack.push({ object: value as Record<string, unknown>, keys: Object.keys(value), next: 0, written: 0 });
    } else {
      const text = JSON.stringify(value);
      out.push(text === undefined ? (inArray ? 'null' : '') : text);
    }
  };
  open(root, false);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if ('array' in frame) {
      if (frame.next === frame.array.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      const item = frame.array[frame.next++];
      // JSON.stringify writes null for undefined and functions in an array.
      open(item === undefined || typeof item === 'function' ? null : item, true);
    } else {
      if (frame.next === frame.keys.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      const key = frame.keys[frame.next++]!;
      const item = frame.object[key];
      // ... and leaves out undefined and function properties.
      if (item === undefined || typeof item === 'function') continue;
      if (frame.written++ > 0) out.push(',');
      out.push(JSON.stringify(key), ':');
      open(item, false);
    }
  }
  return out.join('');
}

/**
 * `split(s, "/")`: "JavaScript `split` on the string form (`tostring`); `split("", "/")`
 * is `[""]`".
 */
export function split(value: unknown, delimiter: string): string[] {
  return tostring(value).split(delimiter);
}

/**
 * `arr[i]`, `arr[-1]`: "negative indexes count from the end, `[-1]` is the last element;
 * out of range gives null".
 */
export function arrayIndex<T>(array: readonly T[], index: number): T | null {
  const i = index < 0 ? array.length + index : index;
  return i >= 0 && i < array.length ? array[i] : null;
}

// ---------------------------------------------------------------------------
// Strings

/**
 * `isnotempty(s)`: "not `""` and not null".
 */
export function isnotempty(value: unknown): boolean {
  return value !== null && value !== undefined && value !== '';
}

/**
 * Rust regex `\s` (Unicode `White_Space`): "tab, LF, VT, FF, CR, space, U+0085, U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000". JavaScript's `\s`
 * differs (it has U+FEFF, lacks U+0085), so the class is written out.
 */
export const RUST_WHITE_SPACE =
  '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';

/**
 * `extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)`.
 * No alternation and a digit run that must be followed by `.`, so the leftmost match
 * and its group are the same in Rust's leftmost-first engine and JavaScript's
 * backtracking one: `-File script1234567890.ps1` has no match at that `-File`
 * (nine digits then `0`, not `.`), and the search goes on to any later `-File`.
 */
export const SCRIPT_NAME_PATTERN = new RegExp(`-File${RUST_WHITE_SPACE}(script[0-9]{1,9}\\.ps1)`);

/**
 * `extract(re, 1, s)`: "first match of the regex, capture group 1; no match gives
 * `""`", for the rule's one regex. Cheap pre-check: every match contains `-File`.
 */
export function extractScriptName(commandLine: string): string {
  if (commandLine.indexOf('-File') === -1) return '';
  const m = SCRIPT_NAME_PATTERN.exec(commandLine);
  return m ? m[1] : '';
}

/**
 * `hash_sha256(s)`: "SHA-256 of the UTF-8 bytes, lowercase hex". (A lone surrogate is
 * encoded as U+FFFD, as both Node and .NET do.)
 */
export function hashSha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `between (a .. b)`: "`a <= x and x <= b`, inclusive at both ends; a null on either side drops the row". */
export function between(x: string | null, low: string | null, high: string | null): boolean {
  if (x === null || low === null || high === null) return false;
  return low <= x && x <= high;
}
