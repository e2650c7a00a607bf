/**
 * The DeviceEvents side of the second join:
 *
 * ```kql
 * DeviceEvents
 * | extend VirtualMachineName = tostring(split(DeviceName, ".")[0])
 * | where InitiatingProcessCommandLine has "-File"
 * | extend PowershellFileName = extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)
 * | where isnotempty(PowershellFileName)
 * | extend PSCommand = tostring(parse_json(AdditionalFields).Command)
 * | where PSCommand != PowershellFileName
 * | extend PSCommand = toupper(PSCommand)
 * | order by PSCommand asc
 * | summarize PowershellExecStartTime=min(TimeGenerated), PowershellExecEnd=max(TimeGenerated), make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine
 * ```
 *
 * `VirtualMachineName` is computed and then dropped by the `summarize` (trap 2: the
 * command lists are pooled across devices).
 */
import type { KqlDateTime } from '../datetime';
import type { DeviceEventsRow } from '../schema';
import { extractScriptName, getProperty, has, isnotempty, ordinalCompare, parseJson, tostring, toupper } from '../kql';
import { append, StringPool } from '../compact';

/** One DeviceEvents row after the branch's row filters and `extend`s. */
export interface ScriptCommand {
  PowershellFileName: string;
  InitiatingProcessCommandLine: string;
  /** `toupper(tostring(parse_json(AdditionalFields).Command))` */
  PSCommand: string;
  TimeGenerated: KqlDateTime | null;
}

/**
 * `| where InitiatingProcessCommandLine has "-File"`
 * `| extend PowershellFileName = extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)`
 * `| where isnotempty(PowershellFileName)`
 * `| extend PSCommand = tostring(parse_json(AdditionalFields).Command)`
 * `| where PSCommand != PowershellFileName`
 * `| extend PSCommand = toupper(PSCommand)`
 *
 * Returns null for a row these filters drop. The `has "-File"` test is implied by a
 * non-empty extract (every match holds `-File` followed by a non-alphanumeric white
 * space character), so it is checked only after a match, and a command line without
 * the literal `-File` is dropped by one `indexOf`.
 */
export function toScriptCommand(row: DeviceEventsRow): ScriptCommand | null {
  const commandLine = row.InitiatingProcessCommandLine;
  const PowershellFileName = extractScriptName(commandLine);
  if (!isnotempty(PowershellFileName)) return null;
  if (!has(commandLine, '-File')) return null;
  const PSCommand = tostring(getProperty(parseJson(row.AdditionalFields), 'Command'));
  if (PSCommand === PowershellFileName) return null;
  return {
    PowershellFileName,
    InitiatingProcessCommandLine: commandLine,
    PSCommand: toupper(PSCommand),
    TimeGenerated: row.TimeGenerated,
  };
}

/** One row of the branch's `summarize`. */
export interface ScriptCommandList {
  PowershellFileName: string;
  InitiatingProcessCommandLine: string;
  PowershellExecStartTime: KqlDateTime | null;
  PowershellExecEnd: KqlDateTime | null;
  /** `make_list(PSCommand)` after `order by PSCommand asc`: sorted, ordinal. */
  list_PSCommand: string[];
}

/**
 * `| order by PSCommand asc`
 * `| summarize PowershellExecStartTime=min(TimeGenerated), PowershellExecEnd=max(TimeGenerated), make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine`
 *
 * The order is over the whole input and `make_list` keeps it, so each group's list is
 * its commands in ordinal order: we collect per group and sort each list once at the end.
 */
export class ScriptCommandLists {
  private readonly groups = new Map<string, Map<string, ScriptCommandList>>();
  private sorted = true;

  /** `texts`: where the commands are kept once (a day runs the same few thousand; see ../compact). */
  constructor(private readonly texts = new StringPool()) {}

  private groupOf(PowershellFileName: string, InitiatingProcessCommandLine: string): ScriptCommandList {
    let byCommandLine = this.groups.get(PowershellFileName);
    if (!byCommandLine) {
      byCommandLine = new Map();
      this.groups.set(PowershellFileName, byCommandLine);
    }
    let group = byCommandLine.get(InitiatingProcessCommandLine);
    if (!group) {
      group = {
        PowershellFileName,
        InitiatingProcessCommandLine,
        PowershellExecStartTime: null,
        PowershellExecEnd: null,
        list_PSCommand: [],
      };
      byCommandLine.set(InitiatingProcessCommandLine, group);
    }
    return group;
  }

  add(command: ScriptCommand): void {
    const group = this.groupOf(command.PowershellFileName, command.InitiatingProcessCommandLine);
    const t = command.TimeGenerated;
    if (t !== null) {
      if (group.PowershellExecStartTime === null || t < group.PowershellExecStartTime)
        group.PowershellExecStartTime = t;
      if (group.PowershellExecEnd === null || t > group.PowershellExecEnd) group.PowershellExecEnd = t;
    }
    group.list_PSCommand = append(group.list_PSCommand, this.texts.intern(command.PSCommand));
    this.sorted = false;
  }

  private sortLists(): void {
    if (this.sorted) return;
    for (const byCommandLine of this.groups.values()) {
      for (const group of byCommandLine.values()) group.list_PSCommand.sort(ordinalCompare);
    }
    this.sorted = true;
  }

  /**
   * Adds a group summarized elsewhere (rows of this table read in another thread): the
   * same as adding its rows here, since min, max and the sorted list combine group by group.
   */
  merge(other: ScriptCommandList): void {
    const group = this.groupOf(other.PowershellFileName, other.InitiatingProcessCommandLine);
    const start = other.PowershellExecStartTime;
    const end = other.PowershellExecEnd;
    if (start !== null && (group.PowershellExecStartTime === null || start < group.PowershellExecStartTime))
      group.PowershellExecStartTime = start;
    if (end !== null && (group.PowershellExecEnd === null || end > group.PowershellExecEnd))
      group.PowershellExecEnd = end;
    for (const command of other.list_PSCommand)
      group.list_PSCommand = append(group.list_PSCommand, this.texts.intern(command));
    this.sorted = false; // (sorting lists that arrive sorted costs one comparison per element)
  }

  /** Every group, each list sorted (to hand the branch to another thread). */
  all(): ScriptCommandList[] {
    this.sortLists();
    const out: ScriptCommandList[] = [];
    for (const byCommandLine of this.groups.values()) for (const group of byCommandLine.values()) out.push(group);
    return out;
  }

  /** The groups whose `PowershellFileName` is `fileName` (the inner join's lookup). */
  withFileName(fileName: string): Iterable<ScriptCommandList> {
    this.sortLists();
    return this.groups.get(fileName)?.values() ?? [];
  }

  /** Whether any group has `PowershellFileName` `fileName` (whether the inner join can keep a row of that FileName). */
  hasFileName(fileName: string): boolean {
    return this.groups.has(fileName);
  }

  /** Number of groups (rows of the summarize). */
  get size(): number {
    let n = 0;
    for (const byCommandLine of this.groups.values()) n += byCommandLine.size;
    return n;
  }
}
