/**
 * The engine against the reference transcription on whole tenant days from the
 * project's seeded generator (scripts/generator), corners of the query included.
 */
import { generateDayRows } from '../../../scripts/generator';
import {
  coerceRow,
  detectParity,
  TABLE_NAMES,
  type RunCommandFinding,
  type TableName,
  type TableRows,
} from '../../../src/detection';
import { referenceQuery } from '../../reference/parityReference';

const multiset = (findings: RunCommandFinding[]) => findings.map((f) => JSON.stringify(f)).sort();

describe.each([1, 2, 3])('generated day, seed %i', (seed) => {
  it('engine and reference return the same findings', () => {
    const [day] = generateDayRows({ seed, operations: 150, noiseFactor: 2, tricky: true });
    const typed = {} as { [T in TableName]: TableRows[T][] };
    for (const table of TABLE_NAMES) {
      typed[table] = (day[table] as unknown as Record<string, unknown>[]).map((raw) => {
        const { row, problems } = coerceRow(table, raw);
        expect(problems).toEqual([]);
        return row;
      }) as never;
    }
    const engine = detectParity(typed);
    const reference = referenceQuery(typed.AzureActivity, typed.DeviceFileEvents, typed.DeviceEvents);
    expect(engine.length).toBeGreaterThan(0);
    expect(reference.totals).toBeGreaterThan(engine.length);
    expect(multiset(engine)).toEqual(multiset(reference.findings));
  });
});
