/**
 * `verify` and `replay` in-process, with the real SDK talking HTTPS to the Log
 * Analytics stand-in. The stand-in answers the rule's own KQL by running the reference
 * implementation (test/reference) over its fixture rows; `perturbRuleRows` changes
 * that answer so that a difference shows.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import type { LogAnalyticsCliDeps } from '../../../src/cli/logAnalyticsCommand';
import { TABLE_NAMES } from '../../../src/detection/schema';
import { FakeCredential } from '../../support/credential';
import { LogAnalyticsStandIn, readFixtureDay, type FixtureTables } from '../../support/logAnalyticsStandIn';
import { run as verify } from '../../../src/cli/verify';
import { run as replay } from '../../../src/cli/replay';

const WORKSPACE = '11111111-2222-3333-4444-555555555555';
const FIXTURES = join(__dirname, '../../fixtures/examples');

function capture(env: NodeJS.ProcessEnv) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, env };
  return { io, out: () => out, err: () => err };
}

/** A fixture day moved to another date (the examples are on 2026-11-25). */
function shiftDay(tables: FixtureTables, to: string): FixtureTables {
  const out = {} as FixtureTables;
  for (const t of TABLE_NAMES) {
    out[t] = tables[t].map((r) => ({ ...r, TimeGenerated: String(r.TimeGenerated).replace('2026-11-25', to) }));
  }
  return out;
}

const plain = readFixtureDay(join(FIXTURES, 'plain-day'));
const tricky = readFixtureDay(join(FIXTURES, 'tricky-day'));

describe('verify and replay against the Log Analytics stand-in', () => {
  let standIn: LogAnalyticsStandIn;
  let deps: LogAnalyticsCliDeps;
  const env = () => ({ LOG_ANALYTICS_ENDPOINT: standIn.endpoint });

  beforeAll(async () => {
    // 23rd: plain day; 24th: tricky day; 25th: the plain day again.
    const days = [shiftDay(plain, '2026-11-23'), shiftDay(tricky, '2026-11-24'), plain];
    const tables = {} as FixtureTables;
    for (const t of TABLE_NAMES) tables[t] = days.flatMap((d) => d[t]);
    standIn = await LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables });
    deps = {
      credential: new FakeCredential(),
      clientOptions: { tlsOptions: { ca: standIn.ca } },
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    };
  });
  afterAll(() => standIn.stop());
  beforeEach(() => {
    standIn.perturbRuleRows = undefined;
    standIn.requests.length = 0;
  });

  it.each([
    ['2026-11-23', '2026-11-24'],
    ['2026-11-24', '2026-11-25'],
    ['2026-11-24', '2026-11-26'],
  ])('verify %s..%s: zero differences when the server rows equal ours (exit 0)', async (from, to) => {
    const c = capture(env());
    const code = await verify(['--workspace', WORKSPACE, '--from', from, '--to', to], c.io, deps);
    expect(c.err()).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(c.out()).toMatch(
      /the rule in Log Analytics returned (\d+) row\(s\), parity mode \1; 0 difference\(s\)\.\n$/,
    );
    expect(c.out()).not.toMatch(/returned 0 row/);
    // The rule's text went to the server once, with the window as its timespan.
    const ruleRequests = standIn.requests.filter((r) => r.query.includes('let RunCommandData = materialize'));
    expect(ruleRequests).toHaveLength(1);
    expect(ruleRequests[0]!.timespan).toBe(`${from}T00:00:00.000Z/${to}T00:00:00.000Z`);
  });

  it('verify names each differing row and exits 1', async () => {
    let changed = '';
    let dropped = '';
    standIn.perturbRuleRows = (rows) => {
      expect(rows.length).toBeGreaterThanOrEqual(3);
      changed = rows[0]!.StartTime;
      rows[0]!.VirtualMachineName = 'perturbed-vm';
      dropped = rows[1]!.StartTime;
      rows[2]!.Prevalence = 99.5;
      return [rows[0]!, ...rows.slice(2)];
    };
    const c = capture(env());
    const code = await verify(['--workspace', WORKSPACE, '--from', '2026-11-23', '--to', '2026-11-24'], c.io, deps);
    expect(code).toBe(1);
    const lines = c.out().split('\n');
    expect(lines[0]).toContain('4 difference(s)');
    const row = (what: string) => lines.filter((l) => l.startsWith(what));
    expect(row('only in Log Analytics')).toHaveLength(1);
    expect(row('only in Log Analytics')[0]).toContain('perturbed-vm');
    expect(row('only in Log Analytics')[0]).toContain(changed);
    const clientOnly = row('only client-side');
    expect(clientOnly.map((l) => l.slice(24, 52).trim()).sort()).toEqual([changed, dropped].sort());
    expect(row('Prevalence differs')).toHaveLength(1);
    expect(row('Prevalence differs')[0]).toMatch(/99\.5 \/ /);
  });

  it('verify: usage errors exit 2, and the subcommand is registered', async () => {
    const c = capture(env());
    expect(await verify(['--workspace', WORKSPACE], c.io, deps)).toBe(2);
    expect(c.err()).toContain('--from and --to are required');
    const h = capture(env());
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/verify .*\n.*replay /);
  });

  it('replay: per-day counts in both modes; the corrected baseline carries over, nothing is written', async () => {
    const counts = async (mode: string) => {
      const c = capture(env());
      const code = await replay(
        ['--workspace', WORKSPACE, '--from', '2026-11-23', '--to', '2026-11-26', '--mode', mode, '--format', 'table'],
        c.io,
        deps,
      );
      expect(code).toBe(0);
      const days = c
        .out()
        .split('\n')
        .filter((l) => /^2026-11-2\d /.test(l))
        .map((l) => [l.slice(0, 10), Number(l.trim().split(/\s+/).at(-1))] as const);
      return { days, out: c.out() };
    };
    const parity = await counts('parity');
    const corrected = await counts('corrected');
    expect(parity.days.map(([d]) => d)).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
    expect(corrected.days.map(([d]) => d)).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
    // Parity forgets: the 25th repeats the 23rd, and so do its findings.
    expect(parity.days[2]![1]).toBe(parity.days[0]![1]);
    expect(parity.days[0]![1]).toBeGreaterThan(0);
    // Corrected remembers: nothing of the 23rd is new on the 25th.
    expect(corrected.days[0]![1]).toBeGreaterThan(0);
    expect(corrected.days[2]![1]).toBe(0);
    // Only queries were sent; corrected mode's push-down keeps every case of the extension's name.
    expect(standIn.requests.every((r) => r.status === 200)).toBe(true);
    expect(standIn.requests.some((r) => r.query.includes('InitiatingProcessFileName =~ '))).toBe(true);
  });

  it('replay --format ndjson: one finding a line with its window and mode; a bad --mode is a usage error', async () => {
    const c = capture(env());
    const code = await replay(
      [
        '--workspace',
        WORKSPACE,
        '--from',
        '2026-11-23',
        '--to',
        '2026-11-24',
        '--mode',
        'corrected',
        '--format',
        'ndjson',
      ],
      c.io,
      deps,
    );
    expect(code).toBe(0);
    const rows = c
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r).toMatchObject({ WindowStart: '2026-11-23T00:00:00.0000000Z', DetectionMode: 'corrected' });
      expect(r.ExtendedProperties).toMatchObject({ BaselineDays: 14 });
    }
    const bad = capture(env());
    expect(
      await replay(
        ['--workspace', WORKSPACE, '--from', '2026-11-23', '--to', '2026-11-24', '--mode', 'x'],
        bad.io,
        deps,
      ),
    ).toBe(2);
    expect(bad.err()).toContain('--mode must be parity or corrected');
  });

  it('replay prints findings as run and detect do: ndjson by default, json as one array of the same rows', async () => {
    const argv = ['--workspace', WORKSPACE, '--from', '2026-11-23', '--to', '2026-11-24'];
    const byDefault = capture(env());
    expect(await replay(argv, byDefault.io, deps)).toBe(0);
    const ndjson = capture(env());
    expect(await replay([...argv, '--format', 'ndjson'], ndjson.io, deps)).toBe(0);
    expect(byDefault.out()).toBe(ndjson.out());
    const lines = ndjson.out().trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    const json = capture(env());
    expect(await replay([...argv, '--format', 'json'], json.io, deps)).toBe(0);
    expect(JSON.parse(json.out())).toEqual(lines.map((l) => JSON.parse(l) as unknown));
    expect(json.err()).toMatch(/^Day +AzureActivity/);
    const bad = capture(env());
    expect(await replay([...argv, '--format', 'csv'], bad.io, deps)).toBe(2);
    expect(bad.err()).toBe(
      "runcommand-detect replay: --format must be one of ndjson, json, table, not 'csv'\n" +
        "Run 'runcommand-detect replay --help' for its options.\n",
    );
  });
});
