import table from '../../../infra/findings-table.json';
import { FINDING_COLUMNS } from '../../../src/detection/schema';
import { RULE } from '../../../src/detection';
import { MAX_FIELD_BYTES, alertEntities, findingId, toFindingRecord, type FindingRecord } from '../../../src/ingestion';
import { CONTEXT, TEST_RULE, WINDOW, exampleFindings, generatedFindings } from './sampleFindings';

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');

describe('toFindingRecord', () => {
  const finding = exampleFindings()[1]!;

  it('has exactly the columns of infra/findings-table.json, in its order', () => {
    const record = toFindingRecord(finding, CONTEXT);
    expect(Object.keys(record)).toEqual(table.columns.map((c) => c.name));
  });

  it("carries the rule's 14 output columns unchanged and the rule/window/mode metadata", () => {
    const record = toFindingRecord(finding, CONTEXT);
    for (const [name] of FINDING_COLUMNS) expect(record[name]).toEqual(finding[name]);
    expect(record).toMatchObject({
      TimeGenerated: CONTEXT.timeGenerated,
      RuleId: TEST_RULE.id,
      RuleName: TEST_RULE.name,
      RuleVersion: '1.0.8',
      DetectionMode: 'parity',
      WindowStart: WINDOW.start,
      WindowEnd: WINDOW.end,
      Severity: 'Medium',
      Tactics: ['LateralMovement', 'Execution'],
      Techniques: ['T1570', 'T1059.001'],
      TruncatedColumns: [],
      EnrichmentStatus: 'disabled',
      VmLocation: null,
      VmTags: null,
      ExtendedProperties: null,
    });
  });

  it('defaults to the RULE of src/detection', () => {
    const { rule: _omit, ...withoutRule } = CONTEXT;
    const record = toFindingRecord(finding, withoutRule);
    expect(record).toMatchObject({
      RuleId: RULE.id,
      RuleName: RULE.name,
      RuleVersion: RULE.version,
      Severity: RULE.severity,
    });
    expect(record).toEqual(toFindingRecord(finding, { ...withoutRule, rule: RULE }));
  });

  it('types every value as its column type says', () => {
    const record = toFindingRecord(finding, {
      ...CONTEXT,
      enrichment: {
        status: 'ok',
        location: 'westeurope',
        resourceGroup: 'rg-dev',
        tags: { env: 'dev' },
        vmId: 'x',
        osType: 'Windows',
      },
      extended: { firstSeen: '2026-11-01T00:00:00.0000000Z' },
    }) as Record<string, unknown>;
    for (const { name, type } of table.columns) {
      const v = record[name];
      if (v === null) continue;
      if (type === 'datetime') expect(v).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      else if (type === 'string') expect(typeof v).toBe('string');
      else if (type === 'long' || type === 'real') expect(typeof v).toBe('number');
      else if (type === 'dynamic') expect(typeof v).toBe('object');
    }
    expect(record.EnrichmentStatus).toBe('ok');
    expect(record.VmTags).toEqual({ env: 'dev' });
  });

  it('gives the same FindingId for the same finding and window, whatever the write time or enrichment', () => {
    const a = toFindingRecord(finding, CONTEXT);
    const b = toFindingRecord(finding, {
      ...CONTEXT,
      timeGenerated: '2026-11-27T09:00:00.0000000Z',
      enrichment: { status: 'forbidden' },
    });
    expect(a.FindingId).toMatch(/^[0-9a-f]{64}$/);
    expect(b.FindingId).toBe(a.FindingId);
  });

  it('gives a different FindingId when any rule column, the window, the mode or the rule changes', () => {
    const base = toFindingRecord(finding, CONTEXT).FindingId;
    const ids = new Set<string>([base]);
    for (const [name, type] of FINDING_COLUMNS) {
      const changed = { ...finding } as Record<string, unknown>;
      changed[name] =
        type === 'dynamic'
          ? [...finding.PowershellScriptCommands, 'X']
          : type === 'long' || type === 'real'
            ? Number(finding[name]) + 1
            : type === 'datetime'
              ? '2026-11-25T00:00:00.0000001Z'
              : String(finding[name]) + 'x';
      ids.add(toFindingRecord(changed as unknown as typeof finding, CONTEXT).FindingId);
    }
    ids.add(toFindingRecord(finding, { ...CONTEXT, mode: 'corrected' }).FindingId);
    ids.add(
      toFindingRecord(finding, { ...CONTEXT, window: { ...WINDOW, end: '2026-11-26T00:00:00.0000001Z' } }).FindingId,
    );
    ids.add(toFindingRecord(finding, { ...CONTEXT, rule: { ...TEST_RULE, id: 'other' } }).FindingId);
    expect(ids.size).toBe(FINDING_COLUMNS.length + 4);
    expect(findingId(finding, TEST_RULE.id, 'parity', WINDOW)).toBe(base);
  });

  it('maps Account, IP and Host like the published entityMappings, in SecurityAlert.Entities shape', () => {
    expect(alertEntities(finding)).toEqual([
      {
        $id: '1',
        Type: 'account',
        FullName: finding.Caller,
        Name: finding.CallerName,
        UPNSuffix: finding.CallerUPNSuffix,
      },
      { $id: '2', Type: 'ip', Address: finding.CallerIpAddress },
      { $id: '3', Type: 'host', HostName: finding.VirtualMachineName, AzureID: finding.Scope },
    ]);
  });

  it('leaves out empty identifiers and entities without any', () => {
    const objectIdCaller = {
      ...finding,
      Caller: '3f2a…',
      CallerName: '3f2a…',
      CallerUPNSuffix: '',
      CallerIpAddress: '',
    };
    expect(alertEntities(objectIdCaller)).toEqual([
      { $id: '1', Type: 'account', FullName: '3f2a…', Name: '3f2a…' },
      { $id: '2', Type: 'host', HostName: finding.VirtualMachineName, AzureID: finding.Scope },
    ]);
  });

  it('cuts a command list over 64 KB by dropping trailing commands, and names the column', () => {
    const [big] = generatedFindings(1, 150_000);
    const record = toFindingRecord(big!, CONTEXT);
    const commands = record.PowershellScriptCommands;
    expect(bytes(big!.PowershellScriptCommands)).toBeGreaterThan(MAX_FIELD_BYTES);
    expect(bytes(commands)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    // Whole leading commands, nothing appended; the next one would not have fitted.
    expect(commands).toEqual(big!.PowershellScriptCommands.slice(0, commands.length));
    expect(bytes(big!.PowershellScriptCommands.slice(0, commands.length + 1))).toBeGreaterThan(MAX_FIELD_BYTES);
    expect(record.TruncatedColumns).toEqual(['PowershellScriptCommands']);
    // The id and the fingerprint still describe the whole finding.
    expect(record.FindingId).toBe(findingId(big!, TEST_RULE.id, 'parity', WINDOW));
    expect(record.ScriptFingerprintHash).toBe(big!.ScriptFingerprintHash);
    expect(toFindingRecord(big!, CONTEXT)).toEqual(record);
  });

  it('cuts an over-long string at a code point boundary and every dynamic column it spills into', () => {
    const longScope = '/subscriptions/x/' + '😀'.repeat(20_000) + 'é'.repeat(10);
    const record: FindingRecord = toFindingRecord({ ...finding, Scope: longScope }, CONTEXT);
    expect(bytes(record.Scope)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    expect(longScope.startsWith(record.Scope)).toBe(true);
    expect(record.Scope.endsWith('😀')).toBe(true); // no lone surrogate
    expect(record.TruncatedColumns).toEqual(['Scope', 'Entities']);
    expect(bytes(record.Entities)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    expect(record.Entities.map((e) => e.Type)).toEqual(['account', 'ip']);
  });
});
