/**
 * Each table's columns are declared once, in RULE_COLUMNS (src/detection/schema.ts);
 * everything that names a column the rule reads is derived from it. Adding a column is
 * that one edit: this test reads the column table and checks each place that follows
 * from it, so a second list anywhere would show up here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coerceRow, RULE_COLUMNS, TABLE_NAMES } from '../../../src/detection';
import { isOptionalColumn, requiredColumnNames } from '../../../src/detection/schema';
import { readTableFile, tableShapeProblem } from '../../../src/io/tableFiles';
import { buildTableQuery, projectList } from '../../../src/logAnalytics/queries';
import { rawRowsOf } from '../../../src/logAnalytics/rows';

const window = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };

describe('the column table', () => {
  it.each(TABLE_NAMES)('%s: the typed row has exactly the declared columns, in order', (table) => {
    const names = RULE_COLUMNS[table].map(([name]) => name);
    expect(Object.keys(coerceRow(table, {}).row)).toEqual(names);
    // Each column is typed by its declared type: the empty value of a missing cell.
    const empty = coerceRow(table, {}).row as Record<string, unknown>;
    for (const [name, type] of RULE_COLUMNS[table]) {
      expect(empty[name]).toEqual(type === 'string' ? '' : null);
    }
  });

  it.each(TABLE_NAMES)('%s: the push-down query projects exactly the declared columns', (table) => {
    const projected = projectList(table)
      .split(', ')
      .map((p) => p.split('=')[0]);
    expect(projected).toEqual(RULE_COLUMNS[table].map(([name]) => name));
    expect(buildTableQuery(table, window)).toContain(`| project ${projectList(table)}`);
  });

  it.each(TABLE_NAMES)('%s: a query answer must carry every declared column', (table) => {
    const columns = RULE_COLUMNS[table].map(([name, type]) => ({ name, type: type === 'long' ? 'long' : 'string' }));
    const answer = { name: 'PrimaryResult', columnDescriptors: columns, rows: [columns.map(() => null)] };
    expect(rawRowsOf(table, answer as never)).toHaveLength(1);
    const [, ...withoutFirst] = columns;
    expect(() => rawRowsOf(table, { ...answer, columnDescriptors: withoutFirst } as never)).toThrow(
      new RegExp(`no column '${RULE_COLUMNS[table][0][0]}'`),
    );
  });
});

describe('optional columns (not read by the rule: DeviceFileEvents SHA256 and FolderPath)', () => {
  let tmp: string;
  beforeAll(() => (tmp = mkdtempSync(join(tmpdir(), 'rcd-optional-'))));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('are declared on DeviceFileEvents only, and are not required', () => {
    const optional = TABLE_NAMES.flatMap((t) =>
      RULE_COLUMNS[t].filter((c) => isOptionalColumn(c)).map(([n]) => `${t}.${n}`),
    );
    expect(optional).toEqual(['DeviceFileEvents.SHA256', 'DeviceFileEvents.FolderPath']);
    expect(requiredColumnNames('DeviceFileEvents')).not.toContain('SHA256');
    expect(requiredColumnNames('DeviceFileEvents')).toContain('FileSize');
  });

  it('a query answer without them is read, their cells empty', () => {
    const columns = requiredColumnNames('DeviceFileEvents').map((name) => ({ name, type: 'string' }));
    const answer = { name: 'PrimaryResult', columnDescriptors: columns, rows: [columns.map(() => null)] };
    const [raw] = rawRowsOf('DeviceFileEvents', answer as never);
    expect(coerceRow('DeviceFileEvents', raw!).row).toMatchObject({ SHA256: '', FolderPath: '' });
  });

  it('a file without them is read; a file without a column the rule reads is still refused, without naming them', () => {
    const row = {
      TimeGenerated: '2026-11-25T01:00:00Z',
      DeviceName: 'web01',
      InitiatingProcessFileName: 'RunCommandExtension.exe',
      FileName: 'script1.ps1',
      FileSize: 10,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: 'c:\\x.exe',
      InitiatingProcessId: 1,
    };
    const check = (raw: Record<string, unknown>) => {
      const path = join(tmp, `f${Math.random().toString(36).slice(2)}.ndjson`);
      writeFileSync(path, JSON.stringify(raw) + '\n');
      const file = { table: 'DeviceFileEvents' as const, path, format: 'ndjson' as const };
      const rows: unknown[] = [];
      const stats = readTableFile(file, (r) => rows.push(r), { prefilter: false });
      return { rows, problem: tableShapeProblem(file, stats, true) };
    };
    const without = check(row);
    expect(without.problem).toBeUndefined();
    expect(without.rows).toHaveLength(1);
    const { FileSize: _dropped, ...noSize } = row;
    expect(check(noSize).problem?.missing).toEqual(['FileSize']);
    const withHash = check({ ...row, SHA256: 'cd'.repeat(32), FolderPath: 'C:\\P\\script1.ps1' });
    expect(withHash.rows[0]).toMatchObject({ SHA256: 'cd'.repeat(32), FolderPath: 'C:\\P\\script1.ps1' });
  });
});
