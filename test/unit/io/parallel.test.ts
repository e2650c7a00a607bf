import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParityDetection } from '../../../src/detection';
import { TABLE_NAMES, type TableName } from '../../../src/detection/schema';
import { InputError } from '../../../src/io/errors';
import { readTableDirectoryInParallel } from '../../../src/io/parallel';
import { readTableDirectory } from '../../../src/io/tableFiles';

const FIXTURES = join(__dirname, '../../fixtures');

const OFFLOADS: ReadonlyArray<readonly TableName[]> = [
  ...TABLE_NAMES.map((table) => [table]),
  ['DeviceFileEvents', 'DeviceEvents'],
  TABLE_NAMES,
];

describe('reading with a worker thread', () => {
  for (const day of ['tricky-day', 'plain-day']) {
    for (const offload of OFFLOADS) {
      it(`${day}: the same findings, stage counts and statistics with ${offload.join(' + ')} in the worker`, async () => {
        const dir = join(FIXTURES, 'examples', day);
        const sequential = new ParityDetection();
        const sequentialStats = readTableDirectory(dir, sequential);
        const parallel = new ParityDetection();
        const parallelStats = await readTableDirectoryInParallel(dir, parallel, { offload });
        expect(parallelStats).toEqual(sequentialStats);
        const expected = sequential.finish();
        expect(expected.findings.length).toBeGreaterThan(0);
        expect(parallel.finish()).toEqual(expected);
      });
    }
  }

  it('merging a branch into a detection that has rows of the same table is the same as adding them all', () => {
    // Split each table's rows between two detections, merge, and compare with one detection.
    const dir = join(FIXTURES, 'examples', 'tricky-day');
    const rows: Array<[TableName, never]> = [];
    readTableDirectory(dir, { add: (table, row) => void rows.push([table, row as never]) });
    const whole = new ParityDetection();
    const left = new ParityDetection();
    const right = new ParityDetection();
    rows.forEach(([table, row], i) => {
      whole.add(table, row);
      (i % 2 === 0 ? left : right).add(table, row);
    });
    for (const table of TABLE_NAMES) left.mergeBranch(structuredClone(right.exportBranch(table)));
    expect(left.finish()).toEqual(whole.finish());
  });

  it("raises the worker's input error as the same InputError, file and line", async () => {
    const dir = join(FIXTURES, 'bad-input', 'invalid-json');
    let caught: unknown;
    try {
      await readTableDirectoryInParallel(dir, new ParityDetection(), { offload: ['DeviceEvents'] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).file).toBe(join(dir, 'DeviceEvents.ndjson'));
    expect((caught as InputError).line).toBe(2);
  });

  it('reports the error the sequential reader meets first, whichever thread read the file', async () => {
    // Two bad files (a first line is always parsed): DeviceFileEvents, read before DeviceEvents, and DeviceEvents.
    const dir = mkdtempSync(join(tmpdir(), 'rcd-parallel-'));
    for (const table of TABLE_NAMES) {
      const file = `${table}.ndjson`;
      const text = readFileSync(join(FIXTURES, 'examples', 'tricky-day', file), 'utf8');
      writeFileSync(join(dir, file), table === 'AzureActivity' ? text : '{"TimeGenerated": oops}\n' + text);
    }
    let expected: unknown;
    try {
      readTableDirectory(dir, new ParityDetection());
    } catch (err) {
      expected = err;
    }
    expect(expected).toBeInstanceOf(InputError);
    expect((expected as InputError).file).toBe(join(dir, 'DeviceFileEvents.ndjson'));
    try {
      for (const offload of OFFLOADS) {
        await expect(readTableDirectoryInParallel(dir, new ParityDetection(), { offload })).rejects.toEqual(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
