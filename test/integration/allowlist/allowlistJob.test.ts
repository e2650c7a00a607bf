/**
 * The allowlist in the job, end to end: ALLOWLIST_WATCHLIST names a Sentinel watchlist
 * the query stand-in serves to `_GetWatchlist('<alias>')`; the job is built from its
 * settings (createJobPorts: the real LogsQueryClient reads the watchlist and the
 * tables, the real Logs Ingestion client writes), over Azurite. What counts is what
 * arrives at the ingestion stand-in: the findings table and the health table.
 *
 * The example day (test/fixtures/examples/plain-day) has three findings:
 *   app07  svc-deploy@contoso.onmicrosoft.com  31.238.59.199   fingerprint ad26b74c…
 *   dc09   Eve.Admin@Fabrikam.com              2001:db8::2766  fingerprint 3b5d4068…
 *   dc09   alice@contoso.com                   79.236.209.31   fingerprint b6aacfce…
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { FakeCredential } from '../../support/credential';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { LogAnalyticsStandIn, readFixtureDay, type WatchlistItem } from '../../support/logAnalyticsStandIn';
import { testCertificate } from '../../support/tls';
import { loadConfig } from '../../../src/config/settings';
import { createJobPorts } from '../../../src/job/createJobPorts';
import { runOccurrence } from '../../../src/job/occurrence';
import { runDetectionJob, type JobRunResult } from '../../../src/job/runDetectionJob';
import type { HealthEvent } from '../../../src/job/health';
import type { Log } from '../../../src/shared/log';

const WORKSPACE = '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const ALIAS = 'RunCommandAllowlist';
const NOW = new Date('2026-11-26T00:15:30Z');
const FINGERPRINT_ALICE = 'b6aacfce457e8dfe39676f6c3a840f79c759fc6f812f003c8c0adf7429d23896';

/** The SHA256 the script file of a finding has (DeviceFileEvents SHA256), made up for the test. */
const scriptSha256 = (vm: string, file: string) => createHash('sha256').update(`${vm}/${file}`).digest('hex');

interface LogLine {
  level: string;
  message: string;
  data?: Record<string, unknown>;
}
const recordingLog = (): Log & { lines: LogLine[] } => {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, data) => void lines.push({ level: 'info', message, data }),
    warn: (message, data) => void lines.push({ level: 'warn', message, data }),
    error: (message, data) => void lines.push({ level: 'error', message, data }),
  };
};

const item = (Kind: string, Value: string, Reason: string, Expires = ''): WatchlistItem => ({
  Kind,
  Value,
  Reason,
  Expires,
  SearchKey: Value,
});

describe('the allowlist (a Sentinel watchlist) in the job', () => {
  let azurite: RunningAzurite;
  let logAnalytics: LogAnalyticsStandIn;
  let ingestion: IngestionStandIn;
  let tableNo = 0;

  beforeAll(async () => {
    [azurite, logAnalytics, ingestion] = await Promise.all([
      startAzuriteTables(),
      LogAnalyticsStandIn.start({
        workspaceId: WORKSPACE,
        tables: readFixtureDay(join(__dirname, '../../fixtures/examples/plain-day')),
      }),
      IngestionStandIn.start({ dcrImmutableId: DCR }),
    ]);
    logAnalytics.findingsTable = () => ingestion.visibleRecords();
  });
  afterAll(async () => {
    await Promise.all([azurite?.stop(), logAnalytics?.stop(), ingestion?.stop()]);
  });
  beforeEach(() => {
    ingestion.reset();
    logAnalytics.requests.length = 0;
    logAnalytics.watchlistFaults.length = 0;
    logAnalytics.watchlists = {};
  });

  function settings(alias = ALIAS) {
    return loadConfig({
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      LOG_ANALYTICS_ENDPOINT: logAnalytics.endpoint,
      LOGS_INGESTION_ENDPOINT: ingestion.endpoint,
      DCR_IMMUTABLE_ID: DCR,
      STATE_STORE_CONNECTION_STRING: azurite.connectionString,
      STATE_STORE_TABLE_NAME: `allowlist${++tableNo}`,
      ENRICHMENT_ENABLED: 'false',
      DETECTION_MODE: 'parity',
      ALLOWLIST_WATCHLIST: alias,
    });
  }
  const host = { credential: new FakeCredential(), tlsCa: testCertificate().ca, now: () => NOW, fastRetries: true };

  /**
   * One run over the example day. With `withScriptSha256`, each record carries its script
   * file's SHA256 (ScriptSha256), as corrected mode's findings do where DeviceFileEvents has it.
   */
  async function runJob(log = recordingLog(), withScriptSha256 = false): Promise<JobRunResult> {
    const config = settings();
    const { ports, checkpointName } = await createJobPorts(config, host, log);
    const toRecord: typeof ports.toRecord = (detected, context) => {
      const outgoing = ports.toRecord(detected, context);
      if (withScriptSha256) {
        const f = detected.finding;
        outgoing.record.ScriptSha256 = scriptSha256(f.VirtualMachineName, f.PowershellFileName);
      }
      return outgoing;
    };
    return runDetectionJob(
      { ...ports, toRecord },
      { now: () => NOW, ingestionDelayMinutes: 15, maxCatchupDays: 14, checkpointName, log },
    );
  }

  /** The findings that reached the findings table: "VM caller" each, sorted. */
  const arrived = () => ingestion.received.map((r) => `${String(r.VirtualMachineName)} ${String(r.Caller)}`).sort();
  const eventsOf = (run: JobRunResult, kind: HealthEvent['kind']) => run.events.filter((e) => e.kind === kind);

  it('with no allowlist entry matching, all three findings arrive (the reference)', async () => {
    logAnalytics.watchlists[ALIAS] = [item('Caller', 'nobody@contoso.com', 'matches no finding')];
    const run = await runJob();
    expect(run.outcome).toBe('completed');
    expect(arrived()).toHaveLength(3);
    expect(run.processed[0]!.allowlisted).toBe(0);
    expect(logAnalytics.requests.filter((r) => r.kind === 'watchlist')).toHaveLength(1);
  });

  it.each([
    ['VirtualMachineName', 'DC09', 'domain controller maintenance', ['app07 svc-deploy@contoso.onmicrosoft.com']],
    [
      'Caller',
      'SVC-DEPLOY@contoso.onmicrosoft.com',
      'the deployment pipeline',
      ['dc09 Eve.Admin@Fabrikam.com', 'dc09 alice@contoso.com'],
    ],
    [
      'CallerIpAddress',
      '2001:db8::/32',
      'the admin network',
      ['app07 svc-deploy@contoso.onmicrosoft.com', 'dc09 alice@contoso.com'],
    ],
    ['CallerIpAddress', '31.238.59.199', 'the build agent', ['dc09 Eve.Admin@Fabrikam.com', 'dc09 alice@contoso.com']],
    [
      'ScriptFingerprintHash',
      FINGERPRINT_ALICE.toUpperCase(),
      "alice's weekly report",
      ['app07 svc-deploy@contoso.onmicrosoft.com', 'dc09 Eve.Admin@Fabrikam.com'],
    ],
  ])('an entry of Kind %s (%s) keeps its findings out of the findings table', async (kind, value, reason, rest) => {
    logAnalytics.watchlists[ALIAS] = [item(kind, value, reason)];
    const log = recordingLog();
    const run = await runJob(log);
    expect(run.outcome).toBe('completed');
    expect(arrived()).toEqual(rest);
    expect(run.processed[0]!.allowlisted).toBe(3 - rest.length);
    expect(run.processed[0]!.written).toBe(rest.length);
    const [event] = eventsOf(run, 'allowlisted');
    expect(event!.severity).toBe('info');
    expect((event!.details!.findings as unknown[]).length).toBe(3 - rest.length);
    // Each suppressed finding is logged with the entry's reason.
    const logged = log.lines.filter((l) => l.message.startsWith('Finding allowlisted'));
    expect(logged).toHaveLength(3 - rest.length);
    for (const l of logged) expect(l.message).toContain(reason);
  });

  it('an entry of Kind ScriptSha256 matches the finding whose script file has that hash', async () => {
    logAnalytics.watchlists[ALIAS] = [item('ScriptSha256', scriptSha256('app07', 'script3.ps1'), 'signed installer')];
    const run = await runJob(recordingLog(), true);
    expect(arrived()).toEqual(['dc09 Eve.Admin@Fabrikam.com', 'dc09 alice@contoso.com']);
    expect(run.processed[0]!.allowlisted).toBe(1);
    // Without the hash on the finding (no file evidence), the same entry suppresses nothing.
    ingestion.reset();
    const plain = await runJob(recordingLog(), false);
    expect(plain.processed[0]!.allowlisted).toBe(0);
    expect(arrived()).toHaveLength(3);
  });

  it('an expired entry no longer suppresses, and its expiry is reported', async () => {
    logAnalytics.watchlists[ALIAS] = [
      // In force through 2026-11-25 (UTC): expired at midnight, before this run (00:15).
      item('VirtualMachineName', 'dc09', 'patch window', '2026-11-25'),
      item('Caller', 'alice@contoso.com', 'until tomorrow', '2026-11-27T00:00:00Z'),
    ];
    const run = await runJob();
    expect(arrived()).toEqual(['app07 svc-deploy@contoso.onmicrosoft.com', 'dc09 Eve.Admin@Fabrikam.com']);
    expect(run.processed[0]!.allowlisted).toBe(1);
    const [expired] = eventsOf(run, 'allowlist-entry-expired');
    expect(expired!.message).toContain("VirtualMachineName 'dc09' (patch window, expires 2026-11-25)");
    expect(expired!.details!.expired).toEqual([
      { where: 'watchlist item item-1', kind: 'VirtualMachineName', value: 'dc09', expires: '2026-11-25' },
    ]);
  });

  it('a bad row is a warning naming it, an unknown Kind is refused, the other entries apply', async () => {
    logAnalytics.watchlists[ALIAS] = [
      item('Hostname', 'app07', 'not a kind'),
      item('ScriptSha256', 'not-a-hash', 'bad value'),
      item('Caller', 'alice@contoso.com', ''),
      item('CallerIpAddress', '31.238.59.199', 'bad expiry', 'next week'),
      { ...item('VirtualMachineName', 'dc09', 'maintenance'), _DTItemId: 'b2f7' },
    ];
    const run = await runJob();
    expect(run.outcome).toBe('completed');
    expect(arrived()).toEqual(['app07 svc-deploy@contoso.onmicrosoft.com']);
    const [refused] = eventsOf(run, 'allowlist-entry-refused');
    expect(refused!.severity).toBe('warning');
    expect(refused!.details!.refused).toEqual([
      { where: 'watchlist item item-1', problem: expect.stringContaining("unknown Kind 'Hostname'") },
      { where: 'watchlist item item-2', problem: expect.stringContaining('is not a SHA256') },
      { where: 'watchlist item item-3', problem: expect.stringContaining('Reason is empty') },
      { where: 'watchlist item item-4', problem: expect.stringContaining("Expires 'next week'") },
    ]);
    expect(eventsOf(run, 'allowlisted')[0]!.details!.findings).toEqual([
      expect.objectContaining({ VirtualMachineName: 'dc09', entry: 'watchlist item b2f7', reason: 'maintenance' }),
      expect.objectContaining({ VirtualMachineName: 'dc09', entry: 'watchlist item b2f7', reason: 'maintenance' }),
    ]);
  });

  it('a watchlist without the Expires column is read (column_ifexists): its entries never expire', async () => {
    logAnalytics.watchlists[ALIAS] = [{ Kind: 'VirtualMachineName', Value: 'app07', Reason: 'build server' }];
    const run = await runJob();
    expect(run.processed[0]!.allowlisted).toBe(1);
    expect(eventsOf(run, 'allowlist-entry-refused')).toEqual([]);
  });

  it('an item last refreshed 11 days ago is seen (Sentinel refreshes items every 12 days)', async () => {
    logAnalytics.watchlists[ALIAS] = [
      { ...item('VirtualMachineName', 'app07', 'build server'), TimeGenerated: '2026-11-15T00:00:00Z' },
    ];
    const run = await runJob();
    expect(run.processed[0]!.allowlisted).toBe(1);
    const [request] = logAnalytics.requests.filter((r) => r.kind === 'watchlist');
    const [from] = request!.timespan!.split('/');
    expect(Date.parse(from!)).toBeLessThanOrEqual(NOW.getTime() - 12 * 86_400_000);
  });

  it('a watchlist that cannot be read: every finding is written, and a warning says so', async () => {
    logAnalytics.watchlists[ALIAS] = [item('VirtualMachineName', 'dc09', 'maintenance')];
    logAnalytics.watchlistFaults.push({ kind: 'status', status: 403 });
    const run = await runJob();
    expect(run.outcome).toBe('completed');
    expect(arrived()).toHaveLength(3);
    const [unavailable] = eventsOf(run, 'allowlist-unavailable');
    expect(unavailable!.severity).toBe('warning');
    expect(unavailable!.message).toContain(`watchlist '${ALIAS}'`);
    expect(unavailable!.message).toContain('every finding is written');
    expect(run.processed[0]!.allowlisted).toBe(0);
  });

  it('a watchlist with no items (a wrong alias) is a warning too; nothing is suppressed', async () => {
    const run = await runJob();
    expect(arrived()).toHaveLength(3);
    expect(eventsOf(run, 'allowlist-unavailable')[0]!.message).toContain('has no items');
  });

  it('the health records count the allowlisted findings, which never reach the findings table', async () => {
    logAnalytics.watchlists[ALIAS] = [item('VirtualMachineName', 'dc09', 'domain controller maintenance')];
    const { run } = await runOccurrence(settings(), {}, recordingLog(), host);
    expect(run.outcome).toBe('completed');
    expect(arrived()).toEqual(['app07 svc-deploy@contoso.onmicrosoft.com']);
    const window = ingestion.health.find((r) => r.RecordKind === 'window')!;
    expect(window).toMatchObject({ Findings: 3, FindingsSent: 1, AllowlistedFindings: 2 });
    expect(ingestion.health.find((r) => r.RecordKind === 'run')).toMatchObject({ AllowlistedFindings: 2 });
    const event = ingestion.health.find((r) => r.EventKind === 'allowlisted')!;
    expect(event.Severity).toBe('info');
    expect(String(event.Message)).toContain('domain controller maintenance');
  });

  it('with ALLOWLIST_WATCHLIST blank (as Bicep writes it without an allowlist), there is no allowlist', async () => {
    const config = settings('');
    const { ports } = await createJobPorts(config, host, recordingLog());
    expect(ports.allowlist).toBeUndefined();
  });
});
