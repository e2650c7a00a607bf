/**
 * The AzureActivity branch of `RunCommandData`:
 *
 * ```kql
 * AzureActivity
 * | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
 * | where Authorization has "virtualMachines"
 * | summarize StartTime=min(TimeGenerated), EndTime=max(TimeGenerated), max(CallerIpAddress), make_list(ActivityStatusValue) by CorrelationId, Authorization, Caller
 * | where list_ActivityStatusValue has_any ("Succeeded", "Success")
 * | extend Authorization_d = parse_json(Authorization)
 * | extend Scope = Authorization_d.scope
 * | extend Scope_s = split(Scope, "/")
 * | extend Subscription = tostring(Scope_s[2])
 * | extend VirtualMachineName = tostring(Scope_s[-1])
 * | project StartTime, EndTime, Subscription, VirtualMachineName, CorrelationId, Caller, CallerIpAddress=max_CallerIpAddress, Scope
 * ```
 */
import type { KqlDateTime } from '../datetime';
import type { AzureActivityRow } from '../schema';
import { arrayIndex, equalsIgnoreCase, getProperty, has, hasAny, parseJson, split, tostring } from '../kql';
import { append, StringPool } from '../compact';

export const RUN_COMMAND_OPERATION = 'Microsoft.Compute/virtualMachines/runCommand/action';
export const SUCCEEDED_STATUSES: readonly string[] = ['Succeeded', 'Success'];

/**
 * `| where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"`
 * `| where Authorization has "virtualMachines"`
 */
export function isRunCommandActivity(row: AzureActivityRow): boolean {
  return (
    row.OperationNameValue.length === RUN_COMMAND_OPERATION.length &&
    equalsIgnoreCase(row.OperationNameValue, RUN_COMMAND_OPERATION) &&
    has(row.Authorization, 'virtualMachines')
  );
}

/** One row of the `summarize ... by CorrelationId, Authorization, Caller`. */
export interface RunCommandOperation {
  CorrelationId: string;
  Authorization: string;
  Caller: string;
  /** `StartTime=min(TimeGenerated)`: null only when every TimeGenerated of the group is null. */
  StartTime: KqlDateTime | null;
  /** `EndTime=max(TimeGenerated)` */
  EndTime: KqlDateTime | null;
  /** `max(CallerIpAddress)`, ordinal. */
  max_CallerIpAddress: string;
  /** `make_list(ActivityStatusValue)`, in input order. */
  list_ActivityStatusValue: string[];
}

/**
 * `| summarize StartTime=min(TimeGenerated), EndTime=max(TimeGenerated), max(CallerIpAddress),
 *   make_list(ActivityStatusValue) by CorrelationId, Authorization, Caller`
 *
 * min/max ignore null TimeGenerated; keys compare case-sensitively.
 */
export class RunCommandOperations {
  /**
   * CorrelationId → its groups. An operation has one CorrelationId and nearly always
   * one Authorization and Caller, so a row's group is found by comparing those along a
   * short list, which is cheaper than hashing the long Authorization text of every row
   * as a map key. A CorrelationId with more than SHORT_LIST groups has them indexed in
   * `crowded` as well, so that no input makes the lookup quadratic. A CorrelationId's
   * only group is held without a list (see ../compact: most have one).
   */
  private readonly groups = new Map<string, RunCommandOperation | RunCommandOperation[]>();
  private readonly crowded = new Map<string, RunCommandOperation>();
  private count = 0;

  /** `texts`: where the repeated texts of the groups are kept once (see ../compact). */
  constructor(private readonly texts = new StringPool()) {}

  /** The group of these keys; a new one starts with `callerIpAddress` as its max. */
  private groupOf(
    CorrelationId: string,
    Authorization: string,
    Caller: string,
    callerIpAddress: string,
  ): RunCommandOperation {
    const held = this.groups.get(CorrelationId);
    const list = held === undefined ? [] : Array.isArray(held) ? held : [held];
    if (list.length <= SHORT_LIST) {
      for (const group of list) if (group.Authorization === Authorization && group.Caller === Caller) return group;
    } else {
      const group = this.crowded.get(crowdedKey(CorrelationId, Authorization, Caller));
      if (group) return group;
    }
    const group: RunCommandOperation = {
      CorrelationId,
      Authorization: this.texts.intern(Authorization),
      Caller: this.texts.intern(Caller),
      StartTime: null,
      EndTime: null,
      max_CallerIpAddress: this.texts.intern(callerIpAddress),
      list_ActivityStatusValue: [],
    };
    const grown = append(list, group);
    this.groups.set(CorrelationId, grown.length === 1 ? group : grown);
    this.count++;
    if (grown.length > SHORT_LIST) {
      const toIndex = grown.length === SHORT_LIST + 1 ? grown : [group];
      for (const g of toIndex) this.crowded.set(crowdedKey(g.CorrelationId, g.Authorization, g.Caller), g);
    }
    return group;
  }

  add(row: AzureActivityRow): void {
    const group = this.groupOf(row.CorrelationId, row.Authorization, row.Caller, row.CallerIpAddress);
    const t = row.TimeGenerated;
    if (t !== null) {
      if (group.StartTime === null || t < group.StartTime) group.StartTime = t;
      if (group.EndTime === null || t > group.EndTime) group.EndTime = t;
    }
    if (row.CallerIpAddress > group.max_CallerIpAddress)
      group.max_CallerIpAddress = this.texts.intern(row.CallerIpAddress);
    group.list_ActivityStatusValue = append(group.list_ActivityStatusValue, this.texts.intern(row.ActivityStatusValue));
  }

  /**
   * Adds a group summarized elsewhere (rows of this table read in another thread): the
   * same as adding its rows here, since min, max and make_list combine group by group.
   */
  merge(other: RunCommandOperation): void {
    const group = this.groupOf(other.CorrelationId, other.Authorization, other.Caller, other.max_CallerIpAddress);
    const { StartTime, EndTime } = other;
    if (StartTime !== null && (group.StartTime === null || StartTime < group.StartTime)) group.StartTime = StartTime;
    if (EndTime !== null && (group.EndTime === null || EndTime > group.EndTime)) group.EndTime = EndTime;
    if (other.max_CallerIpAddress > group.max_CallerIpAddress)
      group.max_CallerIpAddress = this.texts.intern(other.max_CallerIpAddress);
    for (const status of other.list_ActivityStatusValue)
      group.list_ActivityStatusValue = append(group.list_ActivityStatusValue, this.texts.intern(status));
  }

  get size(): number {
    return this.count;
  }

  *values(): IterableIterator<RunCommandOperation> {
    for (const held of this.groups.values()) {
      if (Array.isArray(held)) yield* held;
      else yield held;
    }
  }
}

/** Groups of one CorrelationId compared along a list, up to this many. */
const SHORT_LIST = 16;

/** An unambiguous map key for the three group keys (lengths first). */
function crowdedKey(CorrelationId: string, Authorization: string, Caller: string): string {
  return `${CorrelationId.length}:${Authorization.length}:${CorrelationId}${Authorization}${Caller}`;
}

/**
 * `| where list_ActivityStatusValue has_any ("Succeeded", "Success")`: the list's JSON
 * text `has` either term. Both needles are all-alphanumeric, so a hit can never span
 * the `","` between two elements: checking each element's JSON text is the same test.
 */
export function isSucceeded(operation: RunCommandOperation): boolean {
  for (const status of operation.list_ActivityStatusValue) {
    if (statusHasSucceeded(status)) return true;
  }
  return false;
}

/**
 * One element's test, remembered per status text: a day has a handful of distinct
 * statuses (Start, Accept, Succeeded, ...), each in thousands of lists. Bounded, and
 * simply cleared when full.
 */
const statusMemo = new Map<string, boolean>();
const STATUS_MEMO_LIMIT = 1_000;

function statusHasSucceeded(status: string): boolean {
  let result = statusMemo.get(status);
  if (result === undefined) {
    result = hasAny(JSON.stringify(status), SUCCEEDED_STATUSES);
    if (statusMemo.size >= STATUS_MEMO_LIMIT) statusMemo.clear();
    statusMemo.set(status, result);
  }
  return result;
}

/** One row of the branch's final `project`. */
export interface RunCommandExecution {
  StartTime: KqlDateTime | null;
  EndTime: KqlDateTime | null;
  Subscription: string;
  VirtualMachineName: string;
  CorrelationId: string;
  Caller: string;
  CallerIpAddress: string;
  /** `Scope = Authorization_d.scope`: dynamic (usually a string; null when absent). */
  Scope: unknown;
}

/**
 * `| extend Authorization_d = parse_json(Authorization)`
 * `| extend Scope = Authorization_d.scope`
 * `| extend Scope_s = split(Scope, "/")`
 * `| extend Subscription = tostring(Scope_s[2])`
 * `| extend VirtualMachineName = tostring(Scope_s[-1])`
 * `| project StartTime, EndTime, Subscription, VirtualMachineName, CorrelationId, Caller, CallerIpAddress=max_CallerIpAddress, Scope`
 */
export function toExecution(operation: RunCommandOperation): RunCommandExecution {
  const Authorization_d = parseJson(operation.Authorization);
  const Scope = getProperty(Authorization_d, 'scope');
  const Scope_s = split(Scope, '/');
  return {
    StartTime: operation.StartTime,
    EndTime: operation.EndTime,
    Subscription: tostring(arrayIndex(Scope_s, 2)),
    VirtualMachineName: tostring(arrayIndex(Scope_s, -1)),
    CorrelationId: operation.CorrelationId,
    Caller: operation.Caller,
    CallerIpAddress: operation.max_CallerIpAddress,
    Scope,
  };
}
