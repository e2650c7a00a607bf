/**
 * The published rule's own KQL, run server-side by Log Analytics, for `verify`: the
 * text kept in the repository (src/detection/rule/query.kql), unchanged, with one
 * final step that turns the datetime and dynamic output columns into text, so that
 * no 100 ns tick is lost on the way (the SDK would read a datetime cell into a
 * JavaScript Date) and the command list arrives as the rule's own `tostring`:
 *
 * ```kql
 * | extend timestamp=tostring(timestamp), StartTime=tostring(StartTime), EndTime=tostring(EndTime), PowershellScriptCommands=tostring(PowershellScriptCommands), Scope=tostring(Scope)
 * ```
 *
 * The window is the query API's `timespan`, as Sentinel sets a rule's query period.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { isRestError } from '@azure/core-rest-pipeline';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { parseKqlDateTime } from '../detection/datetime';
import { FINDING_COLUMNS, type RunCommandFinding } from '../detection/schema';
import { LogAnalyticsError } from './errors';
import type { QueryWindow } from '../detection/schema';
import { describeSlice, timespanCovering } from './slices';
import { logAnalyticsScope } from '../shared/azureScopes';

/** The step appended to the rule's text: datetimes and dynamics of the output as text. */
export const TICKS_PRESERVING_STEP =
  '| extend timestamp=tostring(timestamp), StartTime=tostring(StartTime), EndTime=tostring(EndTime), ' +
  'PowershellScriptCommands=tostring(PowershellScriptCommands), Scope=tostring(Scope)';

/** The rule query could not be run, or its answer is not the rule's 14 columns. */
export class RuleQueryError extends LogAnalyticsError {}

/** The rule's KQL text from the repository (src/detection/rule/query.kql, from src/ or dist/). */
export function loadRuleQueryText(): string {
  const candidates = [
    join(__dirname, '../detection/rule/query.kql'),
    join(__dirname, '../../../src/detection/rule/query.kql'),
  ];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new RuleQueryError(
      `The rule's KQL (src/detection/rule/query.kql) was not found next to the program (looked in ${candidates.join(', ')}). ` +
        'Run verify from a checkout of the repository.',
    );
  }
  return readFileSync(path, 'utf8');
}

/** The rule's text with the ticks-preserving step appended. */
export function buildServerRuleQuery(ruleText: string = loadRuleQueryText()): string {
  return `${ruleText.trimEnd()}\n${TICKS_PRESERVING_STEP}`;
}

export interface RuleQueryOptions {
  workspaceId: string;
  credential: TokenCredential;
  endpoint?: string;
  clientOptions?: LogsQueryClientOptions;
  /** `Prefer: wait=…` (default 600). */
  serverTimeoutInSeconds?: number;
}

/** Runs the rule server-side over `window` and reads its rows as findings. */
export async function runRuleQuery(options: RuleQueryOptions, window: QueryWindow): Promise<RunCommandFinding[]> {
  const scope = options.endpoint ? logAnalyticsScope(options.endpoint) : undefined;
  const client = new LogsQueryClient(options.credential, {
    ...(scope ? { credentials: { scopes: [scope] } } : {}),
    ...options.clientOptions,
    ...(options.endpoint ? { endpoint: options.endpoint.replace(/\/$/, '') } : {}),
  });
  const requestId = randomUUID();
  let result;
  try {
    result = await client.queryWorkspace(options.workspaceId, buildServerRuleQuery(), timespanCovering(window), {
      serverTimeoutInSeconds: options.serverTimeoutInSeconds ?? 600,
      requestOptions: { headers: { 'x-ms-client-request-id': requestId } },
    });
  } catch (err) {
    const status = isRestError(err) ? err.statusCode : undefined;
    const advice =
      status === 403
        ? `the identity may not read workspace ${options.workspaceId}: grant it "Log Analytics Reader"`
        : status === 404
          ? `workspace ${options.workspaceId} was not found at this endpoint`
          : err instanceof Error
            ? err.message
            : String(err);
    throw new RuleQueryError(
      `The rule query for ${describeSlice(window)} was refused (${status ? `HTTP ${status}: ` : ''}${advice}; ` +
        `x-ms-client-request-id ${requestId}).`,
      { cause: err },
    );
  }
  if (result.status !== LogsQueryResultStatus.Success) {
    throw new RuleQueryError(
      `The rule query for ${describeSlice(window)} returned a partial result (${result.partialError.message}); ` +
        'nothing can be compared. Try a shorter window.',
    );
  }
  const table = result.tables[0];
  if (!table) throw new RuleQueryError('The rule query returned no table.');
  return readRuleRows(
    table.columnDescriptors.map((c) => c.name ?? ''),
    table.rows,
  );
}

/** The answer's rows as findings: exactly the rule's 14 columns, datetimes with 7 digits. */
export function readRuleRows(columns: string[], rows: unknown[][]): RunCommandFinding[] {
  const expected = FINDING_COLUMNS.map(([n]) => n);
  if (columns.join(',') !== expected.join(',')) {
    throw new RuleQueryError(`The rule query answered columns ${columns.join(', ')}, not ${expected.join(', ')}.`);
  }
  return rows.map((cells, i) => {
    const raw = Object.fromEntries(columns.map((c, j) => [c, cells[j]])) as Record<string, unknown>;
    const time = (name: string): string => {
      const t = parseKqlDateTime(String(raw[name] ?? ''));
      if (t === null) throw new RuleQueryError(`Row ${i + 1}: ${name} '${String(raw[name])}' is not a datetime.`);
      return t;
    };
    const text = (name: string): string => (raw[name] === null || raw[name] === undefined ? '' : String(raw[name]));
    let commands: unknown;
    try {
      commands = JSON.parse(text('PowershellScriptCommands'));
    } catch {
      commands = undefined;
    }
    if (!Array.isArray(commands)) {
      throw new RuleQueryError(`Row ${i + 1}: PowershellScriptCommands is not a JSON array of strings.`);
    }
    const size = raw.PowershellFileSize;
    return {
      timestamp: time('timestamp'),
      StartTime: time('StartTime'),
      EndTime: time('EndTime'),
      PowershellFileName: text('PowershellFileName'),
      VirtualMachineName: text('VirtualMachineName'),
      Caller: text('Caller'),
      CallerName: text('CallerName'),
      CallerUPNSuffix: text('CallerUPNSuffix'),
      CallerIpAddress: text('CallerIpAddress'),
      PowershellScriptCommands: commands.map(String),
      PowershellFileSize: size === null || size === undefined || size === '' ? null : Number(size),
      ScriptFingerprintHash: text('ScriptFingerprintHash'),
      Prevalence: Number(raw.Prevalence),
      Scope: text('Scope'),
    };
  });
}
