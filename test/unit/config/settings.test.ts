import {
  ConfigError,
  formatProblem,
  loadConfig,
  parseSetting,
  REQUIRED_SETTINGS,
  SETTING_DEFAULTS,
  SETTING_NAMES,
  SETTINGS,
  settingProblem,
  STATE_STORE_SETTINGS,
  type ConfigProblem,
  type SettingName,
} from '../../../src/config/settings';

const GOOD = {
  LOG_ANALYTICS_WORKSPACE_ID: '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
  LOGS_INGESTION_ENDPOINT: 'https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com/',
  DCR_IMMUTABLE_ID: 'dcr-0123456789abcdef0123456789abcdef',
  STATE_STORE_ENDPOINT: 'https://mystore.table.core.windows.net',
};

function problemsOf(env: NodeJS.ProcessEnv): ConfigProblem[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('loadConfig accepted the configuration');
}

/**
 * One good text (with the value it parses to) and bad texts (with a piece of the problem)
 * for every setting. Typed by the settings table: a new setting does not compile until it
 * has its cases here.
 */
const CASES: Record<SettingName, { good: [string, unknown]; bad: Array<[string, string]> }> = {
  LOG_ANALYTICS_WORKSPACE_ID: {
    good: ['5B7A2F0E-1c3d-4e5f-8a9b-0c1d2e3f4a5b', '5B7A2F0E-1c3d-4e5f-8a9b-0c1d2e3f4a5b'],
    bad: [
      ['contoso-workspace', 'is not a GUID'],
      ['00000000-0000-0000-0000-000000000000', 'is a placeholder: replace with the real value from'],
    ],
  },
  LOG_ANALYTICS_ENDPOINT: {
    good: ['https://api.loganalytics.azure.cn/v1/', 'https://api.loganalytics.azure.cn/v1'],
    bad: [
      ['https://api.loganalytics.azure.com', '/v1'],
      ['http://api.loganalytics.azure.com/v1', 'not an https URL'],
    ],
  },
  LOGS_INGESTION_ENDPOINT: {
    good: [
      'https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com/',
      'https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com',
    ],
    bad: [
      ['http://dce.example.com', 'not an https URL'],
      ['https://dce.example.com', 'is not an Azure Monitor Logs Ingestion host'],
      ['https://<dcr-name>-<suffix>.<region>-1.ingest.monitor.azure.com', 'is a placeholder'],
    ],
  },
  DCR_IMMUTABLE_ID: {
    good: ['dcr-00112233445566778899AABBCCDDEEFF', 'dcr-00112233445566778899AABBCCDDEEFF'],
    bad: [
      ['dcr-123', "is not 'dcr-' followed by 32 hex digits"],
      ['dcr-00000000000000000000000000000000', 'is a placeholder: replace with the real value from'],
    ],
  },
  DCR_STREAM_NAME: {
    good: ['Custom-Other_CL', 'Custom-Other_CL'],
    bad: [['RunCommandFindings_CL', 'not a custom stream name']],
  },
  STATE_STORE_ENDPOINT: {
    good: ['https://a.table.core.windows.net/', 'https://a.table.core.windows.net'],
    bad: [
      ['a.table.core.windows.net', 'not a URL'],
      ['https://<account>.table.core.windows.net', 'is a placeholder'],
    ],
  },
  STATE_STORE_CONNECTION_STRING: {
    good: ['UseDevelopmentStorage=true', 'UseDevelopmentStorage=true'],
    bad: [
      ['AccountKey=c2VjcmV0', 'is not a storage connection string'],
      ['AccountName=a;AccountKey=<key>', 'the value is a placeholder'],
    ],
  },
  STATE_STORE_TABLE_NAME: { good: ['rcdstate', 'rcdstate'], bad: [['run-command', 'not a valid table name']] },
  AZURE_CLIENT_ID: {
    good: ['11111111-2222-3333-4444-555555555555', '11111111-2222-3333-4444-555555555555'],
    bad: [
      ['not-a-guid', 'is not a GUID'],
      ['00000000-0000-0000-0000-000000000000', "the managed identity's Overview page"],
    ],
  },
  DETECTION_SCHEDULE: {
    good: ['0 30 1 * * *', '0 30 1 * * *'],
    bad: [
      ['15 0 * * *', '5 field(s), not 6'],
      ['0 15 0 * * ?', "invalid field '?'"],
    ],
  },
  INGESTION_DELAY_MINUTES: { good: ['0', 0], bad: [['-5', 'from 0 to 1440']] },
  MAX_CATCHUP_DAYS: { good: ['90', 90], bad: [['0', 'from 1 to 90']] },
  DETECTION_START_DATE: {
    good: ['2026-11-01', '2026-11-01T00:00:00.0000000Z'],
    bad: [
      ['2026-02-30', 'is not a date YYYY-MM-DD'],
      ['2026-11-01T00:00:00Z', 'is not a date YYYY-MM-DD'],
      ['1 Nov 2026', 'is not a date YYYY-MM-DD'],
    ],
  },
  SETTLE_AFTER_HOURS: {
    good: [' 1, 48 ,336', [1, 48, 336]],
    bad: [
      ['24,6', 'not strictly increasing (24 then 6)'],
      ['6,6', 'not strictly increasing'],
      ['0,6', "'0' is not a whole number of hours from 1 to 336"],
      ['6,337', "'337'"],
      ['6,,24', "'' is not a whole number"],
      ['6.5', "'6.5'"],
    ],
  },
  INGESTION_LATENCY_BOUND_MINUTES: {
    good: ['1440', 1440],
    bad: [
      ['0', 'from 1 to 1440'],
      ['1441', 'from 1 to 1440'],
    ],
  },
  SPOOL_ALERT_DAYS: { good: ['1', 1], bad: [['91', 'from 1 to 90']] },
  SOURCE_LOW_PERCENT: {
    good: ['0', 0],
    bad: [
      ['101', 'from 0 to 100'],
      ['10%', 'from 0 to 100'],
    ],
  },
  WINDOW_ROW_BUDGET: {
    good: ['100000000', 100_000_000],
    bad: [
      ['999', 'from 1000 to 100000000'],
      ['5e6', 'from 1000 to 100000000'],
    ],
  },
  AZURE_CALL_TIMEOUT_SECONDS: {
    good: ['5', 5],
    bad: [
      ['4', 'from 5 to 1800'],
      ['1801', 'from 5 to 1800'],
    ],
  },
  DETECTION_MODE: { good: ['corrected', 'corrected'], bad: [['strict', 'is not a detection mode']] },
  ENRICHMENT_ENABLED: { good: ['FALSE', false], bad: [['yes', 'is not true or false']] },
  BASELINE_DAYS: { good: ['30', 30], bad: [['1.5', 'from 1 to 90']] },
  MANAGED_HANDLER_PROCESS_NAMES: {
    good: ['RunCommandHandler.exe, rch.exe', ['RunCommandHandler.exe', 'rch.exe']],
    bad: [
      ['RunCommandHandler.exe,', "'' is not a file name"],
      ['C:\\x\\a.exe', 'is not a file name'],
      ['a"b.exe', 'is not a file name'],
    ],
  },
  MANAGED_HANDLER_FOLDER_MARKER: {
    good: ['microsoft.cplat.core.runcommandhandlerwindows', 'microsoft.cplat.core.runcommandhandlerwindows'],
    bad: [['plugins\\x', 'is not a folder name fragment']],
  },
  ALLOWLIST_WATCHLIST: {
    good: ['RunCommand_Allow-list', 'RunCommand_Allow-list'],
    bad: [
      ['run command allowlist', 'is not a watchlist alias'],
      ['a'.repeat(65), 'is not a watchlist alias'],
    ],
  },
  ARM_ENDPOINT: {
    good: ['https://management.chinacloudapi.cn/', 'https://management.chinacloudapi.cn'],
    bad: [['management.azure.com', 'not a URL']],
  },
};

/** GOOD with `name` set to `text` (the other state store setting removed when it is one of the pair). */
function envWith(name: SettingName, text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...GOOD };
  if ((STATE_STORE_SETTINGS as string[]).includes(name)) for (const s of STATE_STORE_SETTINGS) delete env[s];
  env[name] = text;
  return env;
}

describe('loadConfig', () => {
  it('reads the required settings and fills every default', () => {
    const config = loadConfig({ ...GOOD });
    expect(config).toEqual({
      logAnalyticsWorkspaceId: GOOD.LOG_ANALYTICS_WORKSPACE_ID,
      logAnalyticsEndpoint: 'https://api.loganalytics.azure.com/v1',
      logsIngestionEndpoint: 'https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com',
      dcrImmutableId: GOOD.DCR_IMMUTABLE_ID,
      dcrStreamName: 'Custom-RunCommandFindings_CL',
      stateStore: { kind: 'endpoint', endpoint: 'https://mystore.table.core.windows.net' },
      stateStoreTableName: 'runcommanddetection',
      azureClientId: undefined,
      detectionSchedule: '0 15 0 * * *',
      ingestionDelayMinutes: 15,
      maxCatchupDays: 14,
      detectionStartDate: undefined,
      settleAfterHours: [6, 24, 72],
      ingestionLatencyBoundMinutes: 60,
      spoolAlertDays: 2,
      sourceLowPercent: 10,
      windowRowBudget: 'auto',
      azureCallTimeoutSeconds: 120,
      detectionMode: 'parity',
      enrichmentEnabled: true,
      baselineDays: 14,
      managedHandlerProcessNames: ['RunCommandHandlerWindows.exe', 'RunCommandHandler.exe'],
      managedHandlerFolderMarker: 'microsoft.cplat.core.runcommandhandlerwindows',
      allowlistWatchlist: undefined,
      armEndpoint: 'https://management.azure.com',
    });
  });

  it.each(SETTING_NAMES)('%s: its good value is read into its field', (name) => {
    const [text, value] = CASES[name].good;
    const config = loadConfig(envWith(name, text)) as unknown as Record<string, unknown>;
    if (name === 'STATE_STORE_ENDPOINT') expect(config.stateStore).toEqual({ kind: 'endpoint', endpoint: value });
    else if (name === 'STATE_STORE_CONNECTION_STRING')
      expect(config.stateStore).toEqual({ kind: 'connectionString', connectionString: value });
    else expect(config[SETTINGS[name].field]).toEqual(value);
  });

  it.each(SETTING_NAMES)('%s: each bad value is one problem naming the setting, with what to set', (name) => {
    for (const [text, problem] of CASES[name].bad) {
      const problems = problemsOf(envWith(name, text));
      expect(problems.map((p) => [p.setting, p.problem.includes(problem) ? problem : p.problem])).toEqual([
        [name, problem],
      ]);
      expect(problems[0].expected.length).toBeGreaterThan(20);
    }
  });

  it('every default parses', () => {
    for (const [name, text] of Object.entries(SETTING_DEFAULTS))
      expect([name, settingProblem(name as SettingName, text)]).toEqual([name, undefined]);
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({ ...GOOD, DCR_STREAM_NAME: '  ', AZURE_CLIENT_ID: '', DETECTION_START_DATE: ' ' });
    expect(config.dcrStreamName).toBe('Custom-RunCommandFindings_CL');
    expect(config.azureClientId).toBeUndefined();
    expect(config.detectionStartDate).toBeUndefined();
  });

  it('lists every missing required setting in one error, with what it should look like', () => {
    const problems = problemsOf({});
    expect(problems.map((p) => p.setting)).toEqual([...REQUIRED_SETTINGS, 'STATE_STORE_ENDPOINT']);
    expect(problems.every((p) => p.problem.startsWith('missing'))).toBe(true);
    const message = (() => {
      try {
        loadConfig({});
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(message).toContain(
      "LOG_ANALYTICS_WORKSPACE_ID: missing — the workspace's Workspace ID (a GUID, not its name or resource id): the workspace's Overview page",
    );
    expect(message).toContain('STATE_STORE_CONNECTION_STRING');
  });

  it('lists every malformed setting at once', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const name of SETTING_NAMES) env[name] = CASES[name].bad[0][0];
    const problems = problemsOf(env);
    expect(new Set(problems.map((p) => p.setting))).toEqual(new Set(SETTING_NAMES));
    // Both state store settings set: that is a problem of its own, besides their bad values.
    expect(problems.filter((p) => p.setting === 'STATE_STORE_ENDPOINT').map((p) => p.problem)).toEqual([
      "'a.table.core.windows.net' is not a URL",
      'both STATE_STORE_ENDPOINT and STATE_STORE_CONNECTION_STRING are set',
    ]);
  });

  it('says the default in the expected text of a defaulted setting', () => {
    expect(settingProblem('SETTLE_AFTER_HOURS', '24,6')?.expected).toBe(
      'a comma-separated list of whole hours from 1 to 336, strictly increasing (e.g. 6,24,72) (default 6,24,72)',
    );
  });

  it('never repeats a connection string, which may hold a key, in its message', () => {
    for (const secret of ['AccountKey=c2VjcmV0', 'AccountName=a;AccountKey=c2VjcmV0<x>']) {
      const problems = problemsOf(envWith('STATE_STORE_CONNECTION_STRING', secret));
      expect(problems.map((p) => p.setting)).toEqual(['STATE_STORE_CONNECTION_STRING']);
      expect(JSON.stringify(problems)).not.toContain('c2VjcmV0');
    }
  });

  it('accepts a full Azurite-style connection string', () => {
    const cs =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';
    expect(loadConfig(envWith('STATE_STORE_CONNECTION_STRING', cs)).stateStore).toEqual({
      kind: 'connectionString',
      connectionString: cs,
    });
  });
});

describe('parseSetting / settingProblem (one option that defaulted from its environment variable)', () => {
  it('parses one value as loadConfig does, default and placeholder rules included', () => {
    expect(parseSetting('SETTLE_AFTER_HOURS', undefined)).toEqual({ ok: true, value: [6, 24, 72] });
    expect(parseSetting('DETECTION_START_DATE', '')).toEqual({ ok: true, value: undefined });
    expect(parseSetting('LOG_ANALYTICS_WORKSPACE_ID', ' 5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b ')).toEqual({
      ok: true,
      value: '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
    });
    expect(settingProblem('LOG_ANALYTICS_WORKSPACE_ID', undefined)?.problem).toBe('missing');
  });

  it('gives the CLI a message that names the variable and how the value arrived', () => {
    const problem = settingProblem('LOG_ANALYTICS_WORKSPACE_ID', 'contoso');
    expect(problem).toBeDefined();
    expect(formatProblem(problem!, 'environment variable, the default of --workspace')).toBe(
      "LOG_ANALYTICS_WORKSPACE_ID (environment variable, the default of --workspace): 'contoso' is not a GUID — " +
        SETTINGS.LOG_ANALYTICS_WORKSPACE_ID.expected,
    );
    expect(settingProblem('LOG_ANALYTICS_WORKSPACE_ID', '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b')).toBeUndefined();
  });
});
