/**
 * Corrected mode, AzureActivity side: one Run Command operation per CorrelationId and
 * scope. The rule's row filters
 *
 * ```kql
 * | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
 * | where Authorization has "virtualMachines"
 * | where list_ActivityStatusValue has_any ("Succeeded", "Success")
 * ```
 *
 * are widened to every Run Command path (./paths): the operation name is one of
 * `RUN_COMMAND_OPERATIONS` (`=~`), and the scope must name a machine of that
 * operation's kind (a VM, a scale-set instance, an Arc machine), which replaces
 * `Authorization has "virtualMachines"`;
 *
 * but the rule's `summarize ... by CorrelationId, Authorization, Caller` splits one
 * operation in two when the Authorization text of its events differs (another role
 * assignment matched the last event): the half with the Succeeded event then has
 * StartTime = EndTime and never meets its script file. Here the operation is keyed by
 * CorrelationId and the `scope` inside Authorization (compared case-insensitively, as
 * ARM resource ids are), so all its events stay together.
 */
import type { KqlDateTime } from '../datetime';
import type { AzureActivityRow } from '../schema';
import { caseFold, getProperty, hasAny, parseJson, tostring } from '../kql';
import { SUCCEEDED_STATUSES } from '../parity/azureActivity';
import {
  parseRunCommandTarget,
  runCommandOperationKind,
  type RunCommandPath,
  type RunCommandTarget,
  type ScaleSetNaming,
} from './paths';

export interface CorrectedOperation {
  CorrelationId: string;
  /** `tostring(parse_json(Authorization).scope)`: the VM's ARM resource id. */
  Scope: string;
  /** The machine's name in ARM (`tostring(split(Scope, "/")[-1])` on the action path; see RunCommandTarget). */
  VirtualMachineName: string;
  path: RunCommandPath;
  target: RunCommandTarget;
  /** The first non-empty Caller of the operation's events. */
  Caller: string;
  StartTime: KqlDateTime | null;
  EndTime: KqlDateTime | null;
  /** `max(CallerIpAddress)`, ordinal, as the rule. */
  CallerIpAddress: string;
  statuses: string[];
}

/** `Authorization_d.scope` as text, remembered per Authorization text (the events of an operation repeat it). */
const scopeMemo = new Map<string, string>();

function scopeOf(authorization: string): string {
  let scope = scopeMemo.get(authorization);
  if (scope === undefined) {
    scope = tostring(getProperty(parseJson(authorization), 'scope'));
    if (scopeMemo.size >= 10_000) scopeMemo.clear();
    scopeMemo.set(authorization, scope);
  }
  return scope;
}

/**
 * Whether a row is a Run Command event on a machine: a known operation name and a
 * scope naming a machine of its kind. Returns the parsed kind and target, or null.
 */
export function runCommandActivityOf(
  row: AzureActivityRow,
  naming: ScaleSetNaming = {},
): { path: RunCommandPath; scope: string; target: RunCommandTarget } | null {
  const kind = runCommandOperationKind(row.OperationNameValue);
  if (!kind) return null;
  const scope = scopeOf(row.Authorization);
  const target = parseRunCommandTarget(kind, scope, naming);
  return target ? { path: kind.path, scope, target } : null;
}

/** Operations grouped by CorrelationId and scope. */
export class CorrectedOperations {
  private readonly groups = new Map<string, CorrectedOperation>();

  constructor(private readonly naming: ScaleSetNaming = {}) {}

  add(row: AzureActivityRow): boolean {
    const activity = runCommandActivityOf(row, this.naming);
    if (!activity) return false;
    const Scope = activity.scope;
    const key = `${row.CorrelationId}\n${caseFold(Scope)}`;
    let op = this.groups.get(key);
    if (!op) {
      op = {
        CorrelationId: row.CorrelationId,
        Scope,
        VirtualMachineName: activity.target.machineName,
        path: activity.path,
        target: activity.target,
        Caller: row.Caller,
        StartTime: null,
        EndTime: null,
        CallerIpAddress: row.CallerIpAddress,
        statuses: [],
      };
      this.groups.set(key, op);
    }
    if (op.Caller === '' && row.Caller !== '') op.Caller = row.Caller;
    const t = row.TimeGenerated;
    if (t !== null) {
      if (op.StartTime === null || t < op.StartTime) op.StartTime = t;
      if (op.EndTime === null || t > op.EndTime) op.EndTime = t;
    }
    if (row.CallerIpAddress > op.CallerIpAddress) op.CallerIpAddress = row.CallerIpAddress;
    op.statuses.push(row.ActivityStatusValue);
    return true;
  }

  get size(): number {
    return this.groups.size;
  }

  /** `| where list_ActivityStatusValue has_any ("Succeeded", "Success")`, with a window. */
  *succeeded(): IterableIterator<CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime }> {
    for (const op of this.groups.values()) {
      if (op.StartTime === null || op.EndTime === null) continue;
      if (!op.statuses.some((s) => hasAny(JSON.stringify(s), SUCCEEDED_STATUSES))) continue;
      yield op as CorrectedOperation & { StartTime: KqlDateTime; EndTime: KqlDateTime };
    }
  }
}
