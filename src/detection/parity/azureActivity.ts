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

/**
 * One row of the `summarize ... by CorrelationId, Authorization, Caller`, as the rest of
 * the rule reads it. Two things are held in a smaller form than the KQL's row, with the
 * same meaning:
 * - `Authorization` as the three pieces of {@link splitAuthorization}, each kept once
 *   (the Authorization texts of a day were the largest part of the state: one per VM and
 *   role assignment, ~300 bytes each, while their pieces repeat); {@link authorizationOf}
 *   gives the text back;
 * - `make_list(ActivityStatusValue)` as the one thing the rule asks of the list, whether
 *   it `has_any ("Succeeded", "Success")`, decided as the statuses arrive (see
 *   {@link isSucceeded} for why testing each status is testing the list).
 */
export interface RunCommandOperation {
  CorrelationId: string;
  /** The text of `Authorization` before its `"scope":"` value (see {@link splitAuthorization}). */
  AuthorizationHead: string;
  /** The raw (JSON-escaped) text of the `"scope":"` value. */
  AuthorizationScope: string;
  /** The text after that value. */
  AuthorizationTail: string;
  Caller: string;
  /** `StartTime=min(TimeGenerated)`: null only when every TimeGenerated of the group is null. */
  StartTime: KqlDateTime | null;
  /** `EndTime=max(TimeGenerated)` */
  EndTime: KqlDateTime | null;
  /** `max(CallerIpAddress)`, ordinal. */
  max_CallerIpAddress: string;
  /** `list_ActivityStatusValue has_any ("Succeeded", "Success")` of the group's `make_list(ActivityStatusValue)`. */
  hasSucceededStatus: boolean;
}

const SCOPE_KEY = '"scope":"';

/**
 * `Authorization` cut in three at the raw text of its first `"scope":"…"` value: the text
 * before it, the value (up to the first `"` not escaped by a backslash) and the rest. It
 * is a cut of the text, not a parse: the three pieces joined are the text, and the cut
 * of a text is always the same, so two texts are equal exactly when their pieces are,
 * whatever the text holds (no `"scope":"`: all of it is the head). Why: the
 * Authorization of an operation is `{"action":…,"scope":"<the VM>","evidence":{<the role
 * assignment>}}`, so a day's texts are few heads, one value per VM and one tail per role
 * assignment and principal, where the whole texts are one per VM and principal.
 */
export function splitAuthorization(text: string): [head: string, scope: string, tail: string] {
  const at = text.indexOf(SCOPE_KEY);
  if (at < 0) return [text, '', ''];
  const start = at + SCOPE_KEY.length;
  let end = start;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    if (c === 0x22 /* " */) break;
    end += c === 0x5c /* \ */ ? 2 : 1;
  }
  if (end >= text.length) return [text, '', ''];
  return [text.slice(0, start), text.slice(start, end), text.slice(end)];
}

/** Whether `text` is the operation's `Authorization` (the same as `authorizationOf(operation) === text`, without joining). */
function sameAuthorization(operation: RunCommandOperation, text: string): boolean {
  const head = operation.AuthorizationHead;
  const scope = operation.AuthorizationScope;
  const tail = operation.AuthorizationTail;
  return (
    text.length === head.length + scope.length + tail.length &&
    text.startsWith(head) &&
    text.startsWith(scope, head.length) &&
    text.endsWith(tail)
  );
}

/** The `Authorization` text of an operation (its three pieces joined). */
export function authorizationOf(operation: RunCommandOperation): string {
  return operation.AuthorizationHead + operation.AuthorizationScope + operation.AuthorizationTail;
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
      for (const group of list) if (group.Caller === Caller && sameAuthorization(group, Authorization)) return group;
    } else {
      const group = this.crowded.get(crowdedKey(CorrelationId, Authorization, Caller));
      if (group) return group;
    }
    const [head, scope, tail] = splitAuthorization(Authorization);
    const group: RunCommandOperation = {
      CorrelationId,
      AuthorizationHead: this.texts.internSlice(head),
      AuthorizationScope: this.texts.internSlice(scope),
      AuthorizationTail: this.texts.internSlice(tail),
      Caller: this.texts.intern(Caller),
      StartTime: null,
      EndTime: null,
      max_CallerIpAddress: this.texts.intern(callerIpAddress),
      hasSucceededStatus: false,
    };
    const grown = append(list, group);
    this.groups.set(CorrelationId, grown.length === 1 ? group : grown);
    this.count++;
    if (grown.length > SHORT_LIST) {
      const toIndex = grown.length === SHORT_LIST + 1 ? grown : [group];
      for (const g of toIndex) this.crowded.set(crowdedKey(g.CorrelationId, authorizationOf(g), g.Caller), g);
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
    if (!group.hasSucceededStatus && statusHasSucceeded(row.ActivityStatusValue)) group.hasSucceededStatus = true;
  }

  /**
   * Adds a group summarized elsewhere (rows of this table read in another thread): the
   * same as adding its rows here, since min, max and make_list combine group by group.
   */
  merge(other: RunCommandOperation): void {
    const group = this.groupOf(other.CorrelationId, authorizationOf(other), other.Caller, other.max_CallerIpAddress);
    const { StartTime, EndTime } = other;
    if (StartTime !== null && (group.StartTime === null || StartTime < group.StartTime)) group.StartTime = StartTime;
    if (EndTime !== null && (group.EndTime === null || EndTime > group.EndTime)) group.EndTime = EndTime;
    if (other.max_CallerIpAddress > group.max_CallerIpAddress)
      group.max_CallerIpAddress = this.texts.intern(other.max_CallerIpAddress);
    if (other.hasSucceededStatus) group.hasSucceededStatus = true;
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
 * the `","` between two elements: checking each element's JSON text is the same test,
 * which is why the group keeps only its outcome (`hasSucceededStatus`, set by
 * {@link statusHasSucceeded} as each status arrives) and not the list.
 */
export function isSucceeded(operation: RunCommandOperation): boolean {
  return operation.hasSucceededStatus;
}

/**
 * One element's test, remembered per status text: a day has a handful of distinct
 * statuses (Start, Accept, Succeeded, ...), each in thousands of lists. Bounded, and
 * simply cleared when full.
 */
const statusMemo = new Map<string, boolean>();
const STATUS_MEMO_LIMIT = 1_000;

/** One element of `list_ActivityStatusValue`: whether its JSON text `has_any ("Succeeded", "Success")`. */
export function statusHasSucceeded(status: string): boolean {
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
  const Authorization_d = parseJson(authorizationOf(operation));
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
