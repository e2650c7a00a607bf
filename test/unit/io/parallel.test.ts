import { join } from 'node:path';
import { TABLE_NAMES, type TableName } from '../../../src/detection/schema';
import { InputError } from '../../../src/io/errors';
import { readTableDirectoryInParallel } from '../../../src/io/parallel';
import { readTableDirectory } from '../../../src/io/tableFiles';

const FIXTURES = join(__dirname, '../../fixtures');

function collector() {
  const rows: Record<TableName, unknown[]> = { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] };
  return { rows, add: (table: TableName, row: unknown) => void rows[table].push(row) };
}

describe('reading with a worker thread', () => {
  for (const offload of TABLE_NAMES) {
    it(`hands on the same rows, per table in file order, with ${offload} in the worker`, async () => {
      const dir = join(FIXTURES, 'examples', 'tricky-day');
      const sequential = collector();
      const sequentialStats = readTableDirectory(dir, sequential);
      const parallel = collector();
      const parallelStats = await readTableDirectoryInParallel(dir, parallel, { offload });
      expect(parallel.rows).toEqual(sequential.rows);
      expect(parallelStats).toEqual(sequentialStats);
      expect(parallel.rows[offload].length).toBeGreaterThan(0);
    });
  }

  it("raises the worker's input error as the same InputError, file and line", async () => {
    const dir = join(FIXTURES, 'bad-input', 'invalid-json');
    let caught: unknown;
    try {
      await readTableDirectoryInParallel(dir, collector(), { offload: 'DeviceEvents' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).file).toBe(join(dir, 'DeviceEvents.ndjson'));
    expect((caught as InputError).line).toBe(2);
  });

  it("passes on an error of the consumer for the worker's rows", async () => {
    const dir = join(FIXTURES, 'examples', 'plain-day');
    const consumer = {
      add(table: TableName) {
        if (table === 'DeviceEvents') throw new Error('consumer refused');
      },
    };
    await expect(readTableDirectoryInParallel(dir, consumer, { offload: 'DeviceEvents' })).rejects.toThrow(
      'consumer refused',
    );
  });
});
