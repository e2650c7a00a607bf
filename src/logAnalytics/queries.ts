/**
 * The KQL text sent to Log Analytics for one table and one time slice.
 *
 * Push-down: each query keeps only the rows the rule's own branch on that table can
 * use, with the rule's row filters copied verbatim (and the `extend`s they need), then
 * projects only the columns the rule reads. Nothing is summarized or joined on the
 * server: the engine receives these rows and repeats every step of the rule itself,
 * these filters included, so the server only saves transfer, never decides a finding.
 *
 * Datetimes: the query API hands datetime cells to the SDK, which turns them into a
 * JavaScript `Date` and loses the 100 ns ticks. So `TimeGenerated` is projected as
 * text (`tostring(TimeGenerated)`, ISO 8601 with up to 7 fractional digits) and read
 * back with `parseKqlDateTime`. `AdditionalFields` is projected with `tostring` for the
 * same reason (the SDK would `JSON.parse` a dynamic cell); the engine's `parse_json`
 * reads the text exactly as it reads the object.
 */
import { RULE_COLUMNS, type RuleTableName, type TableName } from '../detection/schema';
import type { DetectionMode, QueryWindow } from '../detection/schema';
import {
  RUN_COMMAND_OPERATIONS,
  WINDOWS_MANAGED_HANDLER,
  type WindowsManagedHandler,
} from '../detection/corrected/paths';
import { LINUX_RUN_COMMAND, LINUX_SCRIPT_FILE_NAME } from '../detection/corrected/linux';

/**
 * The rule's row filters on each table, verbatim from `src/detection/rule/query.kql`,
 * in the rule's order. Only `where` steps and the `extend`s a later `where` reads.
 */
export const RULE_ROW_FILTERS: { readonly [T in RuleTableName]: readonly string[] } = {
  AzureActivity: [
    // | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
    'where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"',
    // | where Authorization has "virtualMachines"
    'where Authorization has "virtualMachines"',
  ],
  DeviceFileEvents: [
    // | where InitiatingProcessFileName == "RunCommandExtension.exe"
    'where InitiatingProcessFileName == "RunCommandExtension.exe"',
  ],
  DeviceEvents: [
    // | where InitiatingProcessCommandLine has "-File"
    'where InitiatingProcessCommandLine has "-File"',
    // | extend PowershellFileName = extract(@"\-File\s(script[0-9]{1,9}\.ps1)", 1, InitiatingProcessCommandLine)
    'extend PowershellFileName = extract(@"\\-File\\s(script[0-9]{1,9}\\.ps1)", 1, InitiatingProcessCommandLine)',
    // | where isnotempty(PowershellFileName)
    'where isnotempty(PowershellFileName)',
    // | extend PSCommand = tostring(parse_json(AdditionalFields).Command)
    'extend PSCommand = tostring(parse_json(AdditionalFields).Command)',
    // | where PSCommand != PowershellFileName
    'where PSCommand != PowershellFileName',
  ],
};

/** The binaries of the Linux Run Command extensions that write `script.sh`. */
const LINUX_WRITERS: readonly string[] = Object.values(LINUX_RUN_COMMAND).flatMap((h) => h.processFileNames);

/**
 * The row filters of a corrected-mode source (DETECTION_MODE=corrected): the rule's,
 * except where corrected mode reads rows the rule drops (src/detection/corrected).
 * Each is a superset of the engine's own filter, which is always applied after.
 *
 * - AzureActivity: every Run Command path (corrected/paths.ts RUN_COMMAND_OPERATIONS,
 *   `in~`); the engine then requires the scope to name a machine of the operation's
 *   kind, which replaces the rule's `Authorization has "virtualMachines"` (an Arc
 *   machine's scope has no such term).
 * - DeviceFileEvents: trap 4, the rule's `InitiatingProcessFileName == "RunCommandExtension.exe"`
 *   is case-sensitive and corrected mode also needs `runcommandextension.exe`, so `=~`;
 *   and `.ps1` files written by the managed Run Command handler (WINDOWS_MANAGED_HANDLER:
 *   its plugin folder or process names, unverified defaults).
 *   On Linux: `script.sh` written by one of the Linux extensions' binaries
 *   (corrected/linux.ts LINUX_RUN_COMMAND, `==` and `in`: Linux names are case-sensitive).
 * - DeviceEvents: the script name after `-File` in any case of the parameter (a `(?i)`
 *   extract), and, where that finds no `script<N>.ps1`, any command line running a
 *   `.ps1` file (managed Run Command scripts, whose names are not `script<N>.ps1`).
 * - DeviceProcessEvents (corrected mode only: the Linux paths): processes whose parent's
 *   command line names a Run Command script (`…/waagent/run-command…/script.sh`); the
 *   engine then requires the exact path (corrected/linux.ts `toLinuxScriptCommand`),
 *   `contains` being the case-insensitive superset of it.
 */
export function correctedRowFilters(managed: WindowsManagedHandler): { readonly [T in TableName]: readonly string[] } {
  return {
    AzureActivity: [
      `where OperationNameValue in~ (${RUN_COMMAND_OPERATIONS.map((k) => kqlString(k.operation)).join(', ')})`,
    ],
    DeviceFileEvents: [
      'where InitiatingProcessFileName =~ "RunCommandExtension.exe"' +
        ` or (FileName endswith ".ps1" and (InitiatingProcessFolderPath contains ${kqlString(managed.folderMarker)}` +
        ` or InitiatingProcessFileName in~ (${managed.processFileNames.map(kqlString).join(', ')})))` +
        ` or (FileName == ${kqlString(LINUX_SCRIPT_FILE_NAME)} and InitiatingProcessFileName in (${LINUX_WRITERS.map(kqlString).join(', ')}))`,
    ],
    // The script name after -File in any case of the parameter (src/detection/corrected/devices.ts).
    DeviceEvents: [
      'where InitiatingProcessCommandLine has "-File"',
      'extend PowershellFileName = extract(@"(?i)\\-File\\s(script[0-9]{1,9}\\.ps1)", 1, InitiatingProcessCommandLine)',
      'extend PSCommand = tostring(parse_json(AdditionalFields).Command)',
      'where (isnotempty(PowershellFileName) and PSCommand !~ PowershellFileName)' +
        ' or (isempty(PowershellFileName) and InitiatingProcessCommandLine contains ".ps1")',
    ],
    DeviceProcessEvents: [
      'where InitiatingProcessCommandLine contains "/waagent/run-command" and InitiatingProcessCommandLine contains "/script.sh"',
    ],
  };
}

/** Corrected mode's row filters with the default managed-handler patterns (WINDOWS_MANAGED_HANDLER). */
export const CORRECTED_ROW_FILTERS = correctedRowFilters(WINDOWS_MANAGED_HANDLER);

/** A KQL string literal (the names quoted here hold no quote or backslash). */
function kqlString(text: string): string {
  if (/["\\]/.test(text)) throw new TypeError(`not a plain KQL string: ${text}`);
  return `"${text}"`;
}

/** Which detection mode the pulled rows are for: its row filters are pushed down. */

export function rowFilters(
  mode: DetectionMode,
  managed: WindowsManagedHandler = WINDOWS_MANAGED_HANDLER,
): { readonly [T in TableName]?: readonly string[] } {
  if (mode !== 'corrected') return RULE_ROW_FILTERS;
  return managed === WINDOWS_MANAGED_HANDLER ? CORRECTED_ROW_FILTERS : correctedRowFilters(managed);
}

/** The row filters of `table` in `mode`; a table the mode does not read (parity: DeviceProcessEvents) is an error. */
function rowFiltersOf(table: TableName, mode: DetectionMode, managed?: WindowsManagedHandler): readonly string[] {
  const filters = rowFilters(mode, managed)[table];
  if (!filters) throw new TypeError(`${mode} mode reads no ${table}`);
  return filters;
}

/** Columns fetched as text, not in their table type (see the module comment). */
const AS_TEXT = new Set(['datetime', 'dynamic']);

/** The `project` list of a table: the rule's columns, datetimes and dynamics as text. */
export function projectList(table: TableName): string {
  return RULE_COLUMNS[table].map(([name, type]) => (AS_TEXT.has(type) ? `${name}=tostring(${name})` : name)).join(', ');
}

/** A KQL datetime literal with all 7 fractional digits: `datetime(2026-11-25T00:00:00.0000000Z)`. */
export function kqlDateTimeLiteral(dt: string): string {
  return `datetime(${dt})`;
}

/**
 * The query for one table over one half-open slice `[start, end)`, with the row
 * filters of `mode` (default parity: the rule's own):
 *
 * ```kql
 * DeviceFileEvents
 * | where TimeGenerated >= datetime(…) and TimeGenerated < datetime(…)
 * | where InitiatingProcessFileName == "RunCommandExtension.exe"
 * | project TimeGenerated=tostring(TimeGenerated), DeviceName, …
 * ```
 */
export function buildTableQuery(
  table: TableName,
  slice: QueryWindow,
  mode: DetectionMode = 'parity',
  managed?: WindowsManagedHandler,
): string {
  return [
    table,
    `| where TimeGenerated >= ${kqlDateTimeLiteral(slice.start)} and TimeGenerated < ${kqlDateTimeLiteral(slice.end)}`,
    ...rowFiltersOf(table, mode, managed).map((step) => `| ${step}`),
    `| project ${projectList(table)}`,
  ].join('\n');
}

/** The naive alternative, for measurements only: every row and column of the slice. */
export function buildWholeTableQuery(table: TableName, slice: QueryWindow): string {
  return [
    table,
    `| where TimeGenerated >= ${kqlDateTimeLiteral(slice.start)} and TimeGenerated < ${kqlDateTimeLiteral(slice.end)}`,
  ].join('\n');
}

/**
 * Source health: how many rows a table has in a window at all, without the rule's
 * filters (a disconnected connector or a removed diagnostic setting shows as 0):
 *
 * ```kql
 * AzureActivity
 * | where TimeGenerated >= datetime(…) and TimeGenerated < datetime(…)
 * | count
 * ```
 */
export function buildCountQuery(table: TableName, window: QueryWindow): string {
  return [
    table,
    `| where TimeGenerated >= ${kqlDateTimeLiteral(window.start)} and TimeGenerated < ${kqlDateTimeLiteral(window.end)}`,
    '| count',
  ].join('\n');
}

/**
 * How many rows the push-down query of `table` returns for `window`: the same filters,
 * then `| count`. The source sizes its slices from it, so that no answer is large
 * (memory holds the answers in flight, so their size bounds the job's memory).
 */
export function buildKeptCountQuery(
  table: TableName,
  window: QueryWindow,
  mode: DetectionMode = 'parity',
  managed?: WindowsManagedHandler,
): string {
  return [
    table,
    `| where TimeGenerated >= ${kqlDateTimeLiteral(window.start)} and TimeGenerated < ${kqlDateTimeLiteral(window.end)}`,
    ...rowFiltersOf(table, mode, managed).map((step) => `| ${step}`),
    '| count',
  ].join('\n');
}
