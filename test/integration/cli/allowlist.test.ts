/**
 * `runcommand-detect allowlist` in-process: the findings of a past day replayed from the
 * query stand-in (real LogsQueryClient), or read from a findings file; the entries from
 * the stand-in's watchlist (`_GetWatchlist`) or from the CSV file uploaded as the
 * watchlist. It lists what would be suppressed, with each entry's reason; refused rows
 * and expired entries go to stderr; usage errors are one line.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ALLOWLIST_USAGE, run as allowlist } from '../../../src/cli/allowlist';
import { main } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import type { LogAnalyticsCliDeps } from '../../../src/cli/logAnalyticsCommand';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, readFixtureDay } from '../../support/logAnalyticsStandIn';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const FIXTURES = join(__dirname, '../../fixtures/examples');
const WINDOW = ['--from', '2026-11-25', '--to', '2026-11-26'];
const NOW = new Date('2026-11-26T08:00:00Z');
const HASH = 'ab'.repeat(32);

function capture(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, env };
  return { io, out: () => out, err: () => err };
}
const ndjson = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('runcommand-detect allowlist', () => {
  let standIn: LogAnalyticsStandIn;
  let deps: LogAnalyticsCliDeps;
  const tmp = mkdtempSync(join(tmpdir(), 'allowlist-cli-'));
  const env = () => ({ LOG_ANALYTICS_ENDPOINT: standIn.endpoint });

  beforeAll(async () => {
    standIn = await LogAnalyticsStandIn.start({
      workspaceId: WORKSPACE,
      tables: readFixtureDay(join(FIXTURES, 'plain-day')),
    });
    deps = {
      credential: new FakeCredential(),
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      now: () => NOW,
    };
  });
  afterAll(() => standIn.stop());
  beforeEach(() => {
    standIn.requests.length = 0;
    standIn.watchlistFaults.length = 0;
    standIn.watchlists = {
      RunCommandAllowlist: [
        { Kind: 'VirtualMachineName', Value: 'dc09', Reason: 'domain controller maintenance', Expires: '' },
        { Kind: 'Caller', Value: 'svc-deploy@contoso.onmicrosoft.com', Reason: 'old pipeline', Expires: '2026-11-20' },
        { Kind: 'Host', Value: 'app07', Reason: 'typo in Kind', Expires: '', _DTItemId: 'c0ffee' },
      ],
    };
  });

  it('over a replayed day, with the watchlist: each suppressed finding with its entry and reason', async () => {
    const c = capture(env());
    expect(
      await allowlist(['--workspace', WORKSPACE, ...WINDOW, '--watchlist', 'RunCommandAllowlist'], c.io, deps),
    ).toBe(0);
    const rows = ndjson(c.out());
    expect(rows.map((r) => [r.VirtualMachineName, r.Caller, r.Kind, r.Reason])).toEqual([
      ['dc09', 'alice@contoso.com', 'VirtualMachineName', 'domain controller maintenance'],
      ['dc09', 'Eve.Admin@Fabrikam.com', 'VirtualMachineName', 'domain controller maintenance'],
    ]);
    expect(rows[0]!.WindowStart).toBe('2026-11-25T00:00:00.0000000Z');
    expect(rows[0]!.FindingId).toMatch(/^[0-9a-f]{64}$/);
    expect(c.err()).toContain("2 of 3 finding(s) would be suppressed by watchlist 'RunCommandAllowlist'");
    expect(c.err()).toContain("refused: watchlist item c0ffee: unknown Kind 'Host'");
    expect(c.err()).toMatch(/expired: Caller 'svc-deploy@contoso\.onmicrosoft\.com' .*it would match 1 finding/);
    expect(standIn.requests.filter((r) => r.kind === 'watchlist')).toHaveLength(1);
  });

  it('ALLOWLIST_WATCHLIST is the default watchlist; --format table prints a line per finding', async () => {
    const c = capture({ ...env(), ALLOWLIST_WATCHLIST: 'RunCommandAllowlist' });
    expect(await allowlist(['--workspace', WORKSPACE, ...WINDOW, '--format', 'table'], c.io, deps)).toBe(0);
    const lines = c.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^timestamp\s+VirtualMachineName\s+Caller\s+Kind\s+Value\s+Reason\s+Expires\s+Entry$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('domain controller maintenance');
  });

  it('with --file, the entries of the CSV file; with --findings, the findings of a file (no Azure at all)', async () => {
    const entries = join(tmp, 'allowlist.csv');
    writeFileSync(
      entries,
      'Kind,Value,Reason,Expires\n' +
        `ScriptSha256,${HASH},signed installer,2027-01-31\n` +
        'CallerIpAddress,79.236.0.0/16,office network,\n',
    );
    const findings = readFileSync(join(FIXTURES, 'plain-day', 'expected.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => JSON.stringify({ ...JSON.parse(l), ...(i === 0 ? { ScriptSha256: HASH } : {}) }))
      .join('\n');
    const file = join(tmp, 'findings.ndjson');
    writeFileSync(file, findings + '\n');
    const c = capture();
    expect(await allowlist(['--findings', file, '--file', entries], c.io, { now: () => NOW })).toBe(0);
    expect(ndjson(c.out()).map((r) => [r.VirtualMachineName, r.Kind, r.Reason, r.Entry])).toEqual([
      ['app07', 'ScriptSha256', 'signed installer', 'allowlist.csv line 2'],
      ['dc09', 'CallerIpAddress', 'office network', 'allowlist.csv line 3'],
    ]);
    expect(c.err()).toContain(`2 of 3 finding(s) would be suppressed by ${entries}`);
  });

  it('a watchlist that cannot be read: exit 1 with what to check', async () => {
    standIn.watchlistFaults.push({ kind: 'status', status: 403 });
    const c = capture(env());
    expect(
      await allowlist(['--workspace', WORKSPACE, ...WINDOW, '--watchlist', 'RunCommandAllowlist'], c.io, deps),
    ).toBe(1);
    expect(c.err()).toMatch(
      /^runcommand-detect allowlist: Could not read the allowlist, watchlist 'RunCommandAllowlist'/,
    );
    expect(c.out()).toBe('');
  });

  it.each([
    [
      ['--workspace', WORKSPACE, ...WINDOW, '--watchlist', 'a', '--file', 'b.csv'],
      'give --watchlist or --file, not both',
    ],
    [['--workspace', WORKSPACE, ...WINDOW], 'give --watchlist ALIAS or --file FILE (or set ALLOWLIST_WATCHLIST)'],
    [['--workspace', WORKSPACE, ...WINDOW, '--watchlist', "x'y"], "--watchlist: 'x'y' is not a watchlist alias"],
    [
      ['--findings', 'f.ndjson', '--watchlist', 'a'],
      '--watchlist needs --workspace ID (or LOG_ANALYTICS_WORKSPACE_ID)',
    ],
    [['--findings', 'f.ndjson', '--file', 'a.csv', '--mode', 'corrected'], "unknown option '--mode'"],
    [
      ['--workspace', WORKSPACE, ...WINDOW, '--file', 'a.csv', '--format', 'csv'],
      '--format must be table, ndjson or json',
    ],
  ])('usage error %j: one line, exit 2', async (argv, message) => {
    const c = capture(env());
    expect(await allowlist(argv, c.io, deps)).toBe(2);
    const lines = c.err().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(message);
    expect(lines[1]).toBe("Run 'runcommand-detect allowlist --help' for its options.");
  });

  it('a missing entries file is an input error naming it: exit 1', async () => {
    const c = capture(env());
    const missing = join(tmp, 'missing.csv');
    expect(await allowlist(['--workspace', WORKSPACE, ...WINDOW, '--file', missing], c.io, deps)).toBe(1);
    expect(c.err()).toBe(`runcommand-detect allowlist: ${missing}: cannot read it (ENOENT); check the path\n`);
  });

  it('--help prints the usage (exit 0), and the command is listed by runcommand-detect --help', async () => {
    const c = capture();
    expect(await allowlist(['--help'], c.io)).toBe(0);
    expect(c.out()).toBe(ALLOWLIST_USAGE);
    const h = capture();
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/\n {2}allowlist +list what the allowlist/);
  });
});
