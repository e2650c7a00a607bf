/**
 * The settings table of docs/operations.md and the app settings the Bicep template
 * writes, both checked against the settings table of the code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REQUIRED_SETTINGS, SETTING_NAMES, STATE_STORE_SETTINGS } from '../../../src/config/settings';
import { renderSettingsTable } from '../../../src/config/settingsDoc';

const REPO = join(__dirname, '..', '..', '..');
const read = (...path: string[]): string => readFileSync(join(REPO, ...path), 'utf8');

/** The text of `## heading` up to the next level-2 heading. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

describe('docs/operations.md "## Settings"', () => {
  const settings = section(read('docs', 'operations.md'), 'Settings');
  const rows = settings.split('\n').filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));

  it('lists exactly the setting names of the code, in its order', () => {
    expect(rows.map((r) => /^\| `([A-Z0-9_]+)`/.exec(r)![1])).toEqual(SETTING_NAMES);
  });

  it('holds the table rendered from the code (defaults and descriptions included)', () => {
    const table = renderSettingsTable();
    if (!settings.includes(table))
      throw new Error(
        `docs/operations.md "## Settings" differs from the settings code; its table should read:\n\n${table}\n`,
      );
  });
});

describe('the Bicep app settings (infra/bicep/main.bicep, written by modules/function-app.bicep)', () => {
  const main = read('infra', 'bicep', 'main.bicep');
  const module = read('infra', 'bicep', 'modules', 'function-app.bicep');
  /** The Functions host's and Application Insights' settings, not the job's. */
  const HOST_SETTING = /^(FUNCTIONS_|AzureWebJobs|APPLICATIONINSIGHTS_|WEBSITE_)/;

  /** The keys of `var appSettings = { ... }`. */
  function appSettingNames(): string[] {
    const m = /^var appSettings = \{\n([\s\S]*?)\n\}$/m.exec(main);
    if (!m)
      throw new Error(
        'main.bicep has no `var appSettings = { ... }` object; update this test to where the app settings are',
      );
    return m[1]
      .split('\n')
      .filter((l) => !/^\s*(\/\/.*)?$/.test(l))
      .map((l) => {
        const key = /^\s+([A-Za-z_][A-Za-z0-9_]*)\s*:/.exec(l);
        if (!key) throw new Error(`cannot read the app setting line: ${l}`);
        return key[1];
      });
  }

  it('main.bicep hands the appSettings object to the function app module, which writes it as is', () => {
    expect(main).toMatch(/module functionApp 'modules\/function-app\.bicep'[\s\S]*?\n\s+appSettings: appSettings\n/);
    expect(module).toMatch(
      /appSettings: \[for setting in items\(appSettings\): \{ name: setting\.key, value: setting\.value \}\]/,
    );
  });

  it('writes only settings the job reads (besides the host settings)', () => {
    const ours = appSettingNames().filter((n) => !HOST_SETTING.test(n));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.filter((n) => !(SETTING_NAMES as string[]).includes(n))).toEqual([]);
  });

  it('writes every required setting, and one of the state store settings', () => {
    const written = appSettingNames();
    expect(REQUIRED_SETTINGS.filter((n) => !written.includes(n))).toEqual([]);
    expect(STATE_STORE_SETTINGS.filter((n) => written.includes(n))).toHaveLength(1);
  });
});
