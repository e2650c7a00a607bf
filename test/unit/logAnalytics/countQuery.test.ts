import { TABLE_NAMES } from '../../../src/detection/schema';
import { buildCountQuery, buildKeptCountQuery, buildTableQuery } from '../../../src/logAnalytics/queries';
import { kqlDiagnostics, kqlResultColumns, LOG_ANALYTICS_TABLES } from '../../support/kusto';

const DAY = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };

describe('the source-health count query', () => {
  it.each(TABLE_NAMES)('%s: passes the Kusto language service and returns one long column, Count', (table) => {
    const query = buildCountQuery(table, DAY);
    expect(kqlDiagnostics(query, LOG_ANALYTICS_TABLES).filter((d) => d.severity === 'Error')).toEqual([]);
    expect(kqlResultColumns(query, LOG_ANALYTICS_TABLES)).toEqual([['Count', 'long']]);
  });

  it("counts every row of the window: the rule's filters are not in it", () => {
    const query = buildCountQuery('DeviceEvents', DAY);
    expect(query).toBe(
      'DeviceEvents\n' +
        '| where TimeGenerated >= datetime(2026-11-25T00:00:00.0000000Z) and TimeGenerated < datetime(2026-11-26T00:00:00.0000000Z)\n' +
        '| count',
    );
  });
});

describe('the push-down count the source sizes its slices from', () => {
  it.each(TABLE_NAMES.flatMap((t) => [[t, 'parity'] as const, [t, 'corrected'] as const]))(
    '%s (%s): passes the Kusto language service, the push-down filters then | count',
    (table, mode) => {
      const query = buildKeptCountQuery(table, DAY, mode);
      expect(kqlDiagnostics(query, LOG_ANALYTICS_TABLES).filter((d) => d.severity === 'Error')).toEqual([]);
      expect(kqlResultColumns(query, LOG_ANALYTICS_TABLES)).toEqual([['Count', 'long']]);
      const pull = buildTableQuery(table, DAY, mode).split('\n');
      expect(query).toBe([...pull.slice(0, -1), '| count'].join('\n'));
    },
  );
});
