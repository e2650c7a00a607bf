import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, SETTING_DEFAULTS, type ConfigProblem } from '../../../src/config/settings';

const GOOD = {
  LOG_ANALYTICS_WORKSPACE_ID: '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
  LOGS_INGESTION_ENDPOINT: 'https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com/',
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

describe('loadConfig', () => {
  it('reads the required settings and fills every default', () => {
    const config = loadConfig({ ...GOOD });
    expect(config).toEqual({
      logAnalyticsWorkspaceId: GOOD.LOG_ANALYTICS_WORKSPACE_ID,
      logAnalyticsEndpoint: 'https://api.loganalytics.azure.com/v1',
      logsIngestionEndpoint: 'https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com',
      dcrImmutableId: GOOD.DCR_IMMUTABLE_ID,
      dcrStreamName: 'Custom-RunCommandFindings_CL',
      stateStore: { kind: 'endpoint', endpoint: 'https://mystore.table.core.windows.net' },
      stateStoreTableName: 'runcommanddetection',
      azureClientId: undefined,
      detectionSchedule: '0 15 0 * * *',
      ingestionDelayMinutes: 15,
      maxCatchupDays: 14,
      detectionMode: 'parity',
      enrichmentEnabled: true,
      baselineDays: 14,
      armEndpoint: 'https://management.azure.com',
    });
  });

  it('takes explicit values over defaults', () => {
    const { STATE_STORE_ENDPOINT: _omit, ...rest } = GOOD;
    const config = loadConfig({
      ...rest,
      STATE_STORE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      STATE_STORE_TABLE_NAME: 'rcdstate',
      AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      DETECTION_SCHEDULE: '0 30 1 * * *',
      INGESTION_DELAY_MINUTES: '0',
      MAX_CATCHUP_DAYS: '3',
      DETECTION_MODE: 'corrected',
      ENRICHMENT_ENABLED: 'FALSE',
      BASELINE_DAYS: '30',
      LOG_ANALYTICS_ENDPOINT: 'https://127.0.0.1:8443/v1/',
      ARM_ENDPOINT: 'https://127.0.0.1:9443',
    });
    expect(config.stateStore).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(config.stateStoreTableName).toBe('rcdstate');
    expect(config.azureClientId).toBe('11111111-2222-3333-4444-555555555555');
    expect(config.detectionSchedule).toBe('0 30 1 * * *');
    expect(config.ingestionDelayMinutes).toBe(0);
    expect(config.maxCatchupDays).toBe(3);
    expect(config.detectionMode).toBe('corrected');
    expect(config.enrichmentEnabled).toBe(false);
    expect(config.baselineDays).toBe(30);
    expect(config.logAnalyticsEndpoint).toBe('https://127.0.0.1:8443/v1');
    expect(config.armEndpoint).toBe('https://127.0.0.1:9443');
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ ...GOOD, DCR_STREAM_NAME: '  ', AZURE_CLIENT_ID: '' }).dcrStreamName).toBe(
      'Custom-RunCommandFindings_CL',
    );
  });

  it('lists every missing required setting in one error, with what it should look like', () => {
    const problems = problemsOf({});
    expect(problems.map((p) => p.setting)).toEqual([
      'LOG_ANALYTICS_WORKSPACE_ID',
      'LOGS_INGESTION_ENDPOINT',
      'DCR_IMMUTABLE_ID',
      'STATE_STORE_ENDPOINT',
    ]);
    expect(problems.every((p) => p.problem.startsWith('missing'))).toBe(true);
    const err = (() => {
      try {
        loadConfig({});
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain(
      "LOG_ANALYTICS_WORKSPACE_ID: missing — the workspace's Workspace ID (a GUID like 00000000-0000-0000-0000-000000000000), found on the workspace Overview page",
    );
    expect(err?.message).toContain('STATE_STORE_CONNECTION_STRING');
  });

  it('lists every malformed setting at once', () => {
    const problems = problemsOf({
      LOG_ANALYTICS_WORKSPACE_ID: 'my-workspace',
      LOGS_INGESTION_ENDPOINT: 'http://dce.example.com',
      DCR_IMMUTABLE_ID: 'dcr-123',
      DCR_STREAM_NAME: 'RunCommandFindings_CL',
      STATE_STORE_ENDPOINT: 'https://a.table.core.windows.net',
      STATE_STORE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      STATE_STORE_TABLE_NAME: 'run-command',
      AZURE_CLIENT_ID: 'not-a-guid',
      DETECTION_SCHEDULE: '15 0 * * *',
      INGESTION_DELAY_MINUTES: '-5',
      MAX_CATCHUP_DAYS: '0',
      DETECTION_MODE: 'strict',
      ENRICHMENT_ENABLED: 'yes',
      BASELINE_DAYS: '1.5',
      LOG_ANALYTICS_ENDPOINT: 'https://api.loganalytics.azure.com',
      ARM_ENDPOINT: 'management.azure.com',
    });
    expect(problems.map((p) => p.setting).sort()).toEqual(
      [
        'LOG_ANALYTICS_WORKSPACE_ID',
        'LOGS_INGESTION_ENDPOINT',
        'DCR_IMMUTABLE_ID',
        'DCR_STREAM_NAME',
        'STATE_STORE_ENDPOINT',
        'STATE_STORE_TABLE_NAME',
        'AZURE_CLIENT_ID',
        'DETECTION_SCHEDULE',
        'INGESTION_DELAY_MINUTES',
        'MAX_CATCHUP_DAYS',
        'DETECTION_MODE',
        'ENRICHMENT_ENABLED',
        'BASELINE_DAYS',
        'LOG_ANALYTICS_ENDPOINT',
        'ARM_ENDPOINT',
      ].sort(),
    );
    const byName = new Map(problems.map((p) => [p.setting, p]));
    expect(byName.get('STATE_STORE_ENDPOINT')?.problem).toContain('both');
    expect(byName.get('DETECTION_SCHEDULE')?.problem).toContain('5 field(s), not 6');
    expect(byName.get('LOGS_INGESTION_ENDPOINT')?.problem).toContain('not an https URL');
    expect(byName.get('LOG_ANALYTICS_ENDPOINT')?.problem).toContain('/v1');
    for (const p of problems) expect(p.expected.length).toBeGreaterThan(10);
  });

  it('never repeats a connection string, which may hold a key, in its message', () => {
    const { STATE_STORE_ENDPOINT: _omit, ...rest } = GOOD;
    const secret = 'AccountKey=c2VjcmV0';
    const problems = problemsOf({ ...rest, STATE_STORE_CONNECTION_STRING: secret });
    expect(problems.map((p) => p.setting)).toEqual(['STATE_STORE_CONNECTION_STRING']);
    expect(JSON.stringify(problems)).not.toContain('c2VjcmV0');
  });

  it('accepts a full Azurite-style connection string', () => {
    const { STATE_STORE_ENDPOINT: _omit, ...rest } = GOOD;
    const cs =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';
    expect(loadConfig({ ...rest, STATE_STORE_CONNECTION_STRING: cs }).stateStore).toEqual({
      kind: 'connectionString',
      connectionString: cs,
    });
  });

  it('local.settings.example.json holds every setting, and its values load', () => {
    const example = JSON.parse(readFileSync(join(__dirname, '../../../local.settings.example.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    const config = loadConfig(example.Values);
    expect(config.stateStore).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    const settings = [
      ...Object.keys(SETTING_DEFAULTS),
      'LOG_ANALYTICS_WORKSPACE_ID',
      'LOGS_INGESTION_ENDPOINT',
      'DCR_IMMUTABLE_ID',
      'STATE_STORE_ENDPOINT',
      'STATE_STORE_CONNECTION_STRING',
      'AZURE_CLIENT_ID',
    ];
    for (const name of settings) expect(Object.keys(example.Values)).toContain(name);
  });
});
