/**
 * The Logs Ingestion API refuses a record with a field over 64 KB. Rather than lose the
 * finding, a column over the limit is cut, deterministically, and named in
 * TruncatedColumns:
 *   - an array (PowershellScriptCommands: a long script's command list) keeps its leading
 *     elements, whole, and drops trailing ones until it fits; nothing is appended;
 *   - an object keeps its leading keys (in their order) and drops trailing ones;
 *   - a string keeps its longest prefix that fits, never splitting a surrogate pair.
 * Sizes are counted conservatively: the UTF-8 bytes of the value's JSON text (quotes and
 * escapes included), against a limit a little under 64 KiB.
 */
import type { FindingRecord } from './record';

export const MAX_FIELD_BYTES = 64_000;

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');

/** The record with every column under `limit` bytes; TruncatedColumns lists what was cut. */
export function fitToFieldLimit(record: FindingRecord, limit = MAX_FIELD_BYTES): FindingRecord {
  const out: Record<string, unknown> = { ...record };
  const truncated: string[] = [];
  for (const [column, value] of Object.entries(record)) {
    if (column === 'TruncatedColumns' || value === null || jsonBytes(value) <= limit) continue;
    out[column] = cutToFit(value, limit);
    truncated.push(column);
  }
  out.TruncatedColumns = [...record.TruncatedColumns, ...truncated];
  return out as FindingRecord;
}

export function cutToFit(value: unknown, limit: number): unknown {
  if (typeof value === 'string') return cutString(value, limit);
  if (Array.isArray(value)) return cutArray(value, limit);
  if (typeof value === 'object' && value !== null) return cutObject(value as Record<string, unknown>, limit);
  return value; // numbers and booleans are never this large
}

/** Leading elements whose JSON, `[a,b,…]`, fits. */
function cutArray(items: unknown[], limit: number): unknown[] {
  let size = 2; // []
  let keep = 0;
  for (const item of items) {
    const add = jsonBytes(item) + (keep > 0 ? 1 : 0); // comma
    if (size + add > limit) break;
    size += add;
    keep++;
  }
  return items.slice(0, keep);
}

/** Leading keys whose JSON, `{"k":v,…}`, fits. */
function cutObject(obj: Record<string, unknown>, limit: number): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  let size = 2;
  let count = 0;
  for (const [key, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const add = jsonBytes(key) + 1 + jsonBytes(v) + (count > 0 ? 1 : 0);
    if (size + add > limit) break;
    size += add;
    kept[key] = v;
    count++;
  }
  return kept;
}

/** Longest prefix (in UTF-16 units, at a code point boundary) whose JSON text fits. */
function cutString(text: string, limit: number): string {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(text.slice(0, mid)) <= limit) lo = mid;
    else hi = mid - 1;
  }
  const last = text.charCodeAt(lo - 1);
  if (lo > 0 && last >= 0xd800 && last <= 0xdbff) lo -= 1;
  return text.slice(0, lo);
}
