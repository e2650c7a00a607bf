/**
 * LogAnalyticsSource against the HTTPS stand-in, with the real LogsQueryClient: the
 * rows pulled for a day are exactly the rows of the day's files that the rule's
 * per-table filters keep, and the rule over them returns the same findings, also
 * when responses are capped, throttled, fail transiently or come back partial.
 */
import { join } from 'node:path';
import { CredentialUnavailableError } from '@azure/identity';
import { detectParity, ParityDetection } from '../../../src/detection';
import { TABLE_NAMES, type RuleTableName } from '../../../src/detection/schema';
import { readTableDirectory } from '../../../src/io/tableFiles';
import { LogAnalyticsConfigError, SliceFailedError } from '../../../src/logAnalytics/errors';
import {
  LogAnalyticsSource,
  type LogAnalyticsSourceOptions,
  type PullProgress,
} from '../../../src/logAnalytics/source';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, readFixtureDay } from '../../support/logAnalyticsStandIn';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const DAY = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };
const FIXTURES = join(__dirname, '../../fixtures/examples');

function fileTables(dir: string) {
  const detection = new ParityDetection();
  const tables = { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] } as Record<RuleTableName, unknown[]>;
  readTableDirectory(dir, {
    add(table, row) {
      // The rows the rule's own per-table filters keep: what the push-down must fetch.
      if (table !== 'DeviceProcessEvents' && ParityDetection.isRelevant(table, row))
        tables[table as RuleTableName].push(row);
      detection.add(table, row);
    },
  });
  return { tables, findings: detection.finish().findings };
}

/** Rows as sortable text; a dynamic cell as its `tostring` text (an object and its JSON text mean the same). */
const canonical = (rows: unknown[]) =>
  rows
    .map((r) => {
      const row = { ...(r as Record<string, unknown>) };
      if ('AdditionalFields' in row && typeof row.AdditionalFields !== 'string' && row.AdditionalFields !== null) {
        row.AdditionalFields = JSON.stringify(row.AdditionalFields);
      }
      return JSON.stringify(row);
    })
    .sort();

describe.each(['plain-day', 'tricky-day'])('LogAnalyticsSource over %s', (day) => {
  let standIn: LogAnalyticsStandIn;
  const expected = fileTables(join(FIXTURES, day));

  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables: readFixtureDay(join(FIXTURES, day)) });
  });
  afterAll(() => standIn.stop());
  beforeEach(() => {
    standIn.requests.length = 0;
    standIn.faults.length = 0;
    standIn.rowCap = undefined;
    standIn.capMode = 'partialError';
    standIn.persistentFault = undefined;
    standIn.responseDelayMs = 0;
    standIn.maxInFlight = 0;
  });

  const source = (extra: Partial<LogAnalyticsSourceOptions> = {}) =>
    new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential: new FakeCredential(),
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      ...extra,
    });

  it('pulls exactly the rows the rule keeps, and the rule finds the same as over the files', async () => {
    const progress: PullProgress[] = [];
    const pulled = await source().pullWindow(DAY, (p) => progress.push(p));
    for (const t of TABLE_NAMES) expect(canonical(pulled.tables[t])).toEqual(canonical(expected.tables[t]));
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    expect(expected.findings.length).toBeGreaterThan(0);
    // 4 slices per table, one query each, bearer token and Prefer: wait=600 on every request.
    expect(standIn.pulls).toHaveLength(12);
    for (const r of standIn.pulls) {
      expect(r.authorization).toBe('Bearer fake-token');
      expect(r.prefer).toContain('wait=600');
    }
    for (const t of TABLE_NAMES) {
      expect(pulled.stats[t]).toMatchObject({ rows: expected.tables[t].length, slices: 4, queries: 4, retries: 0 });
      expect(pulled.stats[t].bytes).toBeGreaterThan(0);
    }
    expect(progress.at(-1)).toMatchObject({ slicesDone: 12, slicesTotal: 12 });
    expect(progress.at(-1)!.rowsSoFar).toBe(TABLE_NAMES.reduce((n, t) => n + expected.tables[t].length, 0));
  });

  it('never has more than maxConcurrency queries in flight', async () => {
    standIn.responseDelayMs = 20;
    const pulled = await source({ maxConcurrency: 2, initialSlicesPerTable: 8 }).pullWindow(DAY);
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    expect(new Set(standIn.pulls.map((r) => `${r.table} ${r.start}`)).size).toBe(24);
    expect(standIn.maxInFlight).toBe(2);
  });

  it('halves slices whose answer exceeds the row cap (PartialError E_QUERY_RESULT_SET_TOO_LARGE) and still finds the same', async () => {
    standIn.rowCap = 20;
    const pulled = await source({ initialSlicesPerTable: 1, minSliceTicks: 10_000_000n }).pullWindow(DAY);
    for (const t of TABLE_NAMES) expect(canonical(pulled.tables[t])).toEqual(canonical(expected.tables[t]));
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    const tooLarge = standIn.pulls.filter((r) => r.outcome === 'tooLarge');
    expect(tooLarge.length).toBeGreaterThan(0);
    const big = TABLE_NAMES.find((t) => expected.tables[t].length > 20)!;
    expect(pulled.stats[big].halvings).toBeGreaterThan(0);
    expect(pulled.stats[big].slices).toBe(pulled.stats[big].halvings + 1);
    for (const r of standIn.pulls.filter((x) => x.outcome === 'rows')) expect(r.rows).toBeLessThanOrEqual(20);
  });

  it('asks for both halves of a halved slice at once', async () => {
    standIn.rowCap = 20;
    standIn.responseDelayMs = 10;
    const pulled = await source({ tables: ['AzureActivity'], initialSlicesPerTable: 1, maxConcurrency: 4 }).pullWindow(
      DAY,
    );
    expect(canonical(pulled.tables.AzureActivity)).toEqual(canonical(expected.tables.AzureActivity));
    expect(pulled.tables.DeviceEvents).toEqual([]);
    expect(standIn.pulls.every((r) => r.table === 'AzureActivity')).toBe(true);
    expect(standIn.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(standIn.maxInFlight).toBeLessThanOrEqual(4);
  });

  it('halves slices answered silently at the row cap (rowCap option)', async () => {
    standIn.rowCap = 20;
    standIn.capMode = 'silentTruncation';
    const pulled = await source({ initialSlicesPerTable: 1, rowCap: 20 }).pullWindow(DAY);
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    for (const t of TABLE_NAMES) expect(canonical(pulled.tables[t])).toEqual(canonical(expected.tables[t]));
    expect(standIn.pulls.filter((r) => r.outcome === 'truncated').length).toBeGreaterThan(0);
  });

  it('retries throttling (429 with Retry-After), 500, 504 and dropped connections, and counts the retries', async () => {
    standIn.faults.push(
      { kind: 'status', status: 429, retryAfter: '0' },
      { kind: 'status', status: 500 },
      { kind: 'status', status: 504 },
      { kind: 'reset' },
      { kind: 'status', status: 503 },
    );
    const pulled = await source({ maxConcurrency: 1 }).pullWindow(DAY);
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    const retries = TABLE_NAMES.reduce((n, t) => n + pulled.stats[t].retries, 0);
    expect(retries).toBe(5);
    expect(standIn.pulls).toHaveLength(12 + 5);
  });

  it('waits at least what Retry-After says, and logs the rows and bytes of the pull at the end', async () => {
    standIn.faults.push({ kind: 'status', status: 429, retryAfter: '0.05' });
    const logs: Array<[string, string, Record<string, unknown> | undefined]> = [];
    const logger = {
      info: (m: string, d?: Record<string, unknown>) => logs.push(['info', m, d]),
      warn: (m: string, d?: Record<string, unknown>) => logs.push(['warn', m, d]),
    };
    const pulled = await source({ maxConcurrency: 1, logger }).pullWindow(DAY);
    const retry = logs.find(([level, m]) => level === 'warn' && m.startsWith('Query failed; retrying'));
    expect(retry?.[2]).toMatchObject({ status: 429, table: 'AzureActivity' });
    expect(retry![2]!.waitMs as number).toBeGreaterThanOrEqual(50);
    const done = logs.find(([, m]) => m === 'Log Analytics pull complete');
    expect(done?.[2]).toMatchObject({
      AzureActivity: pulled.stats.AzureActivity,
      DeviceEvents: pulled.stats.DeviceEvents,
    });
    expect(pulled.stats.AzureActivity.bytes).toBeGreaterThan(0);
  });

  it('asks again, in halves, when an answer comes back with a PartialError', async () => {
    standIn.faults.push({ kind: 'partial' });
    const pulled = await source({ maxConcurrency: 1 }).pullWindow(DAY);
    expect(detectParity(pulled.tables)).toEqual(expected.findings);
    for (const t of TABLE_NAMES) expect(canonical(pulled.tables[t])).toEqual(canonical(expected.tables[t]));
    expect(pulled.stats.AzureActivity.halvings).toBe(1);
  });

  it('fails the whole window, naming table and slice, when a slice keeps failing', async () => {
    standIn.persistentFault = ({ table, start }) =>
      table === 'DeviceEvents' && start === '2026-11-25T12:00:00.0000000Z'
        ? { kind: 'status', status: 500 }
        : undefined;
    const progress: PullProgress[] = [];
    const err = await source({ retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 } })
      .pullWindow(DAY, (p) => progress.push(p))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(SliceFailedError);
    const e = err as SliceFailedError;
    expect(e.table).toBe('DeviceEvents');
    expect(e.slice).toEqual({ start: '2026-11-25T12:00:00.0000000Z', end: '2026-11-25T18:00:00.0000000Z' });
    expect(e.message).toContain('DeviceEvents');
    expect(e.message).toContain('[2026-11-25T12:00:00.0000000Z, 2026-11-25T18:00:00.0000000Z)');
    expect(e.message).toContain('HTTP 500 persisted after 2 retries');
    expect(standIn.requestsFor('DeviceEvents').filter((r) => r.start === e.slice.start)).toHaveLength(3);
  });

  it('fails when an answer is still too large at the minimum slice length', async () => {
    standIn.rowCap = 0;
    const err = await source({ initialSlicesPerTable: 1, minSliceTicks: 6n * 3600n * 10_000_000n })
      .pullWindow(DAY)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(SliceFailedError);
    expect((err as Error).message).toMatch(/too large or partial at the minimum slice length/);
  });
});

describe('slice boundaries', () => {
  it('fetches a row on a slice boundary exactly once, to the tick', async () => {
    const op = (t: string, status: string) => ({
      TimeGenerated: t,
      OperationNameValue: 'Microsoft.Compute/virtualMachines/runCommand/action',
      Authorization: '{"scope":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm1"}',
      CorrelationId: 'c-' + t,
      Caller: 'a@b.c',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    });
    const times = [
      '2026-11-25T05:59:59.9999999Z',
      '2026-11-25T06:00:00.0000000Z',
      '2026-11-25T06:00:00.0000001Z',
      '2026-11-25T00:00:00.0000000Z',
      '2026-11-25T23:59:59.9999999Z',
      '2026-11-26T00:00:00.0000000Z',
      '2026-11-24T23:59:59.9999999Z',
    ];
    const standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: { AzureActivity: times.map((t) => op(t, 'Succeeded')), DeviceFileEvents: [], DeviceEvents: [] },
    });
    try {
      const src = new LogAnalyticsSource({
        workspaceId: WORKSPACE,
        credential: new FakeCredential(),
        endpoint: standIn.endpoint,
        clientOptions: { tlsOptions: { ca: standIn.ca } },
        initialSlicesPerTable: 4,
      });
      const pulled = await src.pullWindow(DAY);
      expect(pulled.tables.AzureActivity.map((r) => r.TimeGenerated).sort()).toEqual(times.slice(0, 5).sort());
      const bounds = standIn.requestsFor('AzureActivity').map((r) => [r.start, r.end, r.timespan]);
      expect(bounds).toContainEqual([
        '2026-11-25T00:00:00.0000000Z',
        '2026-11-25T06:00:00.0000000Z',
        '2026-11-25T00:00:00.000Z/2026-11-25T06:00:00.000Z',
      ]);
    } finally {
      await standIn.stop();
    }
  });
});

describe('LogAnalyticsSource refusals', () => {
  let standIn: LogAnalyticsStandIn;
  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: readFixtureDay(join(FIXTURES, 'plain-day')),
      token: 'the-right-token',
    });
  });
  afterAll(() => standIn.stop());

  it('reports a refused token as a SliceFailedError with advice, without retrying', async () => {
    const src = new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential: new FakeCredential('wrong-token'),
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      maxConcurrency: 1,
    });
    const err = await src.pullWindow(DAY).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SliceFailedError);
    expect((err as Error).message).toContain('HTTP 401');
    expect(standIn.pulls.length).toBeLessThanOrEqual(1);
  });

  it('asks the credential for a token of the endpoint (sovereign clouds)', async () => {
    const credential = new FakeCredential('the-right-token');
    const src = new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential,
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
    });
    await src.pullWindow(DAY);
    expect(new Set(credential.scopesAsked)).toEqual(new Set([`${new URL(standIn.endpoint).origin}/.default`]));
  });

  it('says how to sign in when the credential has no token, without sending a query', async () => {
    const before = standIn.pulls.length;
    const credential = {
      getToken: async () => {
        throw new CredentialUnavailableError('ManagedIdentityCredential: no managed identity endpoint found');
      },
    };
    const src = new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential,
      endpoint: standIn.endpoint,
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      maxConcurrency: 1,
    });
    const err = await src.pullWindow(DAY).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SliceFailedError);
    expect((err as Error).message).toMatch(
      /no token for the query API .*no managed identity endpoint found.*AZURE_CLIENT_ID/,
    );
    expect(standIn.pulls.length).toBe(before);
  });

  it('rejects a workspace id that is not a GUID and an endpoint without /v1', () => {
    const credential = new FakeCredential();
    expect(() => new LogAnalyticsSource({ workspaceId: 'my-workspace', credential })).toThrow(/not a GUID/);
    expect(
      () => new LogAnalyticsSource({ workspaceId: WORKSPACE, credential, endpoint: 'https://api.loganalytics.io' }),
    ).toThrow(/ending in \/v1/);
    expect(() => new LogAnalyticsSource({ workspaceId: WORKSPACE, credential, rowCap: 0 })).toThrow(
      /rowCap must be a positive integer, got 0/,
    );
    expect(() => new LogAnalyticsSource({ workspaceId: WORKSPACE, credential, initialSlicesPerTable: 1.5 })).toThrow(
      LogAnalyticsConfigError,
    );
  });
});

describe('LogAnalyticsSource in corrected mode (the Linux Run Command paths)', () => {
  const process = (t: string, commandLine: string, parent: string) => ({
    TimeGenerated: t,
    DeviceName: 'lnx01',
    ActionType: 'ProcessCreated',
    FileName: commandLine.split(' ')[0],
    ProcessCommandLine: commandLine,
    InitiatingProcessFileName: parent.split(' ')[0],
    InitiatingProcessCommandLine: parent,
    AccountName: 'root',
  });
  const script = '/var/lib/waagent/run-command-handler/download/rc1/0/script.sh';
  const rows = [
    process('2026-11-25T10:00:01.0000000Z', `/bin/bash -c ${script}`, 'run-command-handler enable'),
    process('2026-11-25T10:00:02.0000000Z', 'id -un', `/bin/bash -c ${script}`),
    process('2026-11-25T10:00:03.0000000Z', 'ls /tmp', '-bash'),
  ];

  it('pulls DeviceProcessEvents with its push-down in corrected mode, and never in parity mode', async () => {
    const standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [], DeviceProcessEvents: rows },
    });
    try {
      const source = (mode: 'parity' | 'corrected') =>
        new LogAnalyticsSource({
          workspaceId: WORKSPACE,
          credential: new FakeCredential(),
          endpoint: standIn.endpoint,
          clientOptions: { tlsOptions: { ca: standIn.ca } },
          mode,
        });
      const corrected = await source('corrected').pullWindow(DAY);
      // The push-down keeps the processes whose parent names a Run Command script: not the shell the
      // handler starts, nor a process of another parent.
      expect(corrected.tables.DeviceProcessEvents?.map((r) => r.ProcessCommandLine)).toEqual(['id -un']);
      expect(Object.keys(corrected.tables.DeviceProcessEvents![0]!).sort()).toEqual(
        [
          'DeviceName',
          'FileName',
          'InitiatingProcessCommandLine',
          'InitiatingProcessFileName',
          'ProcessCommandLine',
          'TimeGenerated',
        ].sort(),
      );
      expect(standIn.requestsFor('DeviceProcessEvents').length).toBeGreaterThan(0);
      standIn.requests.length = 0;
      const parity = await source('parity').pullWindow(DAY);
      expect(parity.tables.DeviceProcessEvents).toBeUndefined();
      expect(parity.stats.DeviceProcessEvents).toBeUndefined();
      expect(standIn.requests.filter((r) => r.query.startsWith('DeviceProcessEvents'))).toEqual([]);
    } finally {
      await standIn.stop();
    }
  });
});
