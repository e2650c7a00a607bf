/**
 * Corrected mode (DETECTION_MODE=corrected): what the rule's description promises,
 * with the faults of the published query fixed (docs/kql-semantics.md, "Traps"):
 *
 * 1. the fingerprint covers the commands *and* the file size:
 *    `hash_sha256(strcat(tostring(PowershellScriptCommands), PowershellFileSize))`,
 *    the rule's own `TempFingerprintString`, which it computes and never uses;
 * 2. one execution per operation, script file and device: commands are never pooled
 *    across VMs that happen to run a script of the same name (see ./devices);
 * 3. the VM is matched to the device by short host name, case-insensitively;
 * 4. `InitiatingProcessFileName =~ "RunCommandExtension.exe"`;
 * 5. "unique" means "not seen in the last BASELINE_DAYS": the baseline of earlier
 *    windows is passed in, and this window's observations are passed out for the job
 *    to store (see ./baseline);
 * 6. `Prevalence` is the share of this window's executions that carry the finding's
 *    fingerprint (the rule's is always 100 / totals).
 *
 * And, beyond the listed traps: the script name after `-File` is matched in any case
 * of the parameter (`-file`), and an operation keeps all its events when the
 * Authorization text changes between them (see ./operations).
 *
 * Each operation is tied to the script file created on its VM during it, and to the
 * PowerShell commands of that script run on that same device within the operation's
 * window [StartTime, EndTime]. Pure: no I/O, no clock.
 */
import type { KqlDateTime } from '../datetime';
import {
  onTable,
  zeroPerTable,
  type PerTable,
  type FindingIdentity,
  AzureActivityRow,
  DeviceEventsRow,
  DeviceFileEventsRow,
  RunCommandFinding,
  TableName,
  TableRows,
} from '../schema';
import { hashSha256, ordinalCompare, tostring } from '../kql';
import { isRunCommandActivity } from '../parity/azureActivity';
import { toFinding } from '../parity/uniqueness';
import { isKnown, type Baseline, type BaselineEntry } from './baseline';
import { CorrectedOperations } from './operations';
import {
  DeviceActivity,
  hostKey,
  isRunCommandExtensionFileAnyCase,
  isScriptFileName,
  toCorrectedScriptCommand,
} from './devices';

/** One Run Command execution: an operation, the script file it wrote, and the commands that script ran. */
export interface ScriptExecution {
  CorrelationId: string;
  StartTime: KqlDateTime;
  EndTime: KqlDateTime;
  VirtualMachineName: string;
  DeviceName: string;
  Scope: string;
  Caller: string;
  CallerIpAddress: string;
  PowershellFileName: string;
  PowershellFileCreatedTimestamp: KqlDateTime;
  PowershellFileSize: number | null;
  /** Upper-cased (`toupper`), in ordinal order. */
  PowershellScriptCommands: string[];
  PowershellExecStartTime: KqlDateTime;
  PowershellExecEnd: KqlDateTime;
  ScriptFingerprintHash: string;
}

/** What corrected mode adds to a finding (the findings table's ExtendedProperties). */
export interface CorrectedFindingDetails {
  CorrelationId: string;
  DeviceName: string;
  PowershellFileCreatedTimestamp: KqlDateTime;
  PowershellExecStartTime: KqlDateTime;
  PowershellExecEnd: KqlDateTime;
  /** Executions in the window with this fingerprint, and all executions in the window. */
  FingerprintExecutionsInWindow: number;
  ExecutionsInWindow: number;
  BaselineDays: number;
  /** The baseline's entry when it knew the fingerprint only from before its horizon; null when never seen. */
  LastSeenBeforeHorizon: { FirstSeen: KqlDateTime; LastSeen: KqlDateTime; Count: number } | null;
}

export interface CorrectedFinding {
  finding: RunCommandFinding;
  identity: FindingIdentity;
  details: CorrectedFindingDetails;
}

export interface CorrectedStageCounts {
  rowsRead: Record<TableName, number>;
  runCommandActivityRows: number;
  /** Operations (CorrelationId, scope). */
  runCommandOperations: number;
  succeededOperations: number;
  /** DeviceFileEvents rows with `InitiatingProcessFileName =~ "RunCommandExtension.exe"`. */
  runCommandExtensionFiles: number;
  scriptCommandRows: number;
  /** Operation × script file × device commands: one per execution. */
  executions: number;
  /** Distinct fingerprints among the executions. */
  fingerprints: number;
  /** Executions whose fingerprint the baseline knew. */
  knownExecutions: number;
  findings: number;
}

export interface CorrectedResult {
  /** Sorted by StartTime, ScriptFingerprintHash, VirtualMachineName. */
  findings: CorrectedFinding[];
  /** One entry per fingerprint seen in this window, for the job to merge into the baseline. */
  observations: BaselineEntry[];
  executions: ScriptExecution[];
  stages: CorrectedStageCounts;
}

export interface CorrectedOptions {
  /** The window's start: the baseline counts what was seen in the BASELINE_DAYS before it. */
  windowStart: KqlDateTime;
  baselineDays: number;
  /** Fingerprints seen by earlier windows (empty on a first run). */
  baseline: Baseline;
}

/**
 * `hash_sha256(strcat(tostring(PowershellScriptCommands), PowershellFileSize))`: the
 * rule's `TempFingerprintString` (commands as compact JSON, then the size's digits; a
 * null size adds nothing, as `strcat` of an empty value).
 */
export function correctedFingerprint(commands: readonly string[], fileSize: number | null): string {
  return hashSha256(JSON.stringify(commands) + tostring(fileSize));
}

/** Corrected mode's row filters (the push-down filters of a corrected-mode source). */
const CORRECTED_ROW_FILTERS: PerTable<boolean> = {
  AzureActivity: (row) => isRunCommandActivity(row),
  DeviceFileEvents: (row) => isRunCommandExtensionFileAnyCase(row),
  DeviceEvents: (row) => toCorrectedScriptCommand(row) !== null,
};

export class CorrectedDetection {
  private readonly read = zeroPerTable();
  private runCommandActivityRows = 0;
  private readonly operations = new CorrectedOperations();
  private readonly devices = new DeviceActivity();

  /** Whether corrected mode can use a row (the push-down filters of a corrected-mode source). */
  static isRelevant<T extends TableName>(table: T, row: TableRows[T]): boolean {
    return onTable(table, row, CORRECTED_ROW_FILTERS);
  }

  add<T extends TableName>(table: T, row: TableRows[T]): void {
    this.read[table]++;
    onTable(table, row, this.adders);
  }

  private readonly adders: PerTable<void> = {
    AzureActivity: (row) => {
      if (this.operations.add(row)) this.runCommandActivityRows++;
    },
    DeviceFileEvents: (row) => this.devices.addFile(row),
    DeviceEvents: (row) => this.devices.addEvent(row),
  };

  /** The executions of the window (no baseline involved). */
  executions(): { executions: ScriptExecution[]; succeededOperations: number } {
    const executions: ScriptExecution[] = [];
    const succeeded = [...this.operations.succeeded()];
    /**
     * One script file per operation (a Run Command action runs one script): on each VM,
     * operations in order of StartTime each take the earliest script file created in
     * their window that no earlier operation took. Without this, two overlapping
     * operations on one VM would each claim both scripts.
     */
    const taken = new Set<object>();
    const fileOf = (host: string, op: (typeof succeeded)[number]) =>
      this.devices.filesOn(host, op.StartTime, op.EndTime).find((f) => !taken.has(f) && isScriptFileName(f.FileName));
    succeeded.sort(
      (a, b) => ordinalCompare(a.StartTime, b.StartTime) || ordinalCompare(a.CorrelationId, b.CorrelationId),
    );
    for (const op of succeeded) {
      const host = hostKey(op.VirtualMachineName);
      const file = fileOf(host, op);
      if (file) {
        taken.add(file);
        const commands = this.devices.commandsOf(host, file.FileName, op.StartTime, op.EndTime);
        if (commands.length === 0) continue;
        const list = commands.map((c) => c.PSCommand).sort(ordinalCompare);
        let execStart = commands[0]!.TimeGenerated;
        let execEnd = execStart;
        for (const c of commands) {
          if (c.TimeGenerated < execStart) execStart = c.TimeGenerated;
          if (c.TimeGenerated > execEnd) execEnd = c.TimeGenerated;
        }
        executions.push({
          CorrelationId: op.CorrelationId,
          StartTime: op.StartTime,
          EndTime: op.EndTime,
          VirtualMachineName: op.VirtualMachineName,
          DeviceName: file.DeviceName,
          Scope: op.Scope,
          Caller: op.Caller,
          CallerIpAddress: op.CallerIpAddress,
          PowershellFileName: file.FileName,
          PowershellFileCreatedTimestamp: file.created,
          PowershellFileSize: file.FileSize,
          PowershellScriptCommands: list,
          PowershellExecStartTime: execStart,
          PowershellExecEnd: execEnd,
          ScriptFingerprintHash: correctedFingerprint(list, file.FileSize),
        });
      }
    }
    return { executions, succeededOperations: succeeded.length };
  }

  /** Joins, fingerprints, and the baseline test. */
  finish(options: CorrectedOptions): CorrectedResult {
    const { executions, succeededOperations } = this.executions();
    const perFingerprint = new Map<string, BaselineEntry>();
    for (const e of executions) {
      const seen = perFingerprint.get(e.ScriptFingerprintHash);
      if (!seen) {
        perFingerprint.set(e.ScriptFingerprintHash, {
          fingerprint: e.ScriptFingerprintHash,
          firstSeen: e.StartTime,
          lastSeen: e.StartTime,
          count: 1,
          exampleVirtualMachine: e.VirtualMachineName,
          exampleScope: e.Scope,
        });
      } else {
        seen.count++;
        if (e.StartTime < seen.firstSeen) seen.firstSeen = e.StartTime;
        if (e.StartTime > seen.lastSeen) seen.lastSeen = e.StartTime;
      }
    }
    const findings: CorrectedFinding[] = [];
    let knownExecutions = 0;
    for (const e of executions) {
      const entry = options.baseline.get(e.ScriptFingerprintHash);
      if (isKnown(entry, options.windowStart, options.baselineDays)) {
        knownExecutions++;
        continue;
      }
      const inWindow = perFingerprint.get(e.ScriptFingerprintHash)!.count;
      findings.push({
        finding: toFinding(e, (inWindow / executions.length) * 100),
        identity: {
          CorrelationId: e.CorrelationId,
          VirtualMachineName: e.VirtualMachineName,
          PowershellFileName: e.PowershellFileName,
          PowershellFileCreatedTimestamp: e.PowershellFileCreatedTimestamp,
          InitiatingProcessCommandLine: '',
        },
        details: {
          CorrelationId: e.CorrelationId,
          DeviceName: e.DeviceName,
          PowershellFileCreatedTimestamp: e.PowershellFileCreatedTimestamp,
          PowershellExecStartTime: e.PowershellExecStartTime,
          PowershellExecEnd: e.PowershellExecEnd,
          FingerprintExecutionsInWindow: inWindow,
          ExecutionsInWindow: executions.length,
          BaselineDays: options.baselineDays,
          LastSeenBeforeHorizon:
            entry && entry.firstSeen < options.windowStart
              ? { FirstSeen: entry.firstSeen, LastSeen: entry.lastSeen, Count: entry.count }
              : null,
        },
      });
    }
    findings.sort((a, b) => compareCorrectedFindings(a.finding, b.finding));
    return {
      findings,
      observations: [...perFingerprint.values()],
      executions,
      stages: {
        rowsRead: { ...this.read },
        runCommandActivityRows: this.runCommandActivityRows,
        runCommandOperations: this.operations.size,
        succeededOperations,
        runCommandExtensionFiles: this.devices.fileCount,
        scriptCommandRows: this.devices.commandCount,
        executions: executions.length,
        fingerprints: perFingerprint.size,
        knownExecutions,
        findings: findings.length,
      },
    };
  }
}

/** StartTime, then fingerprint, then VM, ordinal (several executions may share a new fingerprint). */
export function compareCorrectedFindings(a: RunCommandFinding, b: RunCommandFinding): number {
  return (
    ordinalCompare(a.StartTime, b.StartTime) ||
    ordinalCompare(a.ScriptFingerprintHash, b.ScriptFingerprintHash) ||
    ordinalCompare(a.VirtualMachineName, b.VirtualMachineName) ||
    ordinalCompare(a.PowershellFileName, b.PowershellFileName)
  );
}

/** Corrected mode over three whole tables. */
export function detectCorrected(
  tables: {
    AzureActivity: Iterable<AzureActivityRow>;
    DeviceFileEvents: Iterable<DeviceFileEventsRow>;
    DeviceEvents: Iterable<DeviceEventsRow>;
  },
  options: CorrectedOptions,
): CorrectedResult {
  const detection = new CorrectedDetection();
  for (const row of tables.AzureActivity) detection.add('AzureActivity', row);
  for (const row of tables.DeviceFileEvents) detection.add('DeviceFileEvents', row);
  for (const row of tables.DeviceEvents) detection.add('DeviceEvents', row);
  return detection.finish(options);
}
