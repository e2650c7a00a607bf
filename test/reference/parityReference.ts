/**
 * A plain reference implementation of the rule's query, for differential tests only.
 *
 * Each KQL step is transcribed literally, one whole table at a time: `where` is a
 * filter over the table, `summarize` a linear search for the group, `join` a nested
 * loop over both sides, `order by` a sort. Nothing here is shared with src/ except the
 * schema types and the datetime helpers; every operator is written again, on purpose
 * in a different way (tick arithmetic instead of text comparison, a hand-written
 * matcher instead of a regex, a whole-list has_any), so the two can disagree.
 * Speed does not matter here.
 */
import { createHash } from 'node:crypto';
import { toUnixTicks, type KqlDateTime } from '../../src/detection/datetime';
import type {
  AzureActivityRow,
  DeviceEventsRow,
  DeviceFileEventsRow,
  RunCommandFinding,
} from '../../src/detection/schema';

// ----- operators -----------------------------------------------------------

/** .NET ToUpperInvariant of one code point (simple mapping; ı kept; longer full mappings kept). */
function upperOne(ch: string): string {
  if (ch === 'ı') return ch;
  const greekIotaSubscript: Record<string, string> = { ᾳ: 'ᾼ', ῃ: 'ῌ', ῳ: 'ῼ' };
  if (greekIotaSubscript[ch]) return greekIotaSubscript[ch];
  const cp = ch.codePointAt(0)!;
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) {
    return String.fromCodePoint(cp + 8);
  }
  const full = ch.toUpperCase();
  const codePoints = Array.from(full);
  if (codePoints.length === 1 && full.length === ch.length) return full;
  return ch;
}

function refToupper(s: string): string {
  return Array.from(s).map(upperOne).join('');
}

/** .NET OrdinalIgnoreCase folding: as toupper, but nothing non-ASCII becomes ASCII. */
function fold(s: string): string {
  return Array.from(s)
    .map((ch) => {
      const up = upperOne(ch);
      const wasAscii = ch.charCodeAt(0) < 128;
      const isAscii = up.charCodeAt(0) < 128;
      return !wasAscii && isAscii ? ch : up;
    })
    .join('');
}

function isLetterOrDigit(ch: string | undefined): boolean {
  return ch !== undefined && /^[\p{L}\p{Nd}]$/u.test(ch);
}

/** The whole code point ending just before UTF-16 index i. */
function charBefore(s: string, i: number): string | undefined {
  const head = Array.from(s.slice(0, i));
  return head[head.length - 1];
}

/** The whole code point starting at UTF-16 index i. */
function charAfter(s: string, i: number): string | undefined {
  return Array.from(s.slice(i))[0];
}

function refHas(haystack: string, needle: string): boolean {
  if (needle === '') return false;
  const h = fold(haystack);
  const n = fold(needle);
  const needleChars = Array.from(needle);
  const startsAlnum = isLetterOrDigit(needleChars[0]);
  const endsAlnum = isLetterOrDigit(needleChars[needleChars.length - 1]);
  for (let i = 0; i + n.length <= h.length; i++) {
    if (h.slice(i, i + n.length) !== n) continue;
    if (startsAlnum && isLetterOrDigit(charBefore(haystack, i))) continue;
    if (endsAlnum && isLetterOrDigit(charAfter(haystack, i + n.length))) continue;
    return true;
  }
  return false;
}

function refParseJson(v: unknown): unknown {
  if (typeof v === 'string') {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v ?? null;
}

function refProperty(v: unknown, name: string): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).includes(name)) {
    return (v as Record<string, unknown>)[name] ?? null;
  }
  return null;
}

function refTostring(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return `${v}`;
  return JSON.stringify(v);
}

function refIndex(arr: string[], i: number): string | null {
  const at = i >= 0 ? i : arr.length + i;
  return at >= 0 && at < arr.length ? arr[at] : null;
}

const WHITE_SPACE = new Set(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000].concat(
    Array.from({ length: 11 }, (_, k) => 0x2000 + k),
  ),
);

/** extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, s), matched by hand at each start position. */
function refExtract(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (!s.startsWith('-File', i)) continue;
    const ws = s.codePointAt(i + 5);
    if (ws === undefined || !WHITE_SPACE.has(ws)) continue;
    const start = i + 6; // every White_Space character is one UTF-16 unit
    if (!s.startsWith('script', start)) continue;
    let j = start + 6;
    while (j < s.length && s[j] >= '0' && s[j] <= '9') j++;
    const digits = j - (start + 6);
    if (digits < 1 || digits > 9) continue;
    if (!s.startsWith('.ps1', j)) continue;
    return s.slice(start, j + 4);
  }
  return '';
}

function ticks(t: KqlDateTime): bigint {
  return toUnixTicks(t);
}

function minTime(ts: Array<KqlDateTime | null>): KqlDateTime | null {
  let best: KqlDateTime | null = null;
  for (const t of ts) if (t !== null && (best === null || ticks(t) < ticks(best))) best = t;
  return best;
}

function maxTime(ts: Array<KqlDateTime | null>): KqlDateTime | null {
  let best: KqlDateTime | null = null;
  for (const t of ts) if (t !== null && (best === null || ticks(t) > ticks(best))) best = t;
  return best;
}

function refBetween(x: KqlDateTime | null, a: KqlDateTime | null, b: KqlDateTime | null): boolean {
  if (x === null || a === null || b === null) return false;
  return ticks(a) <= ticks(x) && ticks(x) <= ticks(b);
}

// ----- the query -------------------------------------------------------------

export interface ReferenceResult {
  findings: RunCommandFinding[];
  totals: number;
}

export function referenceQuery(
  AzureActivity: AzureActivityRow[],
  DeviceFileEvents: DeviceFileEventsRow[],
  DeviceEvents: DeviceEventsRow[],
): ReferenceResult {
  // | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
  const a1 = AzureActivity.filter(
    (r) => fold(r.OperationNameValue) === fold('Microsoft.Compute/virtualMachines/runCommand/action'),
  );
  // | where Authorization has "virtualMachines"
  const a2 = a1.filter((r) => refHas(r.Authorization, 'virtualMachines'));
  // | summarize ... by CorrelationId, Authorization, Caller
  const groups: Array<{ CorrelationId: string; Authorization: string; Caller: string; rows: AzureActivityRow[] }> = [];
  for (const r of a2) {
    let g = groups.find(
      (x) => x.CorrelationId === r.CorrelationId && x.Authorization === r.Authorization && x.Caller === r.Caller,
    );
    if (!g) {
      g = { CorrelationId: r.CorrelationId, Authorization: r.Authorization, Caller: r.Caller, rows: [] };
      groups.push(g);
    }
    g.rows.push(r);
  }
  const a3 = groups.map((g) => ({
    CorrelationId: g.CorrelationId,
    Authorization: g.Authorization,
    Caller: g.Caller,
    StartTime: minTime(g.rows.map((r) => r.TimeGenerated)),
    EndTime: maxTime(g.rows.map((r) => r.TimeGenerated)),
    max_CallerIpAddress: g.rows.map((r) => r.CallerIpAddress).reduce((m, ip) => (ip > m ? ip : m)),
    list_ActivityStatusValue: g.rows.map((r) => r.ActivityStatusValue),
  }));
  // | where list_ActivityStatusValue has_any ("Succeeded", "Success")
  const a4 = a3.filter((r) => {
    const text = JSON.stringify(r.list_ActivityStatusValue);
    return refHas(text, 'Succeeded') || refHas(text, 'Success');
  });
  // extend Authorization_d, Scope, Scope_s, Subscription, VirtualMachineName; project
  const left1 = a4.map((r) => {
    const Authorization_d = refParseJson(r.Authorization);
    const Scope = refProperty(Authorization_d, 'scope');
    const Scope_s = refTostring(Scope).split('/');
    return {
      StartTime: r.StartTime,
      EndTime: r.EndTime,
      Subscription: refTostring(refIndex(Scope_s, 2)),
      VirtualMachineName: refTostring(refIndex(Scope_s, -1)),
      CorrelationId: r.CorrelationId,
      Caller: r.Caller,
      CallerIpAddress: r.max_CallerIpAddress,
      Scope,
    };
  });

  // DeviceFileEvents | where InitiatingProcessFileName == "RunCommandExtension.exe" | extend | project
  const right1 = DeviceFileEvents.filter((r) => r.InitiatingProcessFileName === 'RunCommandExtension.exe').map((r) => ({
    VirtualMachineName: refTostring(refIndex(r.DeviceName.split('.'), 0)),
    PowershellFileCreatedTimestamp: r.TimeGenerated,
    FileName: r.FileName,
    FileSize: r.FileSize,
  }));

  // | join kind=leftouter (...) on VirtualMachineName
  type Joined1 = (typeof left1)[number] & {
    PowershellFileCreatedTimestamp: KqlDateTime | null;
    FileName: string | null;
    FileSize: number | null;
  };
  const j1: Joined1[] = [];
  for (const l of left1) {
    let matched = false;
    for (const r of right1) {
      if (l.VirtualMachineName === r.VirtualMachineName) {
        matched = true;
        j1.push({ ...l, ...r, VirtualMachineName: l.VirtualMachineName });
      }
    }
    if (!matched) j1.push({ ...l, PowershellFileCreatedTimestamp: null, FileName: null, FileSize: null });
  }
  // | where PowershellFileCreatedTimestamp between (StartTime .. EndTime)
  const j1f = j1.filter((r) => refBetween(r.PowershellFileCreatedTimestamp, r.StartTime, r.EndTime));

  // DeviceEvents side
  const d1 = DeviceEvents.map((r) => ({ ...r, VirtualMachineName: refTostring(refIndex(r.DeviceName.split('.'), 0)) }))
    .filter((r) => refHas(r.InitiatingProcessCommandLine, '-File'))
    .map((r) => ({ ...r, PowershellFileName: refExtract(r.InitiatingProcessCommandLine) }))
    .filter((r) => r.PowershellFileName !== '')
    .map((r) => ({ ...r, PSCommand: refTostring(refProperty(refParseJson(r.AdditionalFields), 'Command')) }))
    .filter((r) => r.PSCommand !== r.PowershellFileName)
    .map((r) => ({ ...r, PSCommand: refToupper(r.PSCommand) }));
  // | order by PSCommand asc (ordinal, stable)
  const d2 = [...d1].sort((x, y) => (x.PSCommand < y.PSCommand ? -1 : x.PSCommand > y.PSCommand ? 1 : 0));
  // | summarize ..., make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine
  const right2: Array<{
    PowershellFileName: string;
    InitiatingProcessCommandLine: string;
    list_PSCommand: string[];
  }> = [];
  for (const r of d2) {
    let g = right2.find(
      (x) =>
        x.PowershellFileName === r.PowershellFileName &&
        x.InitiatingProcessCommandLine === r.InitiatingProcessCommandLine,
    );
    if (!g) {
      g = {
        PowershellFileName: r.PowershellFileName,
        InitiatingProcessCommandLine: r.InitiatingProcessCommandLine,
        list_PSCommand: [],
      };
      right2.push(g);
    }
    g.list_PSCommand.push(r.PSCommand);
  }

  // | join kind=inner (...) on $left.FileName == $right.PowershellFileName | project ... | extend ScriptFingerprintHash
  const RunCommandData: Array<{
    StartTime: KqlDateTime;
    EndTime: KqlDateTime;
    PowershellFileName: string;
    PowershellScriptCommands: string[];
    Caller: string;
    CallerIpAddress: string;
    PowershellFileSize: number | null;
    VirtualMachineName: string;
    Scope: unknown;
    ScriptFingerprintHash: string;
  }> = [];
  for (const l of j1f) {
    for (const r of right2) {
      if (l.FileName === r.PowershellFileName) {
        RunCommandData.push({
          StartTime: l.StartTime as KqlDateTime,
          EndTime: l.EndTime as KqlDateTime,
          PowershellFileName: r.PowershellFileName,
          PowershellScriptCommands: r.list_PSCommand,
          Caller: l.Caller,
          CallerIpAddress: l.CallerIpAddress,
          PowershellFileSize: l.FileSize,
          VirtualMachineName: l.VirtualMachineName,
          Scope: l.Scope,
          ScriptFingerprintHash: createHash('sha256')
            .update(Buffer.from(JSON.stringify(r.list_PSCommand), 'utf8'))
            .digest('hex'),
        });
      }
    }
  }

  // let totals = toscalar(RunCommandData | summarize count());
  const totals = RunCommandData.length;
  const findings: RunCommandFinding[] = [];
  for (const row of RunCommandData) {
    // hashTotals joined on ScriptFingerprintHash
    let HashCount = 0;
    for (const other of RunCommandData) if (other.ScriptFingerprintHash === row.ScriptFingerprintHash) HashCount++;
    const Prevalence = (HashCount / totals) * 100;
    if (HashCount !== 1) continue;
    const callerParts = row.Caller.split('@');
    findings.push({
      timestamp: row.StartTime,
      StartTime: row.StartTime,
      EndTime: row.EndTime,
      PowershellFileName: row.PowershellFileName,
      VirtualMachineName: row.VirtualMachineName,
      Caller: row.Caller,
      CallerName: refTostring(refIndex(callerParts, 0)),
      CallerUPNSuffix: refTostring(refIndex(callerParts, 1)),
      CallerIpAddress: row.CallerIpAddress,
      PowershellScriptCommands: row.PowershellScriptCommands,
      PowershellFileSize: row.PowershellFileSize,
      ScriptFingerprintHash: row.ScriptFingerprintHash,
      Prevalence,
      Scope: refTostring(row.Scope),
    });
  }
  return { findings, totals };
}

/** The reference's own operators, for operator-level differential tests. */
export const referenceOperators = {
  has: refHas,
  toupper: refToupper,
  caseFold: fold,
  extract: refExtract,
  tostring: refTostring,
  parseJson: refParseJson,
  property: refProperty,
};
