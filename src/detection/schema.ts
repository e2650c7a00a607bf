/**
 * The three tables the rule reads and the row it returns, with their Log Analytics
 * types (`docs/kql-semantics.md`, "Input tables" and "Output row").
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

/** Marks a declared column the rule does not read (see RULE_COLUMNS). */
export const OPTIONAL = 'optional';

/** One declared column: name, KQL type, and OPTIONAL for a column the rule does not read. */
export type ColumnDeclaration = readonly [string, KqlColumnType] | readonly [string, KqlColumnType, typeof OPTIONAL];

/**
 * The tables the engine reads: the rule's three, and `DeviceProcessEvents`, which only
 * corrected mode reads (the Linux Run Command paths: the script's commands are the
 * processes it starts; src/detection/corrected/paths.ts).
 */
export type TableName = 'AzureActivity' | 'DeviceFileEvents' | 'DeviceEvents' | 'DeviceProcessEvents';
/** The rule's three tables: what parity mode reads, pulls and checks (the published rule reads no other). */
export type RuleTableName = Exclude<TableName, 'DeviceProcessEvents'>;
export const TABLE_NAMES: readonly RuleTableName[] = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'];
/** One value per table: the rule's three always, DeviceProcessEvents where it was read (corrected mode). */
export type TableRecord<X> = { [T in RuleTableName]: X } & { DeviceProcessEvents?: X };

/** The tables corrected mode reads: the rule's three and DeviceProcessEvents. */
export const CORRECTED_TABLE_NAMES: readonly TableName[] = [...TABLE_NAMES, 'DeviceProcessEvents'];
/** The tables a mode reads (parity: exactly the rule's three). */
export function tablesOfMode(mode: DetectionMode): readonly TableName[] {
  return mode === 'corrected' ? CORRECTED_TABLE_NAMES : TABLE_NAMES;
}

/**
 * The columns of each table that the rule reads, in the order we project them: the one
 * place a column is declared. The row types below, `coerceRow` (./rows), the push-down
 * queries' `project` (src/logAnalytics/queries.ts), the readers' column checks and the
 * generator's column list are all derived from this table, so a column the rule reads
 * is added here and nowhere else.
 *
 * A column marked `OPTIONAL` is one the rule does not read: it is projected and typed
 * like the others, but a file or a query answer without it is read as if each of its
 * cells were empty (see {@link isOptionalColumn}, {@link requiredColumnNames}).
 */
export const RULE_COLUMNS = {
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
    // Not read by the rule: the script file's identity for corrected mode and the
    // finding's evidence (ScriptSha256, ScriptFolderPath; src/detection/evidence.ts).
    ['SHA256', 'string', OPTIONAL],
    ['FolderPath', 'string', OPTIONAL],
  ],
  DeviceEvents: [
    ['TimeGenerated', 'datetime'],
    ['DeviceName', 'string'],
    ['InitiatingProcessCommandLine', 'string'],
    ['AdditionalFields', 'dynamic'],
  ],
  // Corrected mode only (Linux Run Command): the processes a script starts
  // (learn.microsoft.com/defender-xdr/advanced-hunting-deviceprocessevents-table).
  DeviceProcessEvents: [
    ['TimeGenerated', 'datetime'],
    ['DeviceName', 'string'],
    ['FileName', 'string'],
    ['ProcessCommandLine', 'string'],
    ['InitiatingProcessFileName', 'string'],
    ['InitiatingProcessCommandLine', 'string'],
  ],
} as const satisfies { readonly [T in TableName]: ReadonlyArray<ColumnDeclaration> };

/** The columns of `table` the rule reads: a file or a query answer without one of them is refused. */
export function requiredColumnNames(table: TableName): string[] {
  return (RULE_COLUMNS[table] as ReadonlyArray<ColumnDeclaration>).filter((c) => !isOptionalColumn(c)).map(([n]) => n);
}

/** Whether a declared column is one the rule does not read (marked OPTIONAL). */
export function isOptionalColumn(column: ColumnDeclaration): boolean {
  return column[2] === OPTIONAL;
}

/**
 * The engine's type of a cell of each KQL type: strings are never null (KQL reads a
 * missing string as ""), datetimes are canonical 7-digit text or null, longs are numbers
 * or null, a dynamic cell is whatever JSON value arrived (an object, array, scalar, the
 * JSON text of one, or null: all mean the same to `parse_json`).
 */
export interface KqlCellTypes {
  string: string;
  guid: string;
  datetime: KqlDateTime | null;
  long: number | null;
  int: number | null;
  real: number | null;
  bool: boolean | null;
  dynamic: unknown;
}

/**
 * The typed row of a column list: one property per column, typed by its KQL type. An
 * OPTIONAL column's property may be absent in a row built by hand (`coerceRow` always
 * sets it): readers write `row.SHA256 ?? ''`.
 */
export type RowOf<C extends ReadonlyArray<ColumnDeclaration>> = {
  [E in C[number] as E extends readonly [string, KqlColumnType, typeof OPTIONAL] ? never : E[0]]: KqlCellTypes[E[1]];
} & {
  [E in C[number] as E extends readonly [string, KqlColumnType, typeof OPTIONAL] ? E[0] : never]?: KqlCellTypes[E[1]];
};

export type AzureActivityRow = RowOf<(typeof RULE_COLUMNS)['AzureActivity']>;
export type DeviceFileEventsRow = RowOf<(typeof RULE_COLUMNS)['DeviceFileEvents']>;
export type DeviceEventsRow = RowOf<(typeof RULE_COLUMNS)['DeviceEvents']>;
export type DeviceProcessEventsRow = RowOf<(typeof RULE_COLUMNS)['DeviceProcessEvents']>;

/** One function per table, each taking that table's row. */
export type PerTable<R> = { readonly [T in TableName]: (row: TableRows[T]) => R };

/** A count per table, all zero. */
export function zeroPerTable(): Record<TableName, number> {
  return { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0, DeviceProcessEvents: 0 };
}

/** Calls the function of `row`'s table: the one switch over the three tables. */
export function onTable<T extends TableName, R>(table: T, row: TableRows[T], handlers: PerTable<R>): R {
  const handler = handlers[table] as ((row: TableRows[T]) => R) | undefined;
  if (!handler) throw new TypeError(`unknown table ${String(table)}`);
  return handler(row);
}

export interface TableRows {
  AzureActivity: AzureActivityRow;
  DeviceFileEvents: DeviceFileEventsRow;
  DeviceEvents: DeviceEventsRow;
  DeviceProcessEvents: DeviceProcessEventsRow;
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
