/**
 * The rule's final statement, after `RunCommandData`:
 *
 * ```kql
 * let totals = toscalar (RunCommandData | summarize count());
 * let hashTotals = RunCommandData | summarize HashCount=count() by ScriptFingerprintHash;
 * RunCommandData
 * | join kind=leftouter (hashTotals) on ScriptFingerprintHash
 * | extend Prevalence = toreal(HashCount) / toreal(totals) * 100
 * | where HashCount == 1
 * | extend timestamp = StartTime
 * | extend CallerName = tostring(split(Caller, "@")[0]), CallerUPNSuffix = tostring(split(Caller, "@")[1])
 * | project timestamp, StartTime, EndTime, PowershellFileName, VirtualMachineName, Caller, CallerName, CallerUPNSuffix, CallerIpAddress, PowershellScriptCommands, PowershellFileSize, ScriptFingerprintHash, Prevalence, Scope
 * ```
 */
import type { FindingIdentity, RunCommandFinding } from '../schema';
import { scriptFileEvidence, type ScriptFileEvidence } from '../evidence';
import { arrayIndex, ordinalCompare, split, tostring } from '../kql';
import { runCommandDataRow, type RunCommandDataGroup, type RunCommandDataRow } from './joins';

/** `let hashTotals = RunCommandData | summarize HashCount=count() by ScriptFingerprintHash;` */
export function hashTotals(rows: readonly RunCommandDataRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.ScriptFingerprintHash, (counts.get(row.ScriptFingerprintHash) ?? 0) + 1);
  return counts;
}

/** `Prevalence = toreal(HashCount) / toreal(totals) * 100` (trap 6: always 100 / totals here). */
export function prevalence(hashCount: number, totals: number): number {
  return (hashCount / totals) * 100;
}

/** The columns of a `RunCommandData` row that the final `project` reads (corrected mode's executions have them too). */
export type FinalProjectColumns = Pick<
  RunCommandDataRow,
  | 'StartTime'
  | 'EndTime'
  | 'PowershellFileName'
  | 'VirtualMachineName'
  | 'Caller'
  | 'CallerIpAddress'
  | 'PowershellScriptCommands'
  | 'PowershellFileSize'
  | 'ScriptFingerprintHash'
  | 'Scope'
>;

/**
 * `| extend timestamp = StartTime`
 * `| extend CallerName = tostring(split(Caller, "@")[0]), CallerUPNSuffix = tostring(split(Caller, "@")[1])`
 * `| project timestamp, StartTime, ..., Scope` (Scope, dynamic in KQL, is output as its `tostring`).
 */
export function toFinding(row: FinalProjectColumns, Prevalence: number): RunCommandFinding {
  const callerParts = split(row.Caller, '@');
  return {
    timestamp: row.StartTime,
    StartTime: row.StartTime,
    EndTime: row.EndTime,
    PowershellFileName: row.PowershellFileName,
    VirtualMachineName: row.VirtualMachineName,
    Caller: row.Caller,
    CallerName: tostring(arrayIndex(callerParts, 0)),
    CallerUPNSuffix: tostring(arrayIndex(callerParts, 1)),
    CallerIpAddress: row.CallerIpAddress,
    PowershellScriptCommands: [...row.PowershellScriptCommands],
    PowershellFileSize: row.PowershellFileSize,
    ScriptFingerprintHash: row.ScriptFingerprintHash,
    Prevalence,
    Scope: tostring(row.Scope),
  };
}

/** A finding with what identifies its event (see FindingIdentity) and its script file's evidence. */
export interface IdentifiedFinding {
  finding: RunCommandFinding;
  identity: FindingIdentity;
  /** The folder and SHA256 of the DeviceFileEvents row the finding joined to (not part of the rule's row). */
  evidence: ScriptFileEvidence;
}

/**
 * The order we return findings in (the rule's result has no order): StartTime, then
 * ScriptFingerprintHash (unique among findings, since each hash occurs once), ordinal.
 */
export function compareFindings(a: RunCommandFinding, b: RunCommandFinding): number {
  return ordinalCompare(a.StartTime, b.StartTime) || ordinalCompare(a.ScriptFingerprintHash, b.ScriptFingerprintHash);
}

/**
 * totals, hashTotals, the join, Prevalence, `where HashCount == 1` and the final project,
 * over `RunCommandData` rows as the KQL reads; `finish` uses the grouped form below,
 * which the stage tests check against this one.
 */
export function uniqueFindings(rows: readonly RunCommandDataRow[]): RunCommandFinding[] {
  const totals = rows.length;
  const counts = hashTotals(rows);
  const findings: RunCommandFinding[] = [];
  for (const row of rows) {
    const HashCount = counts.get(row.ScriptFingerprintHash) as number;
    if (HashCount !== 1) continue;
    findings.push(toFinding(row, prevalence(HashCount, totals)));
  }
  return findings.sort(compareFindings);
}

/**
 * {@link uniqueFindings} over `RunCommandData` kept grouped (see `RunCommandDataGroup`):
 * `totals` and `hashTotals` add up group sizes, and a fingerprint that occurs once is
 * one group with one execution, the only row built.
 */
export function uniqueFindingsOfGroups(groups: readonly RunCommandDataGroup[]): {
  findings: IdentifiedFinding[];
  totals: number;
} {
  let totals = 0;
  const counts = new Map<string, number>();
  for (const { executions, hash } of groups) {
    totals += executions.length;
    counts.set(hash, (counts.get(hash) ?? 0) + executions.length);
  }
  const findings: IdentifiedFinding[] = [];
  for (const { list, executions, hash } of groups) {
    const HashCount = counts.get(hash) as number;
    if (HashCount !== 1) continue;
    const execution = executions[0]!;
    findings.push({
      finding: toFinding(runCommandDataRow(execution, list, hash), prevalence(HashCount, totals)),
      identity: {
        CorrelationId: execution.CorrelationId,
        VirtualMachineName: execution.VirtualMachineName,
        PowershellFileName: list.PowershellFileName,
        PowershellFileCreatedTimestamp: execution.PowershellFileCreatedTimestamp,
        InitiatingProcessCommandLine: list.InitiatingProcessCommandLine,
      },
      evidence: scriptFileEvidence(execution),
    });
  }
  return { findings: findings.sort((a, b) => compareFindings(a.finding, b.finding)), totals };
}
