/**
 * `runcommand-detect job`, run as a user or an operator runs it: the compiled program in
 * a process of its own, its settings in environment variables named as the app
 * settings, the managed identity reached as Azure Functions provides it
 * (IDENTITY_ENDPOINT / IDENTITY_HEADER), TLS trust through NODE_EXTRA_CA_CERTS, Table
 * Storage on Azurite and HTTPS stand-ins for the query and Logs Ingestion APIs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDING_COLUMNS, TABLE_NAMES } from '../../../src/detection/schema';
import { StateStore } from '../../../src/stateStore';
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { ensureBuilt } from '../../support/build';
import { AppServiceIdentityStandIn, IDENTITY_HEADER } from '../../support/identityStandIn';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { LogAnalyticsStandIn, readFixtureDay, type FixtureTables } from '../../support/logAnalyticsStandIn';
import { testCertificate } from '../../support/tls';
import { readFileSync } from 'node:fs';

const WORKSPACE = '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const FIXTURES = join(__dirname, '../../fixtures/examples');
const DAY_MS = 86_400_000;

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const YESTERDAY = isoDay(today - DAY_MS);
const BEFORE = isoDay(today - 2 * DAY_MS);
const midnight = (d: string) => `${d}T00:00:00.0000000Z`;

function shifted(dir: string, to: string): FixtureTables {
  const tables = readFixtureDay(join(FIXTURES, dir));
  const out = {} as FixtureTables;
  for (const t of TABLE_NAMES) {
    out[t] = tables[t].map((r) => ({ ...r, TimeGenerated: String(r.TimeGenerated).replace('2026-11-25', to) }));
  }
  return out;
}

function expected(dir: string, to: string): string[] {
  return readFileSync(join(FIXTURES, dir, 'expected.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => ruleColumns(JSON.parse(l.replaceAll('2026-11-25T', `${to}T`)) as Record<string, unknown>))
    .sort();
}

function ruleColumns(record: Record<string, unknown>): string {
  return JSON.stringify(FINDING_COLUMNS.map(([c]) => record[c]));
}

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

describe('runcommand-detect job', () => {
  let cli: string;
  let azurite: RunningAzurite;
  let logAnalytics: LogAnalyticsStandIn;
  let ingestion: IngestionStandIn;
  const identity = new AppServiceIdentityStandIn(() => 'fake-token');
  let tmp: string;
  let caFile: string;
  let tableNo = 0;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cli = ensureBuilt();
    tmp = mkdtempSync(join(tmpdir(), 'rcd-job-'));
    caFile = join(tmp, 'ca.pem');
    writeFileSync(caFile, testCertificate().ca);
    const both = shifted('plain-day', YESTERDAY);
    const before = shifted('tricky-day', BEFORE);
    for (const t of TABLE_NAMES) both[t] = [...before[t], ...both[t]];
    [azurite, logAnalytics, ingestion] = await Promise.all([
      startAzuriteTables(),
      LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables: both }),
      IngestionStandIn.start({ dcrImmutableId: DCR }),
      identity.start(),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([azurite?.stop(), logAnalytics?.stop(), ingestion?.stop(), identity.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    ingestion.reset();
    env = {
      PATH: process.env.PATH,
      NODE_EXTRA_CA_CERTS: caFile,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER,
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      LOG_ANALYTICS_ENDPOINT: logAnalytics.endpoint,
      LOGS_INGESTION_ENDPOINT: ingestion.endpoint,
      DCR_IMMUTABLE_ID: DCR,
      STATE_STORE_CONNECTION_STRING: azurite.connectionString,
      STATE_STORE_TABLE_NAME: `jobcli${++tableNo}`,
      INGESTION_DELAY_MINUTES: '0',
      ENRICHMENT_ENABLED: 'false',
    };
  });

  function job(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Exit> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, 'job', ...args],
        { env: { ...env, ...extraEnv }, timeout: 120_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async function checkpoint(): Promise<string | undefined> {
    const store = await StateStore.open(
      { kind: 'connectionString', connectionString: azurite.connectionString },
      { tableName: env.STATE_STORE_TABLE_NAME },
    );
    return (await store.getCheckpoint('runCommandDetection-parity'))?.value;
  }

  it('runs the due day with the managed identity, writes its findings and health once, and exits 0', async () => {
    const first = await job([]);
    expect(first.stderr).toContain('"credential":"managedIdentity"');
    expect(first.code).toBe(0);
    expect(ingestion.received.map(ruleColumns).sort()).toEqual(expected('plain-day', YESTERDAY));
    expect(await checkpoint()).toBe(midnight(isoDay(today)));
    expect(identity.requests.length).toBeGreaterThan(0);
    expect(identity.requests.every((r) => r.headers['x-identity-header'] === IDENTITY_HEADER)).toBe(true);
    expect(ingestion.health).toEqual(
      expect.arrayContaining([expect.objectContaining({ RecordKind: 'window', Outcome: 'processed' })]),
    );
    expect(first.stderr).toMatch(/1 window\(s\) processed, \d+ finding\(s\)\n$/);

    const sent = ingestion.received.length;
    const again = await job([]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('0 window(s) processed');
    expect(ingestion.received).toHaveLength(sent);
  });

  it('--dry-run prints what it would send and writes nothing: no findings, no checkpoint, no health', async () => {
    const dry = await job(['--dry-run']);
    expect(dry.code).toBe(0);
    const printed = dry.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(printed.map(ruleColumns).sort()).toEqual(expected('plain-day', YESTERDAY));
    expect(printed.every((r) => typeof r.FindingId === 'string')).toBe(true);
    expect(ingestion.calls).toHaveLength(0);
    expect(ingestion.health).toHaveLength(0);
    expect(await checkpoint()).toBeUndefined();
    expect(dry.stderr).toContain('(dry run: nothing written)');
  });

  it('--from/--to backfills past days through the ledger, sends nothing twice and leaves the checkpoint', async () => {
    expect((await job([])).code).toBe(0);
    const afterRun = await checkpoint();
    const sentBefore = ingestion.received.length;
    const backfill = await job(['--from', BEFORE, '--to', isoDay(today)]);
    expect(backfill.code).toBe(0);
    expect(backfill.stderr).toContain('2 window(s) processed');
    // Only the earlier day's findings are new: yesterday's were sent by the run.
    expect(ingestion.received.slice(sentBefore).map(ruleColumns).sort()).toEqual(expected('tricky-day', BEFORE));
    const ids = ingestion.received.map((r) => r.FindingId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(await checkpoint()).toBe(afterRun);
  });

  it('exit 2 for usage and settings errors, naming what to fix', async () => {
    const usage = await job(['--from', BEFORE]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--from and --to go together');
    const notOver = await job(['--from', BEFORE, '--to', isoDay(today + DAY_MS)]);
    expect(notOver.code).toBe(2);
    expect(notOver.stderr).toContain('not all over');
    const settings = await job([], { LOG_ANALYTICS_WORKSPACE_ID: 'not-a-guid' });
    expect(settings.code).toBe(2);
    expect(settings.stderr).toContain('LOG_ANALYTICS_WORKSPACE_ID');
    const help = await job(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: runcommand-detect job');
  });

  it('--settings FILE fills in what the environment does not set', async () => {
    const file = join(tmp, 'local.settings.json');
    writeFileSync(
      file,
      JSON.stringify({ IsEncrypted: false, Values: { DCR_IMMUTABLE_ID: DCR, STATE_STORE_TABLE_NAME: 'ignored' } }),
    );
    const withoutDcr = { ...env };
    delete withoutDcr.DCR_IMMUTABLE_ID;
    env = withoutDcr;
    const fromFile = await job(['--settings', file, '--dry-run']);
    expect(fromFile.code).toBe(0);
    const missing = await job(['--dry-run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DCR_IMMUTABLE_ID');
  });

  it('exit 1 when a window fails, naming the window and the phase; the checkpoint stays', async () => {
    logAnalytics.persistentFault = ({ table }) =>
      table === 'DeviceEvents' ? { kind: 'status', status: 403 } : undefined;
    try {
      const failed = await job([]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(
        `Window [${midnight(YESTERDAY)}, ${midnight(isoDay(today))}) failed while pulling`,
      );
      // The first window was stored before it was processed, and was not advanced past.
      expect(await checkpoint()).toBe(midnight(YESTERDAY));
      expect(ingestion.health).toEqual(
        expect.arrayContaining([expect.objectContaining({ RecordKind: 'window', Outcome: 'failed', Phase: 'pull' })]),
      );
    } finally {
      logAnalytics.persistentFault = undefined;
    }
  });
});
