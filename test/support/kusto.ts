/**
 * A KQL checker on Microsoft's Kusto language service (`@kusto/language-service-next`),
 * for tests: parses and analyses a query against a map of table schemas and returns
 * its diagnostics (unknown columns, type errors, syntax errors), as Log Analytics
 * would report them before running the query.
 *
 *   const diags = kqlDiagnostics(text, LOG_ANALYTICS_TABLES);   // [] when valid
 *
 * `LOG_ANALYTICS_TABLES` holds the full column lists of the three tables the rule
 * reads, from the Azure Monitor table reference (learn.microsoft.com/azure/
 * azure-monitor/reference/tables/{azureactivity,devicefileevents,deviceevents}), and
 * of DeviceProcessEvents, which corrected mode reads for the Linux paths.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */

export type KustoType = 'string' | 'datetime' | 'long' | 'int' | 'real' | 'bool' | 'dynamic' | 'guid' | 'timespan';

/** Table name → [column, type] pairs. */
export type TableSchemas = Record<string, ReadonlyArray<readonly [string, KustoType]>>;

export interface KqlDiagnostic {
  severity: string;
  code: string;
  message: string;
  /** Offset and length in the query text. */
  start: number;
  length: number;
  /** The text the diagnostic points at. */
  text: string;
}

const s = (names: string): Array<[string, KustoType]> =>
  names
    .trim()
    .split(/\s+/)
    .map((n) => [n, 'string']);

/** Full column schemas of the three tables, as in the Azure Monitor table reference. */
export const LOG_ANALYTICS_TABLES: TableSchemas = {
  AzureActivity: [
    ...s('ActivityStatus ActivityStatusValue ActivitySubstatus ActivitySubstatusValue Authorization'),
    ['Authorization_d', 'dynamic'],
    ['_BilledSize', 'real'],
    ...s('Caller CallerIpAddress Category CategoryValue Claims'),
    ['Claims_d', 'dynamic'],
    ...s('CorrelationId EventDataId'),
    ['EventSubmissionTimestamp', 'datetime'],
    ...s('Hierarchy HTTPRequest _IsBillable Level OperationId OperationName OperationNameValue Properties'),
    ['Properties_d', 'dynamic'],
    ...s('Resource ResourceGroup ResourceId _ResourceId ResourceProvider ResourceProviderValue SourceSystem'),
    ...s('SubscriptionId _SubscriptionId TenantId'),
    ['TimeGenerated', 'datetime'],
    ...s('Type'),
  ],
  DeviceFileEvents: [
    ...s('ActionType'),
    ['AdditionalFields', 'dynamic'],
    ...s('AppGuardContainerId'),
    ['_BilledSize', 'real'],
    ...s('DeviceId DeviceName FileName FileOriginIP FileOriginReferrerUrl FileOriginUrl'),
    ['FileSize', 'long'],
    ...s('FolderPath InitiatingProcessAccountDomain InitiatingProcessAccountName InitiatingProcessAccountObjectId'),
    ...s('InitiatingProcessAccountSid InitiatingProcessAccountUpn InitiatingProcessCommandLine'),
    ['InitiatingProcessCreationTime', 'datetime'],
    ...s('InitiatingProcessFileName'),
    ['InitiatingProcessFileSize', 'long'],
    ...s('InitiatingProcessFolderPath'),
    ['InitiatingProcessId', 'long'],
    ...s('InitiatingProcessIntegrityLevel InitiatingProcessMD5'),
    ['InitiatingProcessParentCreationTime', 'datetime'],
    ...s('InitiatingProcessParentFileName'),
    ['InitiatingProcessParentId', 'long'],
    ...s('InitiatingProcessSHA1 InitiatingProcessSHA256 InitiatingProcessTokenElevation'),
    ...s('InitiatingProcessVersionInfoCompanyName InitiatingProcessVersionInfoFileDescription'),
    ...s('InitiatingProcessVersionInfoInternalFileName InitiatingProcessVersionInfoOriginalFileName'),
    ...s('InitiatingProcessVersionInfoProductName InitiatingProcessVersionInfoProductVersion _IsBillable'),
    ['IsAzureInfoProtectionApplied', 'bool'],
    ...s('MachineGroup MD5 PreviousFileName PreviousFolderPath'),
    ['ReportId', 'long'],
    ...s('RequestAccountDomain RequestAccountName RequestAccountSid RequestProtocol RequestSourceIP'),
    ['RequestSourcePort', 'int'],
    ...s('SensitivityLabel SensitivitySubLabel SHA1 SHA256 ShareName SourceSystem TenantId'),
    ['TimeGenerated', 'datetime'],
    ['Timestamp', 'datetime'],
    ...s('Type'),
  ],
  DeviceEvents: [
    ...s('AccountDomain AccountName AccountSid ActionType'),
    ['AdditionalFields', 'dynamic'],
    ...s('AppGuardContainerId'),
    ['_BilledSize', 'real'],
    ['CreatedProcessSessionId', 'long'],
    ...s('DeviceId DeviceName FileName FileOriginIP FileOriginUrl'),
    ['FileSize', 'long'],
    ...s('FolderPath InitiatingProcessAccountDomain InitiatingProcessAccountName InitiatingProcessAccountObjectId'),
    ...s('InitiatingProcessAccountSid InitiatingProcessAccountUpn InitiatingProcessCommandLine'),
    ['InitiatingProcessCreationTime', 'datetime'],
    ...s('InitiatingProcessFileName'),
    ['InitiatingProcessFileSize', 'long'],
    ...s('InitiatingProcessFolderPath'),
    ['InitiatingProcessId', 'long'],
    ['InitiatingProcessLogonId', 'long'],
    ...s('InitiatingProcessMD5'),
    ['InitiatingProcessParentCreationTime', 'datetime'],
    ...s('InitiatingProcessParentFileName'),
    ['InitiatingProcessParentId', 'long'],
    ...s('InitiatingProcessRemoteSessionDeviceName InitiatingProcessRemoteSessionIP'),
    ['InitiatingProcessSessionId', 'long'],
    ...s('InitiatingProcessSHA1 InitiatingProcessSHA256'),
    ...s('InitiatingProcessVersionInfoCompanyName InitiatingProcessVersionInfoFileDescription'),
    ...s('InitiatingProcessVersionInfoInternalFileName InitiatingProcessVersionInfoOriginalFileName'),
    ...s('InitiatingProcessVersionInfoProductName InitiatingProcessVersionInfoProductVersion'),
    ['IsInitiatingProcessRemoteSession', 'bool'],
    ['IsProcessRemoteSession', 'bool'],
    ...s('_IsBillable LocalIP'),
    ['LocalPort', 'int'],
    ['LogonId', 'long'],
    ...s('MachineGroup MD5 ProcessCommandLine'),
    ['ProcessCreationTime', 'datetime'],
    ['ProcessId', 'long'],
    ...s('ProcessRemoteSessionDeviceName ProcessRemoteSessionIP ProcessTokenElevation'),
    ...s('RegistryKey RegistryValueData RegistryValueName RemoteDeviceName RemoteIP'),
    ['RemotePort', 'int'],
    ...s('RemoteUrl'),
    ['ReportId', 'long'],
    ...s('SHA1 SHA256 SourceSystem TenantId'),
    ['TimeGenerated', 'datetime'],
    ['Timestamp', 'datetime'],
    ...s('Type'),
  ],
  // learn.microsoft.com/azure/azure-monitor/reference/tables/deviceprocessevents and
  // learn.microsoft.com/defender-xdr/advanced-hunting-deviceprocessevents-table (corrected mode only).
  DeviceProcessEvents: [
    ...s('AccountDomain AccountName AccountObjectId AccountSid AccountUpn ActionType'),
    ['AdditionalFields', 'dynamic'],
    ...s('AppGuardContainerId'),
    ['_BilledSize', 'real'],
    ...s('DeviceId DeviceName FileName'),
    ['FileSize', 'long'],
    ...s('FolderPath InitiatingProcessAccountDomain InitiatingProcessAccountName InitiatingProcessAccountObjectId'),
    ...s('InitiatingProcessAccountSid InitiatingProcessAccountUpn InitiatingProcessCommandLine'),
    ['InitiatingProcessCreationTime', 'datetime'],
    ...s('InitiatingProcessFileName'),
    ['InitiatingProcessFileSize', 'long'],
    ...s('InitiatingProcessFolderPath'),
    ['InitiatingProcessId', 'long'],
    ...s('InitiatingProcessIntegrityLevel'),
    ['InitiatingProcessLogonId', 'long'],
    ...s('InitiatingProcessMD5'),
    ['InitiatingProcessParentCreationTime', 'datetime'],
    ...s('InitiatingProcessParentFileName'),
    ['InitiatingProcessParentId', 'long'],
    ...s('InitiatingProcessSHA1 InitiatingProcessSHA256 InitiatingProcessTokenElevation'),
    ...s('_IsBillable'),
    ['LogonId', 'long'],
    ...s('MachineGroup MD5 ProcessCommandLine'),
    ['ProcessCreationTime', 'datetime'],
    ['ProcessId', 'long'],
    ...s('ProcessIntegrityLevel ProcessTokenElevation'),
    ['ReportId', 'long'],
    ...s('SHA1 SHA256 SourceSystem TenantId'),
    ['TimeGenerated', 'datetime'],
    ['Timestamp', 'datetime'],
    ...s('Type'),
  ],
};

/**
 * Microsoft Sentinel's watchlists: the `Watchlist` table (columns from the Azure Monitor
 * table reference, learn.microsoft.com/azure/azure-monitor/reference/tables/watchlist;
 * ConfidentialWatchlist has the same shape) and the workspace function `_GetWatchlist(alias)`
 * that Sentinel documents for reading one (learn.microsoft.com/azure/sentinel/watchlists-queries):
 * one row per item with `_DTItemId`, `SearchKey` and the watchlist's own columns. The
 * function's body is not published: GET_WATCHLIST_BODY models its documented result.
 */
export const SENTINEL_WATCHLIST_TABLES: TableSchemas = {
  Watchlist: [
    ...s('AzureTenantId'),
    ['_BilledSize', 'real'],
    ...s('CorrelationId'),
    ['CreatedBy', 'dynamic'],
    ['CreatedTimeUTC', 'datetime'],
    ...s('DefaultDuration _DTItemId _DTItemStatus _DTItemType'),
    ['_DTTimestamp', 'datetime'],
    ...s('_IsBillable'),
    ['LastUpdatedTimeUTC', 'datetime'],
    ...s('SearchKey SourceSystem TenantId'),
    ['TimeGenerated', 'datetime'],
    ...s('Type'),
    ['UpdatedBy', 'dynamic'],
    ...s('WatchlistAlias WatchlistCategory WatchlistId'),
    ['WatchlistItem', 'dynamic'],
    ...s('WatchlistItemId WatchlistName'),
  ],
};

/**
 * The model of `_GetWatchlist` (see SENTINEL_WATCHLIST_TABLES) for a watchlist with the
 * allowlist's columns (docs/operations.md, "Allowlist"): the latest state of each item of
 * the alias, deleted ones left out, its columns extracted beside `_DTItemId`,
 * `LastUpdatedTimeUTC` and `SearchKey`. A closed schema, so that a query naming a column
 * the function does not return is refused.
 */
const GET_WATCHLIST_BODY = `{
Watchlist
| where _DTItemType == 'watchlist-item' and WatchlistAlias == watchlistAlias
| summarize arg_max(_DTTimestamp, _DTItemStatus, LastUpdatedTimeUTC, SearchKey, WatchlistItem) by _DTItemId
| where _DTItemStatus != 'Delete'
| extend Kind = tostring(WatchlistItem.Kind), Value = tostring(WatchlistItem.Value), Reason = tostring(WatchlistItem.Reason), Expires = tostring(WatchlistItem.Expires)
| project _DTItemId, LastUpdatedTimeUTC, SearchKey, Kind, Value, Reason, Expires
}`;

let kusto: any;
function language(): any {
  if (!kusto) {
    require('@kusto/language-service-next/bridge.js');
    require('@kusto/language-service-next/Kusto.Language.Bridge.js');
    kusto = (globalThis as any).Kusto.Language;
  }
  return kusto;
}

function scalarType(K: any, type: KustoType): any {
  const T = K.Symbols.ScalarTypes;
  const map: Record<KustoType, any> = {
    string: T.String,
    datetime: T.DateTime,
    long: T.Long,
    int: T.Int,
    real: T.Real,
    bool: T.Bool,
    dynamic: T.Dynamic,
    guid: T.Guid,
    timespan: T.TimeSpan,
  };
  return map[type];
}

const globalsCache = new WeakMap<TableSchemas, any>();

function globalsFor(schemas: TableSchemas): any {
  const cached = globalsCache.get(schemas);
  if (cached) return cached;
  const K = language();
  const S = K.Symbols;
  const tables = Object.entries(schemas).map(
    ([name, cols]) =>
      new S.TableSymbol.$ctor4(
        name,
        cols.map(([c, t]) => new S.ColumnSymbol(c, scalarType(K, t))),
      ),
  );
  // Where the schemas hold the Watchlist table, the workspace has Sentinel's _GetWatchlist too.
  const functions = schemas.Watchlist
    ? [new S.FunctionSymbol.$ctor16('_GetWatchlist', '(watchlistAlias: string)', GET_WATCHLIST_BODY, '')]
    : [];
  const db = new S.DatabaseSymbol.ctor('workspace', [...tables, ...functions]);
  const globals = K.GlobalState.Default.WithDatabase(db);
  globalsCache.set(schemas, globals);
  return globals;
}

/** Every diagnostic (errors and warnings) of `query` analysed against `schemas`. */
export function kqlDiagnostics(query: string, schemas: TableSchemas): KqlDiagnostic[] {
  const K = language();
  const code = K.KustoCode.ParseAndAnalyze(query, globalsFor(schemas));
  const diags: any[] = (globalThis as any).Bridge.toArray(code.GetDiagnostics());
  return diags.map((d) => ({
    severity: String(d.Severity),
    code: String(d.Code),
    message: String(d.Message),
    start: d.Start,
    length: d.Length,
    text: query.substr(d.Start, d.Length),
  }));
}

/** The result columns of a tabular query: [name, type] pairs, as the language service infers them. */
export function kqlResultColumns(query: string, schemas: TableSchemas): Array<[string, string]> {
  const K = language();
  const code = K.KustoCode.ParseAndAnalyze(query, globalsFor(schemas));
  const result = code.ResultType;
  if (!result || !result.Columns) return [];
  const cols: any[] = (globalThis as any).Bridge.toArray(result.Columns);
  return cols.map((c) => [String(c.Name), String(c.Type.Name)]);
}
