/**
 * The health records the job writes (src/job/healthRecords.ts) against the alert rules
 * that count them (infra/bicep/alerts/*.kql, deployed by modules/health-alerts.bicep):
 * the rows toHealthRecords makes of a failed window, a skipped day and a source gap each
 * fire their alert, and a healthy run fires none. The queries run with the small
 * evaluator of test/unit/infra/kqlSubset.ts (the forms the rules use, nothing more); the
 * rows have exactly the columns of infra/health-table.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Row } from '../infra/kqlSubset';
import { run } from '../infra/kqlSubset';
import { toHealthRecords, type HealthRecord } from '../../../src/job/healthRecords';
import type { JobRunResult, WindowSummary } from '../../../src/job/runDetectionJob';

const REPO = join(__dirname, '..', '..', '..');
const TABLE = JSON.parse(readFileSync(join(REPO, 'infra', 'health-table.json'), 'utf8')) as {
  tableName: string;
  columns: Array<{ name: string }>;
};
const alert = (name: string) => readFileSync(join(REPO, 'infra', 'bicep', 'alerts', `${name}.kql`), 'utf8');

const day = (d: string) => `${d}T00:00:00.0000000Z`;
const WINDOW = { start: day('2026-11-25'), end: day('2026-11-26') };
const NOW = new Date('2026-11-26T00:20:00Z');
const CONTEXT = {
  runId: 'run-1',
  timeGenerated: '2026-11-26T00:16:00.0000000Z',
  version: '0.1.0',
  mode: 'parity' as const,
};

const summary: WindowSummary = {
  window: WINDOW,
  pass: 'main',
  rows: { AzureActivity: 10, DeviceFileEvents: 3, DeviceEvents: 40 },
  tableRows: { AzureActivity: 900, DeviceFileEvents: 300, DeviceEvents: 4000 },
  quarantined: 0,
  slices: { AzureActivity: 4, DeviceFileEvents: 4, DeviceEvents: 4 },
  findings: 2,
  allowlisted: 0,
  written: 2,
  alreadySent: 0,
  spooled: 0,
  enrichment: { ok: 2 },
  durationsMs: { pull: 1, detect: 1, enrich: 1, write: 1, baseline: 0, checkpoint: 1 },
};
const base = { processed: [], settled: [], skipped: null, spool: { sent: 0, remaining: 0 }, events: [] };

/** The records as they arrive in the table: ingested a minute after they were made. */
function arrived(result: JobRunResult): Row[] {
  return toHealthRecords(result, CONTEXT).map((r) => ({ ...r, _ingested: '2026-11-26T00:17:00Z' }) as Row);
}
const fires = (name: string, rows: Row[], now = NOW) => run(alert(name), { [TABLE.tableName]: rows }, now);

describe('health records against their alert rules', () => {
  it('have exactly the columns of the health table, in its order', () => {
    const records = toHealthRecords({ ...base, processed: [summary], outcome: 'completed' }, CONTEXT);
    for (const r of records) expect(Object.keys(r)).toEqual(TABLE.columns.map((c) => c.name));
  });

  it('a healthy run fires nothing; its window record carries the rows counted and kept', () => {
    const rows = arrived({ ...base, processed: [summary], outcome: 'completed' });
    for (const name of ['window-failed-or-skipped', 'source-gap', 'spool-stale', 'no-processed-window'])
      expect([name, fires(name, rows)]).toEqual([name, []]);
    const window = rows.find((r) => r.RecordKind === 'window') as unknown as HealthRecord;
    expect(window).toMatchObject({ Outcome: 'processed', RowsAll: summary.tableRows, RowsKept: summary.rows });
  });

  it('a failed window fires the failed-or-skipped alert (window, run and event rows)', () => {
    const failed: JobRunResult = {
      ...base,
      outcome: 'failed',
      window: WINDOW,
      phase: 'pull',
      error: new Error('HTTP 403'),
      events: [
        { kind: 'window-failed', severity: 'failure', message: 'failed while pulling', window: WINDOW, phase: 'pull' },
      ],
    };
    const hits = fires('window-failed-or-skipped', arrived(failed));
    expect(hits.map((h) => [h.RecordKind, h.Outcome]).sort()).toEqual(
      [
        ['event', 'window-failed'],
        ['run', 'failed'],
        ['window', 'failed'],
      ].sort(),
    );
    // And a day later with nothing processed since, the no-processed-window alert.
    expect(fires('no-processed-window', arrived(failed), new Date('2026-11-27T03:00:00Z'))).toHaveLength(1);
  });

  it('skipped days fire the failed-or-skipped alert', () => {
    const skipped = { start: day('2026-11-01'), end: day('2026-11-10'), days: 9 };
    const result: JobRunResult = {
      ...base,
      processed: [summary],
      skipped,
      outcome: 'completed',
      events: [{ kind: 'skipped-days', severity: 'failure', message: 'Skipping 9 day window(s)', window: skipped }],
    };
    const hits = fires('window-failed-or-skipped', arrived(result));
    expect(
      hits.some((h) => h.RecordKind === 'window' && h.Outcome === 'skipped' && h.WindowStart === skipped.start),
    ).toBe(true);
    expect(hits.some((h) => h.EventKind === 'skipped-days')).toBe(true);
  });

  it('a source gap fires the source-gap alert naming the table', () => {
    const result: JobRunResult = {
      ...base,
      processed: [{ ...summary, tableRows: { ...summary.tableRows, DeviceEvents: 0 } }],
      outcome: 'completed',
      events: [
        {
          kind: 'source-gap',
          severity: 'failure',
          message: 'DeviceEvents has no rows',
          window: WINDOW,
          table: 'DeviceEvents',
        },
      ],
    };
    expect(fires('source-gap', arrived(result))).toEqual([expect.objectContaining({ TableName: 'DeviceEvents' })]);
    expect(fires('window-failed-or-skipped', arrived(result))).toEqual([
      expect.objectContaining({ RecordKind: 'run', Outcome: 'failed' }),
    ]);
  });

  it('a stale spool fires the spool-stale alert', () => {
    const result: JobRunResult = {
      ...base,
      outcome: 'completed',
      events: [{ kind: 'spool-stale', severity: 'failure', message: '3 findings spooled for 3 days' }],
    };
    expect(fires('spool-stale', arrived(result))).toHaveLength(1);
  });
});
