/**
 * The two joins of `RunCommandData` and its fingerprint.
 */
import type { KqlDateTime } from '../datetime';
import { between, hashSha256 } from '../kql';
import { append } from '../compact';
import type { RunCommandExecution } from './azureActivity';
import type { RunCommandScriptFile } from './deviceFileEvents';
import type { ScriptCommandList, ScriptCommandLists } from './deviceEvents';

/** A Run Command execution with the script file written on its VM during it. */
export interface ExecutionWithFile {
  /** Not in the rule's `project`: carried along for the finding's identity only (it changes no row). */
  CorrelationId: string;
  StartTime: KqlDateTime;
  EndTime: KqlDateTime;
  PowershellFileCreatedTimestamp: KqlDateTime;
  VirtualMachineName: string;
  Caller: string;
  CallerIpAddress: string;
  FileName: string;
  FileSize: number | null;
  InitiatingProcessId: number | null;
  InitiatingProcessAccountDomain: string;
  InitiatingProcessFolderPath: string;
  Scope: unknown;
  /** Not in the rule's `project`: the file's evidence (RunCommandScriptFile), carried along; it changes no row. */
  FolderPath: string;
  SHA256: string;
}

/** The script files of the DeviceFileEvents side, indexed by the join key. */
export class ScriptFilesByVirtualMachine {
  /** A machine's only file is held without a list (see ../compact: most machines have one a day). */
  private readonly byName = new Map<string, RunCommandScriptFile | RunCommandScriptFile[]>();
  private count = 0;

  add(file: RunCommandScriptFile): void {
    const held = this.byName.get(file.VirtualMachineName);
    this.byName.set(
      file.VirtualMachineName,
      held === undefined ? file : append(Array.isArray(held) ? held : [held], file),
    );
    this.count++;
  }

  /** Every file, grouped by VirtualMachineName (to hand the branch to another thread). */
  all(): RunCommandScriptFile[] {
    const out: RunCommandScriptFile[] = [];
    for (const name of this.byName.keys()) for (const file of this.on(name)) out.push(file);
    return out;
  }

  /** Files whose `VirtualMachineName` equals `name` (`==`, case-sensitive: trap 3). */
  on(name: string): readonly RunCommandScriptFile[] {
    const held = this.byName.get(name);
    return held === undefined ? [] : Array.isArray(held) ? held : [held];
  }

  get size(): number {
    return this.count;
  }
}

/**
 * ```kql
 * | join kind=leftouter ( <DeviceFileEvents side> ) on VirtualMachineName
 * | where PowershellFileCreatedTimestamp between (StartTime .. EndTime)
 * | project StartTime, EndTime, PowershellFileCreatedTimestamp, VirtualMachineName, Caller, CallerIpAddress, FileName, FileSize, InitiatingProcessId, InitiatingProcessAccountDomain, InitiatingProcessFolderPath, Scope
 * ```
 * A left row with no match gets a null PowershellFileCreatedTimestamp, which
 * `between` drops, so only matched pairs inside the window remain; so does a pair
 * with a null on any side of the `between`.
 */
export function joinScriptFiles(
  execution: RunCommandExecution,
  files: ScriptFilesByVirtualMachine,
): ExecutionWithFile[] {
  const out: ExecutionWithFile[] = [];
  const { StartTime, EndTime } = execution;
  if (StartTime === null || EndTime === null) return out;
  for (const file of files.on(execution.VirtualMachineName)) {
    const created = file.PowershellFileCreatedTimestamp;
    if (!between(created, StartTime, EndTime)) continue;
    out.push({
      CorrelationId: execution.CorrelationId,
      StartTime,
      EndTime,
      PowershellFileCreatedTimestamp: created as KqlDateTime,
      // The join key: equal to the execution's (`==`), and the file's text is the one kept once.
      VirtualMachineName: file.VirtualMachineName,
      Caller: execution.Caller,
      CallerIpAddress: execution.CallerIpAddress,
      FileName: file.FileName,
      FileSize: file.FileSize,
      InitiatingProcessId: file.InitiatingProcessId,
      InitiatingProcessAccountDomain: file.InitiatingProcessAccountDomain,
      InitiatingProcessFolderPath: file.InitiatingProcessFolderPath,
      Scope: execution.Scope,
      FolderPath: file.FolderPath,
      SHA256: file.SHA256,
    });
  }
  return out;
}

/** One row of `RunCommandData` (the `materialize`d table). */
export interface RunCommandDataRow {
  StartTime: KqlDateTime;
  EndTime: KqlDateTime;
  PowershellFileCreatedTimestamp: KqlDateTime;
  PowershellExecStartTime: KqlDateTime | null;
  PowershellExecEnd: KqlDateTime | null;
  PowershellFileName: string;
  PowershellScriptCommands: string[];
  Caller: string;
  CallerIpAddress: string;
  InitiatingProcessCommandLine: string;
  PowershellFileSize: number | null;
  VirtualMachineName: string;
  Scope: unknown;
  ScriptFingerprintHash: string;
}

/**
 * `| extend ScriptFingerprintHash = hash_sha256(tostring(PowershellScriptCommands))`
 *
 * `tostring` of a string array is its compact JSON text. `TempFingerprintString =
 * strcat(PowershellScriptCommands, PowershellFileSize)` is computed by the rule and
 * never used (trap 1), so it is not computed here.
 */
export function scriptFingerprintHash(commands: readonly string[]): string {
  return hashSha256(JSON.stringify(commands));
}

/**
 * ```kql
 * | join kind=inner( <DeviceEvents side> ) on $left.FileName == $right.PowershellFileName
 * | project StartTime, EndTime, PowershellFileCreatedTimestamp, PowershellExecStartTime, PowershellExecEnd, PowershellFileName, PowershellScriptCommands=list_PSCommand, Caller, CallerIpAddress, InitiatingProcessCommandLine, PowershellFileSize=FileSize, VirtualMachineName, Scope
 * | order by StartTime asc
 * | extend ScriptFingerprintHash = hash_sha256(tostring(PowershellScriptCommands))
 * ```
 * Every pair (kind=inner, not innerunique). The `order by` does not change the rows.
 * `hashes` caches the fingerprint of each command list (the same list always hashes the same).
 *
 * This is the row-by-row form of the join, as the KQL reads. `finish` uses the grouped
 * form, `joinCommandListGroups`, which builds no row per pair; the stage tests check
 * that the two give the same findings.
 */
export function joinCommandLists(
  row: ExecutionWithFile,
  lists: ScriptCommandLists,
  hashes: Map<ScriptCommandList, string>,
): RunCommandDataRow[] {
  const out: RunCommandDataRow[] = [];
  for (const list of lists.withFileName(row.FileName)) {
    let hash = hashes.get(list);
    if (hash === undefined) {
      hash = scriptFingerprintHash(list.list_PSCommand);
      hashes.set(list, hash);
    }
    out.push(runCommandDataRow(row, list, hash));
  }
  return out;
}

/** One joined pair's row: the `project` and the `extend ScriptFingerprintHash` (`hash`, of `list`). */
export function runCommandDataRow(row: ExecutionWithFile, list: ScriptCommandList, hash: string): RunCommandDataRow {
  return {
    StartTime: row.StartTime,
    EndTime: row.EndTime,
    PowershellFileCreatedTimestamp: row.PowershellFileCreatedTimestamp,
    PowershellExecStartTime: list.PowershellExecStartTime,
    PowershellExecEnd: list.PowershellExecEnd,
    PowershellFileName: list.PowershellFileName,
    PowershellScriptCommands: list.list_PSCommand,
    Caller: row.Caller,
    CallerIpAddress: row.CallerIpAddress,
    InitiatingProcessCommandLine: list.InitiatingProcessCommandLine,
    PowershellFileSize: row.FileSize,
    VirtualMachineName: row.VirtualMachineName,
    Scope: row.Scope,
    ScriptFingerprintHash: hash,
  };
}

/**
 * `RunCommandData` (the same inner join as {@link joinCommandLists}) kept grouped
 * instead of row by row: each command list with every execution whose FileName is its
 * PowershellFileName. A group stands for `executions.length` rows that all share the
 * list's fingerprint, which is all the rule's last statement needs of most rows
 * (`totals`, `hashTotals`); only a fingerprint that occurs once becomes a row
 * ({@link uniqueFindingsOfGroups}). On the bench day that is 166 rows built, not 61,000.
 */
export interface RunCommandDataGroup {
  list: ScriptCommandList;
  executions: readonly ExecutionWithFile[];
  /** `ScriptFingerprintHash` of the list, computed once. */
  hash: string;
}

/** The inner join, grouped by command list: `executionsByFileName` holds the executions by FileName. */
export function joinCommandListGroups(
  executionsByFileName: ReadonlyMap<string, readonly ExecutionWithFile[]>,
  lists: ScriptCommandLists,
): RunCommandDataGroup[] {
  const groups: RunCommandDataGroup[] = [];
  for (const [fileName, executions] of executionsByFileName) {
    for (const list of lists.withFileName(fileName))
      groups.push({ list, executions, hash: scriptFingerprintHash(list.list_PSCommand) });
  }
  return groups;
}
