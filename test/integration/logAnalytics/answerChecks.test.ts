/**
 * What the source refuses from the query API (an answer that is not an answer to the
 * query it sent), the row budget per window, and the source-health count, against the
 * HTTPS stand-in with the real LogsQueryClient.
 */
import { join } from 'node:path';
import { TABLE_NAMES, type TableName } from '../../../src/detection/schema';
import { SliceFailedError } from '../../../src/logAnalytics/errors';
import { LogAnalyticsSource, WindowRowBudgetError } from '../../../src/logAnalytics/source';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, readFixtureDay } from '../../support/logAnalyticsStandIn';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const DAY = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };
const tables = readFixtureDay(join(__dirname, '../../fixtures/examples/plain-day'));

describe('answers the source refuses, the row budget, and the count', () => {
  let standIn: LogAnalyticsStandIn;
  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables });
  });
  afterAll(() => standIn.stop());
  afterEach(() => {
    standIn.extraTables = 0;
    standIn.transformAnswer = undefined;
    standIn.visible = undefined;
  });

  const source = (extra: Partial<ConstructorParameters<typeof LogAnalyticsSource>[0]> = {}) =>
    new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential: new FakeCredential(),
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 2 },
      ...extra,
    });
  const sink = { add: () => undefined };

  it('an answer with a second table fails the window', async () => {
    standIn.extraTables = 1;
    const pull = source().pullWindowInto(DAY, sink);
    await expect(pull).rejects.toBeInstanceOf(SliceFailedError);
    await expect(pull).rejects.toThrow(/holds 2 tables, not exactly one/);
  });

  it('an answer with a column named twice fails the window', async () => {
    standIn.transformAnswer = (answer) => {
      const t = answer.tables[0]!;
      t.columns.push({ ...t.columns[0]! });
      for (const r of t.rows) r.push(r[0]);
    };
    await expect(source().pullWindowInto(DAY, sink)).rejects.toThrow(/column 'TimeGenerated' more than once/);
  });

  it('a row outside the slice asked for fails the window', async () => {
    standIn.transformAnswer = (answer) => {
      const t = answer.tables[0]!;
      const i = t.columns.findIndex((c) => c.name === 'TimeGenerated');
      if (t.rows[0]) t.rows[0][i] = '2026-11-24T23:59:59.9999999Z';
    };
    await expect(source().pullWindowInto(DAY, sink)).rejects.toThrow(
      /TimeGenerated 2026-11-24T23:59:59.9999999Z, outside the slice/,
    );
  });

  it('sizes slices from a count of the push-down rows, so that no answer is large', async () => {
    standIn.requests.length = 0;
    const kept = { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 } as Record<TableName, number>;
    const stats = await source({ targetRowsPerSlice: 10 }).pullWindowInto(DAY, { add: (t) => void kept[t]++ });
    for (const t of TABLE_NAMES) {
      // About kept/10 slices of the day per table (4 at least), none halved.
      expect(stats[t].slices).toBe(Math.max(4, Math.ceil(kept[t] / 10)));
      expect(stats[t].halvings).toBe(0);
    }
    const counts = standIn.requests.filter((r) => r.kind === 'count');
    expect(counts.map((r) => r.table).sort()).toEqual([...TABLE_NAMES].sort());
    for (const r of counts) expect(r.query).toMatch(/\| where [\s\S]*\| count$/);
  });

  it('a window beyond WINDOW_ROW_BUDGET fails before the pull, from the push-down counts, naming the tables and counts', async () => {
    const kept = { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 } as Record<TableName, number>;
    let total = 0;
    await source().pullWindowInto(DAY, { add: () => void total++ });
    expect(total).toBeGreaterThan(3);
    const budget = total - 1;
    const pull = source({ windowRowBudget: budget, maxConcurrency: 1 }).pullWindowInto(DAY, {
      add: (table) => void kept[table]++,
    });
    const error = (await pull.catch((e: unknown) => e)) as WindowRowBudgetError;
    expect(error).toBeInstanceOf(WindowRowBudgetError);
    expect(error.when).toBe('counted before the pull');
    expect(error.rows).toBe(total);
    expect(TABLE_NAMES).toContain(error.table);
    expect(error.table).toBe(
      [...TABLE_NAMES].sort((a, b) => (error.rowsByTable[b] ?? 0) - (error.rowsByTable[a] ?? 0))[0],
    );
    expect(error.message).toMatch(new RegExp(`holds more than WINDOW_ROW_BUDGET=${budget} rows`));
    for (const t of TABLE_NAMES) expect(error.message).toContain(`${t} ${error.rowsByTable[t]}`);
    // Not a row reached the detector.
    expect(Object.values(kept).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('a window beyond WINDOW_ROW_BUDGET fails during the pull (no counts), before the rows over it reach the detector', async () => {
    const kept = { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 } as Record<TableName, number>;
    const budget = 3;
    const pull = source({ windowRowBudget: budget, maxConcurrency: 1, planSlicesByCount: false }).pullWindowInto(DAY, {
      add: (table) => void kept[table]++,
    });
    const error = (await pull.catch((e: unknown) => e)) as WindowRowBudgetError;
    expect(error).toBeInstanceOf(WindowRowBudgetError);
    expect(error.when).toBe('received so far');
    expect(error.rows).toBeGreaterThan(budget);
    expect(error.message).toMatch(/holds more than WINDOW_ROW_BUDGET=3 rows/);
    // All tables together: stopped before the rows over the budget reached the detector.
    expect(Object.values(kept).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(budget);
  });

  it("counts each table's rows in the window without the rule's filters, hidden rows not yet", async () => {
    standIn.requests.length = 0;
    const counts = await source().countWindow(DAY);
    for (const t of TABLE_NAMES) expect(counts[t]).toBe(tables[t].length);
    expect(standIn.requests.filter((r) => r.kind === 'count')).toHaveLength(3);
    standIn.visible = (table) => table !== 'DeviceEvents';
    expect(await source().countWindow(DAY)).toEqual({ ...counts, DeviceEvents: 0 });
  });
});
