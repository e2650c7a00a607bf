/**
 * The allowlist: entries a SOC keeps in a Microsoft Sentinel watchlist (ALLOWLIST_WATCHLIST,
 * read by src/logAnalytics/watchlist.ts) or in the CSV file it uploads there. A finding
 * an entry in force matches is not written as an alert; it is counted in the health
 * record and logged with the entry's reason (src/job/runDetectionJob.ts).
 *
 * One row of the watchlist is one entry, in four columns (docs/operations.md, "Allowlist"):
 *
 *   Kind     the findings-table column the entry matches: ScriptSha256, ScriptFingerprintHash,
 *            Caller, VirtualMachineName or CallerIpAddress;
 *   Value    what that column must hold (a SHA256 in hex; a UPN or object id; a VM name;
 *            an IP address or a CIDR range);
 *   Reason   why it is allowed (required: it is logged with each finding it suppresses);
 *   Expires  empty (never), a date YYYY-MM-DD (in force through that UTC day) or an
 *            ISO 8601 datetime with Z or an offset (in force until that instant).
 *
 * Pure: parsing never throws on a bad row (it is refused, with the row named and what
 * is wrong), and matching depends only on the entries, the finding and the clock.
 */
import { BlockList, isIP } from 'node:net';
import { caseFold } from '../detection/kql';

/** The findings-table columns an entry may name, as RunCommandFindings_CL spells them. */
export const ALLOWLIST_KINDS = [
  'ScriptSha256',
  'ScriptFingerprintHash',
  'Caller',
  'VirtualMachineName',
  'CallerIpAddress',
] as const;
export type AllowlistKind = (typeof ALLOWLIST_KINDS)[number];

/** The watchlist's columns, in the order of the CSV a SOC uploads. */
export const ALLOWLIST_COLUMNS = ['Kind', 'Value', 'Reason', 'Expires'] as const;

/** One row as the watchlist (or its CSV file) holds it: every cell text, '' when absent. */
export interface AllowlistRow {
  /** Where the row is, for messages: "watchlist item 3f2a…" or "allowlist.csv line 4". */
  where: string;
  Kind: string;
  Value: string;
  Reason: string;
  Expires: string;
}

/** A valid entry. */
export interface AllowlistEntry {
  where: string;
  kind: AllowlistKind;
  /** The Value as given (trimmed). */
  value: string;
  reason: string;
  /** The Expires cell as given; '' = never. */
  expires: string;
  /** When the entry stops suppressing (epoch ms), or null: never. */
  expiresAtMs: number | null;
}

/** A row that is not applied, and why. */
export interface RefusedAllowlistRow {
  where: string;
  problem: string;
}

export interface Allowlist {
  /** Where the entries came from: "watchlist 'RunCommandAllowlist'", a file path. */
  source: string;
  entries: AllowlistEntry[];
  refused: RefusedAllowlistRow[];
}

/** What of a finding an entry can match: its findings-table columns of those names. */
export interface FindingSubject {
  ScriptSha256: string | null;
  ScriptFingerprintHash: string;
  Caller: string;
  VirtualMachineName: string;
  CallerIpAddress: string;
}

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Parses and checks every row: valid ones become entries, the others are refused with the reason. */
export function parseAllowlist(source: string, rows: readonly AllowlistRow[]): Allowlist {
  const entries: AllowlistEntry[] = [];
  const refused: RefusedAllowlistRow[] = [];
  for (const row of rows) {
    const parsed = parseRow(row);
    if ('problem' in parsed) refused.push({ where: row.where, problem: parsed.problem });
    else entries.push(parsed);
  }
  return { source, entries, refused };
}

function parseRow(row: AllowlistRow): AllowlistEntry | { problem: string } {
  const kindText = row.Kind.trim();
  const kind = ALLOWLIST_KINDS.find((k) => k.toLowerCase() === kindText.toLowerCase());
  if (!kind) {
    return {
      problem:
        kindText === ''
          ? `Kind is empty; give one of ${ALLOWLIST_KINDS.join(', ')}`
          : `unknown Kind '${kindText}'; give one of ${ALLOWLIST_KINDS.join(', ')}`,
    };
  }
  const value = row.Value.trim();
  const valueProblem = checkValue(kind, value);
  if (valueProblem) return { problem: valueProblem };
  const reason = row.Reason.trim();
  if (reason === '') return { problem: 'Reason is empty; say why the finding is allowed (it is logged with each one)' };
  const expires = row.Expires.trim();
  const expiresAtMs = parseExpires(expires);
  if (expiresAtMs === undefined) {
    return {
      problem:
        `Expires '${expires}' is not a date (YYYY-MM-DD, in force through that UTC day) or an ISO 8601 ` +
        'datetime with Z or an offset; leave it empty for no expiry',
    };
  }
  return { where: row.where, kind, value, reason, expires, expiresAtMs };
}

function checkValue(kind: AllowlistKind, value: string): string | undefined {
  if (value === '') return `Value is empty; give the ${kind} to allow`;
  if (value.includes('*')) return `Value '${value}' has a '*': entries match exactly, there are no wildcards`;
  switch (kind) {
    case 'ScriptSha256':
    case 'ScriptFingerprintHash':
      return HEX_SHA256.test(value) ? undefined : `Value '${value}' is not a SHA256 (64 hexadecimal digits)`;
    case 'CallerIpAddress':
      return ipRange(value) ? undefined : `Value '${value}' is not an IP address or a CIDR range (10.0.0.0/24)`;
    default:
      return undefined;
  }
}

/**
 * Expires as epoch ms; null = never (empty); undefined = not a valid expiry. A date
 * alone keeps the entry in force through that UTC day (it expires at the next midnight).
 */
export function parseExpires(text: string): number | null | undefined {
  if (text === '') return null;
  const day = DATE_ONLY.exec(text);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const ms = Date.UTC(y, m - 1, d);
    const back = new Date(ms);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) return undefined;
    return ms + 86_400_000;
  }
  if (!DATE_TIME.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The entries in force at `nowMs`, and those that have expired. */
export function entriesAt(
  entries: readonly AllowlistEntry[],
  nowMs: number,
): { inForce: AllowlistEntry[]; expired: AllowlistEntry[] } {
  const inForce: AllowlistEntry[] = [];
  const expired: AllowlistEntry[] = [];
  for (const e of entries) (e.expiresAtMs !== null && e.expiresAtMs <= nowMs ? expired : inForce).push(e);
  return { inForce, expired };
}

/** The first entry (in watchlist order) that matches the finding, or undefined. */
export function matchingEntry(entries: readonly AllowlistEntry[], subject: FindingSubject): AllowlistEntry | undefined {
  return entries.find((e) => matches(e, subject));
}

/**
 * Hashes in any case of their hex digits; Caller and VirtualMachineName as KQL `=~`
 * compares them (case-insensitive, the way AzureActivity and Defender spell them
 * differently); CallerIpAddress exactly or within the entry's CIDR range.
 */
export function matches(entry: AllowlistEntry, subject: FindingSubject): boolean {
  switch (entry.kind) {
    case 'ScriptSha256':
      return subject.ScriptSha256 !== null && subject.ScriptSha256.toLowerCase() === entry.value.toLowerCase();
    case 'ScriptFingerprintHash':
      return subject.ScriptFingerprintHash.toLowerCase() === entry.value.toLowerCase();
    case 'Caller':
      return caseFold(subject.Caller) === caseFold(entry.value);
    case 'VirtualMachineName':
      return caseFold(subject.VirtualMachineName) === caseFold(entry.value);
    case 'CallerIpAddress':
      return ipInRange(subject.CallerIpAddress, entry.value);
  }
}

/** The range an IP or CIDR value stands for, or undefined when it is neither. */
function ipRange(value: string): { list: BlockList } | undefined {
  const slash = value.indexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  if (slash < 0) {
    list.addAddress(address, type);
    return { list };
  }
  const prefixText = value.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) return undefined;
  list.addSubnet(address, prefix, type);
  return { list };
}

function ipInRange(ip: string, value: string): boolean {
  const family = isIP(ip.trim());
  if (family === 0) return false;
  return ipRange(value)?.list.check(ip.trim(), family === 4 ? 'ipv4' : 'ipv6') ?? false;
}

/** "ScriptSha256 '3f…' (weekly patching, expires 2027-01-31) [watchlist item 12]": an entry in a message. */
export function describeEntry(entry: AllowlistEntry): string {
  const expiry = entry.expires === '' ? '' : `, expires ${entry.expires}`;
  return `${entry.kind} '${entry.value}' (${entry.reason}${expiry}) [${entry.where}]`;
}
