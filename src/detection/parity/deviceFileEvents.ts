/**
 * The DeviceFileEvents side of the first join:
 *
 * ```kql
 * DeviceFileEvents
 * | where InitiatingProcessFileName == "RunCommandExtension.exe"
 * | extend VirtualMachineName = tostring(split(DeviceName, ".")[0])
 * | project VirtualMachineName, PowershellFileCreatedTimestamp=TimeGenerated, FileName, FileSize, InitiatingProcessAccountName, InitiatingProcessAccountDomain, InitiatingProcessFolderPath, InitiatingProcessId
 * ```
 */
import type { KqlDateTime } from '../datetime';
import type { DeviceFileEventsRow } from '../schema';
import { arrayIndex, split, tostring } from '../kql';
import { StringPool } from '../compact';

export const RUN_COMMAND_EXTENSION = 'RunCommandExtension.exe';

/** `| where InitiatingProcessFileName == "RunCommandExtension.exe"` (case-sensitive: trap 4). */
export function isRunCommandExtensionFile(row: DeviceFileEventsRow): boolean {
  return row.InitiatingProcessFileName === RUN_COMMAND_EXTENSION;
}

/** `tostring(split(DeviceName, ".")[0])`: the host part of a possibly fully qualified device name. */
export function virtualMachineNameOfDevice(deviceName: string): string {
  return tostring(arrayIndex(split(deviceName, '.'), 0));
}

export interface RunCommandScriptFile {
  VirtualMachineName: string;
  PowershellFileCreatedTimestamp: KqlDateTime | null;
  FileName: string;
  FileSize: number | null;
  InitiatingProcessAccountName: string;
  InitiatingProcessAccountDomain: string;
  InitiatingProcessFolderPath: string;
  InitiatingProcessId: number | null;
  /**
   * Not in the rule's `project`: the file's `FolderPath` and `SHA256` (optional columns),
   * carried along for the finding's evidence only (src/detection/evidence.ts); no
   * step of the rule reads them, so they change no row.
   */
  FolderPath: string;
  SHA256: string;
}

/** The branch's `extend` and `project` (and the evidence columns, see RunCommandScriptFile; repeated texts kept once
 * in `texts`, see ../compact). */
export function toScriptFile(row: DeviceFileEventsRow, texts = new StringPool()): RunCommandScriptFile {
  return {
    VirtualMachineName: texts.intern(virtualMachineNameOfDevice(row.DeviceName)),
    PowershellFileCreatedTimestamp: row.TimeGenerated,
    FileName: texts.intern(row.FileName),
    FileSize: row.FileSize,
    InitiatingProcessAccountName: texts.intern(row.InitiatingProcessAccountName),
    InitiatingProcessAccountDomain: texts.intern(row.InitiatingProcessAccountDomain),
    InitiatingProcessFolderPath: texts.intern(row.InitiatingProcessFolderPath),
    InitiatingProcessId: row.InitiatingProcessId,
    FolderPath: texts.intern(row.FolderPath ?? ''),
    SHA256: texts.intern(row.SHA256 ?? ''),
  };
}
