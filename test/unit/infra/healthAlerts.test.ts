/**
 * The health alert rules of main.bicep (modules/health-alerts.bicep): each rule as
 * deployed (scope, schedule, window, criteria, action group), its KQL checked by the
 * Kusto language service against the health table and DCRLogErrors, and its query
 * RUN on recorded health rows (test/unit/infra/fixtures/health-rows.ndjson) with the
 * small evaluator of kqlSubset.ts, which reads exactly the forms the rules use and
 * refuses anything else. What this checks: the rules' filters and counts pick the
 * rows they are meant to, at a given time. What it does not: Azure Monitor's own
 * scheduling, and KQL semantics beyond those forms.
 *
 * Needs the Bicep CLI (scripts/install-bicep.sh); skipped with the reason printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBicep, REPO, snapshot, SNAPSHOT_TARGET, type PredictedResource, type Snapshot } from './bicepTool';
import { kqlDiagnostics, type KustoType, type TableSchemas } from '../../support/kusto';
import { run, type Row } from './kqlSubset';

interface TableFile {
  tableName: string;
  columns: Array<{ name: string; type: string }>;
}
const healthTable = JSON.parse(readFileSync(join(REPO, 'infra', 'health-table.json'), 'utf8')) as TableFile;
const SCHEMAS: TableSchemas = {
  [healthTable.tableName]: healthTable.columns.map((c) => [c.name, c.type as KustoType] as const),
  // https://learn.microsoft.com/azure/azure-monitor/reference/tables/dcrlogerrors
  DCRLogErrors: [
    ['TimeGenerated', 'datetime'],
    ['_BilledSize', 'real'],
    ['ClientRequestId', 'string'],
    ['CorrelationId', 'string'],
    ['InputStreamId', 'string'],
    ['_IsBillable', 'string'],
    ['Message', 'string'],
    ['OperationName', 'string'],
    ['_ResourceId', 'string'],
    ['SourceSystem', 'string'],
    ['_SubscriptionId', 'string'],
    ['TenantId', 'string'],
    ['Type', 'string'],
  ],
};
const HEALTH_ROWS: Row[] = readFileSync(join(__dirname, 'fixtures', 'health-rows.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Row);
const WORKSPACE_ID = `/subscriptions/${SNAPSHOT_TARGET.subscriptionId}/resourceGroups/rg-ws/providers/Microsoft.OperationalInsights/workspaces/ws-test`;
const KEYS = ['no-processed-window', 'window-failed-or-skipped', 'source-gap', 'spool-stale', 'dcr-ingestion-errors'];

const bicep = findBicep();
if (!('bin' in bicep))
  console.log(`health alert tests skipped: no Bicep CLI (${bicep.reason}). Run scripts/install-bicep.sh.`);
const describeWithBicep = 'bin' in bicep ? describe : describe.skip;

describeWithBicep('health alert rules', () => {
  let full: Snapshot;
  let quiet: Snapshot;
  let rules: Record<string, PredictedResource>;
  let dcrId: string;
  const query = (key: string) => rules[key].properties.criteria.allOf[0].query as string;
  const at = (iso: string) => new Date(iso);
  /** The rows a rule's query returns at `now` over the health rows (and DCR errors). */
  const fire = (key: string, now: string, rows: Row[] = HEALTH_ROWS, dcrErrors: Row[] = []) => {
    // The workspace as it is at `now`: rows ingested later are not there yet.
    const arrived = (r: Row) => !r._ingested || Date.parse(r._ingested) <= at(now).getTime();
    return run(
      query(key),
      { [healthTable.tableName]: rows.filter(arrived), DCRLogErrors: dcrErrors.filter(arrived) },
      at(now),
    );
  };

  beforeAll(() => {
    const bin = (bicep as { bin: string }).bin;
    const base = { workspaceName: "'ws-test'", workspaceResourceGroupName: "'rg-ws'" };
    full = snapshot(bin, { ...base, alertEmailAddresses: "['soc@example.com', 'oncall@example.com']" });
    quiet = snapshot(bin, base);
    rules = Object.fromEntries(
      full.predictedResources
        .filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules')
        .map((r) => [KEYS.find((k) => r.name.endsWith(`-${k}`)) as string, r]),
    );
    dcrId = full.predictedResources.find((r) => r.type === 'Microsoft.Insights/dataCollectionRules')?.id as string;
  });

  it('deploys the five rules on the workspace, hourly, each notifying the email action group on every row', () => {
    expect(Object.keys(rules).sort()).toEqual([...KEYS].sort());
    const group = full.predictedResources.find(
      (r) => r.type === 'Microsoft.Insights/actionGroups',
    ) as PredictedResource;
    expect(group.properties.emailReceivers.map((e: { emailAddress: string }) => e.emailAddress)).toEqual([
      'soc@example.com',
      'oncall@example.com',
    ]);
    for (const key of KEYS) {
      const p = rules[key].properties;
      expect([key, p]).toMatchObject([
        key,
        {
          enabled: true,
          scopes: [WORKSPACE_ID],
          evaluationFrequency: 'PT1H',
          autoMitigate: false,
          actions: { actionGroups: [group.id] },
        },
      ]);
      expect(rules[key].kind).toBe('LogAlert');
      expect(p.criteria.allOf).toHaveLength(1);
      expect(p.criteria.allOf[0]).toMatchObject({ timeAggregation: 'Count', operator: 'GreaterThan', threshold: 0 });
    }
    expect(rules['no-processed-window'].properties.windowSize).toBe('P2D');
  });

  it('without an email address there is no action group and the rules notify nobody', () => {
    expect(quiet.predictedResources.filter((r) => r.type === 'Microsoft.Insights/actionGroups')).toEqual([]);
    for (const r of quiet.predictedResources.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules'))
      expect(r.properties.actions).toEqual({ actionGroups: [] });
  });

  it("each rule's query is the .kql file (the DCR's id filled in) and valid KQL over the health table and DCRLogErrors", () => {
    for (const key of KEYS) {
      const file = readFileSync(join(REPO, 'infra', 'bicep', 'alerts', `${key}.kql`), 'utf8');
      const expected = key === 'dcr-ingestion-errors' ? file.replace('__DCR_RESOURCE_ID__', dcrId) : file;
      expect(query(key)).toBe(expected);
      expect([key, kqlDiagnostics(query(key), SCHEMAS)]).toEqual([key, []]);
    }
    expect(query('dcr-ingestion-errors')).toContain(`_ResourceId =~ "${dcrId}"`);
  });

  it('the language-service check is not vacuous: a misspelt column is reported', () => {
    const broken = query('source-gap').replace('EventKind ==', 'EventKnd ==');
    expect(kqlDiagnostics(broken, SCHEMAS).length).toBeGreaterThan(0);
  });

  describe('on recorded health rows', () => {
    it('no processed window in 26 hours: quiet after a processed window, fires a day after only failures, and on an empty table', () => {
      expect(fire('no-processed-window', '2026-11-26T12:00:00Z')).toEqual([]);
      // 26 hours after the last processed window (00:16 on the 26th), with only a failed one since.
      const fired = fire('no-processed-window', '2026-11-27T02:30:00Z');
      expect(fired).toEqual([{ Processed: 0, LastRecord: '2026-11-27T00:16:31Z' }]);
      expect(fire('no-processed-window', '2026-11-27T02:00:00Z')).toEqual([]);
      // A job that never wrote a record.
      expect(fire('no-processed-window', '2026-11-27T02:00:00Z', [])).toHaveLength(1);
    });

    it('a failed window, a failed run and a skipped day fire; a processed or yielded window, an ok run and a warning do not', () => {
      const fired = fire('window-failed-or-skipped', '2026-11-27T01:00:00Z');
      expect(fired.map((r) => `${r.RecordKind}:${r.Outcome}`).sort()).toEqual([
        'event:window-failed',
        'run:failed',
        'window:failed',
      ]);
      expect(fired.find((r) => r.RecordKind === 'window')).toMatchObject({
        Phase: 'pull',
        WindowStart: '2026-11-26T00:00:00Z',
      });
      const skipped = fire('window-failed-or-skipped', '2026-12-15T01:00:00Z');
      expect(skipped.map((r) => `${r.RecordKind}:${r.Outcome}`).sort()).toEqual([
        'event:skipped-days',
        'window:skipped',
      ]);
      expect(fire('window-failed-or-skipped', '2026-11-26T01:00:00Z')).toEqual([]);
    });

    it('rows are counted in the first hourly run after they arrive (70 minutes back: a 10-minute overlap, no gap)', () => {
      expect(fire('window-failed-or-skipped', '2026-11-27T01:28:00Z')).toHaveLength(3);
      expect(fire('window-failed-or-skipped', '2026-11-27T01:29:00Z')).toEqual([]);
    });

    it('a source gap fires the source-gap rule, and nothing else does', () => {
      expect(fire('source-gap', '2026-12-15T01:00:00Z')).toEqual([
        expect.objectContaining({ TableName: 'DeviceFileEvents', WindowStart: '2026-12-13T00:00:00Z' }),
      ]);
      expect(fire('source-gap', '2026-11-26T01:00:00Z')).toEqual([]);
    });

    it('a stale spool fires the spool-stale rule, and nothing else does', () => {
      expect(fire('spool-stale', '2026-12-15T01:00:00Z')).toEqual([
        expect.objectContaining({ SpoolSize: 2, SpoolOldestAgeHours: 80.5 }),
      ]);
      expect(fire('spool-stale', '2026-11-27T01:00:00Z')).toEqual([]);
    });

    it("DCR errors fire for this DCR's records only", () => {
      const errors: Row[] = [
        {
          TimeGenerated: '2026-12-15T00:20:00Z',
          _ingested: '2026-12-15T00:21:00Z',
          _ResourceId: dcrId.toLowerCase(),
          InputStreamId: 'Custom-RunCommandDetectionHealth_CL',
          OperationName: 'Ingestion',
          Message: 'column SpoolSize: value "x" is not an int',
        },
        {
          TimeGenerated: '2026-12-15T00:20:00Z',
          _ingested: '2026-12-15T00:21:00Z',
          _ResourceId: '/subscriptions/x/resourcegroups/y/providers/microsoft.insights/datacollectionrules/other',
          InputStreamId: 'Custom-Other_CL',
          OperationName: 'Ingestion',
          Message: 'not ours',
        },
      ];
      const fired = fire('dcr-ingestion-errors', '2026-12-15T01:00:00Z', [], errors);
      expect(fired.map((r) => r.InputStreamId)).toEqual(['Custom-RunCommandDetectionHealth_CL']);
      expect(fire('dcr-ingestion-errors', '2026-12-15T03:00:00Z', [], errors)).toEqual([]);
    });

    it('the evaluator refuses a form it does not know (so a rewritten rule fails here instead of passing)', () => {
      expect(() =>
        run(
          `${healthTable.tableName} | where Outcome startswith "fail"`,
          { [healthTable.tableName]: HEALTH_ROWS },
          new Date(),
        ),
      ).toThrow(/kqlSubset/);
      expect(() =>
        run(
          `${healthTable.tableName} | summarize count() by Outcome`,
          { [healthTable.tableName]: HEALTH_ROWS },
          new Date(),
        ),
      ).toThrow(/kqlSubset/);
    });
  });
});
