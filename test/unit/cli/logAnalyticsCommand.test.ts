/**
 * The Log Analytics commands (run, export, verify, replay) as a user meets them before
 * any query is made: the window and its defaults, the output path, settings taken from
 * environment variables, usage errors, help texts, --version. Nothing here reaches a
 * server: a credential that counts its calls shows that no pull started.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { CliIo } from '../../../src/cli/io';
import { run as exportCommand, EXPORT_USAGE } from '../../../src/cli/export';
import { run as job, JOB_USAGE } from '../../../src/cli/job';
import { main } from '../../../src/cli/main';
import { parseLogAnalyticsArgs, outputDirProblem, outputFileProblem } from '../../../src/cli/logAnalyticsCommand';
import { run as replay, REPLAY_USAGE } from '../../../src/cli/replay';
import { run as runCommand, RUN_USAGE } from '../../../src/cli/run';
import { run as verify, VERIFY_USAGE } from '../../../src/cli/verify';

const WORKSPACE = '4b8f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const NOW = new Date('2026-11-26T03:00:00Z');

/** A credential that must not be used: each call is counted. */
class CountingCredential implements TokenCredential {
  calls = 0;
  async getToken(): Promise<AccessToken> {
    this.calls++;
    throw new Error('no token here');
  }
}

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

const noOther = () => false;

let tmp: string;
beforeAll(() => (tmp = mkdtempSync(join(tmpdir(), 'rcd-cli-checks-'))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the window', () => {
  const parse = (argv: string[], env: NodeJS.ProcessEnv = {}, now = NOW) =>
    parseLogAnalyticsArgs(['--workspace', WORKSPACE, ...argv], env, now, noOther, false);

  it('run without dates takes the last day complete after the job ingestion delay (INGESTION_DELAY_MINUTES, default 15)', () => {
    const justAfterMidnight = new Date('2026-11-26T00:10:00Z');
    expect(parse([], {}, justAfterMidnight)).toMatchObject({
      window: { start: '2026-11-24T00:00:00.0000000Z', end: '2026-11-25T00:00:00.0000000Z' },
    });
    expect(parse([], { INGESTION_DELAY_MINUTES: '5' }, justAfterMidnight)).toMatchObject({
      window: { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' },
    });
  });

  it('refuses a window that has not ended the ingestion delay ago, saying the latest end it takes', () => {
    expect(() => parse(['--from', '2026-11-25', '--to', '2026-11-27'])).toThrow(
      /--to 2026-11-27T00:00:00.0000000Z has not ended 15 minute\(s\) ago .* at or before 2026-11-26T02:45:00.0000000Z/,
    );
    expect(() => parse(['--from', '2026-11-26T00:00:00Z', '--to', '2026-11-26T02:50:00Z'])).toThrow(/has not ended/);
    expect(parse(['--from', '2026-11-26T00:00:00Z', '--to', '2026-11-26T02:45:00Z'])).toMatchObject({
      window: { end: '2026-11-26T02:45:00.0000000Z' },
    });
  });

  it('asks for --force over a month (31 days)', () => {
    expect(parse(['--from', '2026-10-26', '--to', '2026-11-26'])).not.toBe('help');
    expect(() => parse(['--from', '2026-10-25', '--to', '2026-11-26'])).toThrow(
      /spans 32 days, more than 31: give --force/,
    );
    expect(parse(['--from', '2026-01-01', '--to', '2026-11-26', '--force'])).toMatchObject({
      window: { start: '2026-01-01T00:00:00.0000000Z' },
    });
  });

  it('names the environment variable a bad value came from', () => {
    expect(() => parse([], { INGESTION_DELAY_MINUTES: 'soon' })).toThrow(
      /^INGESTION_DELAY_MINUTES \(environment variable\): 'soon' is not a whole number/,
    );
    expect(() => parseLogAnalyticsArgs([], { LOG_ANALYTICS_WORKSPACE_ID: 'ws' }, NOW, noOther, false)).toThrow(
      /^LOG_ANALYTICS_WORKSPACE_ID \(environment variable, the default of --workspace\): 'ws' is not a GUID/,
    );
    expect(() => parse(['--endpoint', 'https://api.loganalytics.io'])).toThrow(
      /^--endpoint: .* does not end with \/v1/,
    );
    expect(parse([])).toMatchObject({ endpoint: 'https://api.loganalytics.azure.com/v1' });
  });
});

describe('the output path, checked before any pull', () => {
  it('says what is wrong with a file or a folder path', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    expect(outputFileProblem(join(tmp, 'new.ndjson'))).toBeUndefined();
    expect(outputFileProblem(file)).toBeUndefined();
    expect(outputFileProblem('/nonexistent/f.ndjson')).toMatch(/its folder \/nonexistent does not exist/);
    expect(outputFileProblem(tmp)).toMatch(/is a folder/);
    expect(outputFileProblem(join(file, 'x.ndjson'))).toMatch(/is not a folder/);
    expect(outputDirProblem(join(tmp, 'new', 'deeper'))).toBeUndefined();
    expect(outputDirProblem(join(file, 'sub'))).toMatch(/is a file, not a folder/);
  });

  it.each([
    ['run', runCommand, ['--output', '/nonexistent/f.ndjson']],
    ['verify', verify, ['--output', '/nonexistent/f.ndjson']],
    ['replay', replay, ['--output', '/nonexistent/f.ndjson']],
  ] as const)('%s --output into a missing folder: exit 1, no query made', async (name, command, extra) => {
    const credential = new CountingCredential();
    const c = capture({ LOG_ANALYTICS_ENDPOINT: 'https://127.0.0.1:9/v1' });
    const argv = ['--workspace', WORKSPACE, '--from', '2026-11-24', '--to', '2026-11-25', ...extra];
    expect(await command(argv, c.io, { credential, now: () => NOW })).toBe(1);
    expect(c.err()).toBe(
      `runcommand-detect ${name}: /nonexistent/f.ndjson: cannot create it: its folder /nonexistent does not exist (ENOENT); nothing was pulled\n`,
    );
    expect(credential.calls).toBe(0);
  });

  it('export --out under a file: exit 1, no query made', async () => {
    const file = join(tmp, 'not-a-folder');
    writeFileSync(file, '');
    const credential = new CountingCredential();
    const c = capture();
    const argv = ['--workspace', WORKSPACE, '--from', '2026-11-24', '--to', '2026-11-25', '--out', join(file, 'day')];
    expect(await exportCommand(argv, c.io, { credential, now: () => NOW })).toBe(1);
    expect(c.err()).toMatch(/is a file, not a folder; nothing was pulled\n$/);
    expect(credential.calls).toBe(0);
  });
});

describe('usage errors and help', () => {
  it('a usage error is one line and where the options are, exit 2', async () => {
    const c = capture();
    expect(await runCommand(['--workspace', WORKSPACE, '--bogus'], c.io, { now: () => NOW })).toBe(2);
    expect(c.err()).toBe(
      "runcommand-detect run: unknown option '--bogus'\nRun 'runcommand-detect run --help' for its options.\n",
    );
    const r = capture();
    expect(
      await replay(['--workspace', WORKSPACE, '--from', '2026-11-24T06:00:00Z', '--to', '2026-11-25'], r.io, {
        now: () => NOW,
      }),
    ).toBe(2);
    expect(r.err().trim().split('\n')).toHaveLength(2);
  });

  it('the identity is the job one (createCredential): a broken managed identity environment is a usage error', async () => {
    const c = capture({ IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token' });
    expect(
      await runCommand(['--workspace', WORKSPACE, '--from', '2026-11-24', '--to', '2026-11-25'], c.io, {
        now: () => NOW,
      }),
    ).toBe(2);
    expect(c.err()).toMatch(/^runcommand-detect run: IDENTITY_HEADER: missing, although IDENTITY_ENDPOINT is set/);
  });

  it.each([
    ['run', RUN_USAGE],
    ['export', EXPORT_USAGE],
    ['verify', VERIFY_USAGE],
    ['replay', REPLAY_USAGE],
  ])('%s --help: required options first, the defaults of the settings, the identity note last', (_, usage) => {
    const options = usage.slice(usage.indexOf('Options:'));
    expect(options.indexOf('--workspace ID')).toBeLessThan(options.indexOf('--endpoint'));
    expect(usage).toContain('https://api.loganalytics.azure.com/v1');
    expect(usage).not.toContain('api.loganalytics.io');
    expect(usage).not.toContain('DefaultAzureCredential');
    expect(usage.indexOf('Identity:')).toBeGreaterThan(usage.indexOf('Exit status:'));
  });

  it('every command that prints findings offers --format ndjson|json|table, ndjson by default', () => {
    for (const usage of [RUN_USAGE, REPLAY_USAGE, JOB_USAGE])
      expect(usage).toMatch(/--format ndjson\|json\|table[\s\S]*ndjson \(default\)/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const c = capture();
    expect(await main(['--version'], c.io)).toBe(0);
    expect(c.out()).toBe(`${pkg.version}\n`);
  });

  it('an unknown command is one line and where the commands are, exit 2', async () => {
    const c = capture();
    expect(await main(['rn'], c.io)).toBe(2);
    expect(c.err().trim().split('\n')).toEqual([
      "runcommand-detect: unknown command 'rn' (commands: job, detect, export, run, verify, replay, allowlist).",
      "Run 'runcommand-detect --help' for what each does.",
    ]);
  });
});

describe('job: checks before work', () => {
  const settings = {
    LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
    LOGS_INGESTION_ENDPOINT: 'https://127.0.0.1:9',
    DCR_IMMUTABLE_ID: 'dcr-0123456789abcdef0123456789abcdef',
    STATE_STORE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  };

  it('a backfill over a month asks for --force; --format goes with --dry-run', async () => {
    const c = capture(settings);
    expect(await job(['--from', '2026-01-01', '--to', '2026-03-01'], c.io)).toBe(2);
    expect(c.err()).toMatch(/spans 59 days, more than 31: give --force/);
    const f = capture(settings);
    expect(await job(['--format', 'json'], f.io)).toBe(2);
    expect(f.err()).toMatch(/--format applies to --dry-run only/);
    const b = capture(settings);
    expect(await job(['--dry-run', '--format', 'csv'], b.io)).toBe(2);
    expect(b.err()).toMatch(/--format must be one of ndjson, json, table/);
  });
});
