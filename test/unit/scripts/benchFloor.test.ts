/**
 * The bench's floors (scripts/bench/floor.ts) claim to read every byte once, in two
 * halves, and `scan` to run the pre-filter's kernel over all of them: checked here on
 * small files, so that a floor figure in the bench stands for what it says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { halves, readPart } from '../../../scripts/bench/floor';

describe('bench floors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rcd-floor-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function files(sizes: number[]): string[] {
    return sizes.map((size, i) => {
      const file = join(dir, `f${i}-${sizes.join('_')}.ndjson`);
      writeFileSync(file, 'x'.repeat(size));
      return file;
    });
  }

  it.each([[[10]], [[1, 1]], [[7, 0, 9]], [[0, 0, 1]], [[100, 3, 250]], [[5, 5, 5, 5]]])(
    'halves of files of %j bytes cover every byte once, half and half',
    (sizes: number[]) => {
      const fs = files(sizes);
      const [first, second] = halves(fs);
      const total = sizes.reduce((a, b) => a + b, 0);
      const covered = new Map<string, number[]>();
      for (const [file, from, to] of [...first, ...second]) {
        const counts = covered.get(file) ?? new Array<number>(sizes[fs.indexOf(file)]).fill(0);
        for (let b = from; b < to; b++) counts[b]++;
        covered.set(file, counts);
      }
      fs.forEach((file, i) => {
        if (sizes[i] > 0) expect(covered.get(file)).toEqual(new Array<number>(sizes[i]).fill(1));
      });
      const bytes = (ranges: typeof first) => ranges.reduce((n, [, from, to]) => n + (to - from), 0);
      expect(bytes(first)).toBe(Math.floor(total / 2));
      expect(bytes(second)).toBe(total - Math.floor(total / 2));
    },
  );

  it('read and scan see every byte; scan reports the anchors of the table named by the file', () => {
    const dir2 = mkdtempSync(join(dir, 'tables-'));
    // 3 x "runcommand" in AzureActivity (its anchor: the `mm`, any case), none elsewhere;
    // at the start (the halves cut the file in its middle), in a long file so that several of the scan's chunks are read.
    const line = '{"OperationNameValue":"Microsoft.Compute/virtualMachines/xx/action"}\n';
    const body = 'runcommand RUNCOMMAND RunCommand\n' + line.repeat(40_000);
    const aa = join(dir2, 'AzureActivity.ndjson');
    writeFileSync(aa, body);
    const de = join(dir2, 'DeviceEvents.ndjson');
    writeFileSync(de, 'runcommand'.repeat(5));
    const [first, second] = halves([aa, de]);
    const size = Buffer.byteLength(body) + 50;
    for (const kind of ['read', 'scan'] as const) {
      const a = readPart({ kind, ranges: first });
      const b = readPart({ kind, ranges: second });
      expect(a.bytes + b.bytes).toBe(size);
      // DeviceEvents' anchor is `t` and a digit: "runcommand" has none.
      expect(a.candidates + b.candidates).toBe(kind === 'scan' ? 3 : 0);
    }
  });
});
