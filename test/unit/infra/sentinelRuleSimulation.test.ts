/**
 * The companion Sentinel rule, simulated: its run schedule and windows as deployed
 * (queryFrequency, queryPeriod, incident grouping, read from the Bicep snapshot; the
 * per-run cap from the .kql), over sequences of findings arriving in
 * RunCommandFindings_CL (on time, hours late, spooled for days, duplicated, across a
 * rule outage, a 14-day catch-up), counting incidents per FindingId.
 *
 * The model of one run at time t, as Sentinel and Azure Monitor document them:
 *   - Sentinel applies the query period to TimeGenerated: the run sees finding rows and
 *     SecurityAlert rows with TimeGenerated in (t - queryPeriod, t] that are queryable
 *     by t (ingestion latency; an alert is queryable some minutes after it is raised);
 *   - the query (findings-alert-rule.kql) raises each FindingId it sees whose FindingId
 *     no visible SecurityAlert row carries, oldest first ingestion first, at most N;
 *   - one alert per result (AlertPerResult); an alert joins the open incident with the
 *     same FindingId raised within the grouping lookback, else opens a new incident
 *     (reopenClosedIncident false: a closed one is not joined);
 *   - the Logs Ingestion API keeps a record's TimeGenerated unless it is more than two
 *     days old, when it becomes the ingestion time (modelled both ways below).
 * The structure of the query is asserted so that the model and the query agree; the
 * query's KQL validity is checked in bicep.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBicep, REPO, snapshot, type Snapshot } from './bicepTool';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-12-01T00:00:00Z');

/** ISO 8601 duration (PT1H, P14D, P7D) in ms. */
function duration(iso: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(iso);
  if (!m) throw new Error(`unsupported duration ${iso}`);
  return (Number(m[1] ?? 0) * 24 * 60 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * MIN;
}

interface RuleConfig {
  frequency: number;
  period: number;
  cap: number;
  groupingLookback: number;
  groupByFindingId: boolean;
  reopenClosed: boolean;
  /** `where FirstIngested > ago(NewWithin)` */
  newWithin: number;
}

/** A finding record as it is sent: when, and with which TimeGenerated. */
interface Send {
  findingId: string;
  sentAt: number;
  timeGenerated: number;
  /** Minutes between the send and the row being queryable. */
  latencyMin?: number;
}

interface World {
  /** Times the rule does not run (outage). */
  outages?: Array<[number, number]>;
  /** Minutes between raising an alert and its SecurityAlert row being queryable. */
  alertLatencyMin?: number;
  /** Hours after which the analyst closes an incident. */
  closeAfterHours?: number;
  /** Whether the Logs Ingestion API replaces TimeGenerated older than 2 days (see the header). */
  apiRestampsOldRecords?: boolean;
  /** Minutes each run starts late (deterministic jitter by run index). */
  jitterMin?: (run: number) => number;
  until: number;
}

interface Incident {
  findingId: string;
  createdAt: number;
  closedAt: number;
  alerts: number;
}

function simulate(rule: RuleConfig, sends: Send[], world: World) {
  const rows = sends.map((s) => {
    const ingested = s.sentAt + (s.latencyMin ?? 2) * MIN;
    const restamp = (world.apiRestampsOldRecords ?? true) && s.timeGenerated < s.sentAt - 2 * DAY;
    return { findingId: s.findingId, timeGenerated: restamp ? ingested : s.timeGenerated, ingested };
  });
  const securityAlerts: Array<{ findingId: string; timeGenerated: number; queryableAt: number }> = [];
  const incidents: Incident[] = [];
  let maxAlertsPerRun = 0;
  for (let k = 0; T0 + k * rule.frequency <= world.until; k++) {
    const t = T0 + k * rule.frequency + (world.jitterMin?.(k) ?? 0) * MIN;
    if ((world.outages ?? []).some(([a, b]) => t >= a && t < b)) continue;
    const inPeriod = (tg: number) => tg > t - rule.period && tg <= t;
    const visible = rows.filter((r) => r.ingested <= t && inPeriod(r.timeGenerated));
    const alerted = new Set(
      securityAlerts.filter((a) => a.queryableAt <= t && inPeriod(a.timeGenerated)).map((a) => a.findingId),
    );
    // summarize FirstIngested = min(ingestion_time()) by FindingId | where FindingId !in (AlreadyAlerted)
    const firstIngested = new Map<string, number>();
    for (const r of visible)
      firstIngested.set(r.findingId, Math.min(firstIngested.get(r.findingId) ?? Infinity, r.ingested));
    const raised = [...firstIngested.entries()]
      .filter(([id, first]) => first > t - rule.newWithin && !alerted.has(id))
      .sort((a, b) => a[1] - b[1])
      .slice(0, rule.cap)
      .map(([id]) => id);
    maxAlertsPerRun = Math.max(maxAlertsPerRun, raised.length);
    for (const id of raised) {
      securityAlerts.push({ findingId: id, timeGenerated: t, queryableAt: t + (world.alertLatencyMin ?? 5) * MIN });
      const open = incidents.find(
        (i) =>
          rule.groupByFindingId &&
          i.findingId === id &&
          i.createdAt > t - rule.groupingLookback &&
          (i.closedAt > t || rule.reopenClosed),
      );
      if (open) open.alerts++;
      else
        incidents.push({ findingId: id, createdAt: t, closedAt: t + (world.closeAfterHours ?? 2) * HOUR, alerts: 1 });
    }
  }
  const perFinding = new Map<string, number>();
  for (const i of incidents) perFinding.set(i.findingId, (perFinding.get(i.findingId) ?? 0) + 1);
  return { perFinding, incidents, maxAlertsPerRun };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

const bicep = findBicep();
if (!('bin' in bicep))
  console.log(`Sentinel rule simulation skipped: no Bicep CLI (${bicep.reason}). Run scripts/install-bicep.sh.`);
const describeWithBicep = 'bin' in bicep ? describe : describe.skip;

describeWithBicep('the companion Sentinel rule: one incident per FindingId, whenever its row arrives', () => {
  let rule: RuleConfig;
  const query = readFileSync(join(REPO, 'infra', 'bicep', 'sentinel', 'findings-alert-rule.kql'), 'utf8');

  beforeAll(() => {
    const s: Snapshot = snapshot((bicep as { bin: string }).bin, {
      workspaceName: "'ws-test'",
      workspaceResourceGroupName: "'rg-ws'",
    });
    const p = s.predictedResources.find((r) => r.type === 'Microsoft.SecurityInsights/alertRules')?.properties;
    const grouping = p.incidentConfiguration.groupingConfiguration;
    const cap = /\|\s*top (\d+) by FirstIngested asc/.exec(query);
    const newWithin = /let NewWithin = (\d+)d;/.exec(query);
    rule = {
      frequency: duration(p.queryFrequency),
      period: duration(p.queryPeriod),
      cap: Number(cap?.[1]),
      groupingLookback: duration(grouping.lookbackDuration),
      groupByFindingId:
        grouping.enabled &&
        grouping.matchingMethod === 'Selected' &&
        grouping.groupByCustomDetails.includes('FindingId'),
      reopenClosed: grouping.reopenClosedIncident,
      newWithin: Number(newWithin?.[1]) * DAY,
    };
  });

  it('the model follows the deployed rule and its query', () => {
    expect(rule).toEqual({
      frequency: HOUR,
      period: 14 * DAY,
      cap: 149,
      groupingLookback: 7 * DAY,
      groupByFindingId: true,
      reopenClosed: false,
      newWithin: 10 * DAY,
    });
    // The query's steps the model implements.
    expect(query).toMatch(/let AlreadyAlerted = SecurityAlert[\s\S]*"Custom Details"[\s\S]*FindingId/);
    expect(query).toMatch(/summarize arg_max\(TimeGenerated, \*\), FirstIngested = min\(Ingested\) by FindingId/);
    expect(query).toMatch(/where FirstIngested > ago\(NewWithin\)\n\| where FindingId !in \(AlreadyAlerted\)/);
    // No other time window: nothing but the query period and NewWithin bounds what it sees.
    expect(query.match(/ago\(/g)).toHaveLength(1);
  });

  it('on time, hours late, spooled for 1.5 and 5 days: each raises one incident', () => {
    const sends: Send[] = [
      { findingId: 'on-time', sentAt: T0 + 20 * MIN, timeGenerated: T0 + 20 * MIN },
      { findingId: 'late-5h', sentAt: T0 + 20 * MIN, timeGenerated: T0 + 20 * MIN, latencyMin: 300 },
      { findingId: 'spooled-36h', sentAt: T0 + 2 * DAY, timeGenerated: T0 + 12 * HOUR },
      { findingId: 'spooled-5d', sentAt: T0 + 6 * DAY, timeGenerated: T0 + 1 * DAY },
      { findingId: 'just-before-a-run', sentAt: T0 + 5 * HOUR - 3 * MIN, timeGenerated: T0 + 5 * HOUR - 3 * MIN },
    ];
    const { perFinding } = simulate(rule, sends, { until: T0 + 10 * DAY, jitterMin: (k) => (k * 7) % 25 });
    expect(Object.fromEntries(perFinding)).toEqual({
      'on-time': 1,
      'late-5h': 1,
      'spooled-36h': 1,
      'spooled-5d': 1,
      'just-before-a-run': 1,
    });
  });

  it('a second row with the same FindingId raises no second incident: an hour, a day, 3 days and 4 days later', () => {
    const sends: Send[] = [];
    for (const [id, later] of [
      ['dup-1h', HOUR],
      ['dup-1d', DAY],
      ['dup-3d', 3 * DAY],
      ['dup-4d', 4 * DAY - 2 * HOUR],
    ] as const) {
      sends.push({ findingId: id, sentAt: T0 + 30 * MIN, timeGenerated: T0 + 30 * MIN });
      sends.push({ findingId: id, sentAt: T0 + 30 * MIN + later, timeGenerated: T0 + 30 * MIN + later });
    }
    // The analyst closes each incident 2 hours after it opens: grouping alone would not help.
    const { perFinding } = simulate(rule, sends, { until: T0 + 20 * DAY, closeAfterHours: 2 });
    expect(Object.fromEntries(perFinding)).toEqual({ 'dup-1h': 1, 'dup-1d': 1, 'dup-3d': 1, 'dup-4d': 1 });
  });

  it('across rule outages of 3 and 9 days: what arrived meanwhile is raised once, by the first run after it', () => {
    const sends = ids('outage', 30).map((id, i) => ({
      findingId: id,
      sentAt: T0 + DAY + i * 2 * HOUR,
      timeGenerated: T0 + DAY + i * 2 * HOUR,
    }));
    sends.push({ ...sends[3], sentAt: sends[3].sentAt + 5 * HOUR }); // and a duplicate during the outage
    const { perFinding, incidents } = simulate(rule, sends, {
      until: T0 + 8 * DAY,
      outages: [[T0 + DAY, T0 + 4 * DAY]],
    });
    expect([...perFinding.values()]).toEqual(Array(30).fill(1));
    expect(perFinding.size).toBe(30);
    for (const i of incidents) expect(i.createdAt).toBeGreaterThanOrEqual(T0 + 4 * DAY);
    const long = simulate(rule, sends, { until: T0 + 12 * DAY, outages: [[T0 + DAY, T0 + 10 * DAY]] });
    expect(long.perFinding.size).toBe(30);
    expect([...long.perFinding.values()].every((n) => n === 1)).toBe(true);
  });

  it('a 14-day catch-up of 600 findings at once: all raised once, never more than 149 alerts in a run', () => {
    const catchUp = ids('catchup', 600).map((id) => ({
      findingId: id,
      sentAt: T0 + 3 * HOUR,
      timeGenerated: T0 + 3 * HOUR,
    }));
    const { perFinding, maxAlertsPerRun } = simulate(rule, catchUp, { until: T0 + 2 * DAY });
    expect(perFinding.size).toBe(600);
    expect([...perFinding.values()].every((n) => n === 1)).toBe(true);
    expect(maxAlertsPerRun).toBe(149);
  });

  it('SecurityAlert slower than the schedule (90 minutes): the repeated alert joins the open incident', () => {
    const sends = ids('slow-alert', 5).map((id) => ({
      findingId: id,
      sentAt: T0 + 10 * MIN,
      timeGenerated: T0 + 10 * MIN,
    }));
    const { perFinding, incidents } = simulate(rule, sends, {
      until: T0 + 2 * DAY,
      alertLatencyMin: 90,
      closeAfterHours: 24,
    });
    expect([...perFinding.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(incidents.every((i) => i.alerts === 2)).toBe(true);
  });

  it('without the SecurityAlert check (grouping alone), a duplicate after the incident closed would open a second one', () => {
    // An alert that never becomes queryable in SecurityAlert switches the query's check off
    // in the model: what is left is incident grouping, which a closed incident defeats.
    const sends: Send[] = [
      { findingId: 'x', sentAt: T0 + 30 * MIN, timeGenerated: T0 + 30 * MIN },
      { findingId: 'x', sentAt: T0 + 3 * DAY, timeGenerated: T0 + 3 * DAY },
    ];
    const world: World = { until: T0 + 5 * DAY, closeAfterHours: 2 };
    expect(simulate(rule, sends, { ...world, alertLatencyMin: 100 * 24 * 60 }).perFinding.get('x')).toBeGreaterThan(1);
    expect(simulate(rule, sends, world).perFinding.get('x')).toBe(1);
  });

  describe('the limits, as docs/operations.md states them', () => {
    it('a row whose TimeGenerated is older than the 14-day query period when it arrives is never seen (if the API kept it)', () => {
      const sends: Send[] = [{ findingId: 'old', sentAt: T0 + 15 * DAY, timeGenerated: T0 }];
      expect(simulate(rule, sends, { until: T0 + 20 * DAY, apiRestampsOldRecords: false }).perFinding.size).toBe(0);
      // What the Logs Ingestion API does with it (TimeGenerated older than 2 days → ingestion time): raised once.
      expect(simulate(rule, sends, { until: T0 + 20 * DAY }).perFinding.get('old')).toBe(1);
    });

    it('a duplicate arriving more than 4 days (14 - NewWithin) after the first may raise a second incident', () => {
      for (const later of [6 * DAY, 15 * DAY]) {
        const sends: Send[] = [
          { findingId: 'late-dup', sentAt: T0, timeGenerated: T0 },
          { findingId: 'late-dup', sentAt: T0 + later, timeGenerated: T0 + later },
        ];
        expect([later / DAY, simulate(rule, sends, { until: T0 + 30 * DAY }).perFinding.get('late-dup')]).toEqual([
          later / DAY,
          2,
        ]);
      }
    });

    it('a rule outage longer than NewWithin (10 days) loses what arrived at its start', () => {
      const sends: Send[] = [
        { findingId: 'early', sentAt: T0 + DAY, timeGenerated: T0 + DAY },
        { findingId: 'late', sentAt: T0 + 10 * DAY, timeGenerated: T0 + 10 * DAY },
      ];
      const { perFinding } = simulate(rule, sends, { until: T0 + 15 * DAY, outages: [[T0 + DAY, T0 + 12 * DAY]] });
      expect(Object.fromEntries(perFinding)).toEqual({ late: 1 });
    });
  });
});
