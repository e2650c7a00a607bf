/**
 * `runcommand-detect run` and `export` in-process, with the real SDK talking HTTPS to
 * the stand-in: `run` prints exactly what `detect` prints over the same day's files,
 * also under a small row cap, throttling, transient failures and partial errors; a
 * slice that keeps failing fails the run with no findings; `export` writes files that
 * `detect` reads back to the same findings.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { run as detect } from '../../../src/cli/detect';
import { run as exportCommand } from '../../../src/cli/export';
import { main } from '../../../src/cli/main';
import { run as runCommand } from '../../../src/cli/run';
import type { CliIo } from '../../../src/cli/io';
import type { LogAnalyticsCliDeps } from '../../../src/cli/logAnalyticsCommand';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, readFixtureDay } from '../../support/logAnalyticsStandIn';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const FIXTURES = join(__dirname, '../../fixtures/examples');
const WINDOW = ['--from', '2026-11-25', '--to', '2026-11-26'];

function capture(env: NodeJS.ProcessEnv = {}, tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, env };
  return { io, out: () => out, err: () => err };
}

describe.each(['plain-day', 'tricky-day'])('run and export over %s', (day) => {
  let standIn: LogAnalyticsStandIn;
  let detectOutput: string;
  let deps: LogAnalyticsCliDeps;
  const env = () => ({ LOG_ANALYTICS_ENDPOINT: standIn.endpoint });

  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables: readFixtureDay(join(FIXTURES, day)) });
    deps = {
      credential: new FakeCredential(),
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    };
    const c = capture();
    expect(await detect(['--input', join(FIXTURES, day)], c.io)).toBe(0);
    detectOutput = c.out();
    expect(detectOutput.trim().split('\n').length).toBeGreaterThan(0);
  });
  afterAll(() => standIn.stop());
  beforeEach(() => {
    standIn.faults.length = 0;
    standIn.rowCap = undefined;
    standIn.persistentFault = undefined;
    standIn.requests.length = 0;
  });

  it('run prints exactly what detect prints over the same files', async () => {
    const c = capture(env());
    expect(await runCommand(['--workspace', WORKSPACE, ...WINDOW], c.io, deps)).toBe(0);
    expect(c.out()).toBe(detectOutput);
    expect(c.err()).toMatch(/AzureActivity \d+ rows \(\d+ bytes, 4 slices, 4 queries, 0 retries\)/);
  });

  it('run still prints the same with responses capped at 20 rows, throttling, failures and partial errors', async () => {
    standIn.rowCap = 20;
    standIn.faults.push(
      { kind: 'status', status: 429, retryAfter: '0' },
      { kind: 'partial' },
      { kind: 'status', status: 504 },
      { kind: 'status', status: 500 },
    );
    const c = capture(env());
    const code = await runCommand(['--workspace', WORKSPACE, ...WINDOW, '--max-concurrency', '3'], c.io, {
      ...deps,
    });
    expect(code).toBe(0);
    expect(c.out()).toBe(detectOutput);
    expect(standIn.requests.some((r) => r.outcome === 'tooLarge')).toBe(true);
    expect(standIn.requests.filter((r) => r.outcome === 'fault')).toHaveLength(4);
  });

  it('run fails with a clear error and no findings when a slice keeps failing', async () => {
    standIn.persistentFault = ({ table, start }) =>
      table === 'DeviceFileEvents' && start === '2026-11-25T06:00:00.0000000Z'
        ? { kind: 'status', status: 503 }
        : undefined;
    const c = capture(env());
    const dir = mkdtempSync(join(tmpdir(), 'rcd-run-'));
    const out = join(dir, 'findings.ndjson');
    let code: number;
    try {
      code = await runCommand(['--workspace', WORKSPACE, ...WINDOW, '--output', out], c.io, deps);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(code).toBe(1);
    expect(c.out()).toBe('');
    expect(c.err()).toContain(
      'Could not fetch DeviceFileEvents for [2026-11-25T06:00:00.0000000Z, 2026-11-25T12:00:00.0000000Z): HTTP 503 persisted after 5 retries',
    );
    expect(c.err()).toContain('No findings were produced for this window.');
  });

  it('export writes NDJSON that detect reads back to the same findings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-export-'));
    try {
      const c = capture(env());
      expect(await exportCommand(['--workspace', WORKSPACE, ...WINDOW, '--out', dir], c.io, deps)).toBe(0);
      const firstLine = readFileSync(join(dir, 'AzureActivity.ndjson'), 'utf8').split('\n')[0]!;
      expect(JSON.parse(firstLine).TimeGenerated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      const d = capture();
      expect(await detect(['--input', dir], d.io)).toBe(0);
      expect(d.out()).toBe(detectOutput);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('export of a window with no Run Command rows', () => {
  it('writes [] for the empty tables, which detect reads as no rows (not as a failed export)', async () => {
    const days = readFixtureDay(join(FIXTURES, 'plain-day'));
    const standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: { ...days, DeviceFileEvents: [] },
    });
    const dir = mkdtempSync(join(tmpdir(), 'rcd-export-empty-'));
    try {
      const deps: LogAnalyticsCliDeps = {
        credential: new FakeCredential(),
        clientOptions: { tlsOptions: { ca: standIn.ca } },
      };
      const c = capture({ LOG_ANALYTICS_ENDPOINT: standIn.endpoint });
      expect(await exportCommand(['--workspace', WORKSPACE, ...WINDOW, '--out', dir], c.io, deps)).toBe(0);
      expect(readFileSync(join(dir, 'DeviceFileEvents.json'), 'utf8').trim()).toBe('[]');
      expect(existsSync(join(dir, 'DeviceFileEvents.ndjson'))).toBe(false);
      const d = capture();
      expect(await detect(['--input', dir], d.io)).toBe(0);
      expect(d.out()).toBe(''); // no script files: no operation joins, no findings
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await standIn.stop();
    }
  });
});

describe('run and export options', () => {
  let standIn: LogAnalyticsStandIn;
  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: readFixtureDay(join(FIXTURES, 'plain-day')),
    });
  });
  afterAll(() => standIn.stop());

  it('run defaults to the last complete UTC day and shows progress on a terminal', async () => {
    const c = capture({ LOG_ANALYTICS_ENDPOINT: standIn.endpoint, LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE }, true);
    const code = await runCommand([], c.io, {
      credential: new FakeCredential(),
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      now: () => new Date('2026-11-26T03:00:00Z'),
    });
    expect(code).toBe(0);
    expect(standIn.requests.at(-1)!.timespan).toMatch(/^2026-11-25T\d\d:00:00.000Z\/2026-11-2[56]T\d\d:00:00.000Z$/);
    expect(c.err()).toMatch(/\rrun: slices 12\/12, rows \d+/);
    expect(c.out().length).toBeGreaterThan(0);
  });

  it('usage errors exit 2 and name the option', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--from', '2026-11-25', '--to', '2026-11-26'], /--workspace ID is required/],
      [['--workspace', WORKSPACE, '--from', '2026-11-25'], /give both --from and --to/],
      [['--workspace', WORKSPACE, '--from', 'yesterday', '--to', '2026-11-26'], /--from\/--to: start 'yesterday'/],
      [['--workspace', WORKSPACE, '--bogus'], /unknown option '--bogus'/],
      [['--workspace', WORKSPACE, '--max-concurrency', '0'], /--max-concurrency must be a positive integer/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await runCommand(argv, c.io, { credential: new FakeCredential() })).toBe(2);
      expect(c.err()).toMatch(message);
    }
    const e = capture();
    expect(await exportCommand(['--workspace', WORKSPACE, ...WINDOW], e.io, { credential: new FakeCredential() })).toBe(
      2,
    );
    expect(e.err()).toMatch(/--out DIR is required/);
  });

  it('a bad workspace id or endpoint is a usage error (exit 2) naming the option or the environment variable', async () => {
    const c = capture();
    expect(await runCommand(['--workspace', 'my-ws', ...WINDOW], c.io, { credential: new FakeCredential() })).toBe(2);
    expect(c.err()).toMatch(/^runcommand-detect run: --workspace: 'my-ws' is not a GUID/);
    const e = capture({ LOG_ANALYTICS_WORKSPACE_ID: 'my-ws' });
    expect(await runCommand(WINDOW, e.io, { credential: new FakeCredential() })).toBe(2);
    expect(e.err()).toMatch(
      /LOG_ANALYTICS_WORKSPACE_ID \(environment variable, the default of --workspace\): 'my-ws' is not a GUID/,
    );
    const u = capture({ LOG_ANALYTICS_ENDPOINT: 'https://example.invalid' });
    expect(await runCommand(['--workspace', WORKSPACE, ...WINDOW], u.io, { credential: new FakeCredential() })).toBe(2);
    expect(u.err()).toMatch(/LOG_ANALYTICS_ENDPOINT \(environment variable, the default of --endpoint\): .*\/v1/);
  });

  it('main lists and dispatches export and run', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.out()).toMatch(/export/);
    expect(c.out()).toMatch(/ run /);
    const h = capture();
    expect(await main(['run', '--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/^Usage: runcommand-detect run/);
  });
});
