/**
 * The three tables the rule reads and the row it returns, with their Log Analytics
 * types (`../shared/docs/kql-semantics.md`, "Input tables" and "Output row").
 *
 * Rows enter the engine already typed: strings are never null (KQL reads a missing
 * string as ""), datetimes are canonical 7-digit text (see ./datetime), longs are
 * numbers or null, dynamic cells are whatever JSON value arrived (an object, or the
 * JSON text of one: both mean the same to `parse_json`).
 */
import type { KqlDateTime } from './datetime';

/** The two ways the job runs the rule: `parity` (exactly the published KQL) or `corrected` (its faults fixed). */
export type DetectionMode = 'parity' | 'corrected';
export const DETECTION_MODES: readonly DetectionMode[] = ['parity', 'corrected'];

/**
 * A half-open time range `[start, end)` of `TimeGenerated`, as canonical KQL datetime
 * text: the job's day windows, the source's slices, a CLI `--from/--to`.
 */
export interface QueryWindow {
  readonly start: KqlDateTime;
  readonly end: KqlDateTime;
}

export type KqlColumnType = 'string' | 'datetime' | 'long' | 'dynamic' | 'real' | 'int' | 'bool' | 'guid';

export type TableName = 'AzureActivity' | 'DeviceFileEvents' | 'DeviceEvents';
export const TABLE_NAMES: readonly TableName[] = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'];

/** The columns of each table that the rule reads, in the order we project them. */
export const RULE_COLUMNS: { readonly [T in TableName]: ReadonlyArray<readonly [string, KqlColumnType]> } = {
  AzureActivity: [
    ['TimeGenerated', 'datetime'],
    ['OperationNameValue', 'string'],
    ['Authorization', 'string'],
    ['CorrelationId', 'string'],
    ['Caller', 'string'],
    ['CallerIpAddress', 'string'],
    ['ActivityStatusValue', 'string'],
  ],
  DeviceFileEvents: [
    ['TimeGenerated', 'datetime'],
    ['DeviceName', 'string'],
    ['InitiatingProcessFileName', 'string'],
    ['FileName', 'string'],
    ['FileSize', 'long'],
    ['InitiatingProcessAccountName', 'string'],
    ['InitiatingProcessAccountDomain', 'string'],
    ['InitiatingProcessFolderPath', 'string'],
    ['InitiatingProcessId', 'long'],
  ],
  DeviceEvents: [
    ['TimeGenerated', 'datetime'],
    ['DeviceName', 'string'],
    ['InitiatingProcessCommandLine', 'string'],
    ['AdditionalFields', 'dynamic'],
  ],
};

export interface AzureActivityRow {
  TimeGenerated: KqlDateTime | null;
  OperationNameValue: string;
  Authorization: string;
  CorrelationId: string;
  Caller: string;
  CallerIpAddress: string;
  ActivityStatusValue: string;
}

export interface DeviceFileEventsRow {
  TimeGenerated: KqlDateTime | null;
  DeviceName: string;
  InitiatingProcessFileName: string;
  FileName: string;
  FileSize: number | null;
  InitiatingProcessAccountName: string;
  InitiatingProcessAccountDomain: string;
  InitiatingProcessFolderPath: string;
  InitiatingProcessId: number | null;
}

export interface DeviceEventsRow {
  TimeGenerated: KqlDateTime | null;
  DeviceName: string;
  InitiatingProcessCommandLine: string;
  /** dynamic: an object, array, scalar, JSON text, or null. */
  AdditionalFields: unknown;
}

export interface TableRows {
  AzureActivity: AzureActivityRow;
  DeviceFileEvents: DeviceFileEventsRow;
  DeviceEvents: DeviceEventsRow;
}

/** One row of the rule's final `project`, in its column order. */
export interface RunCommandFinding {
  timestamp: KqlDateTime;
  StartTime: KqlDateTime;
  EndTime: KqlDateTime;
  PowershellFileName: string;
  VirtualMachineName: string;
  Caller: string;
  CallerName: string;
  CallerUPNSuffix: string;
  CallerIpAddress: string;
  PowershellScriptCommands: string[];
  PowershellFileSize: number | null;
  ScriptFingerprintHash: string;
  Prevalence: number;
  Scope: string;
}

/**
 * What identifies the event a finding stands for, independent of the rest of the day:
 * the Run Command operation, the VM, the script file it wrote and the PowerShell
 * execution that file joined. A day that grows (late rows, more commands for a script
 * name) changes a finding's attributes (`Prevalence`, the command list and its hash),
 * never these. FindingId is derived from them (src/ingestion/record.ts).
 */
export interface FindingIdentity {
  /** AzureActivity `CorrelationId` of the Run Command operation. */
  CorrelationId: string;
  VirtualMachineName: string;
  /** The script file: `FileName` and `PowershellFileCreatedTimestamp=TimeGenerated` of DeviceFileEvents. */
  PowershellFileName: string;
  PowershellFileCreatedTimestamp: KqlDateTime;
  /**
   * The PowerShell execution: parity joins the group `summarize … by PowershellFileName,
   * InitiatingProcessCommandLine`, so its command line; corrected mode joins the
   * device's commands in the operation's window, and leaves this empty.
   */
  InitiatingProcessCommandLine: string;
}

/** The 14 output columns of the rule, in the order of its final `project`. */
export const FINDING_COLUMNS: ReadonlyArray<readonly [keyof RunCommandFinding, KqlColumnType]> = [
  ['timestamp', 'datetime'],
  ['StartTime', 'datetime'],
  ['EndTime', 'datetime'],
  ['PowershellFileName', 'string'],
  ['VirtualMachineName', 'string'],
  ['Caller', 'string'],
  ['CallerName', 'string'],
  ['CallerUPNSuffix', 'string'],
  ['CallerIpAddress', 'string'],
  ['PowershellScriptCommands', 'dynamic'],
  ['PowershellFileSize', 'long'],
  ['ScriptFingerprintHash', 'string'],
  ['Prevalence', 'real'],
  ['Scope', 'string'],
];
