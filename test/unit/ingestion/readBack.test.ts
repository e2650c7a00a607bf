/**
 * The read-back query: valid KQL against the findings table as infra/findings-table.json
 * declares it (checked by the Kusto language service, as every query we send), one
 * string column FindingId, and nothing but FindingIds spliced into it.
 */
import table from '../../../infra/findings-table.json';
import { readBackQuery, READ_BACK_BATCH } from '../../../src/ingestion';
import { kqlDiagnostics, kqlResultColumns, type KustoType, type TableSchemas } from '../../support/kusto';

const FINDINGS: TableSchemas = {
  [table.tableName]: table.columns.map((c) => [c.name, c.type as KustoType] as const),
};

describe('readBackQuery', () => {
  const ids = ['a'.repeat(64), 'b'.repeat(64), '0123456789abcdef'.repeat(4)];

  it('is valid KQL over RunCommandFindings_CL and returns the distinct FindingIds', () => {
    const query = readBackQuery(ids, '2026-11-25T00:00:00.0000000Z');
    expect(kqlDiagnostics(query, FINDINGS)).toEqual([]);
    expect(kqlResultColumns(query, FINDINGS)).toEqual([['FindingId', 'string']]);
    expect(query).toBe(
      [
        'RunCommandFindings_CL',
        '| where TimeGenerated >= datetime(2026-11-25T00:00:00.0000000Z)',
        `| where FindingId in ("${ids[0]}", "${ids[1]}", "${ids[2]}")`,
        '| distinct FindingId',
      ].join('\n'),
    );
  });

  it('stays valid for a full batch', () => {
    const many = Array.from({ length: READ_BACK_BATCH }, (_, i) => i.toString(16).padStart(64, '0'));
    expect(kqlDiagnostics(readBackQuery(many, '2026-11-25T00:00:00.0000000Z'), FINDINGS)).toEqual([]);
  });

  it('refuses anything but an id (nothing can be spliced into the query)', () => {
    expect(() => readBackQuery(['abc") | take 1 //'], '2026-11-25T00:00:00.0000000Z')).toThrow(RangeError);
  });
});
