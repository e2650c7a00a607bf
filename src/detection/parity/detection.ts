/**
 * Parity mode: the published rule, stage by stage, streaming. `add` applies each
 * table's own row filters at once and keeps only what can still matter (AzureActivity
 * rows go straight into their `summarize` groups, DeviceEvents rows into their command
 * lists), so memory grows with the Run Command rows, not with the input. `finish`
 * runs the joins and the uniqueness test.
 */
import {
  onTable,
  type RuleTableName,
  type PerTable,
  type AzureActivityRow,
  DeviceEventsRow,
  DeviceFileEventsRow,
  RunCommandFinding,
  TableName,
  TableRows,
} from '../schema';
import {
  isRunCommandActivity,
  isSucceeded,
  RunCommandOperations,
  toExecution,
  type RunCommandOperation,
} from './azureActivity';
import { isRunCommandExtensionFile, toScriptFile, type RunCommandScriptFile } from './deviceFileEvents';
import { ScriptCommandLists, toScriptCommand, type ScriptCommandList } from './deviceEvents';
import { joinCommandListGroups, joinScriptFiles, ScriptFilesByVirtualMachine, type ExecutionWithFile } from './joins';
import { uniqueFindingsOfGroups, type IdentifiedFinding } from './uniqueness';
import { StringPool } from '../compact';

/** Rows read per table and rows left after each stage of the query. */
export interface StageCounts {
  /** The rule's three tables (parity mode reads no other). */
  rowsRead: Record<RuleTableName, number>;
  /** AzureActivity rows left after `where OperationNameValue =~ ...` and `where Authorization has "virtualMachines"`. */
  runCommandActivityRows: number;
  /** Rows of `summarize ... by CorrelationId, Authorization, Caller` (operations). */
  runCommandOperations: number;
  /** Operations left after `where list_ActivityStatusValue has_any ("Succeeded", "Success")`. */
  succeededOperations: number;
  /** DeviceFileEvents rows left after `where InitiatingProcessFileName == "RunCommandExtension.exe"`. */
  runCommandExtensionFiles: number;
  /** DeviceEvents rows left after `has "-File"`, `isnotempty(PowershellFileName)` and `PSCommand != PowershellFileName`. */
  scriptCommandRows: number;
  /** Rows of `summarize ... make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine`. */
  scriptCommandLists: number;
  /** Rows after `join kind=leftouter (...) on VirtualMachineName` and `where PowershellFileCreatedTimestamp between (StartTime .. EndTime)`. */
  operationsWithScriptFile: number;
  /** Rows of `RunCommandData`, after `join kind=inner (...) on $left.FileName == $right.PowershellFileName` (= `totals`). */
  runCommandData: number;
  /** Rows left after `where HashCount == 1`: the findings. */
  findings: number;
}

/** A label (the KQL it counts) for each stage of {@link StageCounts}, in query order. */
export const STAGE_LABELS: ReadonlyArray<readonly [Exclude<keyof StageCounts, 'rowsRead'>, string]> = [
  [
    'runCommandActivityRows',
    'AzureActivity | where OperationNameValue =~ "...runCommand/action" | where Authorization has "virtualMachines"',
  ],
  ['runCommandOperations', '| summarize ... by CorrelationId, Authorization, Caller'],
  ['succeededOperations', '| where list_ActivityStatusValue has_any ("Succeeded", "Success")'],
  ['runCommandExtensionFiles', 'DeviceFileEvents | where InitiatingProcessFileName == "RunCommandExtension.exe"'],
  [
    'scriptCommandRows',
    'DeviceEvents | where ... has "-File" | where isnotempty(PowershellFileName) | where PSCommand != PowershellFileName',
  ],
  ['scriptCommandLists', '| summarize make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine'],
  [
    'operationsWithScriptFile',
    '| join kind=leftouter (...) on VirtualMachineName | where PowershellFileCreatedTimestamp between (StartTime .. EndTime)',
  ],
  [
    'runCommandData',
    '| join kind=inner (...) on $left.FileName == $right.PowershellFileName  (RunCommandData, totals)',
  ],
  ['findings', '| where HashCount == 1'],
];

export interface ParityResult {
  /** Sorted by StartTime, then ScriptFingerprintHash (see `compareFindings`). */
  findings: RunCommandFinding[];
  /** The same findings, in the same order, each with its identity. */
  identified: IdentifiedFinding[];
  stages: StageCounts;
}

/**
 * What `add` has kept of one table's rows, as plain data that can be posted between
 * threads: a table's branch can run in a worker thread (./io/parallel) and be merged
 * here with `mergeBranch`, with the same result as adding its rows here.
 */
export type BranchState =
  | { table: 'AzureActivity'; rowsRead: number; keptRows: number; operations: RunCommandOperation[] }
  | { table: 'DeviceFileEvents'; rowsRead: number; files: RunCommandScriptFile[] }
  | { table: 'DeviceEvents'; rowsRead: number; keptRows: number; commandLists: ScriptCommandList[] };

/** Each table's own row filters: the `where`s before the first `summarize`/`join` of its branch. */
const PARITY_ROW_FILTERS: PerTable<boolean> = {
  AzureActivity: (row) => isRunCommandActivity(row),
  DeviceFileEvents: (row) => isRunCommandExtensionFile(row),
  DeviceEvents: (row) => toScriptCommand(row) !== null,
  // The rule reads no DeviceProcessEvents (only corrected mode does).
  DeviceProcessEvents: () => false,
};

export class ParityDetection {
  private readonly read: Record<RuleTableName, number> = { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 };
  private runCommandActivityRows = 0;
  private scriptCommandRows = 0;
  /** The texts the state keeps, each once (see ../compact). */
  private readonly texts = new StringPool();
  private readonly operations = new RunCommandOperations(this.texts);
  private readonly files = new ScriptFilesByVirtualMachine();
  private readonly commandLists = new ScriptCommandLists(this.texts);

  /**
   * Whether a row passes its table's own row filters (the `where`s before the first
   * `summarize`/`join` of its branch). Rows for which this is false cannot change the
   * result; a source may drop them early.
   */
  static isRelevant<T extends TableName>(table: T, row: TableRows[T]): boolean {
    return onTable(table, row, PARITY_ROW_FILTERS);
  }

  add<T extends TableName>(table: T, row: TableRows[T]): void {
    onTable(table, row, this.adders);
  }

  private readonly adders: PerTable<void> = {
    AzureActivity: (row) => this.addAzureActivity(row),
    DeviceFileEvents: (row) => this.addDeviceFileEvent(row),
    DeviceEvents: (row) => this.addDeviceEvent(row),
    DeviceProcessEvents: () => undefined,
  };

  addAzureActivity(row: AzureActivityRow): void {
    this.read.AzureActivity++;
    if (!isRunCommandActivity(row)) return;
    this.runCommandActivityRows++;
    this.operations.add(row);
  }

  addDeviceFileEvent(row: DeviceFileEventsRow): void {
    this.read.DeviceFileEvents++;
    if (!isRunCommandExtensionFile(row)) return;
    this.files.add(toScriptFile(row, this.texts));
  }

  addDeviceEvent(row: DeviceEventsRow): void {
    this.read.DeviceEvents++;
    const command = toScriptCommand(row);
    if (command === null) return;
    this.scriptCommandRows++;
    this.commandLists.add(command);
  }

  /** This detection's state for `table`'s branch (see {@link BranchState}). */
  exportBranch(table: RuleTableName): BranchState {
    const rowsRead = this.read[table];
    switch (table) {
      case 'AzureActivity':
        return { table, rowsRead, keptRows: this.runCommandActivityRows, operations: [...this.operations.values()] };
      case 'DeviceFileEvents':
        return { table, rowsRead, files: this.files.all() };
      case 'DeviceEvents':
        return { table, rowsRead, keptRows: this.scriptCommandRows, commandLists: this.commandLists.all() };
      default:
        throw new TypeError(`unknown table ${String(table)}`);
    }
  }

  /** Adds another detection's branch state, as if its rows had been added here. */
  mergeBranch(state: BranchState): void {
    this.read[state.table] += state.rowsRead;
    switch (state.table) {
      case 'AzureActivity':
        this.runCommandActivityRows += state.keptRows;
        for (const operation of state.operations) this.operations.merge(operation);
        return;
      case 'DeviceFileEvents':
        for (const file of state.files) this.files.add(file);
        return;
      case 'DeviceEvents':
        this.scriptCommandRows += state.keptRows;
        for (const list of state.commandLists) this.commandLists.merge(list);
        return;
    }
  }

  /** Runs the joins and the uniqueness test over everything added so far. */
  finish(): ParityResult {
    // No text is added from here on: the pool's index goes (the texts stay where they are held).
    this.texts.clear();
    const scopes = new StringPool();
    let succeededOperations = 0;
    let operationsWithScriptFile = 0;
    // The executions with their script file, by FileName: the left side of the second join.
    // Only FileNames that some command list has are kept: the inner join drops the others.
    const executionsByFileName = new Map<string, ExecutionWithFile[]>();
    for (const operation of this.operations.values()) {
      if (!isSucceeded(operation)) continue;
      succeededOperations++;
      const execution = toExecution(operation);
      // The same Scope text for every operation on one VM, held once.
      if (typeof execution.Scope === 'string') execution.Scope = scopes.intern(execution.Scope);
      for (const withFile of joinScriptFiles(execution, this.files)) {
        operationsWithScriptFile++;
        if (!this.commandLists.hasFileName(withFile.FileName)) continue;
        const executions = executionsByFileName.get(withFile.FileName);
        if (executions) executions.push(withFile);
        else executionsByFileName.set(withFile.FileName, [withFile]);
      }
    }
    const runCommandData = joinCommandListGroups(executionsByFileName, this.commandLists);
    const { findings: identified, totals } = uniqueFindingsOfGroups(runCommandData);
    const findings = identified.map((f) => f.finding);
    return {
      findings,
      identified,
      stages: {
        rowsRead: { ...this.read },
        runCommandActivityRows: this.runCommandActivityRows,
        runCommandOperations: this.operations.size,
        succeededOperations,
        runCommandExtensionFiles: this.files.size,
        scriptCommandRows: this.scriptCommandRows,
        scriptCommandLists: this.commandLists.size,
        operationsWithScriptFile,
        runCommandData: totals,
        findings: findings.length,
      },
    };
  }
}

/** The rule over three whole tables: its findings, sorted as {@link ParityResult.findings}. */
export function detectParity(tables: {
  AzureActivity: Iterable<AzureActivityRow>;
  DeviceFileEvents: Iterable<DeviceFileEventsRow>;
  DeviceEvents: Iterable<DeviceEventsRow>;
}): RunCommandFinding[] {
  const detection = new ParityDetection();
  for (const row of tables.AzureActivity) detection.addAzureActivity(row);
  for (const row of tables.DeviceFileEvents) detection.addDeviceFileEvent(row);
  for (const row of tables.DeviceEvents) detection.addDeviceEvent(row);
  return detection.finish().findings;
}
