/**
 * The job's configuration: every app setting it reads, declared ONCE in {@link SETTINGS}
 * (name, default, parse, expected text, description). That table drives `loadConfig`,
 * its messages, the `JobConfig` type, the settings table in docs/operations.md and the
 * tests (which check the docs, local.settings.example.json and the Bicep app settings
 * against it). Adding a setting is one entry here, plus the docs row the test asks for.
 *
 * Settings are read once at start and validated together: one `ConfigError` lists EVERY
 * bad or missing setting, each with what it should look like and where to find it, so a
 * deployment is fixed in one round trip.
 */
import { parseKqlDateTime, type KqlDateTime } from '../detection/datetime';
import { httpsUrlProblem, logsIngestionEndpointProblem } from './endpoints';
import {
  CLIENT_ID_SOURCE,
  DCR_ID_SOURCE,
  INGESTION_ENDPOINT_SOURCE,
  isZeroDcrId,
  isZeroGuid,
  placeholderProblem,
  replaceWith,
  WORKSPACE_ID_SOURCE,
} from './placeholders';

import type { DetectionMode } from '../detection/schema';
import { WINDOWS_MANAGED_HANDLER } from '../detection/corrected/paths';
import type { StateStoreLocation } from '../stateStore';
export type { DetectionMode };

/** Where the job keeps checkpoints, the idempotency ledger and the spool: settings never name the in-memory store. */
type ConfiguredStateStore = Exclude<StateStoreLocation, { kind: 'memory' }>;

/** What `parse` makes of a setting's text: the typed value, or what is wrong with the text. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

/**
 * One row of the settings table. `presence` says what happens when the setting is unset
 * (or blank): `required` is a problem, `defaulted` parses `default` instead, `optional`
 * leaves the field undefined. `stateStore` marks the two settings of which exactly one
 * must be set.
 */
interface SettingBase<F extends string, T> {
  /** The `JobConfig` field the parsed value goes to. */
  readonly field: F;
  /** Parses the trimmed, non-blank text. */
  readonly parse: (text: string) => Parsed<T>;
  /** What a good value looks like and where to find it (the end of each message). */
  readonly expected: string;
  /** What the setting does (the docs table's last column). */
  readonly description: string;
  /** The value may hold a secret: no message repeats it. */
  readonly secret?: true;
}
export interface RequiredSetting<F extends string, T> extends SettingBase<F, T> {
  readonly presence: 'required';
}
export interface DefaultedSetting<F extends string, T> extends SettingBase<F, T> {
  readonly presence: 'defaulted';
  /** The text used when unset, as an app setting would carry it. */
  readonly default: string;
}
export interface OptionalSetting<F extends string, T> extends SettingBase<F, T> {
  readonly presence: 'optional' | 'stateStore';
}
export type SettingSpec<F extends string = string, T = unknown> =
  RequiredSetting<F, T> | DefaultedSetting<F, T> | OptionalSetting<F, T>;

// ---------------------------------------------------------------------------------------
// Parsers shared by several settings.

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DCR_ID = /^dcr-[0-9a-fA-F]{32}$/;
// Custom streams of a DCR are named Custom-<name>.
const STREAM = /^Custom-[A-Za-z0-9_]{1,100}$/;
// Azure Table Storage table names: alphanumeric, start with a letter, 3 to 63 characters.
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
// One NCRONTAB field: digits, names (JAN, MON), '*', ',', '-', '/'.
const CRON_FIELD = /^[0-9A-Za-z*,/-]+$/;
// A Windows file name (no path, no quote: it goes into a KQL string literal).
const FILE_NAME = /^[^\\/:*?"<>|,\s][^\\/:*?"<>|,]{0,254}$/;
// A folder-name fragment (no quote or backslash: it goes into a KQL string literal).
const FOLDER_MARKER = /^[^"\\]{3,200}$/;
// A Sentinel watchlist alias: letters, digits, _ and -, 1 to 64 characters.
const WATCHLIST_ALIAS = /^[A-Za-z0-9_-]{1,64}$/;

const guid =
  (source: string) =>
  (v: string): Parsed<string> =>
    !GUID.test(v) ? bad(`'${v}' is not a GUID`) : isZeroGuid(v) ? bad(replaceWith(v, source)) : ok(v);

const integer =
  (min: number, max: number) =>
  (v: string): Parsed<number> =>
    /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max
      ? ok(Number(v))
      : bad(`'${v}' is not a whole number from ${min} to ${max}`);

const trimSlashes = (v: string): string => v.replace(/\/+$/, '');

const httpsUrl = (v: string): Parsed<string> => {
  const why = httpsUrlProblem(v);
  return why ? bad(why) : ok(trimSlashes(v));
};

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

/** `6,24,72`: whole hours from 1 to 336, strictly increasing. */
function hourList(v: string): Parsed<number[]> {
  const parts = v.split(',').map((p) => p.trim());
  const hours: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 336)
      return bad(`'${v}': '${p}' is not a whole number of hours from 1 to 336`);
    const h = Number(p);
    if (hours.length > 0 && h <= hours[hours.length - 1])
      return bad(`'${v}' is not strictly increasing (${hours[hours.length - 1]} then ${h})`);
    hours.push(h);
  }
  return ok(hours);
}

/** `2026-11-01`: a UTC day, as the canonical KQL datetime of its midnight. */
function utcDay(v: string): Parsed<KqlDateTime> {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(v) ? parseKqlDateTime(`${v}T00:00:00Z`) : null;
  return day === null ? bad(`'${v}' is not a date YYYY-MM-DD`) : ok(day);
}

function ncrontab(v: string): Parsed<string> {
  const fields = v.split(/\s+/);
  if (fields.length !== 6) return bad(`'${v}' has ${fields.length} field(s), not 6`);
  const wrong = fields.find((f) => !CRON_FIELD.test(f));
  return wrong ? bad(`'${v}' has an invalid field '${wrong}'`) : ok(v);
}

// ---------------------------------------------------------------------------------------
// The table. Order is the order of the docs table and of the messages.

/** The text shared by both state store settings and the "exactly one" problem. */
export const STATE_STORE_EXPECTED =
  'set exactly one of STATE_STORE_ENDPOINT (the storage account table endpoint, https://<account>.table.core.windows.net, used with the managed identity) or STATE_STORE_CONNECTION_STRING (a storage connection string; UseDevelopmentStorage=true for Azurite)';

export const SETTINGS = {
  LOG_ANALYTICS_WORKSPACE_ID: {
    field: 'logAnalyticsWorkspaceId',
    presence: 'required',
    parse: guid(WORKSPACE_ID_SOURCE),
    expected: `the workspace's Workspace ID (a GUID, not its name or resource id): ${WORKSPACE_ID_SOURCE}`,
    description:
      'The **Workspace ID** (a GUID) of the Log Analytics workspace that holds `AzureActivity`, `DeviceFileEvents` and `DeviceEvents`. Not the workspace name or its resource id.',
  },
  LOG_ANALYTICS_ENDPOINT: {
    field: 'logAnalyticsEndpoint',
    presence: 'defaulted',
    default: 'https://api.loganalytics.azure.com/v1',
    parse: (v) => {
      const why = httpsUrlProblem(v);
      if (why) return bad(why);
      return trimSlashes(new URL(v).pathname).endsWith('/v1')
        ? ok(trimSlashes(v))
        : bad(`'${v}' does not end with /v1`);
    },
    expected:
      'the Log Analytics query API base URL including /v1, https (e.g. https://api.loganalytics.azure.cn/v1 in Azure China)',
    description: 'The query API, including `/v1`. Change it for sovereign clouds.',
  },
  LOGS_INGESTION_ENDPOINT: {
    field: 'logsIngestionEndpoint',
    presence: 'required',
    parse: (v) => {
      const why = logsIngestionEndpointProblem(v);
      return why ? bad(why) : ok(trimSlashes(v));
    },
    expected:
      'the Logs Ingestion URL of the data collection rule (endpoints.logsIngestion, kind Direct) or of a data collection endpoint: ' +
      `https://<name>.<region>-<n>.ingest.monitor.azure.com (.azure.cn, .azure.us in sovereign clouds), from ${INGESTION_ENDPOINT_SOURCE}; ` +
      'for a local stand-in, https://127.0.0.1:<port> or https://localhost:<port> (accepted because a loopback host cannot carry the monitor token off the machine)',
    description:
      "The Logs Ingestion URL the findings are sent to: the DCR's own endpoint, or a data collection endpoint. Only Azure Monitor ingestion hosts (and loopback, for local stand-ins) are accepted: the job sends them a monitor token.",
  },
  DCR_IMMUTABLE_ID: {
    field: 'dcrImmutableId',
    presence: 'required',
    parse: (v) =>
      !DCR_ID.test(v)
        ? bad(`'${v}' is not 'dcr-' followed by 32 hex digits`)
        : isZeroDcrId(v)
          ? bad(replaceWith(v, DCR_ID_SOURCE))
          : ok(v),
    expected: `the data collection rule's Immutable ID, 'dcr-' followed by 32 hex digits: ${DCR_ID_SOURCE}`,
    description: "The data collection rule's **Immutable ID**: `dcr-` followed by 32 hex digits.",
  },
  DCR_STREAM_NAME: {
    field: 'dcrStreamName',
    presence: 'defaulted',
    default: 'Custom-RunCommandFindings_CL',
    parse: (v) => (STREAM.test(v) ? ok(v) : bad(`'${v}' is not a custom stream name`)),
    expected: "the DCR input stream for findings, 'Custom-' + letters, digits or _",
    description: 'The DCR input stream that findings are sent to.',
  },
  STATE_STORE_ENDPOINT: {
    field: 'stateStoreEndpoint',
    presence: 'stateStore',
    parse: httpsUrl,
    expected:
      'the storage account table endpoint, https://<account>.table.core.windows.net (Storage account > Endpoints > Table service)',
    description:
      'The table service endpoint of the storage account that holds checkpoints, ledger and spool, reached with the managed identity (**Storage Table Data Contributor**). Set this or `STATE_STORE_CONNECTION_STRING`, not both.',
  },
  STATE_STORE_CONNECTION_STRING: {
    field: 'stateStoreConnectionString',
    presence: 'stateStore',
    secret: true,
    parse: (v) => {
      const why = connectionStringProblem(v);
      return why ? bad(why) : ok(v);
    },
    expected:
      'a storage connection string (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;TableEndpoint=...) or UseDevelopmentStorage=true for Azurite',
    description:
      'Instead of the endpoint, for local runs: `UseDevelopmentStorage=true` for Azurite, or a full connection string. Set this or `STATE_STORE_ENDPOINT`, not both.',
  },
  STATE_STORE_TABLE_NAME: {
    field: 'stateStoreTableName',
    presence: 'defaulted',
    default: 'runcommanddetection',
    parse: (v) => (TABLE_NAME.test(v) ? ok(v) : bad(`'${v}' is not a valid table name`)),
    expected: 'a Table Storage table name: 3 to 63 letters or digits, starting with a letter',
    description:
      'The state table, created if missing. Give each app its own table (or account) when apps share a storage account.',
  },
  AZURE_CLIENT_ID: {
    field: 'azureClientId',
    presence: 'optional',
    parse: guid(CLIENT_ID_SOURCE),
    expected: `the Client ID (a GUID) of the user-assigned managed identity: ${CLIENT_ID_SOURCE}; leave unset for a system-assigned identity or a developer sign-in`,
    description:
      'The Client ID of the user-assigned managed identity. Leave it unset for a system-assigned identity, or for your `az login` / `azd auth login` when running locally.',
  },
  DETECTION_SCHEDULE: {
    field: 'detectionSchedule',
    presence: 'defaulted',
    default: '0 15 0 * * *',
    parse: ncrontab,
    expected: 'an NCRONTAB expression with 6 fields: second minute hour day month day-of-week, in UTC',
    description:
      'When the timer fires (NCRONTAB, 6 fields, UTC). The job catches up from its checkpoint whatever the schedule, so this only decides when it looks.',
  },
  INGESTION_DELAY_MINUTES: {
    field: 'ingestionDelayMinutes',
    presence: 'defaulted',
    default: '15',
    parse: integer(0, 1440),
    expected: 'a whole number of minutes from 0 to 1440',
    description: 'Minutes after midnight UTC before a day counts as complete and is processed.',
  },
  MAX_CATCHUP_DAYS: {
    field: 'maxCatchupDays',
    presence: 'defaulted',
    default: '14',
    parse: integer(1, 90),
    expected: 'a whole number of days from 1 to 90',
    description: 'The most missed days one run processes. Older days are skipped with a warning.',
  },
  DETECTION_START_DATE: {
    field: 'detectionStartDate',
    presence: 'optional',
    parse: utcDay,
    expected: 'a UTC day YYYY-MM-DD (e.g. 2026-11-01); leave unset to start with the last complete day',
    description:
      'The first day window processed when there is no checkpoint yet (a first deployment, or a new state table).',
  },
  SETTLE_AFTER_HOURS: {
    field: 'settleAfterHours',
    presence: 'defaulted',
    default: '6,24,72',
    parse: hourList,
    expected: 'a comma-separated list of whole hours from 1 to 336, strictly increasing (e.g. 6,24,72)',
    description:
      'After a day is processed, it is queried again once this many hours after the day ended, for rows that arrived late.',
  },
  INGESTION_LATENCY_BOUND_MINUTES: {
    field: 'ingestionLatencyBoundMinutes',
    presence: 'defaulted',
    default: '60',
    parse: integer(1, 1440),
    expected: 'a whole number of minutes from 1 to 1440',
    description:
      'A finding whose last upload attempt is younger than this is not resent: its row may not be queryable in the findings table yet.',
  },
  SPOOL_ALERT_DAYS: {
    field: 'spoolAlertDays',
    presence: 'defaulted',
    default: '2',
    parse: integer(1, 90),
    expected: 'a whole number of days from 1 to 90',
    description:
      'Findings waiting in the spool (not yet accepted by the DCR) for longer than this many days are reported as a stuck spool.',
  },
  SOURCE_LOW_PERCENT: {
    field: 'sourceLowPercent',
    presence: 'defaulted',
    default: '10',
    parse: integer(0, 100),
    expected: 'a whole percentage from 0 to 100 (0 turns the warning off)',
    description:
      "A source table with fewer rows in a window than this percentage of its recent days' median is reported as a warning (a possible gap).",
  },
  WINDOW_ROW_BUDGET: {
    field: 'windowRowBudget',
    presence: 'defaulted',
    default: 'auto',
    parse: (v: string): Parsed<number | 'auto'> =>
      v.toLowerCase() === 'auto' ? ok('auto' as const) : integer(1000, 100_000_000)(v),
    expected: "'auto' or a whole number of rows from 1000 to 100000000",
    description:
      "Rows pulled per window, all tables together, beyond which the window fails cleanly instead of running out of memory. 'auto' sizes it from the instance's memory: one row per 128 bytes of the Node heap limit (about 2 million rows on a 512 MB instance, 8.5 million on 2,048 MB).",
  },
  AZURE_CALL_TIMEOUT_SECONDS: {
    field: 'azureCallTimeoutSeconds',
    presence: 'defaulted',
    default: '120',
    parse: integer(5, 1800),
    expected: 'a whole number of seconds from 5 to 1800',
    description: 'Client-side timeout of every Azure SDK call.',
  },
  DETECTION_MODE: {
    field: 'detectionMode',
    presence: 'defaulted',
    default: 'parity',
    parse: (v): Parsed<DetectionMode> =>
      v === 'parity' || v === 'corrected' ? ok(v) : bad(`'${v}' is not a detection mode`),
    expected: 'parity or corrected',
    description:
      '`parity` reproduces the published rule exactly, faults included. `corrected` fixes its faults and remembers scripts across days.',
  },
  ENRICHMENT_ENABLED: {
    field: 'enrichmentEnabled',
    presence: 'defaulted',
    default: 'true',
    parse: (v) => (/^(true|false)$/i.test(v) ? ok(v.toLowerCase() === 'true') : bad(`'${v}' is not true or false`)),
    expected: "true or false: look up each finding's VM in Azure Resource Manager",
    description: "Look up each finding's VM in Azure Resource Manager.",
  },
  BASELINE_DAYS: {
    field: 'baselineDays',
    presence: 'defaulted',
    default: '14',
    parse: integer(1, 90),
    expected: 'a whole number of days from 1 to 90',
    description:
      'Corrected mode: a script fingerprint seen in this many days before a window is not new. Not used in parity mode.',
  },
  MANAGED_HANDLER_PROCESS_NAMES: {
    field: 'managedHandlerProcessNames',
    presence: 'defaulted',
    default: WINDOWS_MANAGED_HANDLER.processFileNames.join(','),
    parse: (v): Parsed<readonly string[]> => {
      const names = v.split(',').map((n) => n.trim());
      const wrong = names.find((n) => !FILE_NAME.test(n));
      return wrong === undefined ? ok(names) : bad(`'${wrong}' is not a file name`);
    },
    expected:
      'comma-separated process file names (e.g. RunCommandHandlerWindows.exe), as DeviceFileEvents reports the writer of a managed Run Command script',
    description:
      'Corrected mode, managed Run Command on Windows: the `InitiatingProcessFileName` (`=~`) of the handler that writes the script. **Unverified default** (no public source names it): check it against one managed run in your tenant.',
  },
  MANAGED_HANDLER_FOLDER_MARKER: {
    field: 'managedHandlerFolderMarker',
    presence: 'defaulted',
    default: WINDOWS_MANAGED_HANDLER.folderMarker,
    parse: (v) => (FOLDER_MARKER.test(v) ? ok(v) : bad(`'${v}' is not a folder name fragment`)),
    expected:
      "a fragment of the managed handler's folder, without quotes or backslashes (e.g. microsoft.cplat.core.runcommandhandlerwindows)",
    description:
      "Corrected mode, managed Run Command on Windows: a writer whose `InitiatingProcessFolderPath` contains this (any case) is the handler. **Unverified default** (the extension's documented name; its install folder is not documented).",
  },
  ALLOWLIST_WATCHLIST: {
    field: 'allowlistWatchlist',
    presence: 'optional',
    parse: (v) => (WATCHLIST_ALIAS.test(v) ? ok(v) : bad(`'${v}' is not a watchlist alias`)),
    expected: 'the alias of a Microsoft Sentinel watchlist: 1 to 64 letters, digits, _ or - (Sentinel > Watchlist)',
    description: 'The alias of the Sentinel watchlist used as the allowlist. Unset: no allowlist.',
  },
  ARM_ENDPOINT: {
    field: 'armEndpoint',
    presence: 'defaulted',
    default: 'https://management.azure.com',
    parse: httpsUrl,
    expected: 'the Azure Resource Manager URL, https (e.g. https://management.chinacloudapi.cn in Azure China)',
    description: 'Azure Resource Manager, for enrichment. Change it for sovereign clouds.',
  },
} as const satisfies Record<string, SettingSpec<string, unknown>>;

// ---------------------------------------------------------------------------------------
// Types derived from the table.

type Table = typeof SETTINGS;
export type SettingName = keyof Table;
type ValueOf<S> = S extends { parse: (text: string) => Parsed<infer T> }
  ? S extends { presence: 'required' | 'defaulted' }
    ? T
    : T | undefined
  : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** Every setting's parsed value, by field. */
export type SettingValues = Simplify<{ [K in SettingName as Table[K]['field']]: ValueOf<Table[K]> }>;

/** The validated configuration: one field per setting, the two state store settings as one location. */
export type JobConfig = Simplify<
  Omit<SettingValues, 'stateStoreEndpoint' | 'stateStoreConnectionString'> & {
    /** STATE_STORE_ENDPOINT or STATE_STORE_CONNECTION_STRING (exactly one). */
    stateStore: ConfiguredStateStore;
  }
>;

/** Every setting name, in table order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** The settings that must be set (the state store pair counts once, as either of its two). */
export const REQUIRED_SETTINGS = SETTING_NAMES.filter((n) => SETTINGS[n].presence === 'required');
/** Exactly one of these must be set. */
export const STATE_STORE_SETTINGS = SETTING_NAMES.filter((n) => SETTINGS[n].presence === 'stateStore');

/** The default text of every defaulted setting. */
export const SETTING_DEFAULTS = Object.fromEntries(
  SETTING_NAMES.flatMap((n) => {
    const s: SettingSpec = SETTINGS[n];
    return s.presence === 'defaulted' ? [[n, s.default]] : [];
  }),
) as { readonly [K in SettingName as Table[K] extends { default: string } ? K : never]: string };

// ---------------------------------------------------------------------------------------
// Problems and messages.

/** One bad or missing setting. */
export interface ConfigProblem {
  setting: string;
  /** "missing", or what is wrong with the value. */
  problem: string;
  /** What a good value looks like and where to find it. */
  expected: string;
}

/**
 * `NAME: problem — expected (default X)`. `origin` says how the value arrived when it
 * is not an app setting, e.g. `environment variable, the default of --workspace`.
 */
export function formatProblem(p: ConfigProblem, origin?: string): string {
  return `${p.setting}${origin ? ` (${origin})` : ''}: ${p.problem} — ${p.expected}`;
}

/** Thrown by `loadConfig` when at least one setting is missing or invalid; lists them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid configuration: ${problems.length} setting(s) to fix in the Function App's application settings ` +
        `(or local.settings.json when running locally):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
  }
}

function expectedOf(name: SettingName): string {
  const s: SettingSpec = SETTINGS[name];
  return s.presence === 'defaulted' ? `${s.expected} (default ${s.default})` : s.expected;
}

/** The trimmed value, or undefined when unset or blank. */
function rawValue(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Parses one setting's text as `loadConfig` would: unset or blank takes the default (or
 * is missing, or undefined); a placeholder from the example settings is refused with
 * "replace with …". For the CLI, which validates a single option that defaulted from the
 * environment variable of the same setting and can then name that variable.
 */
export function parseSetting<N extends SettingName>(
  name: N,
  value: string | undefined,
): { ok: true; value: ValueOf<Table[N]> } | { ok: false; problem: ConfigProblem } {
  const spec: SettingSpec = SETTINGS[name];
  const fail = (problem: string) => ({
    ok: false as const,
    problem: { setting: name, problem, expected: expectedOf(name) },
  });
  let text = rawValue(value);
  if (text === undefined) {
    if (spec.presence === 'required') return fail('missing');
    if (spec.presence !== 'defaulted') return { ok: true, value: undefined as ValueOf<Table[N]> };
    text = spec.default;
  }
  const placeholder = placeholderProblem(text, spec.secret === true);
  if (placeholder) return fail(placeholder);
  const parsed = spec.parse(text);
  if (!parsed.ok) return fail(parsed.problem);
  return { ok: true, value: parsed.value as ValueOf<Table[N]> };
}

/** What is wrong with one setting's value, or undefined when it is good. */
export function settingProblem(name: SettingName, value: string | undefined): ConfigProblem | undefined {
  const r = parseSetting(name, value);
  return r.ok ? undefined : r.problem;
}

/**
 * Reads and validates every setting from `env` (the process environment: app
 * settings arrive as environment variables). Returns the typed config or throws one
 * `ConfigError` naming every bad or missing setting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): JobConfig {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const r = parseSetting(name, env[name]);
    if (r.ok) values[SETTINGS[name].field] = r.value;
    else problems.push(r.problem);
  }

  const endpoint = values.stateStoreEndpoint as string | undefined;
  const connectionString = values.stateStoreConnectionString as string | undefined;
  const endpointSet = rawValue(env.STATE_STORE_ENDPOINT) !== undefined;
  const connectionSet = rawValue(env.STATE_STORE_CONNECTION_STRING) !== undefined;
  if (endpointSet && connectionSet) {
    problems.push({
      setting: 'STATE_STORE_ENDPOINT',
      problem: 'both STATE_STORE_ENDPOINT and STATE_STORE_CONNECTION_STRING are set',
      expected: STATE_STORE_EXPECTED,
    });
  } else if (!endpointSet && !connectionSet) {
    problems.push({
      setting: 'STATE_STORE_ENDPOINT',
      problem: 'missing (and STATE_STORE_CONNECTION_STRING is missing too)',
      expected: STATE_STORE_EXPECTED,
    });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const { stateStoreEndpoint: _e, stateStoreConnectionString: _c, ...rest } = values;
  const stateStore: ConfiguredStateStore =
    endpoint !== undefined
      ? { kind: 'endpoint', endpoint }
      : { kind: 'connectionString', connectionString: connectionString ?? '' };
  return { ...rest, stateStore } as JobConfig;
}
