/**
 * Corrected mode (DETECTION_MODE=corrected): what the rule's description promises,
 * with the faults of the published query fixed (docs/kql-semantics.md, "Traps"):
 *
 * 1. the fingerprint is the script file's own SHA256 where DeviceFileEvents has it
 *    (issue 16: the real identity of the script); else it covers the commands *and*
 *    the file size: `hash_sha256(strcat(tostring(PowershellScriptCommands), PowershellFileSize))`,
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
 *
 * Beyond the rule (issue 16, docs/corrected-mode-paths.md):
 * - every Run Command path on Windows (./paths): managed Run Command, scale-set
 *   instances (action and managed), Azure Arc machines;
 * - a successful operation with no endpoint evidence (no script file, or a file but no
 *   commands) is a *control-plane* finding of lower severity, reported when its
 *   (caller, target machine) pair is new within BASELINE_DAYS ("new terms"); the rule's
 *   inner join drops it, so a run on a machine without Defender for Endpoint is silent.
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
  DeviceProcessEventsRow,
  RunCommandFinding,
  TableName,
  TableRows,
} from '../schema';
import { caseFold, hashSha256, ordinalCompare, tostring } from '../kql';
import { NO_EVIDENCE, scriptFileEvidence, sha256Of, type ScriptFileEvidence } from '../evidence';
import { toFinding } from '../parity/uniqueness';
import { isKnown, type Baseline, type BaselineEntry } from './baseline';
import { CorrectedOperations, runCommandActivityOf, type CorrectedOperation } from './operations';
import {
  DeviceActivity,
  hostKey,
  isScriptFileName,
  runCommandHandlerOf,
  toCorrectedScriptCommand,
  toManagedScriptCommand,
  type DeviceScriptCommand,
  type DeviceScriptFile,
} from './devices';

type SucceededOperation = CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime };
import {
  handlerOfPath,
  linuxHandlerOf,
  platformOf,
  RUN_COMMAND_PATHS,
  type LinuxHandler,
  type WindowsHandler,
  type RunCommandPath,
  type ScaleSetNaming,
  type WindowsManagedHandler,
  WINDOWS_MANAGED_HANDLER,
} from './paths';
import { toLinuxScriptCommand } from './linux';

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
  /** `scriptFingerprintOf`: the file's SHA256 where known, else commands and size. */
  ScriptFingerprintHash: string;
  /** `correctedFingerprint` of the commands and size (= ScriptFingerprintHash when the file has no SHA256). */
  CommandsAndSizeFingerprint: string;
  /** The Run Command path of the operation (./paths). */
  RunCommandPath: RunCommandPath;
  /** The script file's folder and SHA256 (src/detection/evidence.ts). */
  evidence: ScriptFileEvidence;
  /** On a Linux machine, the script's path (`/var/lib/waagent/…/script.sh`, ./linux); else absent. */
  ScriptPath?: string;
}

/** What a corrected finding is about: a script that ran (the rule's kind), or an operation seen only in Azure. */
export type FindingKind = 'script' | 'control-plane';

/** What corrected mode adds to a script finding (the findings table's ExtendedProperties). */
export interface ScriptFindingDetails {
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
  FindingKind: 'script';
  RunCommandPath: RunCommandPath;
  /** On a Linux machine, the script's path (`/var/lib/waagent/…/script.sh`); absent on Windows. */
  ScriptPath?: string;
}

/** Why a successful operation has no endpoint evidence. */
export type MissingEvidence =
  /** No Run Command file or command of a device of that host name arrived in the window. */
  | 'no-device-telemetry'
  /** The device reported other Run Command activity, but no script file during this operation. */
  | 'no-script-file'
  /** The script file was written, but no PowerShell command of it was logged during the operation. */
  | 'no-script-commands';

export const MISSING_EVIDENCE_TEXT: Readonly<Record<MissingEvidence, string>> = {
  'no-device-telemetry':
    'No Run Command script file or PowerShell command from a device of this host name reached the workspace in this window: the machine may not be onboarded to Defender for Endpoint, its telemetry may be missing or late, or its Defender device name differs from the expected host name.',
  'no-script-file':
    'The device reported other Run Command activity in this window, but no script file written by a Run Command handler during this operation: its file event may be missing or late, or the handler wrote it where corrected mode does not look.',
  'no-script-commands':
    'The script file was written, but no PowerShell command of it was logged during the operation: PowerShell logging may be off, the operation may have ended before the script ran, or its command line is one corrected mode cannot read.',
};

/** The severity of a control-plane finding (the rule's findings keep the rule's severity). */
export const CONTROL_PLANE_SEVERITY = 'Low';

/**
 * The identity marker of a control-plane finding (FindingIdentity.InitiatingProcessCommandLine):
 * it keeps the FindingId of an operation's control-plane finding apart from a script
 * finding of the same operation (late endpoint rows can turn one into the other).
 */
export const CONTROL_PLANE_IDENTITY_MARKER = '(control-plane)';

/** What corrected mode adds to a control-plane finding. */
export interface ControlPlaneFindingDetails {
  FindingKind: 'control-plane';
  RunCommandPath: RunCommandPath;
  Severity: typeof CONTROL_PLANE_SEVERITY;
  CorrelationId: string;
  /** The host name the device was looked for under (for a scale-set instance, its computer name). */
  DeviceName: string;
  MissingEvidence: MissingEvidence;
  MissingEvidenceReason: string;
  /** The managed run command's resource name, or "" (action Run Command). */
  RunCommandName: string;
  /** The target machine's resource id (the pair's target). */
  TargetResourceId: string;
  /** The script file when one was found (`no-script-commands`), else null. */
  ScriptFile: { FileName: string; Created: KqlDateTime; FileSize: number | null } | null;
  /** Successful operations of this (caller, target) pair in the window. */
  PairOperationsInWindow: number;
  BaselineDays: number;
  /** The baseline's entry of the pair when it knew it only from before its horizon; null when never seen. */
  LastSeenBeforeHorizon: { FirstSeen: KqlDateTime; LastSeen: KqlDateTime; Count: number } | null;
}

export type CorrectedFindingDetails = ScriptFindingDetails | ControlPlaneFindingDetails;

export interface CorrectedFinding {
  kind: FindingKind;
  finding: RunCommandFinding;
  identity: FindingIdentity;
  details: CorrectedFindingDetails;
  /** The script file's folder and SHA256 ('' where unknown; both '' without a script file). */
  evidence: ScriptFileEvidence;
}

/** A successful operation with no endpoint evidence. */
export interface OperationWithoutEvidence {
  operation: CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime };
  missing: MissingEvidence;
  file: DeviceScriptFile | null;
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
  /** Script findings. */
  findings: number;
  /** Succeeded operations per Run Command path. */
  succeededOperationsByPath: Record<RunCommandPath, number>;
  /** Succeeded operations with no endpoint evidence, and those whose (caller, target) pair the baseline knew. */
  operationsWithoutEvidence: number;
  knownPairOperations: number;
  controlPlaneFindings: number;
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
  /** Fingerprints and (caller, target) pairs seen by earlier windows (empty on a first run). */
  baseline: Baseline;
}

/**
 * The baseline key of a (caller, target machine) pair: `hash_sha256` of
 * `"control-plane\n" + Caller + "\n" + target resource id`, both case-folded (a UPN and
 * an ARM id compare case-insensitively). 64 hex digits, like a script fingerprint, so
 * the baseline store keeps both kinds in one partition and they never collide.
 */
export function callerTargetKey(caller: string, targetResourceId: string): string {
  return hashSha256(`control-plane\n${caseFold(caller)}\n${caseFold(targetResourceId)}`);
}

/**
 * `hash_sha256(strcat(tostring(PowershellScriptCommands), PowershellFileSize))`: the
 * rule's `TempFingerprintString` (commands as compact JSON, then the size's digits; a
 * null size adds nothing, as `strcat` of an empty value).
 */
export function correctedFingerprint(commands: readonly string[], fileSize: number | null): string {
  return hashSha256(JSON.stringify(commands) + tostring(fileSize));
}

/**
 * Corrected mode's fingerprint of a script (issue 16, "script identity"): the file's
 * SHA256 as DeviceFileEvents reports it (`sha256Of`: 64 hex digits, lower case), which
 * tells apart two scripts that run the same cmdlets with other arguments and is blind
 * to a command PowerShell logged badly; where the row has no hash (Defender often
 * leaves it empty), {@link correctedFingerprint} of the commands and size. Both are 64
 * hex digits; a file hash and a hash of command text never meet by chance.
 */
export function scriptFingerprintOf(sha256: string, commands: readonly string[], fileSize: number | null): string {
  return sha256Of(sha256) || correctedFingerprint(commands, fileSize);
}

/** Corrected mode's row filters (the push-down filters of a corrected-mode source). */
const correctedRowFilters = (managed: WindowsManagedHandler): PerTable<boolean> => ({
  AzureActivity: (row) => runCommandActivityOf(row) !== null,
  DeviceFileEvents: (row) => runCommandHandlerOf(row, managed) !== null,
  DeviceEvents: (row) => toCorrectedScriptCommand(row) !== null || toManagedScriptCommand(row) !== null,
  DeviceProcessEvents: (row) => toLinuxScriptCommand(row) !== null,
});
const DEFAULT_ROW_FILTERS = correctedRowFilters(WINDOWS_MANAGED_HANDLER);

export class CorrectedDetection {
  private readonly read = zeroPerTable();
  private runCommandActivityRows = 0;
  private readonly operations: CorrectedOperations;
  private readonly devices: DeviceActivity;
  private readonly rowFilters: PerTable<boolean>;

  /**
   * `naming`: how scale-set instances are named on the machine (./paths ScaleSetNaming);
   * `managed`: how the Windows managed handler is recognised (MANAGED_HANDLER_* settings).
   */
  constructor(naming: ScaleSetNaming = {}, managed: WindowsManagedHandler = WINDOWS_MANAGED_HANDLER) {
    this.operations = new CorrectedOperations(naming);
    this.devices = new DeviceActivity(managed);
    this.rowFilters = managed === WINDOWS_MANAGED_HANDLER ? DEFAULT_ROW_FILTERS : correctedRowFilters(managed);
  }

  /** Whether corrected mode (with the default managed-handler patterns) can use a row. */
  static isRelevant<T extends TableName>(table: T, row: TableRows[T]): boolean {
    return onTable(table, row, DEFAULT_ROW_FILTERS);
  }

  /** Whether this detection can use a row (the push-down filters of a corrected-mode source). */
  isRelevant<T extends TableName>(table: T, row: TableRows[T]): boolean {
    return onTable(table, row, this.rowFilters);
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
    DeviceProcessEvents: (row) => this.devices.addProcess(row),
  };

  /** The executions of the window, and the succeeded operations without endpoint evidence (no baseline involved). */
  executions(): {
    executions: ScriptExecution[];
    succeededOperations: number;
    withoutEvidence: OperationWithoutEvidence[];
    succeeded: Array<CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime }>;
  } {
    const executions: ScriptExecution[] = [];
    const withoutEvidence: OperationWithoutEvidence[] = [];
    const succeeded = [...this.operations.succeeded()];
    /**
     * One script file per operation (a Run Command runs one script): on each machine,
     * operations in order of StartTime each take the earliest script file of their
     * path's handler created in their window that no earlier operation took. Without
     * this, two overlapping operations on one VM would each claim both scripts.
     */
    const taken = new Set<object>();
    const takenRuns = new Set<string>();
    succeeded.sort(
      (a, b) => ordinalCompare(a.StartTime, b.StartTime) || ordinalCompare(a.CorrelationId, b.CorrelationId),
    );
    for (const op of succeeded) {
      const host = hostKey(op.target.hostName);
      const file = this.fileOf(host, op, taken);
      if (!file) {
        withoutEvidence.push({
          operation: op,
          missing: this.devices.hasSeen(host) ? 'no-script-file' : 'no-device-telemetry',
          file: null,
        });
        continue;
      }
      taken.add(file);
      const { commands, scriptPath } = this.commandsOfFile(host, file, op, takenRuns);
      if (commands.length === 0) {
        withoutEvidence.push({ operation: op, missing: 'no-script-commands', file });
        continue;
      }
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
        ScriptFingerprintHash: scriptFingerprintOf(file.SHA256, list, file.FileSize),
        CommandsAndSizeFingerprint: correctedFingerprint(list, file.FileSize),
        RunCommandPath: op.path,
        evidence: scriptFileEvidence(file),
        ...(scriptPath !== undefined ? { ScriptPath: scriptPath } : {}),
      });
    }
    return { executions, succeededOperations: succeeded.length, withoutEvidence, succeeded };
  }

  /**
   * The earliest script file of the operation's path written on `host` in its window
   * that no earlier operation took: by the path's Windows handler (RunCommandWindows:
   * `script<N>.ps1` only) or by its Linux counterpart (./linux).
   */
  private fileOf(host: string, op: SucceededOperation, taken: ReadonlySet<object>): DeviceScriptFile | undefined {
    const handler = handlerOfPath(op.path);
    const linux = linuxHandlerOf(handler);
    return this.devices
      .filesOn(host, op.StartTime, op.EndTime)
      .find(
        (f) =>
          !taken.has(f) &&
          (f.handler === linux ||
            (f.handler === handler && (handler === 'RunCommandHandlerWindows' || isScriptFileName(f.FileName)))),
      );
  }

  /**
   * The commands of `file`'s script in the operation's window. Windows: its PowerShell
   * commands on the device. Linux: the earliest script run of its handler on the device
   * (processes grouped by script path) that no earlier operation took, and its path.
   */
  private commandsOfFile(
    host: string,
    file: DeviceScriptFile,
    op: SucceededOperation,
    takenRuns: Set<string>,
  ): { commands: DeviceScriptCommand[]; scriptPath?: string } {
    if (platformOf(file.handler) === 'Windows')
      return {
        commands: this.devices.commandsOf(
          host,
          file.FileName,
          op.StartTime,
          op.EndTime,
          file.handler as WindowsHandler,
        ),
      };
    const run = this.devices
      .linuxRunsOn(host, file.handler as LinuxHandler, op.StartTime, op.EndTime)
      .find((r) => !takenRuns.has(`${host}\n${r.scriptPath}`));
    if (!run) return { commands: [] };
    takenRuns.add(`${host}\n${run.scriptPath}`);
    return { commands: run.commands, scriptPath: run.scriptPath };
  }

  /** Joins, fingerprints, and the baseline test. */
  finish(options: CorrectedOptions): CorrectedResult {
    const { executions, succeededOperations, withoutEvidence, succeeded } = this.executions();
    const perFingerprint = fingerprintObservations(executions);
    const scriptObservations = withCommandsAndSizeKeys(executions, perFingerprint);
    const findings: CorrectedFinding[] = [];
    let knownExecutions = 0;
    for (const e of executions) {
      const entry = options.baseline.get(e.ScriptFingerprintHash);
      if (isKnown(entry, options.windowStart, options.baselineDays)) {
        knownExecutions++;
        continue;
      }
      const inWindow = perFingerprint.get(e.ScriptFingerprintHash)!.count;
      findings.push(scriptFinding(e, inWindow, executions.length, options, entry));
    }
    const scriptFindings = findings.length;
    const pairs = pairObservations(succeeded);
    let knownPairOperations = 0;
    for (const { operation: op, missing, file } of withoutEvidence) {
      const key = callerTargetKey(op.Caller, op.target.machineId);
      const entry = options.baseline.get(key);
      if (isKnown(entry, options.windowStart, options.baselineDays)) {
        knownPairOperations++;
        continue;
      }
      findings.push(controlPlaneFinding(op, missing, file, pairs.get(key)!.count, options, entry));
    }
    findings.sort((a, b) => compareCorrectedFindings(a.finding, b.finding));
    const byPath = Object.fromEntries(RUN_COMMAND_PATHS.map((p) => [p, 0])) as Record<RunCommandPath, number>;
    for (const op of succeeded) byPath[op.path]++;
    return {
      findings,
      observations: [...scriptObservations.values(), ...pairs.values()],
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
        findings: scriptFindings,
        succeededOperationsByPath: byPath,
        operationsWithoutEvidence: withoutEvidence.length,
        knownPairOperations,
        controlPlaneFindings: findings.length - scriptFindings,
      },
    };
  }
}

/** One baseline entry per (caller, target machine) pair of the window's succeeded operations. */
function pairObservations(
  succeeded: ReadonlyArray<CorrectedOperation & { StartTime: KqlDateTime }>,
): Map<string, BaselineEntry> {
  const pairs = new Map<string, BaselineEntry>();
  for (const op of succeeded) {
    observe(
      pairs,
      callerTargetKey(op.Caller, op.target.machineId),
      op.StartTime,
      op.VirtualMachineName,
      op.target.machineId,
    );
  }
  return pairs;
}

/** One more sighting of `key` at `at` in a window's observations (first and last seen, count, an example). */
function observe(
  observations: Map<string, BaselineEntry>,
  key: string,
  at: KqlDateTime,
  exampleVirtualMachine: string,
  exampleScope: string,
): void {
  const seen = observations.get(key);
  if (!seen) {
    observations.set(key, {
      fingerprint: key,
      firstSeen: at,
      lastSeen: at,
      count: 1,
      exampleVirtualMachine,
      exampleScope,
    });
    return;
  }
  seen.count++;
  if (at < seen.firstSeen) seen.firstSeen = at;
  if (at > seen.lastSeen) seen.lastSeen = at;
}

/**
 * A control-plane finding: the rule's 14 columns from the operation alone (no commands,
 * no fingerprint, Prevalence 0; the file's name and size when one was found), an
 * identity that stays the same as the day's endpoint rows grow, and why evidence is
 * missing.
 */
function controlPlaneFinding(
  op: CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime },
  missing: MissingEvidence,
  file: DeviceScriptFile | null,
  pairOperationsInWindow: number,
  options: CorrectedOptions,
  entry: BaselineEntry | undefined,
): CorrectedFinding {
  const finding = toFinding(
    {
      StartTime: op.StartTime,
      EndTime: op.EndTime,
      PowershellFileName: file?.FileName ?? '',
      VirtualMachineName: op.VirtualMachineName,
      Caller: op.Caller,
      CallerIpAddress: op.CallerIpAddress,
      PowershellScriptCommands: [],
      PowershellFileSize: file?.FileSize ?? null,
      ScriptFingerprintHash: '',
      Scope: op.Scope,
    },
    0,
  );
  return {
    kind: 'control-plane',
    finding,
    identity: {
      CorrelationId: op.CorrelationId,
      VirtualMachineName: op.VirtualMachineName,
      PowershellFileName: '',
      PowershellFileCreatedTimestamp: op.StartTime,
      InitiatingProcessCommandLine: CONTROL_PLANE_IDENTITY_MARKER,
    },
    details: {
      FindingKind: 'control-plane',
      RunCommandPath: op.path,
      Severity: CONTROL_PLANE_SEVERITY,
      CorrelationId: op.CorrelationId,
      DeviceName: file?.DeviceName ?? op.target.hostName,
      MissingEvidence: missing,
      MissingEvidenceReason: MISSING_EVIDENCE_TEXT[missing],
      RunCommandName: op.target.runCommandName,
      TargetResourceId: op.target.machineId,
      ScriptFile: file ? { FileName: file.FileName, Created: file.created, FileSize: file.FileSize } : null,
      PairOperationsInWindow: pairOperationsInWindow,
      BaselineDays: options.baselineDays,
      LastSeenBeforeHorizon: lastSeenBeforeHorizon(entry, options.windowStart),
    },
    evidence: file ? scriptFileEvidence(file) : NO_EVIDENCE,
  };
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

/** Corrected mode over whole tables (DeviceProcessEvents optional: the Linux paths). */
export function detectCorrected(
  tables: {
    AzureActivity: Iterable<AzureActivityRow>;
    DeviceFileEvents: Iterable<DeviceFileEventsRow>;
    DeviceEvents: Iterable<DeviceEventsRow>;
    DeviceProcessEvents?: Iterable<DeviceProcessEventsRow>;
  },
  options: CorrectedOptions,
): CorrectedResult {
  const detection = new CorrectedDetection();
  for (const row of tables.AzureActivity) detection.add('AzureActivity', row);
  for (const row of tables.DeviceFileEvents) detection.add('DeviceFileEvents', row);
  for (const row of tables.DeviceEvents) detection.add('DeviceEvents', row);
  for (const row of tables.DeviceProcessEvents ?? []) detection.add('DeviceProcessEvents', row);
  return detection.finish(options);
}

/**
 * What the baseline stores of the window's scripts: each fingerprint's sightings and,
 * for an execution fingerprinted by its file's SHA256, a sighting of its commands-and-size
 * fingerprint too (one entry per key). So a later run of the same script whose file
 * event lacks the hash (the fallback) is known, while a run with a hash is known only by
 * its hash. `perFingerprint` (the window's counts per fingerprint) is not changed.
 */
function withCommandsAndSizeKeys(
  executions: readonly ScriptExecution[],
  perFingerprint: ReadonlyMap<string, BaselineEntry>,
): Map<string, BaselineEntry> {
  const out = new Map<string, BaselineEntry>([...perFingerprint].map(([key, entry]) => [key, { ...entry }]));
  for (const e of executions) {
    if (e.CommandsAndSizeFingerprint === e.ScriptFingerprintHash) continue;
    observe(out, e.CommandsAndSizeFingerprint, e.StartTime, e.VirtualMachineName, e.Scope);
  }
  return out;
}

/** One baseline entry per fingerprint seen in the window: first and last seen, how often, one VM it ran on. */
function fingerprintObservations(executions: readonly ScriptExecution[]): Map<string, BaselineEntry> {
  const perFingerprint = new Map<string, BaselineEntry>();
  for (const e of executions)
    observe(perFingerprint, e.ScriptFingerprintHash, e.StartTime, e.VirtualMachineName, e.Scope);
  return perFingerprint;
}

/** The finding of an execution whose fingerprint the baseline does not know. */
function scriptFinding(
  e: ScriptExecution,
  inWindow: number,
  executionsInWindow: number,
  options: CorrectedOptions,
  entry: BaselineEntry | undefined,
): CorrectedFinding {
  return {
    kind: 'script',
    finding: toFinding(e, (inWindow / executionsInWindow) * 100),
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
      ExecutionsInWindow: executionsInWindow,
      BaselineDays: options.baselineDays,
      LastSeenBeforeHorizon: lastSeenBeforeHorizon(entry, options.windowStart),
      FindingKind: 'script',
      RunCommandPath: e.RunCommandPath,
      ...(e.ScriptPath !== undefined ? { ScriptPath: e.ScriptPath } : {}),
    },
    evidence: e.evidence,
  };
}

/** The baseline's entry when it knew the key only from before the window (past its horizon); null when never seen. */
function lastSeenBeforeHorizon(
  entry: BaselineEntry | undefined,
  windowStart: KqlDateTime,
): { FirstSeen: KqlDateTime; LastSeen: KqlDateTime; Count: number } | null {
  return entry && entry.firstSeen < windowStart
    ? { FirstSeen: entry.firstSeen, LastSeen: entry.lastSeen, Count: entry.count }
    : null;
}
