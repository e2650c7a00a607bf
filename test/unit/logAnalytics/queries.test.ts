import {
  buildKeptCountQuery,
  buildTableQuery,
  buildWholeTableQuery,
  kqlDateTimeLiteral,
  projectList,
} from '../../../src/logAnalytics/queries';
import { CORRECTED_TABLE_NAMES, RULE_COLUMNS, TABLE_NAMES } from '../../../src/detection/schema';
import { WINDOWS_MANAGED_HANDLER } from '../../../src/detection/corrected/paths';
import { kqlDiagnostics, kqlResultColumns, LOG_ANALYTICS_TABLES } from '../../support/kusto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const slice = { start: '2026-11-25T06:00:00.0000000Z', end: '2026-11-25T12:00:00.0000001Z' };

describe('the KQL sent to Log Analytics', () => {
  it.each(TABLE_NAMES)('%s query passes the Kusto language service against the real table schema', (table) => {
    const text = buildTableQuery(table, slice);
    expect(kqlDiagnostics(text, LOG_ANALYTICS_TABLES)).toEqual([]);
  });

  it.each(TABLE_NAMES)('%s query returns exactly the rule columns, datetimes and dynamics as strings', (table) => {
    const cols = kqlResultColumns(buildTableQuery(table, slice), LOG_ANALYTICS_TABLES);
    const expected = RULE_COLUMNS[table].map(([n, t]) => [n, t === 'datetime' || t === 'dynamic' ? 'string' : t]);
    expect(cols).toEqual(expected);
  });

  it.each(TABLE_NAMES)('%s whole-table query (for measurements) is valid too', (table) => {
    expect(kqlDiagnostics(buildWholeTableQuery(table, slice), LOG_ANALYTICS_TABLES)).toEqual([]);
  });

  it('bounds the slice half-open with 7-digit datetime literals', () => {
    const text = buildTableQuery('DeviceEvents', slice);
    expect(text).toContain(
      '| where TimeGenerated >= datetime(2026-11-25T06:00:00.0000000Z) and TimeGenerated < datetime(2026-11-25T12:00:00.0000001Z)',
    );
    expect(kqlDateTimeLiteral('2026-11-25T06:00:00.1234567Z')).toBe('datetime(2026-11-25T06:00:00.1234567Z)');
  });

  it("copies the rule's row filters verbatim from query.kql", () => {
    const rule = readFileSync(join(__dirname, '../../../src/detection/rule/query.kql'), 'utf8');
    const ruleLines = new Set(rule.split('\n').map((l) => l.trim()));
    for (const table of TABLE_NAMES) {
      const steps = buildTableQuery(table, slice)
        .split('\n')
        .filter((l) => l.startsWith('| where') || l.startsWith('| extend'))
        .filter((l) => !l.includes('TimeGenerated >='));
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) expect(ruleLines).toContain(step);
    }
  });

  it.each(CORRECTED_TABLE_NAMES)('%s corrected-mode query passes the Kusto language service too', (table) => {
    expect(kqlDiagnostics(buildTableQuery(table, slice, 'corrected'), LOG_ANALYTICS_TABLES)).toEqual([]);
    expect(kqlDiagnostics(buildKeptCountQuery(table, slice, 'corrected'), LOG_ANALYTICS_TABLES)).toEqual([]);
  });

  it('DeviceProcessEvents: corrected mode only, the processes Linux Run Command scripts start, projected columns only', () => {
    const text = buildTableQuery('DeviceProcessEvents', slice, 'corrected');
    expect(text).toContain(
      '| where InitiatingProcessCommandLine contains "/waagent/run-command" and InitiatingProcessCommandLine contains "/script.sh"',
    );
    expect(kqlResultColumns(text, LOG_ANALYTICS_TABLES)).toEqual([
      ['TimeGenerated', 'string'],
      ['DeviceName', 'string'],
      ['FileName', 'string'],
      ['ProcessCommandLine', 'string'],
      ['InitiatingProcessFileName', 'string'],
      ['InitiatingProcessCommandLine', 'string'],
    ]);
    // Parity mode (the published rule) never queries it.
    expect(() => buildTableQuery('DeviceProcessEvents', slice)).toThrow('parity mode reads no DeviceProcessEvents');
    expect(() => buildKeptCountQuery('DeviceProcessEvents', slice, 'parity')).toThrow(/parity mode/);
  });

  it('corrected mode keeps every case of RunCommandExtension.exe (trap 4), every Run Command path and managed-handler scripts', () => {
    const files = buildTableQuery('DeviceFileEvents', slice, 'corrected');
    expect(files).toContain(
      '| where InitiatingProcessFileName =~ "RunCommandExtension.exe" or (FileName endswith ".ps1"',
    );
    expect(files).toContain('InitiatingProcessFolderPath contains "microsoft.cplat.core.runcommandhandlerwindows"');
    expect(files).not.toContain('InitiatingProcessFileName == "RunCommandExtension.exe"');
    // Linux: script.sh written by the Linux extensions' binaries (case-sensitive names).
    expect(files).toContain(
      'or (FileName == "script.sh" and InitiatingProcessFileName in ("run-command-extension", "run-command-extension-arm64", "run-command-handler", "run-command-handler-arm64", "immediate-run-command-handler"))',
    );
    // Every path's operation name (issue 16), and no `Authorization has "virtualMachines"` (an Arc scope has none).
    const activity = buildTableQuery('AzureActivity', slice, 'corrected');
    for (const op of [
      'Microsoft.Compute/virtualMachines/runCommand/action',
      'Microsoft.Compute/virtualMachines/runCommands/write',
      'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action',
      'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write',
      'Microsoft.HybridCompute/machines/runCommands/write',
    ])
      expect(activity).toContain(`"${op}"`);
    expect(activity).toContain('| where OperationNameValue in~ (');
    expect(activity).not.toContain('Authorization has');
    // -file in any case: the rule's extract with (?i), and the script's own event compared with !~;
    // other .ps1 command lines for managed Run Command scripts.
    const events = buildTableQuery('DeviceEvents', slice, 'corrected');
    expect(events).toContain(
      '| extend PowershellFileName = extract(@"(?i)\\-File\\s(script[0-9]{1,9}\\.ps1)", 1, InitiatingProcessCommandLine)',
    );
    expect(events).toContain('(isnotempty(PowershellFileName) and PSCommand !~ PowershellFileName)');
    expect(events).toContain('(isempty(PowershellFileName) and InitiatingProcessCommandLine contains ".ps1")');
  });

  it("builds the managed handler's patterns from the MANAGED_HANDLER_* settings (unverified defaults)", () => {
    const managed = { ...WINDOWS_MANAGED_HANDLER, processFileNames: ['RCH.exe'], folderMarker: 'contoso.rch' };
    const text = buildTableQuery('DeviceFileEvents', slice, 'corrected', managed);
    expect(text).toContain(
      'InitiatingProcessFolderPath contains "contoso.rch" or InitiatingProcessFileName in~ ("RCH.exe")',
    );
    expect(text).not.toContain('runcommandhandlerwindows');
    expect(kqlDiagnostics(text, LOG_ANALYTICS_TABLES)).toEqual([]);
    // Parity's query does not change with them.
    expect(buildTableQuery('DeviceFileEvents', slice, 'parity', managed)).toBe(
      buildTableQuery('DeviceFileEvents', slice),
    );
  });

  it('does no summarize or join on the server', () => {
    for (const table of TABLE_NAMES) expect(buildTableQuery(table, slice)).not.toMatch(/summarize|join|materialize/);
  });

  it('projects TimeGenerated as text and AdditionalFields as text', () => {
    expect(projectList('DeviceEvents')).toBe(
      'TimeGenerated=tostring(TimeGenerated), DeviceName, InitiatingProcessCommandLine, AdditionalFields=tostring(AdditionalFields)',
    );
  });
});

describe('the Kusto checker (test support)', () => {
  it('reports a column that the table does not have', () => {
    const text = buildTableQuery('AzureActivity', slice).replace('| project ', '| project NoSuchColumn, ');
    const diags = kqlDiagnostics(text, LOG_ANALYTICS_TABLES);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ severity: 'Error', text: 'NoSuchColumn' });
  });

  it('reports a column used on the wrong table', () => {
    const text = 'DeviceEvents | where OperationNameValue =~ "x"';
    expect(kqlDiagnostics(text, LOG_ANALYTICS_TABLES).map((d) => d.text)).toEqual(['OperationNameValue']);
  });

  it('reports a syntax error', () => {
    expect(kqlDiagnostics('AzureActivity | where', LOG_ANALYTICS_TABLES).length).toBeGreaterThan(0);
  });

  it('checks against whatever schema map it is given', () => {
    const schemas = { T: [['a', 'string']] as const };
    expect(kqlDiagnostics('T | where a == "x"', schemas)).toEqual([]);
    expect(kqlDiagnostics('T | where b == "x"', schemas)).toHaveLength(1);
  });

  it('has the full tables, not only the rule columns', () => {
    expect(LOG_ANALYTICS_TABLES.AzureActivity.length).toBeGreaterThan(30);
    expect(LOG_ANALYTICS_TABLES.DeviceFileEvents.length).toBeGreaterThan(50);
    expect(LOG_ANALYTICS_TABLES.DeviceEvents.length).toBeGreaterThan(60);
  });
});

describe("the rule's own KQL", () => {
  it('passes the Kusto language service against the same schemas', () => {
    const rule = readFileSync(join(__dirname, '../../../src/detection/rule/query.kql'), 'utf8');
    expect(kqlDiagnostics(rule, LOG_ANALYTICS_TABLES).filter((d) => d.severity === 'Error')).toEqual([]);
  });
});
