/**
 * Issue 11, point 0: a day whose rows grow between two runs (late rows; more commands for
 * a script name) keeps its FindingIds, while Prevalence and the fingerprint change. The
 * real Detector runs over the plain example day, then over the same day with the tricky
 * day's rows arrived late (more executions: every Prevalence moves) and one more command
 * logged for script3.ps1 on app07 (its command list and fingerprint move).
 */
import { join } from 'node:path';
import { coerceRow, RULE } from '../../../src/detection';
import { addTables, createDetector, type DetectedFinding } from '../../../src/detection/detector';
import { TABLE_NAMES, type TableName, type TableRows } from '../../../src/detection/schema';
import { toOutgoingFinding } from '../../../src/ingestion';
import { readFixtureDay, type FixtureTables } from '../../support/logAnalyticsStandIn';
import { CONTEXT } from './sampleFindings';

const EXAMPLES = join(__dirname, '../../fixtures/examples');

function detect(day: FixtureTables): DetectedFinding[] {
  const detector = createDetector('parity');
  const typed = {} as { [T in TableName]: TableRows[T][] };
  for (const t of TABLE_NAMES) (typed as Record<TableName, unknown[]>)[t] = day[t].map((r) => coerceRow(t, r).row);
  addTables(detector, typed);
  return detector.finish().findings;
}

const recordsOf = (findings: DetectedFinding[]) =>
  new Map(
    findings.map((f) => {
      const { record } = toOutgoingFinding(f.finding, { ...CONTEXT, rule: RULE, identity: f.identity });
      return [record.FindingId, record];
    }),
  );

describe('FindingId of a day that grows between two runs', () => {
  const plain = readFixtureDay(join(EXAMPLES, 'plain-day'));
  const tricky = readFixtureDay(join(EXAMPLES, 'tricky-day'));
  const script3 = plain.DeviceEvents.filter(
    (r) => (r.AdditionalFields as { ScriptName?: string }).ScriptName === 'script3.ps1',
  );
  // One more command logged for script3.ps1 on app07, within its execution.
  const moreCommands: FixtureTables = {
    ...plain,
    DeviceEvents: [
      ...plain.DeviceEvents,
      {
        ...script3.at(-1)!,
        TimeGenerated: '2026-11-25T21:44:56.1000000Z',
        AdditionalFields: { Command: 'Get-Process', ScriptName: 'script3.ps1' },
      },
    ],
  };
  // Late rows: the tricky day's operations, files and events arrive for the same day,
  // with commands of their own (its scripts would otherwise repeat the plain day's lists).
  const lateEvents = tricky.DeviceEvents.map((r) => {
    const fields = r.AdditionalFields as { Command?: unknown } | null;
    return fields && typeof fields === 'object' && typeof fields.Command === 'string'
      ? { ...r, AdditionalFields: { ...fields, Command: `${fields.Command}-Late` } }
      : r;
  });
  const lateRows: FixtureTables = {
    AzureActivity: [...moreCommands.AzureActivity, ...tricky.AzureActivity],
    DeviceFileEvents: [...moreCommands.DeviceFileEvents, ...tricky.DeviceFileEvents],
    DeviceEvents: [...moreCommands.DeviceEvents, ...lateEvents],
  };
  const first = recordsOf(detect(plain));

  it('more commands for a script name: same FindingIds, the command list and its fingerprint move', () => {
    const second = recordsOf(detect(moreCommands));
    expect(script3.length).toBeGreaterThan(0);
    expect(first.size).toBe(3);
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    const s3 = [...first.values()].find((r) => r.PowershellFileName === 'script3.ps1')!;
    const s3After = second.get(s3.FindingId)!;
    expect(s3After.ScriptFingerprintHash).not.toBe(s3.ScriptFingerprintHash);
    expect(s3After.PowershellScriptCommands).toEqual(['GET-PROCESS', ...s3.PowershellScriptCommands]);
  });

  it('late rows: every finding that is still one keeps its FindingId, with another Prevalence', () => {
    const third = recordsOf(detect(lateRows));
    const kept = [...first.keys()].filter((id) => third.has(id));
    // script13 and script14 on dc09 stay unique on the larger day (script3.ps1 is no longer unique there).
    expect(kept.map((id) => first.get(id)!.PowershellFileName).sort()).toEqual(['script13.ps1', 'script14.ps1']);
    for (const id of kept) {
      const before = first.get(id)!;
      const after = third.get(id)!;
      expect([after.VirtualMachineName, after.StartTime]).toEqual([before.VirtualMachineName, before.StartTime]);
      expect(after.Prevalence).toBeLessThan(before.Prevalence);
    }
    // Nothing of the larger day takes a FindingId of another finding of the first run.
    for (const [id, r] of third) {
      if (first.has(id)) expect(r.PowershellFileName).toBe(first.get(id)!.PowershellFileName);
    }
  });

  it('where the legacy id (the 14 columns) moved with the day', () => {
    const legacy = (day: FixtureTables) =>
      new Set(
        detect(day).map(
          (f) => toOutgoingFinding(f.finding, { ...CONTEXT, rule: RULE, identity: f.identity }).legacyFindingId,
        ),
      );
    const before = legacy(plain);
    const after = new Set([...legacy(moreCommands), ...legacy(lateRows)]);
    const script3Legacy = [...before].filter((id) => !after.has(id));
    expect(script3Legacy.length).toBeGreaterThanOrEqual(1);
  });
});
