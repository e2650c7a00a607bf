/**
 * The job's configuration: every app setting it reads, read once at start and
 * validated together. One `ConfigError` lists EVERY bad or missing setting, each with
 * what it should look like, so a deployment is fixed in one round trip.
 *
 * The setting names are the ones the Bicep template (infra/bicep) writes into the
 * Function App's application settings; `local.settings.example.json` has them all.
 */

import type { DetectionMode } from '../detection/schema';
export type { DetectionMode };

/** Where the job keeps checkpoints, the idempotency ledger and the spool (Table Storage). */
export type StateStoreLocation =
  | { kind: 'endpoint'; endpoint: string } // Azure: managed identity
  | { kind: 'connectionString'; connectionString: string }; // local / Azurite

export interface JobConfig {
  /** LOG_ANALYTICS_WORKSPACE_ID: the workspace the three tables are read from. */
  logAnalyticsWorkspaceId: string;
  /** LOG_ANALYTICS_ENDPOINT: the query API, including /v1. */
  logAnalyticsEndpoint: string;
  /** LOGS_INGESTION_ENDPOINT: the data collection endpoint (or DCR ingestion endpoint). */
  logsIngestionEndpoint: string;
  /** DCR_IMMUTABLE_ID: `dcr-` + 32 hex digits. */
  dcrImmutableId: string;
  /** DCR_STREAM_NAME: the DCR's input stream for findings. */
  dcrStreamName: string;
  /** STATE_STORE_ENDPOINT or STATE_STORE_CONNECTION_STRING (exactly one). */
  stateStore: StateStoreLocation;
  /** STATE_STORE_TABLE_NAME. */
  stateStoreTableName: string;
  /** AZURE_CLIENT_ID: client id of a user-assigned managed identity; absent = system-assigned / developer login. */
  azureClientId: string | undefined;
  /** DETECTION_SCHEDULE: NCRONTAB, 6 fields (the host reads it through `%DETECTION_SCHEDULE%`). */
  detectionSchedule: string;
  /** INGESTION_DELAY_MINUTES: a day window is processed only once it ended at least this long ago. */
  ingestionDelayMinutes: number;
  /** MAX_CATCHUP_DAYS: at most this many missed day windows are processed; older ones are skipped (and logged). */
  maxCatchupDays: number;
  /** DETECTION_MODE. */
  detectionMode: DetectionMode;
  /** ENRICHMENT_ENABLED: look up each finding's VM in Azure Resource Manager. */
  enrichmentEnabled: boolean;
  /** BASELINE_DAYS: corrected mode: a script fingerprint seen in this many days before a window is not new. */
  baselineDays: number;
  /** ARM_ENDPOINT: Azure Resource Manager, for enrichment. */
  armEndpoint: string;
}

export const SETTING_DEFAULTS = {
  DCR_STREAM_NAME: 'Custom-RunCommandFindings_CL',
  STATE_STORE_TABLE_NAME: 'runcommanddetection',
  DETECTION_SCHEDULE: '0 15 0 * * *',
  INGESTION_DELAY_MINUTES: '15',
  MAX_CATCHUP_DAYS: '14',
  DETECTION_MODE: 'parity',
  ENRICHMENT_ENABLED: 'true',
  BASELINE_DAYS: '14',
  LOG_ANALYTICS_ENDPOINT: 'https://api.loganalytics.azure.com/v1',
  ARM_ENDPOINT: 'https://management.azure.com',
} as const;

/** One bad or missing setting. */
export interface ConfigProblem {
  setting: string;
  /** "missing", or what is wrong with the value. */
  problem: string;
  /** What a good value looks like and where to find it. */
  expected: string;
}

/** Thrown by `loadConfig` when at least one setting is missing or invalid; lists them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid configuration: ${problems.length} setting(s) to fix in the Function App's application settings ` +
        `(or local.settings.json when running locally):\n` +
        problems.map((p) => `  - ${p.setting}: ${p.problem} — ${p.expected}`).join('\n'),
    );
  }
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DCR_ID = /^dcr-[0-9a-fA-F]{32}$/;
// Custom streams of a DCR are named Custom-<name>.
const STREAM = /^Custom-[A-Za-z0-9_]{1,100}$/;
// Azure Table Storage table names: alphanumeric, start with a letter, 3 to 63 characters.
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
// One NCRONTAB field: digits, names (JAN, MON), '*', ',', '-', '/'.
const CRON_FIELD = /^[0-9A-Za-z*,/-]+$/;

/** What each setting should look like, for messages. */
const EXPECTED: Record<string, string> = {
  LOG_ANALYTICS_WORKSPACE_ID:
    "the workspace's Workspace ID (a GUID like 00000000-0000-0000-0000-000000000000), found on the workspace Overview page",
  LOG_ANALYTICS_ENDPOINT:
    'the Log Analytics query API base URL including /v1, https (default https://api.loganalytics.azure.com/v1; e.g. https://api.loganalytics.azure.cn/v1 in Azure China)',
  LOGS_INGESTION_ENDPOINT:
    "the Logs ingestion URL of the data collection endpoint or DCR, https (e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com), found on the DCE's or DCR's Overview page",
  DCR_IMMUTABLE_ID:
    "the data collection rule's Immutable ID, 'dcr-' followed by 32 hex digits, found in the DCR's JSON view",
  DCR_STREAM_NAME: `the DCR input stream for findings, 'Custom-' + letters, digits or _ (default ${SETTING_DEFAULTS.DCR_STREAM_NAME})`,
  STATE_STORE:
    'set exactly one of STATE_STORE_ENDPOINT (the storage account table endpoint, https://<account>.table.core.windows.net, used with the managed identity) or STATE_STORE_CONNECTION_STRING (a storage connection string; UseDevelopmentStorage=true for Azurite)',
  STATE_STORE_ENDPOINT:
    'the storage account table endpoint, https://<account>.table.core.windows.net (Storage account > Endpoints > Table service)',
  STATE_STORE_CONNECTION_STRING:
    'a storage connection string (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;TableEndpoint=...) or UseDevelopmentStorage=true for Azurite',
  STATE_STORE_TABLE_NAME: `a Table Storage table name: 3 to 63 letters or digits, starting with a letter (default ${SETTING_DEFAULTS.STATE_STORE_TABLE_NAME})`,
  AZURE_CLIENT_ID:
    "the Client ID (a GUID) of the user-assigned managed identity, from the identity's Overview page; leave unset for a system-assigned identity",
  DETECTION_SCHEDULE: `an NCRONTAB expression with 6 fields: second minute hour day month day-of-week (default "${SETTING_DEFAULTS.DETECTION_SCHEDULE}" = 00:15:00 UTC daily)`,
  INGESTION_DELAY_MINUTES: `a whole number of minutes from 0 to 1440 (default ${SETTING_DEFAULTS.INGESTION_DELAY_MINUTES}): how long after midnight UTC a day is considered complete`,
  MAX_CATCHUP_DAYS: `a whole number of days from 1 to 90 (default ${SETTING_DEFAULTS.MAX_CATCHUP_DAYS}): how many missed days one run may catch up`,
  DETECTION_MODE: `parity or corrected (default ${SETTING_DEFAULTS.DETECTION_MODE})`,
  ENRICHMENT_ENABLED: `true or false (default ${SETTING_DEFAULTS.ENRICHMENT_ENABLED}): look up each finding's VM in Azure Resource Manager`,
  BASELINE_DAYS: `a whole number of days from 1 to 90 (default ${SETTING_DEFAULTS.BASELINE_DAYS})`,
  ARM_ENDPOINT:
    'the Azure Resource Manager URL, https (default https://management.azure.com; e.g. https://management.chinacloudapi.cn in Azure China)',
};

/**
 * Reads and validates every setting from `env` (the process environment: app
 * settings arrive as environment variables). Returns the typed config or throws one
 * `ConfigError` naming every bad or missing setting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): JobConfig {
  const problems: ConfigProblem[] = [];
  const bad = (setting: string, problem: string, expectedKey = setting): void => {
    problems.push({ setting, problem, expected: EXPECTED[expectedKey] });
  };
  /** The trimmed value, or undefined when unset or blank. */
  const raw = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (name: string, check: (v: string) => string | undefined): string => {
    const v = raw(name);
    if (v === undefined) {
      bad(name, 'missing');
      return '';
    }
    const why = check(v);
    if (why) bad(name, why);
    return v;
  };
  const optional = (name: keyof typeof SETTING_DEFAULTS, check: (v: string) => string | undefined): string => {
    const v = raw(name) ?? SETTING_DEFAULTS[name];
    const why = check(v);
    if (why) bad(name, why);
    return v;
  };
  const integer =
    (min: number, max: number) =>
    (v: string): string | undefined =>
      /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max
        ? undefined
        : `'${v}' is not a whole number from ${min} to ${max}`;

  const logAnalyticsWorkspaceId = required('LOG_ANALYTICS_WORKSPACE_ID', (v) =>
    GUID.test(v) ? undefined : `'${v}' is not a GUID`,
  );
  const logAnalyticsEndpoint = optional('LOG_ANALYTICS_ENDPOINT', (v) => {
    const why = httpsUrl(v);
    if (why) return why;
    return new URL(v).pathname.replace(/\/+$/, '').endsWith('/v1') ? undefined : `'${v}' does not end with /v1`;
  }).replace(/\/+$/, '');
  const logsIngestionEndpoint = required('LOGS_INGESTION_ENDPOINT', httpsUrl).replace(/\/+$/, '');
  const dcrImmutableId = required('DCR_IMMUTABLE_ID', (v) =>
    DCR_ID.test(v) ? undefined : `'${v}' is not 'dcr-' followed by 32 hex digits`,
  );
  const dcrStreamName = optional('DCR_STREAM_NAME', (v) =>
    STREAM.test(v) ? undefined : `'${v}' is not a custom stream name`,
  );

  let stateStore: StateStoreLocation = { kind: 'connectionString', connectionString: '' };
  const storeEndpoint = raw('STATE_STORE_ENDPOINT');
  const storeConnection = raw('STATE_STORE_CONNECTION_STRING');
  if (storeEndpoint !== undefined && storeConnection !== undefined) {
    bad('STATE_STORE_ENDPOINT', 'both STATE_STORE_ENDPOINT and STATE_STORE_CONNECTION_STRING are set', 'STATE_STORE');
  } else if (storeEndpoint === undefined && storeConnection === undefined) {
    bad('STATE_STORE_ENDPOINT', 'missing (and STATE_STORE_CONNECTION_STRING is missing too)', 'STATE_STORE');
  } else if (storeEndpoint !== undefined) {
    const why = httpsUrl(storeEndpoint);
    if (why) bad('STATE_STORE_ENDPOINT', why);
    stateStore = { kind: 'endpoint', endpoint: storeEndpoint.replace(/\/+$/, '') };
  } else if (storeConnection !== undefined) {
    const why = connectionStringProblem(storeConnection);
    if (why) bad('STATE_STORE_CONNECTION_STRING', why);
    stateStore = { kind: 'connectionString', connectionString: storeConnection };
  }

  const stateStoreTableName = optional('STATE_STORE_TABLE_NAME', (v) =>
    TABLE_NAME.test(v) ? undefined : `'${v}' is not a valid table name`,
  );
  const azureClientId = raw('AZURE_CLIENT_ID');
  if (azureClientId !== undefined && !GUID.test(azureClientId))
    bad('AZURE_CLIENT_ID', `'${azureClientId}' is not a GUID`);

  const detectionSchedule = optional('DETECTION_SCHEDULE', (v) => {
    const fields = v.split(/\s+/);
    if (fields.length !== 6) return `'${v}' has ${fields.length} field(s), not 6`;
    const wrong = fields.find((f) => !CRON_FIELD.test(f));
    return wrong ? `'${v}' has an invalid field '${wrong}'` : undefined;
  });
  const ingestionDelayMinutes = Number(optional('INGESTION_DELAY_MINUTES', integer(0, 1440)));
  const maxCatchupDays = Number(optional('MAX_CATCHUP_DAYS', integer(1, 90)));
  const detectionMode = optional('DETECTION_MODE', (v) =>
    v === 'parity' || v === 'corrected' ? undefined : `'${v}' is not a detection mode`,
  ) as DetectionMode;
  const enrichment = optional('ENRICHMENT_ENABLED', (v) =>
    /^(true|false)$/i.test(v) ? undefined : `'${v}' is not true or false`,
  );
  const baselineDays = Number(optional('BASELINE_DAYS', integer(1, 90)));
  const armEndpoint = optional('ARM_ENDPOINT', httpsUrl).replace(/\/+$/, '');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    logAnalyticsWorkspaceId,
    logAnalyticsEndpoint,
    logsIngestionEndpoint,
    dcrImmutableId,
    dcrStreamName,
    stateStore,
    stateStoreTableName,
    azureClientId,
    detectionSchedule,
    ingestionDelayMinutes,
    maxCatchupDays,
    detectionMode,
    enrichmentEnabled: enrichment.toLowerCase() === 'true',
    baselineDays,
    armEndpoint,
  };
}

function httpsUrl(v: string): string | undefined {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `'${v}' is not a URL`;
  }
  if (url.protocol !== 'https:') return `'${v}' is not an https URL`;
  if (url.search || url.hash) return `'${v}' must not carry a query string or fragment`;
  return undefined;
}

function connectionStringProblem(v: string): string | undefined {
  if (/^UseDevelopmentStorage=true$/i.test(v)) return undefined;
  const parts = new Map<string, string>();
  for (const part of v.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return 'is not a storage connection string (expected Name=value pairs separated by ;)';
    parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
  }
  const hasAccount = parts.has('accountname') || parts.has('tableendpoint');
  const hasSecret = parts.has('accountkey') || parts.has('sharedaccesssignature');
  // The message never repeats the value: it may hold a key.
  if (!hasAccount || !hasSecret)
    return 'is not a storage connection string (needs AccountName or TableEndpoint, and AccountKey or SharedAccessSignature)';
  return undefined;
}
