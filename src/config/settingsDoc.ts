/**
 * The settings table of docs/operations.md ("## Settings"), rendered from the settings
 * table in settings.ts. A test keeps the docs equal to it.
 */
import { SETTING_NAMES, SETTINGS, type SettingName, type SettingSpec } from './settings';

/** The Default column: the default text, or whether the setting must be set. */
export function defaultCell(name: SettingName): string {
  const s: SettingSpec = SETTINGS[name];
  switch (s.presence) {
    case 'required':
      return 'required';
    case 'stateStore':
      return 'required: this or the other state store setting';
    case 'optional':
      return 'unset';
    case 'defaulted':
      return `\`${s.default}\``;
  }
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The markdown table: Setting | Default | What it does, one row per setting in table order. */
export function renderSettingsTable(): string {
  const rows = SETTING_NAMES.map(
    (name) => `| \`${name}\` | ${cell(defaultCell(name))} | ${cell(SETTINGS[name].description)} |`,
  );
  return ['| Setting | Default | What it does |', '|---|---|---|', ...rows].join('\n');
}
