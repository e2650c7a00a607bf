/**
 * `TableReadStats.ruleColumnsSeen` and the shape check built on it: once a file's rows
 * have shown every column the rule reads of its table, the reader stops looking at the
 * columns of later rows; before that it records every rule column it sees, so that a
 * file lacking one of its table's columns is still told which table it looks like.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requiredColumnNames } from '../../../src/detection/schema';
import { readTableFile, tableShapeProblem, type TableFile } from '../../../src/io/tableFiles';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rcd-columns-seen-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const deviceEvent = (i: number, extra: Record<string, unknown> = {}) => ({
  TimeGenerated: `2026-11-25T10:00:0${i}.0000000Z`,
  DeviceName: 'vm1',
  InitiatingProcessCommandLine: `powershell -File script${i}.ps1`,
  AdditionalFields: { Command: `Cmd-${i}` },
  ...extra,
});

function write(name: string, rows: object[]): TableFile<'DeviceEvents'> {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { table: 'DeviceEvents', path, format: 'ndjson' };
}

const read = (file: TableFile<'DeviceEvents'>) => readTableFile(file, () => undefined, { prefilter: false });

describe("the columns a table file's rows show", () => {
  it("are the table's own once its rows have shown them all, whatever later rows hold", () => {
    // FileName (DeviceFileEvents) first appears after every DeviceEvents column has.
    const file = write('DeviceEvents.ndjson', [deviceEvent(1), deviceEvent(2, { FileName: 'x.ps1' })]);
    const stats = read(file);
    expect(stats.ruleColumnsSeen).toEqual(requiredColumnNames('DeviceEvents'));
    expect(tableShapeProblem(file, stats, false)).toBeUndefined();
  });

  it('count a column that only a later row has', () => {
    const { DeviceName: _, ...withoutDevice } = deviceEvent(1);
    const file = write('DeviceEvents.ndjson', [withoutDevice, withoutDevice, deviceEvent(2)]);
    const stats = read(file);
    expect(stats.ruleColumnsSeen).toEqual(requiredColumnNames('DeviceEvents'));
    expect(tableShapeProblem(file, stats, false)).toBeUndefined();
  });

  it("include every rule column seen when one of the table's own never appears", () => {
    // DeviceFileEvents rows under DeviceEvents' name: no InitiatingProcessCommandLine, no AdditionalFields.
    const fileEvent = {
      TimeGenerated: '2026-11-25T10:00:01.0000000Z',
      DeviceName: 'vm1',
      InitiatingProcessFileName: 'RunCommandExtension.exe',
      FileName: 'script1.ps1',
      FileSize: 10,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: 'c:\\packages',
    };
    // InitiatingProcessId appears in the second row only: still counted.
    const file = write('DeviceEvents.ndjson', [fileEvent, { ...fileEvent, InitiatingProcessId: 7 }]);
    const stats = read(file);
    expect(stats.ruleColumnsSeen).toEqual(expect.arrayContaining(requiredColumnNames('DeviceFileEvents')));
    expect(tableShapeProblem(file, stats, false)).toMatchObject({
      table: 'DeviceEvents',
      missing: ['InitiatingProcessCommandLine', 'AdditionalFields'],
      looksLike: 'DeviceFileEvents',
    });
  });
});
