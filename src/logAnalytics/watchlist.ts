/**
 * Reads the allowlist from a Microsoft Sentinel watchlist (ALLOWLIST_WATCHLIST, its
 * alias) through the Log Analytics query API, with the workspace function Sentinel
 * documents for it, `_GetWatchlist('<alias>')`
 * (https://learn.microsoft.com/azure/sentinel/watchlists-queries). The function reads
 * the `Watchlist` table and returns one row per item, with `_DTItemId`, `SearchKey`
 * and the watchlist's own columns extracted:
 *
 *   _GetWatchlist('RunCommandAllowlist')
 *   | project ItemId = tostring(_DTItemId), Kind = tostring(column_ifexists('Kind', '')), …
 *
 * `column_ifexists` (the way Microsoft's ASIM parsers read optional watchlist columns)
 * keeps the query valid when the watchlist lacks a column, e.g. has no Expires: the
 * cell is then empty, and a missing Kind, Value or Reason makes each row a refused
 * entry that names itself, instead of a query error that hides the rest.
 *
 * Timespan: Sentinel re-writes every watchlist item to the workspace every 12 days
 * (same page: "Watchlists are refreshed in your workspace every 12 days, updating the
 * TimeGenerated field"), so a timespan of WATCHLIST_TIMESPAN_DAYS days sees every item.
 */
import type { TokenCredential } from '@azure/core-auth';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { parseAllowlist, type Allowlist, type AllowlistRow } from '../allowlist/allowlist';
import { logAnalyticsScope } from '../shared/azureScopes';
import { AppError, messageOf } from '../shared/errors';

/** More than the 12 days between Sentinel's refreshes of a watchlist's items. */
export const WATCHLIST_TIMESPAN_DAYS = 30;

/** A watchlist alias, as ALLOWLIST_WATCHLIST takes it (src/config/settings.ts). */
const ALIAS = /^[A-Za-z0-9_-]{1,64}$/;

/** The columns read from the watchlist, besides its item id. */
const WATCHLIST_COLUMNS = ['Kind', 'Value', 'Reason', 'Expires'] as const;

/** The query for the allowlist watchlist `alias` (checked by the Kusto language service in the tests). */
export function buildWatchlistQuery(alias: string): string {
  if (!ALIAS.test(alias)) throw new RangeError(`not a watchlist alias: '${alias}'`);
  const columns = WATCHLIST_COLUMNS.map((c) => `${c} = tostring(column_ifexists('${c}', ''))`);
  return [`_GetWatchlist('${alias}')`, `| project ItemId = tostring(_DTItemId), ${columns.join(', ')}`].join('\n');
}

/** The watchlist could not be read (refused, unreachable, a partial answer). */
export class WatchlistReadError extends AppError {}

export interface WatchlistAllowlistOptions {
  /** LOG_ANALYTICS_WORKSPACE_ID: the Sentinel workspace. */
  workspaceId: string;
  /** ALLOWLIST_WATCHLIST. */
  alias: string;
  credential: TokenCredential;
  /** LOG_ANALYTICS_ENDPOINT, including /v1. */
  endpoint?: string;
  clientOptions?: LogsQueryClientOptions;
  now?: () => number;
}

export class WatchlistAllowlist {
  readonly description: string;
  private readonly client: LogsQueryClient;
  private readonly now: () => number;

  constructor(private readonly options: WatchlistAllowlistOptions) {
    this.description = `watchlist '${options.alias}' of workspace ${options.workspaceId}`;
    this.now = options.now ?? Date.now;
    const scope = options.endpoint ? logAnalyticsScope(options.endpoint) : undefined;
    this.client = new LogsQueryClient(options.credential, {
      ...(scope ? { credentials: { scopes: [scope] } } : {}),
      ...options.clientOptions,
      ...(options.endpoint ? { endpoint: options.endpoint.replace(/\/$/, '') } : {}),
    });
  }

  /** Every item of the watchlist, parsed (bad rows refused, named by their item id). */
  async read(): Promise<Allowlist> {
    const now = this.now();
    let result;
    try {
      result = await this.client.queryWorkspace(this.options.workspaceId, buildWatchlistQuery(this.options.alias), {
        startTime: new Date(now - WATCHLIST_TIMESPAN_DAYS * 86_400_000),
        endTime: new Date(now + 3_600_000),
      });
    } catch (e) {
      throw new WatchlistReadError(
        `Could not read the allowlist, ${this.description}: ${messageOf(e)}. Check ALLOWLIST_WATCHLIST and that the ` +
          `identity may read the Watchlist table (the deployment grants it when allowlistWatchlist is set).`,
        { cause: e, retriable: true },
      );
    }
    if (result.status !== LogsQueryResultStatus.Success) {
      throw new WatchlistReadError(
        `${this.description} gave a partial answer (${result.partialError.code}: ${result.partialError.message}).`,
        { retriable: true },
      );
    }
    const table = result.tables[0];
    const index = (name: string) => table?.columnDescriptors.findIndex((c) => c.name === name) ?? -1;
    const at = Object.fromEntries(['ItemId', ...WATCHLIST_COLUMNS].map((c) => [c, index(c)]));
    if (!table || Object.values(at).some((i) => i < 0)) {
      throw new WatchlistReadError(`${this.description}: the answer lacks the columns ItemId, Kind, Value, Reason.`);
    }
    const text = (row: unknown[], column: string): string => {
      const v = row[at[column]!];
      return v === null || v === undefined ? '' : String(v);
    };
    const rows: AllowlistRow[] = table.rows.map((row, i) => ({
      where: `watchlist item ${text(row, 'ItemId') || `#${i + 1}`}`,
      Kind: text(row, 'Kind'),
      Value: text(row, 'Value'),
      Reason: text(row, 'Reason'),
      Expires: text(row, 'Expires'),
    }));
    return parseAllowlist(`watchlist '${this.options.alias}'`, rows);
  }
}
