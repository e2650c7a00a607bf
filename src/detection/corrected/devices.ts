/**
 * Corrected mode, Defender side: the script files RunCommandExtension.exe writes and
 * the PowerShell commands run from them, indexed by device, so that each operation
 * meets only what happened on its own VM.
 *
 * - Device ↔ VM (trap 3): the rule compares `tostring(split(DeviceName, ".")[0])` with
 *   the ARM name case-sensitively, so `Web01` never meets `web01.contoso.com`. Host
 *   names are case-insensitive: here both sides are folded (`=~`).
 * - `InitiatingProcessFileName == "RunCommandExtension.exe"` (trap 4) becomes `=~`:
 *   Windows file names are case-insensitive and Defender reports either case.
 * - The DeviceEvents side (trap 2) keeps the device: commands are grouped per device
 *   and script name, never pooled across VMs.
 * - Beyond the listed traps: `-file script3.ps1` (any case of the parameter) is read too.
 */
import type { KqlDateTime } from '../datetime';
import type { DeviceEventsRow, DeviceFileEventsRow, DeviceProcessEventsRow } from '../schema';
import {
  caseFold,
  equalsIgnoreCase,
  getProperty,
  has,
  isnotempty,
  ordinalCompare,
  parseJson,
  SCRIPT_NAME_PATTERN,
  tostring,
  toupper,
} from '../kql';
import { RUN_COMMAND_EXTENSION, virtualMachineNameOfDevice } from '../parity/deviceFileEvents';
import {
  isManagedHandlerProcess,
  managedScriptNameOf,
  WINDOWS_MANAGED_HANDLER,
  type LinuxHandler,
  type RunCommandHandler,
  type WindowsHandler,
  type WindowsManagedHandler,
} from './paths';
import { linuxHandlerOfFile, toLinuxScriptCommand } from './linux';

/** The short host name, folded: `Web01` and `web01.contoso.com` both give `WEB01`. */
export function hostKey(name: string): string {
  return caseFold(virtualMachineNameOfDevice(name));
}

/** `| where InitiatingProcessFileName =~ "RunCommandExtension.exe"` (the rule has `==`: trap 4). */
export function isRunCommandExtensionFileAnyCase(row: DeviceFileEventsRow): boolean {
  return equalsIgnoreCase(row.InitiatingProcessFileName, RUN_COMMAND_EXTENSION);
}

/**
 * The extension that wrote a DeviceFileEvents row, if it is a Run Command handler:
 * RunCommandExtension.exe (`=~`, action Run Command), the managed handler writing a
 * script file (see WINDOWS_MANAGED_HANDLER in ./paths: unverified defaults), or a
 * Linux extension writing `script.sh` (./linux).
 */
export function runCommandHandlerOf(
  row: DeviceFileEventsRow,
  managed: WindowsManagedHandler = WINDOWS_MANAGED_HANDLER,
): RunCommandHandler | null {
  if (isRunCommandExtensionFileAnyCase(row)) return 'RunCommandWindows';
  const linux = linuxHandlerOfFile(row);
  if (linux !== null) return linux;
  if (
    managed.scriptFileName.test(row.FileName) &&
    isManagedHandlerProcess(row.InitiatingProcessFileName, row.InitiatingProcessFolderPath, managed)
  )
    return 'RunCommandHandlerWindows';
  return null;
}

/**
 * A PowerShell command of a managed Run Command script: a command line that runs a
 * `.ps1` file with `-File` (./paths `managedScriptNameOf`), when the rule's own
 * extract finds no `script<N>.ps1` in it; the script's own first event (Command = its
 * name or path) is dropped as the rule drops it.
 */
export function toManagedScriptCommand(row: DeviceEventsRow): CorrectedScriptCommand | null {
  const commandLine = row.InitiatingProcessCommandLine;
  if (!has(commandLine, '-File')) return null;
  if (isnotempty(SCRIPT_NAME_ANY_CASE.exec(commandLine)?.[1] ?? '')) return null;
  const PowershellFileName = managedScriptNameOf(commandLine);
  if (!isnotempty(PowershellFileName)) return null;
  const PSCommand = tostring(getProperty(parseJson(row.AdditionalFields), 'Command'));
  const base = PSCommand.slice(Math.max(PSCommand.lastIndexOf('\\'), PSCommand.lastIndexOf('/')) + 1);
  if (equalsIgnoreCase(base, PowershellFileName)) return null;
  return { PowershellFileName, PSCommand: toupper(PSCommand), TimeGenerated: row.TimeGenerated };
}

export interface DeviceScriptFile {
  handler: RunCommandHandler;
  host: string;
  DeviceName: string;
  FileName: string;
  FileSize: number | null;
  created: KqlDateTime;
  /** The row's optional `FolderPath` and `SHA256` ('' when absent): the script's evidence and identity. */
  FolderPath: string;
  SHA256: string;
}

export interface DeviceScriptCommand {
  /** `toupper(PSCommand)`; on Linux, the process's command line as is (./linux). */
  PSCommand: string;
  TimeGenerated: KqlDateTime;
}

/** The commands of one Linux script run: the processes started by the script at `scriptPath`. */
export interface LinuxScriptRun {
  scriptPath: string;
  commands: DeviceScriptCommand[];
}

/**
 * `extract(@"(?i)\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)`:
 * the rule's regex, case-insensitive. PowerShell parameter names are case-insensitive
 * (`-file script3.ps1` runs the script), and the rule's own `has "-File"` already
 * accepts `-file`; its case-sensitive `extract` then drops the row.
 */
const SCRIPT_NAME_ANY_CASE = new RegExp(SCRIPT_NAME_PATTERN.source, 'i');

/** One PowerShell command of a Run Command script, as corrected mode reads it. */
export interface CorrectedScriptCommand {
  PowershellFileName: string;
  /** `toupper(PSCommand)` */
  PSCommand: string;
  TimeGenerated: KqlDateTime | null;
}

/**
 * The rule's DeviceEvents filters with the script name matched case-insensitively:
 * ```kql
 * | where InitiatingProcessCommandLine has "-File"
 * | extend PowershellFileName = extract(@"(?i)\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)
 * | where isnotempty(PowershellFileName)
 * | extend PSCommand = tostring(parse_json(AdditionalFields).Command)
 * | where PSCommand !~ PowershellFileName
 * | extend PSCommand = toupper(PSCommand)
 * ```
 */
export function toCorrectedScriptCommand(row: DeviceEventsRow): CorrectedScriptCommand | null {
  const commandLine = row.InitiatingProcessCommandLine;
  if (!has(commandLine, '-File')) return null;
  const PowershellFileName = SCRIPT_NAME_ANY_CASE.exec(commandLine)?.[1] ?? '';
  if (!isnotempty(PowershellFileName)) return null;
  const PSCommand = tostring(getProperty(parseJson(row.AdditionalFields), 'Command'));
  if (equalsIgnoreCase(PSCommand, PowershellFileName)) return null;
  return { PowershellFileName, PSCommand: toupper(PSCommand), TimeGenerated: row.TimeGenerated };
}

/** A file name the Run Command extension gives a downloaded script: `script<N>.ps1` (not its `<N>.status` files). */
export function isScriptFileName(fileName: string): boolean {
  return /^script[0-9]{1,9}\.ps1$/i.test(fileName);
}

/**
 * Script files by host, and PowerShell commands by handler, host and script name (the
 * commands of a managed script never join an action Run Command's file, and back).
 */
export class DeviceActivity {
  private readonly files = new Map<string, DeviceScriptFile[]>();
  private readonly commands: Record<WindowsHandler, Map<string, DeviceScriptCommand[]>> = {
    RunCommandWindows: new Map(),
    RunCommandHandlerWindows: new Map(),
  };
  /** Linux script commands by handler, host and script path (./linux). */
  private readonly linuxCommands: Record<LinuxHandler, Map<string, Map<string, DeviceScriptCommand[]>>> = {
    RunCommandLinux: new Map(),
    RunCommandHandlerLinux: new Map(),
  };
  /** Hosts that reported any Run Command file or command in the window. */
  private readonly hostsSeen = new Set<string>();
  fileCount = 0;
  commandCount = 0;

  /** `managed`: how the Windows managed handler is recognised (MANAGED_HANDLER_* settings). */
  constructor(private readonly managed: WindowsManagedHandler = WINDOWS_MANAGED_HANDLER) {}

  addFile(row: DeviceFileEventsRow): boolean {
    const handler = runCommandHandlerOf(row, this.managed);
    if (handler === null || row.TimeGenerated === null) return false;
    const host = hostKey(row.DeviceName);
    this.hostsSeen.add(host);
    const file: DeviceScriptFile = {
      handler,
      host,
      DeviceName: row.DeviceName,
      FileName: row.FileName,
      FileSize: row.FileSize,
      created: row.TimeGenerated,
      FolderPath: row.FolderPath ?? '',
      SHA256: row.SHA256 ?? '',
    };
    const list = this.files.get(host);
    if (list) list.push(file);
    else this.files.set(host, [file]);
    this.fileCount++;
    return true;
  }

  /**
   * The rule's DeviceEvents filters, script name in any case (see
   * {@link toCorrectedScriptCommand}), keyed by device and script name instead of script
   * name and command line.
   */
  addEvent(row: DeviceEventsRow): boolean {
    let handler: WindowsHandler = 'RunCommandWindows';
    let command = toCorrectedScriptCommand(row);
    if (command === null) {
      command = toManagedScriptCommand(row);
      handler = 'RunCommandHandlerWindows';
    }
    if (command === null || command.TimeGenerated === null) return false;
    const host = hostKey(row.DeviceName);
    this.hostsSeen.add(host);
    const key = commandKey(host, command.PowershellFileName);
    const entry = { PSCommand: command.PSCommand, TimeGenerated: command.TimeGenerated };
    const commands = this.commands[handler];
    const list = commands.get(key);
    if (list) list.push(entry);
    else commands.set(key, [entry]);
    this.commandCount++;
    return true;
  }

  /**
   * A DeviceProcessEvents row that is a command of a Linux Run Command script (a
   * process the script started: ./linux `toLinuxScriptCommand`), keyed by device and
   * script path.
   */
  addProcess(row: DeviceProcessEventsRow): boolean {
    const command = toLinuxScriptCommand(row);
    if (command === null || row.TimeGenerated === null) return false;
    const host = hostKey(row.DeviceName);
    this.hostsSeen.add(host);
    const byHost = this.linuxCommands[command.handler];
    let byPath = byHost.get(host);
    if (!byPath) byHost.set(host, (byPath = new Map()));
    const entry = { PSCommand: command.command, TimeGenerated: row.TimeGenerated };
    const list = byPath.get(command.scriptPath);
    if (list) list.push(entry);
    else byPath.set(command.scriptPath, [entry]);
    this.commandCount++;
    return true;
  }

  /**
   * The Linux script runs of `handler` on `host` with commands between `start` and
   * `end` (inclusive): per script path, its commands in the window; runs ordered by
   * their first command, then path.
   */
  linuxRunsOn(host: string, handler: LinuxHandler, start: KqlDateTime, end: KqlDateTime): LinuxScriptRun[] {
    const runs: LinuxScriptRun[] = [];
    for (const [scriptPath, all] of this.linuxCommands[handler].get(host) ?? []) {
      const commands = all.filter((c) => start <= c.TimeGenerated && c.TimeGenerated <= end);
      if (commands.length > 0) runs.push({ scriptPath, commands });
    }
    const first = (r: LinuxScriptRun) => r.commands.reduce((m, c) => (c.TimeGenerated < m ? c.TimeGenerated : m), end);
    return runs.sort((a, b) => ordinalCompare(first(a), first(b)) || ordinalCompare(a.scriptPath, b.scriptPath));
  }

  /** Script files written on `host` between `start` and `end` (inclusive, as `between`), oldest first. */
  filesOn(host: string, start: KqlDateTime, end: KqlDateTime): DeviceScriptFile[] {
    return (this.files.get(host) ?? [])
      .filter((f) => start <= f.created && f.created <= end)
      .sort((a, b) => ordinalCompare(a.created, b.created) || ordinalCompare(a.FileName, b.FileName));
  }

  /** Whether any Run Command file or command of `host` arrived in this window. */
  hasSeen(host: string): boolean {
    return this.hostsSeen.has(host);
  }

  /** Commands of script `fileName` (written by `handler`) run on `host` between `start` and `end` (inclusive). */
  commandsOf(
    host: string,
    fileName: string,
    start: KqlDateTime,
    end: KqlDateTime,
    handler: WindowsHandler = 'RunCommandWindows',
  ): DeviceScriptCommand[] {
    return (this.commands[handler].get(commandKey(host, fileName)) ?? []).filter(
      (c) => start <= c.TimeGenerated && c.TimeGenerated <= end,
    );
  }
}

function commandKey(host: string, fileName: string): string {
  return `${host}\n${caseFold(fileName)}`;
}
