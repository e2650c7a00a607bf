import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParityDetection } from '../../../src/detection';
import { TABLE_NAMES, type RuleTableName, type TableName } from '../../../src/detection/schema';
import { InputError } from '../../../src/io/errors';
import { readTableDirectoryInParallel, type ParallelReadOptions } from '../../../src/io/parallel';
import { locateTableFiles, readTableDirectory, type TableFile } from '../../../src/io/tableFiles';
import { readQueuedTables, tableQueueMemory } from '../../../src/io/tableQueue';

const FIXTURES = join(__dirname, '../../fixtures');

/** Both threads reading (the default), and the worker alone (every file read from the back of the queue). */
const SHARES: ReadonlyArray<[string, ParallelReadOptions]> = [
  ['both threads', {}],
  ['the worker alone', { mainThreadReads: false }],
];

describe('reading with a worker thread', () => {
  for (const day of ['tricky-day', 'plain-day']) {
    for (const [who, share] of SHARES) {
      it(`${day}: the same findings, stage counts and statistics with ${who} reading`, async () => {
        const dir = join(FIXTURES, 'examples', day);
        const sequential = new ParityDetection();
        const sequentialStats = readTableDirectory(dir, sequential);
        const parallel = new ParityDetection();
        const parallelStats = await readTableDirectoryInParallel(dir, parallel, share);
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
      await readTableDirectoryInParallel(dir, new ParityDetection(), { mainThreadReads: false });
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
      for (const [, share] of SHARES) {
        await expect(readTableDirectoryInParallel(dir, new ParityDetection(), share)).rejects.toEqual(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the two-ended queue of table files', () => {
  const NO_PREFILTER = { prefilter: false };
  /** The rule's three files of `dir`, in its order. */
  const filesOf = (dir: string): TableFile<RuleTableName>[] => {
    const located = locateTableFiles(dir);
    return TABLE_NAMES.map((table) => located[table]);
  };

  /**
   * The front reads until its first row of AzureActivity, then the back reads everything
   * it can take, then the front goes on: what a slow main thread and a fast worker do.
   * (Without the pre-filter: its scanner's memory is one per thread, and here both ends
   * run in this one.)
   */
  function interleaved(dir: string) {
    const files = filesOf(dir);
    const memory = tableQueueMemory();
    const tablesOf = { front: [] as string[], back: [] as string[] };
    let back: ReturnType<typeof readQueuedTables> | undefined;
    const front = readQueuedTables(
      files,
      memory,
      'front',
      (table) => {
        if (!tablesOf.front.includes(table)) tablesOf.front.push(table);
        back ??= readQueuedTables(
          files,
          memory,
          'back',
          (t) => void (tablesOf.back.includes(t) || tablesOf.back.push(t)),
          NO_PREFILTER,
        );
      },
      NO_PREFILTER,
    );
    return { front, back: back!, tablesOf };
  }

  it('hands each file out once: the front from AzureActivity on, the back from DeviceEvents back', () => {
    const { front, back, tablesOf } = interleaved(join(FIXTURES, 'examples', 'tricky-day'));
    expect(tablesOf).toEqual({ front: ['AzureActivity'], back: ['DeviceEvents', 'DeviceFileEvents'] });
    expect(front.stats.map((s) => s.file)).toEqual([0]);
    expect(back.stats.map((s) => s.file)).toEqual([2, 1]);
    expect([...front.stats, ...back.stats].map((s) => s.stats).sort((a, b) => a.table.localeCompare(b.table))).toEqual(
      readTableDirectory(join(FIXTURES, 'examples', 'tricky-day'), { add: () => undefined }, NO_PREFILTER).sort(
        (a, b) => a.table.localeCompare(b.table),
      ),
    );
  });

  it("keeps the back's earliest error: it reads on after one, its files in descending order", () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-queue-'));
    try {
      for (const table of TABLE_NAMES) {
        const file = `${table}.ndjson`;
        const text = readFileSync(join(FIXTURES, 'examples', 'tricky-day', file), 'utf8');
        writeFileSync(join(dir, file), table === 'AzureActivity' ? text : '{"TimeGenerated": oops}\n' + text);
      }
      const { front, back } = interleaved(dir);
      expect(front.error).toBeUndefined();
      expect(back.stats).toEqual([]);
      expect(back.error?.file).toBe(1);
      expect(back.error?.error.file).toBe(join(dir, 'DeviceFileEvents.ndjson'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops the back once the front has met an error', () => {
    const files = filesOf(join(FIXTURES, 'bad-input', 'invalid-json'));
    const memory = tableQueueMemory();
    // The front reads everything (no back yet) and stops at DeviceEvents' bad line.
    const front = readQueuedTables(files, memory, 'front', () => undefined, {});
    expect(front.error?.file).toBe(2);
    // A back that starts now takes nothing.
    const stopped = tableQueueMemory();
    new Int32Array(stopped)[1] = 1;
    expect(readQueuedTables(files, stopped, 'back', () => undefined, {})).toEqual({ stats: [] });
  });
});
