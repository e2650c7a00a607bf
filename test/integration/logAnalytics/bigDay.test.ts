/**
 * A generated tenant day (scripts/generator), served by the stand-in with responses
 * capped at 1,000 rows: `run` still finds exactly what `detect` finds over the same
 * rows, and the push-down transfers no more than the rows the rule's per-table
 * branches keep (target ≤ 1.1x) — against a naive whole-table pull of the same day.
 * The figures are printed for the README and the report.
 */
import { LogsQueryClient, LogsQueryResultStatus } from '@azure/monitor-query-logs';
import { detectParity, ParityDetection, coerceRow } from '../../../src/detection';
import { TABLE_NAMES, type RuleTableName } from '../../../src/detection/schema';
import { buildWholeTableQuery } from '../../../src/logAnalytics/queries';
import { splitWindow, timespanCovering } from '../../../src/logAnalytics/slices';
import { LogAnalyticsSource } from '../../../src/logAnalytics/source';
import { generateDayRows } from '../../../scripts/generator';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, type FixtureTables } from '../../support/logAnalyticsStandIn';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const DAY = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };

describe('a generated day with responses capped at 1,000 rows', () => {
  let standIn: LogAnalyticsStandIn;
  let tables: FixtureTables;

  beforeAll(async () => {
    const [day] = generateDayRows({ seed: 20261125, operations: 600 });
    tables = {
      AzureActivity: day!.AzureActivity,
      DeviceFileEvents: day!.DeviceFileEvents,
      DeviceEvents: day!.DeviceEvents,
    } as unknown as FixtureTables;
    standIn = await LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables });
  });
  afterAll(() => standIn.stop());

  it('finds what detect finds, and transfers only the rows the rule keeps', async () => {
    standIn.rowCap = 1000;
    const source = new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential: new FakeCredential(),
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      initialSlicesPerTable: 1,
    });
    const pulled = await source.pullWindow(DAY);

    // The engine over every generated row (what detect does with the files).
    const typed = Object.fromEntries(
      TABLE_NAMES.map((t) => [t, (tables[t] as Record<string, unknown>[]).map((r) => coerceRow(t, r).row)]),
    ) as unknown as Parameters<typeof detectParity>[0];
    const expected = detectParity(typed);
    expect(expected.length).toBeGreaterThan(0);
    expect(detectParity(pulled.tables)).toEqual(expected);

    const kept = (t: RuleTableName) => (typed[t] as never[]).filter((r) => ParityDetection.isRelevant(t, r)).length;
    const figures: string[] = [];
    let pushedRows = 0;
    let keptRows = 0;
    for (const t of TABLE_NAMES) {
      const s = pulled.stats[t];
      expect(s.rows).toBe(kept(t));
      pushedRows += s.rows;
      keptRows += kept(t);
      figures.push(
        `${t}: ${tables[t].length} rows in the day, ${kept(t)} kept by the rule's branch, ${s.rows} transferred ` +
          `(${s.bytes} bytes, ${s.slices} slices, ${s.queries} queries, ${s.halvings} halvings)`,
      );
    }
    expect(pushedRows / keptRows).toBeLessThanOrEqual(1.1);
    for (const r of standIn.requests.filter((x) => x.outcome === 'rows')) expect(r.rows).toBeLessThanOrEqual(1000);

    // The same push-down without the cap: the bytes of the rows themselves, no discarded answers.
    standIn.rowCap = undefined;
    const uncapped = await source.pullWindow(DAY);
    const uncappedBytes = TABLE_NAMES.reduce((n, t) => n + uncapped.stats[t].bytes, 0);
    expect(detectParity(uncapped.tables)).toEqual(expected);

    // The naive alternative: every row and column of the three tables, same cap, same slicing.
    standIn.rowCap = undefined;
    const client = new LogsQueryClient(new FakeCredential(), {
      endpoint: standIn.endpoint,
      tlsOptions: { ca: standIn.ca },
    });

    let naiveRows = 0;
    let pushedBytes = 0;
    for (const t of TABLE_NAMES) {
      pushedBytes += pulled.stats[t].bytes;
      for (const slice of splitWindow(DAY, 24)) {
        const res = await client.queryWorkspace(WORKSPACE, buildWholeTableQuery(t, slice), timespanCovering(slice));
        expect(res.status).toBe(LogsQueryResultStatus.Success);
        if (res.status === LogsQueryResultStatus.Success) naiveRows += res.tables[0]!.rows.length;
      }
    }
    const naiveBytes = standIn.requests
      .filter((r) => r.status === 200 && !r.query.includes('| project'))
      .reduce((n, r) => n + (r.bytes ?? 0), 0);
    figures.push(
      `push-down: ${pushedRows} rows / ${pushedBytes} bytes (${uncappedBytes} bytes uncapped); rule keeps ${keptRows} rows (ratio ${(pushedRows / keptRows).toFixed(3)}); ` +
        `naive whole-table pull: ${naiveRows} rows / ${naiveBytes} bytes`,
    );
    expect(naiveRows).toBe(TABLE_NAMES.reduce((n, t) => n + tables[t].length, 0));
    process.stdout.write(figures.join('\n') + '\n');
  });
});
