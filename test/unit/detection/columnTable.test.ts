/**
 * Each table's columns are declared once, in RULE_COLUMNS (src/detection/schema.ts);
 * everything that names a column the rule reads is derived from it. Adding a column is
 * that one edit: this test reads the column table and checks each place that follows
 * from it, so a second list anywhere would show up here.
 */
import { coerceRow, RULE_COLUMNS, TABLE_NAMES } from '../../../src/detection';
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
