import { createHash } from 'node:crypto';
import table from '../../../infra/findings-table.json';
import { FINDING_COLUMNS } from '../../../src/detection/schema';
import { RULE } from '../../../src/detection';
import {
  MAX_FIELD_BYTES,
  alertEntities,
  findingId,
  legacyFindingId,
  toFindingRecord,
  toOutgoingFinding,
  type FindingRecord,
} from '../../../src/ingestion';
import { CONTEXT, TEST_RULE, WINDOW, exampleFindings, generatedFindings, identityOf, recordOf } from './sampleFindings';

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');

describe('toFindingRecord', () => {
  const finding = exampleFindings()[1]!;

  it('has exactly the columns of infra/findings-table.json, in its order', () => {
    const record = recordOf(finding);
    expect(Object.keys(record)).toEqual(table.columns.map((c) => c.name));
  });

  it("carries the rule's 14 output columns unchanged and the rule/window/mode metadata", () => {
    const record = recordOf(finding);
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
      // The way back to the operation in AzureActivity, in both modes; the finding's kind.
      CorrelationIds: [identityOf(finding).CorrelationId],
      FindingKind: 'script',
      ScriptFolderPath: null,
      ScriptSha256: null,
    });
  });

  it('carries the endpoint evidence it is given (script folder and SHA256) and the kind', () => {
    const record = recordOf(finding, {
      ...CONTEXT,
      evidence: {
        ScriptFolderPath: 'C:\\Packages\\Downloads',
        ScriptSha256: 'ab'.repeat(32),
        FindingKind: 'control-plane',
      },
    });
    expect(record).toMatchObject({
      ScriptFolderPath: 'C:\\Packages\\Downloads',
      ScriptSha256: 'ab'.repeat(32),
      FindingKind: 'control-plane',
    });
  });

  it('defaults to the RULE of src/detection', () => {
    const { rule: _omit, ...withoutRule } = CONTEXT;
    const record = recordOf(finding, withoutRule);
    expect(record).toMatchObject({
      RuleId: RULE.id,
      RuleName: RULE.name,
      RuleVersion: RULE.version,
      Severity: RULE.severity,
    });
    expect(record).toEqual(recordOf(finding, { ...withoutRule, rule: RULE }));
  });

  it('types every value as its column type says', () => {
    const record = recordOf(finding, {
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
    const a = recordOf(finding);
    const b = recordOf(finding, {
      ...CONTEXT,
      timeGenerated: '2026-11-27T09:00:00.0000000Z',
      enrichment: { status: 'forbidden' },
    });
    expect(a.FindingId).toMatch(/^[0-9a-f]{64}$/);
    expect(b.FindingId).toBe(a.FindingId);
  });

  it('gives a different FindingId when any identity field, the mode or the rule changes', () => {
    const identity = identityOf(finding);
    const base = recordOf(finding).FindingId;
    const ids = new Set<string>([base]);
    for (const field of Object.keys(identity) as Array<keyof typeof identity>) {
      const changed = { ...identity, [field]: identity[field] + 'x' };
      ids.add(toFindingRecord(finding, { ...CONTEXT, identity: changed }).FindingId);
    }
    ids.add(recordOf(finding, { ...CONTEXT, mode: 'corrected' }).FindingId);
    ids.add(recordOf(finding, { ...CONTEXT, rule: { ...TEST_RULE, id: 'other' } }).FindingId);
    expect(ids.size).toBe(Object.keys(identity).length + 3);
    expect(findingId(identity, TEST_RULE.id, 'parity')).toBe(base);
  });

  it("keeps the FindingId when the rule's 14 columns (the day's aggregates) or the window change", () => {
    const base = recordOf(finding).FindingId;
    const identity = identityOf(finding);
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
      const record = toFindingRecord(changed as unknown as typeof finding, { ...CONTEXT, identity });
      expect(record.FindingId).toBe(base);
    }
    const otherWindow = { ...WINDOW, end: '2026-11-26T00:00:00.0000001Z' };
    expect(recordOf(finding, { ...CONTEXT, window: otherWindow }).FindingId).toBe(base);
  });

  it('carries the legacy id of earlier releases: the 14 columns and the window, hashed', () => {
    const outgoing = toOutgoingFinding(finding, { ...CONTEXT, identity: identityOf(finding) });
    expect(outgoing.record).toEqual(recordOf(finding));
    expect(outgoing.legacyFindingId).toBe(legacyFindingId(finding, TEST_RULE.id, 'parity', WINDOW));
    expect(outgoing.legacyFindingId).not.toBe(outgoing.record.FindingId);
    // The old formula, as it was: sha256 of rule id, mode, window, and the columns' JSON, by newlines.
    const columns = JSON.stringify(FINDING_COLUMNS.map(([c]) => finding[c]));
    const text = [TEST_RULE.id, 'parity', WINDOW.start, WINDOW.end, columns].join('\n');
    expect(outgoing.legacyFindingId).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
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
    const record = recordOf(big!);
    const commands = record.PowershellScriptCommands;
    expect(bytes(big!.PowershellScriptCommands)).toBeGreaterThan(MAX_FIELD_BYTES);
    expect(bytes(commands)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    // Whole leading commands, nothing appended; the next one would not have fitted.
    expect(commands).toEqual(big!.PowershellScriptCommands.slice(0, commands.length));
    expect(bytes(big!.PowershellScriptCommands.slice(0, commands.length + 1))).toBeGreaterThan(MAX_FIELD_BYTES);
    expect(record.TruncatedColumns).toEqual(['PowershellScriptCommands']);
    // The id and the fingerprint still describe the whole finding.
    expect(record.FindingId).toBe(findingId(identityOf(big!), TEST_RULE.id, 'parity'));
    expect(record.ScriptFingerprintHash).toBe(big!.ScriptFingerprintHash);
    expect(recordOf(big!)).toEqual(record);
  });

  it('cuts an over-long string at a code point boundary and every dynamic column it spills into', () => {
    const longScope = '/subscriptions/x/' + '😀'.repeat(20_000) + 'é'.repeat(10);
    const record: FindingRecord = recordOf({ ...finding, Scope: longScope });
    expect(bytes(record.Scope)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    expect(longScope.startsWith(record.Scope)).toBe(true);
    expect(record.Scope.endsWith('😀')).toBe(true); // no lone surrogate
    expect(record.TruncatedColumns).toEqual(['Scope', 'Entities']);
    expect(bytes(record.Entities)).toBeLessThanOrEqual(MAX_FIELD_BYTES);
    expect(record.Entities.map((e) => e.Type)).toEqual(['account', 'ip']);
  });
});
