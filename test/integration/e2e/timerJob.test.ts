/**
 * End to end: the REGISTERED timer handler, called with a real InvocationContext and
 * a Timer, against real Azurite (state store), and HTTPS stand-ins for Log Analytics,
 * the Logs Ingestion API and Azure Resource Manager, all reached by the real SDK clients.
 *
 * The one mock: `@azure/functions-core`, the module the Functions host provides to the
 * worker, so that `app.timer(...)` hands us its registration instead of a host.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { startArmStandIn, type ArmStandIn } from '../../support/armStandIn';
import { FakeCredential } from '../../support/credential';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { LogAnalyticsStandIn, readFixtureDay, type FixtureTables } from '../../support/logAnalyticsStandIn';
import { testCertificate } from '../../support/tls';
import { configureJobHost } from '../../../src/job/timerOccurrence';
import { ConfigError } from '../../../src/config/settings';
import { SkippedDaysError, WindowFailedError } from '../../../src/job/runDetectionJob';
import { FutureCheckpointError } from '../../../src/job/windows';
import { CheckpointTypeError } from '../../../src/stateStore';
import { TableClient } from '@azure/data-tables';
import { FINDING_COLUMNS, TABLE_NAMES } from '../../../src/detection/schema';
import { StateStore } from '../../../src/stateStore';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { correctedFingerprint } from '../../../src/detection/corrected';
import { join } from 'node:path';

interface Registration {
  metadata: { name: string; bindings: Record<string, { type: string; schedule?: string; runOnStartup?: boolean }> };
  handler: (timer: Timer, context: InvocationContext) => Promise<unknown>;
}
const mockRegistrations: Registration[] = [];
jest.mock(
  '@azure/functions-core',
  () => ({
    registerFunction: (metadata: Registration['metadata'], handler: Registration['handler']) => {
      mockRegistrations.push({ metadata, handler });
      return { dispose: () => undefined };
    },
    setProgrammingModel: () => undefined,
    getProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => undefined }),
  }),
  { virtual: true },
);

const WORKSPACE = '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const STREAM = 'Custom-RunCommandFindings_CL';
const CHECKPOINT = 'runCommandDetection-parity';
const FIXTURES = join(__dirname, '../../fixtures/examples');
const day = (d: string) => `${d}T00:00:00.0000000Z`;

/** A fixture day moved to another date (every row of the examples is on 2026-11-25). */
function shiftDay(tables: FixtureTables, to: string): FixtureTables {
  const out = {} as FixtureTables;
  for (const t of TABLE_NAMES) {
    out[t] = tables[t].map((r) => ({ ...r, TimeGenerated: String(r.TimeGenerated).replace('2026-11-25', to) }));
  }
  return out;
}

/**
 * The day with a SHA256 on every DeviceFileEvents row (the examples have FolderPath but
 * no SHA256, as Defender often leaves it out): a stand-in hash of the device, file name
 * and size, so each script file has its own.
 */
function withFileHashes(tables: FixtureTables): FixtureTables {
  const sha256 = (r: Record<string, unknown>) =>
    createHash('sha256')
      .update(`${String(r.DeviceName)}|${String(r.FileName)}|${String(r.FileSize)}`)
      .digest('hex');
  return { ...tables, DeviceFileEvents: tables.DeviceFileEvents.map((r) => ({ ...r, SHA256: sha256(r) })) };
}

function expectedFindings(name: string, to: string): Record<string, unknown>[] {
  return readFileSync(join(FIXTURES, name, 'expected.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l.replaceAll('2026-11-25T', `${to}T`)) as Record<string, unknown>);
}

/** The rule's 14 output columns of a record, as a canonical string. */
function ruleColumns(record: Record<string, unknown>): string {
  return JSON.stringify(FINDING_COLUMNS.map(([c]) => record[c]));
}

interface LogLine {
  level: string;
  text: string;
}

describe('the timer job, end to end', () => {
  let azurite: RunningAzurite;
  let logAnalytics: LogAnalyticsStandIn;
  let ingestion: IngestionStandIn;
  let arm: ArmStandIn;
  let handler: Registration['handler'];
  let clock = new Date('2026-11-26T00:15:30Z');
  let tableCounter = 0;
  const savedEnv = { ...process.env };

  const plain = readFixtureDay(join(FIXTURES, 'plain-day'));
  const tricky = readFixtureDay(join(FIXTURES, 'tricky-day'));

  beforeAll(async () => {
    const [a, la, ing, ar] = await Promise.all([
      startAzuriteTables(),
      LogAnalyticsStandIn.start({
        workspaceId: WORKSPACE,
        // The 23rd's file events carry SHA256; the 24th and 25th have none.
        tables: mergeDays([withFileHashes(shiftDay(plain, '2026-11-23')), shiftDay(tricky, '2026-11-24'), plain]),
      }),
      IngestionStandIn.start({ dcrImmutableId: DCR, streamName: STREAM }),
      startArmStandIn([
        {
          id: '/subscriptions/29941ff7-d247-4952-aa19-7c8ed493e19a/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/dc09',
          location: 'westeurope',
          tags: { owner: 'identity-team' },
          vmId: '7f6e5d4c-0000-4000-8000-000000000009',
          osType: 'Windows',
        },
        {
          id: '/subscriptions/85cf3e0d-bf71-4bc3-ad3c-7f8903800507/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/app07',
          location: 'northeurope',
          vmId: '7f6e5d4c-0000-4000-8000-000000000007',
          osType: 'Windows',
        },
      ]),
    ]);
    azurite = a;
    logAnalytics = la;
    ingestion = ing;
    arm = ar;
    arm.responseDelayMs = 0;
    configureJobHost({
      credential: new FakeCredential(),
      tlsCa: testCertificate().ca,
      now: () => clock,
      fastRetries: true,
    });
    await import('../../../src/functions/runCommandDetection');
    expect(mockRegistrations).toHaveLength(1);
    handler = mockRegistrations[0].handler;
  });

  afterAll(async () => {
    process.env = savedEnv;
    configureJobHost({});
    await Promise.all([azurite?.stop(), logAnalytics?.stop(), ingestion?.stop(), arm?.stop()]);
  });

  let tableName = '';
  beforeEach(() => {
    tableName = `e2estate${++tableCounter}`;
    process.env = {
      ...savedEnv,
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      LOG_ANALYTICS_ENDPOINT: logAnalytics.endpoint,
      LOGS_INGESTION_ENDPOINT: ingestion.endpoint,
      DCR_IMMUTABLE_ID: DCR,
      DCR_STREAM_NAME: STREAM,
      STATE_STORE_CONNECTION_STRING: azurite.connectionString,
      STATE_STORE_TABLE_NAME: tableName,
      DETECTION_SCHEDULE: '0 15 0 * * *',
      INGESTION_DELAY_MINUTES: '15',
      MAX_CATCHUP_DAYS: '14',
      DETECTION_MODE: 'parity',
      ENRICHMENT_ENABLED: 'true',
      ARM_ENDPOINT: arm.endpoint,
    };
    delete process.env.STATE_STORE_ENDPOINT;
    delete process.env.AZURE_CLIENT_ID;
    ingestion.reset();
    logAnalytics.requests.length = 0;
    logAnalytics.persistentFault = undefined;
    logAnalytics.visible = undefined;
    arm.requests.length = 0;
    arm.clearFailures();
    clock = new Date('2026-11-26T00:15:30Z');
  });

  function invoke(isPastDue = false): { run: Promise<unknown>; log: LogLine[] } {
    const log: LogLine[] = [];
    const context = new InvocationContext({
      invocationId: `inv-${Math.random().toString(16).slice(2)}`,
      functionName: 'runCommandDetection',
      logHandler: (level, ...args) => log.push({ level, text: args.map(String).join(' ') }),
    });
    const timer: Timer = {
      isPastDue,
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: '2026-11-25T00:15:00.0000000+00:00',
        next: '2026-11-26T00:15:00.0000000+00:00',
        lastUpdated: '2026-11-25T00:15:00.0000000+00:00',
      },
    };
    return { run: handler(timer, context), log };
  }

  async function stateStore(): Promise<StateStore> {
    return StateStore.open({ kind: 'connectionString', connectionString: azurite.connectionString }, { tableName });
  }

  async function checkpoint(): Promise<string | undefined> {
    return (await (await stateStore()).getCheckpoint(CHECKPOINT))?.value;
  }

  const windowProcessedLines = (log: LogLine[]) =>
    log
      .filter((l) => l.text.startsWith('{"message":"Window processed"'))
      .map((l) => JSON.parse(l.text) as Record<string, unknown>);

  it('is registered as one timer on %DETECTION_SCHEDULE%, not run on startup', () => {
    const { metadata } = mockRegistrations[0];
    expect(metadata.name).toBe('runCommandDetection');
    const bindings = Object.values(metadata.bindings);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]).toMatchObject({ type: 'timerTrigger', schedule: '%DETECTION_SCHEDULE%', runOnStartup: false });
  });

  it("writes the day's findings, enriched, advances the checkpoint; a second run writes nothing new", async () => {
    const first = invoke(true);
    await first.run;
    const received = ingestion.received;
    expect(received.map(ruleColumns).sort()).toEqual(
      expectedFindings('plain-day', '2026-11-25').map(ruleColumns).sort(),
    );
    for (const r of received) {
      expect(r).toMatchObject({
        WindowStart: day('2026-11-25'),
        WindowEnd: day('2026-11-26'),
        DetectionMode: 'parity',
        RuleId: '5239248b-abfb-4c6a-8177-b104ade5db56',
        EnrichmentStatus: 'ok',
        VmResourceGroup: 'rg-dev',
        VmOsType: 'Windows',
      });
    }
    const dc09 = received.find((r) => r.VirtualMachineName === 'dc09');
    expect(dc09).toMatchObject({ VmLocation: 'westeurope', VmTags: { owner: 'identity-team' } });
    expect(dc09?.VmId).toBe('7f6e5d4c-0000-4000-8000-000000000009');
    // One ARM read per VM, however many findings it has.
    expect(arm.requests).toHaveLength(new Set(received.map((r) => r.Scope)).size);
    expect(await checkpoint()).toBe(day('2026-11-26'));

    const [summary] = windowProcessedLines(first.log);
    expect(summary).toMatchObject({
      window: { start: day('2026-11-25'), end: day('2026-11-26') },
      findings: received.length,
      written: received.length,
      spooled: 0,
    });
    expect(summary.rows).toMatchObject({ AzureActivity: expect.any(Number), DeviceEvents: expect.any(Number) });
    expect(Object.keys(summary.durationsMs as object)).toEqual(
      expect.arrayContaining(['pull', 'detect', 'enrich', 'write', 'checkpoint']),
    );
    expect(first.log.some((l) => l.text.includes('"isPastDue":true'))).toBe(true);
    // The run's health records arrived on the DCR's health stream: the run, and the window it processed.
    expect(ingestion.health).toEqual([
      expect.objectContaining({ RecordKind: 'run', Outcome: 'ok', Severity: 'info', Findings: received.length }),
      expect.objectContaining({
        RecordKind: 'window',
        Outcome: 'processed',
        WindowStart: day('2026-11-25'),
        FindingsSent: received.length,
        DetectionMode: 'parity',
        Version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      }),
    ]);

    // Later the same day: no new window; the 6-hour settle pass reads the 25th again and
    // finds nothing new to write.
    clock = new Date('2026-11-26T09:00:00Z');
    const healthBefore = ingestion.health.length;
    const callsBefore = ingestion.calls.length;
    const pullsBefore = logAnalytics.requests.length;
    const later = invoke();
    await later.run;
    expect(ingestion.calls.length).toBe(callsBefore);
    const settlePulls = logAnalytics.requests.slice(pullsBefore);
    expect(settlePulls.length).toBeGreaterThan(0);
    for (const r of settlePulls) expect(r.start?.slice(0, 10)).toBe('2026-11-25');
    expect(later.log.some((l) => l.text.startsWith('{"message":"Settle pass processed"'))).toBe(true);
    expect(await checkpoint()).toBe(day('2026-11-26'));
    // Its health records: the run, and the settle pass's window record.
    expect(ingestion.health.slice(healthBefore)).toEqual([
      expect.objectContaining({ RecordKind: 'run', Outcome: 'ok' }),
      expect.objectContaining({
        RecordKind: 'window',
        Outcome: 'processed',
        WindowStart: day('2026-11-25'),
        Details: expect.objectContaining({ pass: 'settle' }),
      }),
    ]);
    // A run with nothing due at all (the day after the 72-hour pass, before the next day) says so.
    clock = new Date('2026-11-29T00:10:00Z');
    await invoke().run;
    clock = new Date('2026-11-29T00:12:00Z');
    const quiet = ingestion.health.length;
    await invoke().run;
    expect(ingestion.health.slice(quiet)).toEqual([
      expect.objectContaining({ RecordKind: 'run', Outcome: 'nothing-due' }),
    ]);
  });

  it('two overlapping invocations (a replayed occurrence) write each finding once and advance the checkpoint once', async () => {
    const [a, b] = [invoke(), invoke()];
    const results = await Promise.allSettled([a.run, b.run]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    // Exactly one of them finished the window; the other yielded or found nothing left to do.
    expect(windowProcessedLines([...a.log, ...b.log])).toHaveLength(1);
    const ids = ingestion.received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(expectedFindings('plain-day', '2026-11-25').length);
    expect(await checkpoint()).toBe(day('2026-11-26'));
  });

  it('a stale invocation that read the checkpoint before another advanced it yields at the ETag check', async () => {
    // B reads the checkpoint, pulls and detects, then waits on ARM while A runs the
    // same window to the end. B then finds every finding already sent, and its
    // checkpoint write carries a stale ETag.
    arm.hold();
    const stale = invoke();
    const scopes = new Set(expectedFindings('plain-day', '2026-11-25').map((f) => f.Scope)).size;
    while (arm.parked < scopes) await new Promise((r) => setTimeout(r, 10));
    arm.stopHolding();
    // A: the same occurrence, replayed, runs to the end while B's lookups stay parked.
    const fresh = invoke();
    await fresh.run;
    arm.release();
    await stale.run;
    expect(windowProcessedLines(fresh.log)).toHaveLength(1);
    expect(windowProcessedLines(stale.log)).toHaveLength(0);
    expect(
      stale.log.some((l) => l.level === 'warning' && l.text.includes('Another invocation advanced checkpoint')),
    ).toBe(true);
    const ids = ingestion.received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(expectedFindings('plain-day', '2026-11-25').length);
    expect(await checkpoint()).toBe(day('2026-11-26'));
  });

  it('after three missed days, one run processes the three windows in order', async () => {
    await (await stateStore()).putCheckpoint(CHECKPOINT, day('2026-11-23'), undefined);
    const { run, log } = invoke();
    await run;
    const windows = windowProcessedLines(log).map((s) => (s.window as { start: string }).start);
    expect(windows).toEqual([day('2026-11-23'), day('2026-11-24'), day('2026-11-25')]);
    // Pulls happen window by window: every query for a day comes before any query for the next.
    const pulledDays = logAnalytics.requests.map((r) => r.start?.slice(0, 10));
    expect(pulledDays).toEqual([...pulledDays].sort());
    const received = ingestion.received;
    const starts = received.map((r) => String(r.WindowStart));
    expect(starts).toEqual([...starts].sort());
    for (const [fixture, date] of [
      ['plain-day', '2026-11-23'],
      ['tricky-day', '2026-11-24'],
      ['plain-day', '2026-11-25'],
    ] as const) {
      expect(
        received
          .filter((r) => r.WindowStart === day(date))
          .map(ruleColumns)
          .sort(),
      ).toEqual(expectedFindings(fixture, date).map(ruleColumns).sort());
    }
    // The script file's evidence beside the rule's columns: its folder, and its SHA256 where the row had one.
    for (const r of received.filter((x) => x.WindowStart !== day('2026-11-24'))) {
      expect(r.ScriptFolderPath).toBe(
        'C:\\Packages\\Plugins\\Microsoft.CPlat.Core.RunCommandWindows\\1.1.18\\Downloads',
      );
      expect(r.ScriptSha256 === null).toBe(r.WindowStart === day('2026-11-25'));
    }
    // Tricky-day VMs are unknown to ARM: their findings are written anyway, marked notFound.
    const tricky = received.filter((r) => r.WindowStart === day('2026-11-24'));
    expect(tricky.length).toBeGreaterThan(0);
    for (const r of tricky) expect(r).toMatchObject({ EnrichmentStatus: 'notFound', VmLocation: null });
    for (const r of received.filter((x) => x.WindowStart !== day('2026-11-24'))) expect(r.EnrichmentStatus).toBe('ok');
    // Each VM is read once per run, across all three windows.
    expect(arm.requests).toHaveLength(new Set(received.map((r) => String(r.Scope).toLowerCase())).size);
    expect(await checkpoint()).toBe(day('2026-11-26'));
  });

  it('a window whose pull fails leaves the checkpoint; the next run retries it', async () => {
    await (await stateStore()).putCheckpoint(CHECKPOINT, day('2026-11-23'), undefined);
    logAnalytics.persistentFault = ({ table, start }) =>
      table === 'DeviceEvents' && start.startsWith('2026-11-24') ? { kind: 'status', status: 500 } : undefined;
    const failing = invoke();
    await expect(failing.run).rejects.toBeInstanceOf(WindowFailedError);
    await expect(failing.run).rejects.toThrow(/2026-11-24T00:00:00.0000000Z.*next run retries this window/s);
    expect(await checkpoint()).toBe(day('2026-11-24'));
    expect(new Set(ingestion.received.map((r) => r.WindowStart))).toEqual(new Set([day('2026-11-23')]));
    expect(failing.log.some((l) => l.level === 'error' && l.text.includes('pulling the tables'))).toBe(true);

    logAnalytics.persistentFault = undefined;
    clock = new Date('2026-11-26T01:00:00Z');
    const retry = invoke();
    await retry.run;
    expect(windowProcessedLines(retry.log).map((s) => (s.window as { start: string }).start)).toEqual([
      day('2026-11-24'),
      day('2026-11-25'),
    ]);
    expect(await checkpoint()).toBe(day('2026-11-26'));
    const ids = ingestion.received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('skips windows beyond MAX_CATCHUP_DAYS, fails the invocation and says how to backfill', async () => {
    process.env.MAX_CATCHUP_DAYS = '2';
    await (await stateStore()).putCheckpoint(CHECKPOINT, day('2026-11-20'), undefined);
    const { run, log } = invoke();
    await expect(run).rejects.toBeInstanceOf(SkippedDaysError);
    await expect(run).rejects.toThrow(/Skipping 4 day window\(s\).*runcommand-detect run --from 2026-11-20/s);
    expect(windowProcessedLines(log).map((s) => (s.window as { start: string }).start)).toEqual([
      day('2026-11-24'),
      day('2026-11-25'),
    ]);
    // Skipped days are findings lost: an error line, and a failure in the health records.
    const logged = log.find((l) => l.level === 'error' && l.text.includes('Skipping 4 day window(s)'));
    expect(logged?.text).toContain('[2026-11-20T00:00:00.0000000Z, 2026-11-24T00:00:00.0000000Z)');
    expect(logged?.text).toContain('MAX_CATCHUP_DAYS=2');
    expect(ingestion.health).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ RecordKind: 'window', Outcome: 'skipped', WindowStart: day('2026-11-20') }),
        expect.objectContaining({ RecordKind: 'event', EventKind: 'skipped-days', Severity: 'failure' }),
        expect.objectContaining({ RecordKind: 'run', Outcome: 'failed' }),
      ]),
    );
    expect(await checkpoint()).toBe(day('2026-11-26'));
  });

  it('findings the Logs Ingestion API refuses are spooled, the window advances, and the next run sends them first', async () => {
    ingestion.failWhen(() => ({ status: 403 }));
    const refused = invoke();
    await refused.run;
    expect(ingestion.received).toHaveLength(0);
    expect(await checkpoint()).toBe(day('2026-11-26'));
    const expectedCount = expectedFindings('plain-day', '2026-11-25').length;
    expect(windowProcessedLines(refused.log)[0]).toMatchObject({
      findings: expectedCount,
      written: 0,
      spooled: expectedCount,
    });
    expect(refused.log.some((l) => l.level === 'warning' && l.text.includes('Monitoring Metrics Publisher'))).toBe(
      true,
    );

    ingestion.failWhen(undefined);
    clock = new Date('2026-11-27T00:15:30Z');
    const next = invoke();
    await next.run;
    const ids = ingestion.received.map((r) => r.FindingId);
    expect(ids).toHaveLength(expectedCount);
    expect(new Set(ids).size).toBe(expectedCount);
    expect(
      next.log.some((l) => l.text.startsWith('{"message":"Spooled findings flushed","sent":' + expectedCount)),
    ).toBe(true);
    expect(windowProcessedLines(next.log).map((s) => (s.window as { start: string }).start)).toEqual([
      day('2026-11-26'),
    ]);
    expect(await checkpoint()).toBe(day('2026-11-27'));
  });

  it('keeps findings whose VM ARM refuses to show, marked forbidden', async () => {
    arm.fail('*', 403);
    await invoke().run;
    const received = ingestion.received;
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) expect(r).toMatchObject({ EnrichmentStatus: 'forbidden', VmLocation: null });
  });

  it('ENRICHMENT_ENABLED=false: no ARM calls, findings marked disabled', async () => {
    process.env.ENRICHMENT_ENABLED = 'false';
    await invoke().run;
    expect(arm.requests).toHaveLength(0);
    expect(ingestion.received.length).toBeGreaterThan(0);
    for (const r of ingestion.received) expect(r).toMatchObject({ EnrichmentStatus: 'disabled', VmLocation: null });
  });

  it('bad configuration: one error listing every bad setting, nothing called', async () => {
    process.env.LOG_ANALYTICS_WORKSPACE_ID = 'contoso-workspace';
    process.env.DCR_IMMUTABLE_ID = 'dcr-xyz';
    delete process.env.LOGS_INGESTION_ENDPOINT;
    process.env.MAX_CATCHUP_DAYS = 'many';
    const { run, log } = invoke();
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    const error = (await run.catch((e: unknown) => e)) as ConfigError;
    expect(error.problems.map((p) => p.setting).sort()).toEqual(
      ['DCR_IMMUTABLE_ID', 'LOGS_INGESTION_ENDPOINT', 'LOG_ANALYTICS_WORKSPACE_ID', 'MAX_CATCHUP_DAYS'].sort(),
    );
    expect(error.message).toContain('LOGS_INGESTION_ENDPOINT: missing');
    expect(log.some((l) => l.level === 'error' && l.text.includes('LOG_ANALYTICS_WORKSPACE_ID'))).toBe(true);
    expect(logAnalytics.requests).toHaveLength(0);
    expect(ingestion.calls).toHaveLength(0);
  });

  it('DETECTION_MODE=corrected: findings marked corrected, baseline stored in the state table and carried over days', async () => {
    process.env.DETECTION_MODE = 'corrected';
    process.env.BASELINE_DAYS = '14';
    // Catch up the 23rd (plain day), 24th (tricky day) and 25th (the plain day again).
    await (await stateStore()).putCheckpoint('runCommandDetection-corrected', day('2026-11-23'), undefined);
    const { run } = invoke();
    await run;
    expect((await (await stateStore()).getCheckpoint('runCommandDetection-corrected'))?.value).toBe(day('2026-11-26'));
    const received = ingestion.received;
    const byWindow = (d: string) => received.filter((r) => r.WindowStart === day(d));
    expect(byWindow('2026-11-23').length).toBeGreaterThan(0);
    // The 25th repeats the scripts of the 23rd: all in the baseline, nothing new. The 23rd's
    // file events had a SHA256 (its fingerprint), the 25th's have none: they are known by
    // the commands-and-size key the baseline stored beside each hash.
    expect(byWindow('2026-11-25')).toEqual([]);
    for (const r of byWindow('2026-11-23')) {
      expect(r.ScriptSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.ScriptFingerprintHash).toBe(r.ScriptSha256);
    }
    for (const r of received) {
      expect(r).toMatchObject({ DetectionMode: 'corrected' });
      expect(r.ExtendedProperties).toMatchObject({ BaselineDays: 14, LastSeenBeforeHorizon: null });
    }
    // The baseline, in the state table: one entity per fingerprint, last seen on the 25th for the plain day's.
    const entities = (await stateStore()).entities;
    const stored: Array<{ rowKey: string; properties: Record<string, unknown> }> = [];
    for await (const e of entities.listPartition('baseline')) stored.push(e);
    const firstDay = new Set(
      byWindow('2026-11-23').map((r) =>
        correctedFingerprint(r.PowershellScriptCommands as string[], r.PowershellFileSize as number | null),
      ),
    );
    for (const fingerprint of firstDay) {
      const entry = stored.find((e) => e.rowKey === fingerprint);
      expect(entry?.properties).toMatchObject({ FirstSeen: expect.stringMatching(/^2026-11-23T/) });
      expect(String(entry?.properties.LastSeen)).toMatch(/^2026-11-25T/);
      expect(Number(entry?.properties.Count)).toBeGreaterThanOrEqual(2);
    }
    // The push-down of corrected mode: every case of RunCommandExtension.exe.
    expect(logAnalytics.requestsFor('DeviceFileEvents')[0]!.query).toContain('InitiatingProcessFileName =~ ');
  });

  const healthLines = (log: LogLine[], kind: string) =>
    log
      .filter((l) => l.text.includes(`"healthEvent":"${kind}"`))
      .map((l) => ({ level: l.level, ...JSON.parse(l.text) }));
  /**
   * The rule columns but Prevalence: a finding's event is sent once (stable FindingId),
   * and what later, more complete passes change of it, Prevalence (100 / totals of the
   * whole day), is an attribute that is not sent again.
   */
  const withoutPrevalence = (r: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(ruleColumns(r)), 12: null });
  /** What identifies a finding's event (its rule columns may grow with late rows). */
  const eventKey = (r: Record<string, unknown>) =>
    JSON.stringify([r.VirtualMachineName, r.PowershellFileName, r.StartTime, r.Caller]);

  it('rows that become queryable after their day was first pulled are found by a later run and written once', async () => {
    // The evening's rows of the 25th are late: not queryable until 03:00 on the 26th.
    logAnalytics.visible = (_table, row) =>
      String(row.TimeGenerated) < '2026-11-25T21:00' || clock >= new Date('2026-11-26T03:00:00Z');
    await invoke().run;
    const expected = expectedFindings('plain-day', '2026-11-25');
    const late = expected.filter((f) => String(f.StartTime) >= '2026-11-25T21:00');
    expect(late.length).toBeGreaterThan(0);
    const firstPass = ingestion.received.map(ruleColumns);
    for (const f of late) expect(firstPass).not.toContain(ruleColumns(f));

    clock = new Date('2026-11-26T09:00:00Z');
    const settle = invoke();
    await settle.run;
    const received = ingestion.received;
    for (const f of expected) expect(received.map(withoutPrevalence)).toContain(withoutPrevalence(f));
    const ids = received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
    // A finding the incomplete day yielded and the complete one does not is reported, not retracted.
    const expectedColumns = new Set(expected.map(withoutPrevalence));
    const onlyFirstPass = received.filter((r) => !expectedColumns.has(withoutPrevalence(r)));
    expect(
      healthLines(settle.log, 'superseded-finding')
        .map((e) => e.findingId)
        .sort(),
    ).toEqual(onlyFirstPass.map((r) => r.FindingId).sort());
  });

  it('a table with no rows at all yields a failure-level source gap naming it and its connector', async () => {
    logAnalytics.visible = (table) => table !== 'AzureActivity';
    const { run, log } = invoke();
    await run;
    const gaps = healthLines(log, 'source-gap');
    expect(gaps).toEqual([expect.objectContaining({ level: 'error', table: 'AzureActivity' })]);
    expect(gaps[0].message).toMatch(/AzureActivity has no rows at all.*diagnostic setting.*Activity log/);
    expect(windowProcessedLines(log)[0]).toMatchObject({ tableRows: { AzureActivity: 0 }, findings: 0 });
  });

  it('a checkpoint in the future fails the invocation with how to fix it; so does a DateTime-typed one', async () => {
    await (await stateStore()).putCheckpoint(CHECKPOINT, day('2027-01-01'), undefined);
    await expect(invoke().run).rejects.toBeInstanceOf(FutureCheckpointError);

    tableName = `e2estate${++tableCounter}`;
    process.env.STATE_STORE_TABLE_NAME = tableName;
    const client = TableClient.fromConnectionString(azurite.connectionString, tableName, {
      allowInsecureConnection: true,
    });
    await client.createTable();
    await client.createEntity({
      partitionKey: 'checkpoint',
      rowKey: CHECKPOINT,
      Value: { value: '2026-11-25T00:00:00.000Z', type: 'DateTime' },
    });
    const typed = invoke();
    await expect(typed.run).rejects.toBeInstanceOf(CheckpointTypeError);
    await expect(typed.run).rejects.toThrow(/no Value of type String.*DateTime/);
    expect(logAnalytics.requests).toHaveLength(0);
    expect(ingestion.calls).toHaveLength(0);
  });

  it("a DeviceEvents row whose Command is nested 6,000 deep is read, and the day's findings are written", async () => {
    const deep = '{"a":'.repeat(6000) + '1' + '}'.repeat(6000);
    const row = {
      TimeGenerated: '2026-11-25T12:00:00.0000000Z',
      DeviceName: 'web01.internal.cloudapp.net',
      ActionType: 'PowerShellCommand',
      InitiatingProcessCommandLine: 'powershell -ExecutionPolicy Unrestricted -File script99.ps1',
      InitiatingProcessFileName: 'powershell.exe',
      AdditionalFields: `{"Command":${deep}}`,
    };
    const standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: { ...plain, DeviceEvents: [...plain.DeviceEvents, row] },
    });
    try {
      process.env.LOG_ANALYTICS_ENDPOINT = standIn.endpoint;
      const { run, log } = invoke();
      await run;
      expect(ingestion.received.map(ruleColumns).sort()).toEqual(
        expectedFindings('plain-day', '2026-11-25').map(ruleColumns).sort(),
      );
      expect(windowProcessedLines(log)[0]).toMatchObject({ quarantined: 0 });
      expect(await checkpoint()).toBe(day('2026-11-26'));
    } finally {
      await standIn.stop();
    }
  });

  it('from the outside, over several days with rows arriving late: every finding of the complete days arrives, once', async () => {
    // Each row becomes queryable some time after its TimeGenerated: most within minutes,
    // some hours later, a few more than a day later (all within the 72-hour pass).
    const delayMs = (row: Record<string, unknown>) => {
      let h = 2166136261;
      for (const c of JSON.stringify(row)) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
      const p = h % 100;
      const minutes = p < 80 ? h % 5 : p < 93 ? 20 + (h % 40) : p < 98 ? 120 + (h % 1080) : 1800 + (h % 1020);
      return minutes * 60_000;
    };
    logAnalytics.visible = (_table, row) => Date.parse(String(row.TimeGenerated)) + delayMs(row) <= clock.getTime();
    const runs: string[] = [];
    let lateArrivals = 0;
    for (let d = Date.parse('2026-11-24T00:15:30Z'); d <= Date.parse('2026-11-29T00:15:30Z'); d += 86_400_000) {
      clock = new Date(d);
      runs.push(clock.toISOString());
      const before = ingestion.received.length;
      await invoke().run;
      // Findings of a day before yesterday arrived through a settle pass.
      lateArrivals += ingestion.received
        .slice(before)
        .filter((r) => Date.parse(String(r.WindowStart)) < d - 2 * 86_400_000).length;
    }
    expect(lateArrivals).toBeGreaterThan(0);
    expect(await checkpoint()).toBe(day('2026-11-29'));
    const received = ingestion.received;
    const ids = received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
    const keys = new Set(received.map(eventKey));
    for (const [fixture, date] of [
      ['plain-day', '2026-11-23'],
      ['tricky-day', '2026-11-24'],
      ['plain-day', '2026-11-25'],
    ] as const) {
      for (const f of expectedFindings(fixture, date)) expect(keys).toContain(eventKey(f));
      // Each event arrives once, under its stable FindingId, with the attributes of the
      // pass that first saw it; a later pass that sees more rows of that day (more
      // commands, another Prevalence) does not send it again (docs/operations.md, Delivery).
    }
    expect(runs).toHaveLength(6);
  });
});

function mergeDays(days: FixtureTables[]): FixtureTables {
  const out = {} as FixtureTables;
  for (const t of TABLE_NAMES) out[t] = days.flatMap((d) => d[t]);
  return out;
}
