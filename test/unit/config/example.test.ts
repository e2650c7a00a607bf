/**
 * local.settings.example.json: it holds every setting, and its placeholders are refused
 * with "replace with …" until real values are put in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, SETTING_NAMES, SETTINGS, type SettingName } from '../../../src/config/settings';

const example = JSON.parse(readFileSync(join(__dirname, '../../../local.settings.example.json'), 'utf8')) as {
  IsEncrypted: boolean;
  Values: Record<string, string>;
};
/** The Functions host's own settings, not the job's. */
const HOST_SETTING = /^(FUNCTIONS_|AzureWebJobs)/;

function problemsOf(env: NodeJS.ProcessEnv) {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('local.settings.example.json', () => {
  it('holds every setting of the code and no other job setting', () => {
    const jobSettings = Object.keys(example.Values).filter((k) => !HOST_SETTING.test(k));
    expect(jobSettings).toEqual(SETTING_NAMES);
    expect(example.IsEncrypted).toBe(false);
  });

  it('sets every defaulted setting to its default', () => {
    for (const name of SETTING_NAMES) {
      const s = SETTINGS[name];
      if (s.presence === 'defaulted') expect([name, example.Values[name]]).toEqual([name, s.default]);
    }
  });

  it('is refused as it is: each placeholder says "replace with" and where the real value is', () => {
    const problems = problemsOf(example.Values);
    expect(problems.map((p) => p.setting)).toEqual([
      'LOG_ANALYTICS_WORKSPACE_ID',
      'LOGS_INGESTION_ENDPOINT',
      'DCR_IMMUTABLE_ID',
    ]);
    for (const p of problems) {
      expect(p.problem).toContain('is a placeholder');
      expect(p.problem).toContain('replace with the real value');
      expect(`${p.problem} ${p.expected}`).toMatch(/Overview page/);
    }
  });

  it('loads once the placeholders are replaced, with the state store in Azurite', () => {
    const real: Partial<Record<SettingName, string>> = {
      LOG_ANALYTICS_WORKSPACE_ID: '8b7c6d5e-4f3a-4b2c-9d1e-0f9e8d7c6b5a',
      LOGS_INGESTION_ENDPOINT: 'https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com',
      DCR_IMMUTABLE_ID: 'dcr-0123456789abcdef0123456789abcdef',
    };
    const config = loadConfig({ ...example.Values, ...real });
    expect(config.stateStore).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(config.azureClientId).toBeUndefined();
  });
});
