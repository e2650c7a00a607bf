/**
 * Both example days reproduce their expected.ndjson exactly (as multisets; Prevalence
 * compared exactly), through coerceRow and the streaming ParityDetection.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  coerceRow,
  detectParity,
  ParityDetection,
  TABLE_NAMES,
  type RunCommandFinding,
  type RuleTableName,
  type TableName,
} from '../../../src/detection';

import { referenceQuery } from '../../reference/parityReference';

const EXAMPLES = join(__dirname, '../../fixtures/examples');

function readNdjson(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function canonical(finding: RunCommandFinding | Record<string, unknown>): string {
  return JSON.stringify(finding);
}

function sortedCanon(findings: Array<RunCommandFinding | Record<string, unknown>>): string[] {
  return findings.map(canonical).sort();
}

describe.each(['plain-day', 'tricky-day'])('example %s', (day) => {
  const dir = join(EXAMPLES, day);
  const problems: unknown[] = [];
  const rows = Object.fromEntries(
    TABLE_NAMES.map((table) => [
      table,
      readNdjson(join(dir, `${table}.ndjson`)).map((raw) => {
        const coerced = coerceRow(table, raw);
        problems.push(...coerced.problems);
        return coerced.row;
      }),
    ]),
  ) as { [T in RuleTableName]: ReturnType<typeof coerceRow<T>>['row'][] };
  const expected = readNdjson(join(dir, 'expected.ndjson'));

  it('coerces every input row without a cell problem', () => {
    expect(problems).toEqual([]);
  });

  it('reproduces expected.ndjson exactly (multiset, same column order)', () => {
    const findings = detectParity(rows);
    expect(sortedCanon(findings)).toEqual(sortedCanon(expected));
    // key order of every finding is the rule's final project
    for (const f of findings) expect(Object.keys(f)).toEqual(Object.keys(expected[0]));
  });

  it('the reference transcription (test/reference) reproduces it too', () => {
    const { findings } = referenceQuery(rows.AzureActivity, rows.DeviceFileEvents, rows.DeviceEvents);
    expect(sortedCanon(findings)).toEqual(sortedCanon(expected));
  });

  it('streams: the same findings whatever the order tables and rows are added in', () => {
    const detection = new ParityDetection();
    const all: Array<[TableName, unknown]> = [];
    for (const table of TABLE_NAMES) for (const row of rows[table]) all.push([table, row]);
    all.reverse();
    for (const [table, row] of all) detection.add(table, row as never);
    const { findings, stages } = detection.finish();
    expect(sortedCanon(findings)).toEqual(sortedCanon(expected));
    expect(stages.rowsRead).toEqual({
      AzureActivity: rows.AzureActivity.length,
      DeviceFileEvents: rows.DeviceFileEvents.length,
      DeviceEvents: rows.DeviceEvents.length,
    });
    expect(stages.findings).toBe(expected.length);
    // each stage only narrows its input
    expect(stages.runCommandActivityRows).toBeLessThanOrEqual(rows.AzureActivity.length);
    expect(stages.runCommandOperations).toBeLessThanOrEqual(stages.runCommandActivityRows);
    expect(stages.succeededOperations).toBeLessThanOrEqual(stages.runCommandOperations);
    expect(stages.findings).toBeLessThanOrEqual(stages.runCommandData);
    // Prevalence is 100 / totals for each finding (trap 6)
    for (const f of findings) expect(f.Prevalence).toBe((1 / stages.runCommandData) * 100);
  });
});
