/**
 * Read-back: before a finding whose earlier attempt may have reached the service is sent
 * again, the writer asks the workspace whether its FindingId is already in the findings
 * table, one query per batch, through the same LogsQueryClient identity and workspace the
 * job reads from:
 *
 *   RunCommandFindings_CL
 *   | where TimeGenerated >= datetime(<earliest WindowStart of the batch>)
 *   | where FindingId in ("…", "…")
 *   | distinct FindingId
 *
 * Every record of a window is written after the window ended, so its TimeGenerated (ours,
 * or the ingestion time the service may put in its place) is never before WindowStart.
 * The answer is only trusted once the last attempt is older than the ingestion latency
 * bound (the writer waits for that); a failed or partial answer is "unknown", and the
 * findings stay spooled.
 */
import type { TokenCredential } from '@azure/core-auth';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions } from '@azure/monitor-query-logs';
import type { KqlDateTime } from '../detection/datetime';
import { AppError, messageOf } from '../shared/errors';
import { logAnalyticsScope } from '../shared/azureScopes';
import { FINDINGS_TABLE } from './record';

export interface FindingsReadBack {
  /** For messages: "workspace … table RunCommandFindings_CL". */
  readonly description: string;
  /** Which of `findingIds` have a row in the findings table with TimeGenerated >= `since`. */
  present(findingIds: readonly string[], since: KqlDateTime): Promise<Set<string>>;
}

/** At most this many ids per query (the query text stays small, far under the API's limits). */
export const READ_BACK_BATCH = 200;

/** The read-back query for one batch (its text is checked by the Kusto language service in the tests). */
export function readBackQuery(
  findingIds: readonly string[],
  since: KqlDateTime,
  table = FINDINGS_TABLE.tableName,
): string {
  for (const id of findingIds) {
    if (!/^[0-9A-Za-z_-]+$/.test(id)) throw new RangeError(`not a FindingId: '${id}'`);
  }
  return [
    table,
    `| where TimeGenerated >= datetime(${since})`,
    `| where FindingId in (${findingIds.map((id) => `"${id}"`).join(', ')})`,
    '| distinct FindingId',
  ].join('\n');
}

export class ReadBackError extends AppError {}

export interface LogAnalyticsReadBackOptions {
  /** LOG_ANALYTICS_WORKSPACE_ID: the workspace the job reads (the findings table's workspace). */
  workspaceId: string;
  credential: TokenCredential;
  /** LOG_ANALYTICS_ENDPOINT, including /v1. */
  endpoint?: string;
  /** tlsOptions (tests), retryOptions, additionalPolicies (call timeout). */
  clientOptions?: LogsQueryClientOptions;
  /** The findings table; default that of infra/findings-table.json. */
  tableName?: string;
  /** Clock, ms (the query's timespan ends a day after now). */
  now?: () => number;
}

export class LogAnalyticsReadBack implements FindingsReadBack {
  readonly description: string;
  private readonly client: LogsQueryClient;
  private readonly tableName: string;
  private readonly now: () => number;

  constructor(private readonly options: LogAnalyticsReadBackOptions) {
    this.tableName = options.tableName ?? FINDINGS_TABLE.tableName;
    this.now = options.now ?? Date.now;
    this.description = `workspace ${options.workspaceId} table ${this.tableName}`;
    const scope = options.endpoint ? logAnalyticsScope(options.endpoint) : undefined;
    this.client = new LogsQueryClient(options.credential, {
      ...(scope ? { credentials: { scopes: [scope] } } : {}),
      ...options.clientOptions,
      ...(options.endpoint ? { endpoint: options.endpoint.replace(/\/$/, '') } : {}),
    });
  }

  async present(findingIds: readonly string[], since: KqlDateTime): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < findingIds.length; i += READ_BACK_BATCH) {
      const batch = findingIds.slice(i, i + READ_BACK_BATCH);
      const query = readBackQuery(batch, since, this.tableName);
      let result;
      try {
        result = await this.client.queryWorkspace(this.options.workspaceId, query, {
          startTime: new Date(Date.parse(since)),
          endTime: new Date(this.now() + 86_400_000),
        });
      } catch (e) {
        throw new ReadBackError(
          `Could not ask ${this.description} which of ${batch.length} finding(s) already arrived: ${messageOf(e)}. ` +
            `They stay in the spool and are checked again at the next run; the identity needs 'Log Analytics Reader' ` +
            `on the workspace (it has it to read the three tables).`,
          { cause: e, retriable: true },
        );
      }
      if (result.status !== LogsQueryResultStatus.Success) {
        throw new ReadBackError(
          `${this.description} gave a partial answer to the read-back query ` +
            `(${result.partialError.code}: ${result.partialError.message}); the findings stay in the spool.`,
          { retriable: true },
        );
      }
      const table = result.tables[0];
      const column = table?.columnDescriptors.findIndex((c) => c.name === 'FindingId') ?? -1;
      if (!table || column < 0) {
        throw new ReadBackError(`${this.description}: the read-back answer has no FindingId column.`, {
          retriable: true,
        });
      }
      for (const row of table.rows) found.add(String(row[column]));
    }
    return found;
  }
}
