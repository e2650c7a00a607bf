import { buildServerRuleQuery, loadRuleQueryText, readRuleRows } from '../../../src/logAnalytics/ruleQuery';
import { FINDING_COLUMNS } from '../../../src/detection/schema';
import { kqlDiagnostics, kqlResultColumns, LOG_ANALYTICS_TABLES } from '../../support/kusto';

describe("the rule's KQL run server-side by verify", () => {
  it('is the repository text unchanged, plus one final step', () => {
    const rule = loadRuleQueryText();
    const text = buildServerRuleQuery();
    expect(text.startsWith(rule.trimEnd() + '\n')).toBe(true);
    expect(text.slice(rule.trimEnd().length + 1).split('\n')).toHaveLength(1);
  });

  it('passes the Kusto language service and returns the 14 columns, datetimes and dynamics as text', () => {
    const text = buildServerRuleQuery();
    expect(kqlDiagnostics(text, LOG_ANALYTICS_TABLES).filter((d) => d.severity === 'Error')).toEqual([]);
    const asText = new Set(['datetime', 'dynamic']);
    expect(kqlResultColumns(text, LOG_ANALYTICS_TABLES)).toEqual(
      FINDING_COLUMNS.map(([n, t]) => [n, asText.has(t) || n === 'Scope' ? 'string' : t]),
    );
  });

  it('reads rows with 7-digit datetimes and refuses other shapes', () => {
    const columns = FINDING_COLUMNS.map(([n]) => n as string);
    const row = [
      '2026-11-25T04:13:54.3140005Z',
      '2026-11-25T04:13:54.3140005Z',
      '2026-11-25T04:15:00Z',
      'script0.ps1',
      'web01',
      'alice@contoso.com',
      'alice',
      'contoso.com',
      '10.0.0.1',
      '["GET-SERVICE"]',
      59,
      'ab',
      50,
      '/subscriptions/x',
    ];
    expect(readRuleRows(columns, [row])[0]).toMatchObject({
      StartTime: '2026-11-25T04:13:54.3140005Z',
      EndTime: '2026-11-25T04:15:00.0000000Z',
      PowershellScriptCommands: ['GET-SERVICE'],
      PowershellFileSize: 59,
      Prevalence: 50,
    });
    expect(() => readRuleRows(columns.slice(1), [row.slice(1)])).toThrow(/columns/);
    expect(() => readRuleRows(columns, [[...row.slice(0, 9), 'x', ...row.slice(10)]])).toThrow(/Row 1/);
  });
});
