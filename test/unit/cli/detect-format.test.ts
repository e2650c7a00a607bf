import { formatFindings, formatFindingsTable, projectFinding } from '../../../src/cli/format';
import { FINDING_COLUMNS, type RunCommandFinding } from '../../../src/detection/schema';

const finding = (over: Partial<RunCommandFinding> = {}): RunCommandFinding => ({
  // Deliberately not in project order: the formatter must put them in order.
  Scope: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web07',
  Prevalence: 100 / 3,
  timestamp: '2026-11-25T04:15:48.0700000Z',
  StartTime: '2026-11-25T04:15:48.0700000Z',
  EndTime: '2026-11-25T04:19:25.3700005Z',
  PowershellFileName: 'script7.ps1',
  VirtualMachineName: 'web07',
  Caller: 'Eve.Admin@Fabrikam.com',
  CallerName: 'Eve.Admin',
  CallerUPNSuffix: 'Fabrikam.com',
  CallerIpAddress: '77.128.53.98',
  PowershellScriptCommands: ['GET-EVENTLOG', 'OUT-FILE'],
  PowershellFileSize: 101,
  ScriptFingerprintHash: 'b6aacfce457e8dfe39676f6c3a840f79c759fc6f812f003c8c0adf7429d23896',
  ...over,
});

describe('findings formats', () => {
  it('ndjson: one object a line, the 14 columns in project order, values untouched', () => {
    const text = formatFindings([finding(), finding({ PowershellFileSize: null })], 'ndjson');
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(FINDING_COLUMNS.map(([n]) => n));
    expect(first.Prevalence).toBe(100 / 3);
    expect(first.EndTime).toBe('2026-11-25T04:19:25.3700005Z');
    expect(JSON.parse(lines[1]).PowershellFileSize).toBeNull();
  });

  it('drops fields that are not output columns', () => {
    const extra = { ...finding(), Debug: 'x' } as RunCommandFinding;
    expect(Object.keys(projectFinding(extra))).toHaveLength(14);
  });

  it('json: one array, and an empty array for no findings', () => {
    expect(JSON.parse(formatFindings([finding()], 'json'))).toEqual([projectFinding(finding())]);
    expect(formatFindings([], 'json')).toBe('[]\n');
    expect(formatFindings([], 'ndjson')).toBe('');
  });

  it('table: aligned columns, long and control-character cells cut to width, a count', () => {
    const long = finding({
      Caller: 'a-very-long-caller-name-that-does-not-fit@contoso.onmicrosoft.com',
      VirtualMachineName: 'vm\twith\nbreaks',
      PowershellScriptCommands: Array.from({ length: 30 }, (_, i) => `COMMAND-${i}`),
      CallerIpAddress: '2001:db8::2766',
    });
    const text = formatFindingsTable([finding(), long], 'corrected');
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe('2 findings');
    // Every column starts at the same offset on every line.
    const starts = (line: string) => [...line.matchAll(/(?<= {2})\S/g)].map((m) => m.index);
    expect(lines[1]).toMatch(/^-+( {2}-+)+$/);
    const ruleStarts = starts(lines[1]);
    expect(starts(lines[0])).toEqual(ruleStarts);
    expect(lines[3]).not.toMatch(/[\t\n]/);
    expect(lines[3]).toContain('vm with breaks');
    expect(lines[3]).toContain('…');
    expect(lines[2]).toContain('33.33%');
    expect(lines[2]).toContain('b6aacfce457e');
    expect(lines[2]).not.toContain('b6aacfce457e8');
    expect(formatFindingsTable([])).toMatch(/\n0 findings\n$/);
  });

  it("table: Prevalence is corrected mode's column; in parity mode one note says it is the rule's 100 / totals", () => {
    // Corrected: the share of the window's executions with the fingerprint, per row; none for a control-plane finding.
    const corrected = formatFindingsTable(
      [finding({ Prevalence: 2.5 }), finding({ ScriptFingerprintHash: '', Prevalence: 0 })],
      'corrected',
    ).split('\n');
    expect(corrected[0]).toMatch(/\bPrevalence\b/);
    expect(corrected[2]).toContain('2.50%');
    expect(corrected[3]).not.toContain('0%');
    // Parity: no column; the day's one value, once, with why it means nothing.
    const parity = formatFindingsTable([finding({ Prevalence: 100 / 59 }), finding({ Prevalence: 100 / 59 })]);
    const [header] = parity.split('\n');
    expect(header).not.toContain('Prevalence');
    expect(parity).toContain('2 findings\nPrevalence: 1.69% on every finding (100 / 59 RunCommandData rows)');
    expect(parity).toMatch(/the rule's arithmetic .*trap 6/s);
    expect(parity.match(/1\.69%/g)).toHaveLength(1);
    // Several days (replay): the range.
    expect(formatFindingsTable([finding({ Prevalence: 100 / 59 }), finding({ Prevalence: 2.5 })])).toContain(
      'Prevalence: 1.69% to 2.50%',
    );
    expect(formatFindingsTable([])).not.toContain('Prevalence:');
    // The JSON forms keep the rule's value.
    expect(JSON.parse(formatFindings([finding({ Prevalence: 100 / 59 })], 'ndjson')).Prevalence).toBe(100 / 59);
  });
});
