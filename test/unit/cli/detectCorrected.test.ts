import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import { BASELINE_FILE_FORMAT, readBaselineFile } from '../../../src/io/baselineFile';

const EXAMPLES = join(__dirname, '../../fixtures/examples');
const TABLES = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, env: {} };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

let tmp: string;
/** History as replay --input reads it: DIR/2026-11-25/ holds the plain day's files. */
let history: string;
const PLAIN_DAY = join(EXAMPLES, 'plain-day');
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rcd-corrected-'));
  history = join(tmp, 'history');
  mkdirSync(join(history, '2026-11-25'), { recursive: true });
  for (const t of TABLES) copyFileSync(join(PLAIN_DAY, `${t}.ndjson`), join(history, '2026-11-25', `${t}.ndjson`));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('detect --mode corrected over files', () => {
  it('without --baseline: every script is new, and the summary says so', async () => {
    const { code, stdout, stderr } = await cli('detect', '--input', PLAIN_DAY, '--mode', 'corrected');
    expect(code).toBe(0);
    const findings = lines(stdout).map((l) => JSON.parse(l));
    expect(findings.length).toBeGreaterThan(0);
    expect(
      findings.every((f) => f.DetectionMode === 'corrected' && f.ExtendedProperties.LastSeenBeforeHorizon === null),
    ).toBe(true);
    expect(stderr).toMatch(/corrected mode, window \[2026-11-25T00:00:00\.0000000Z, 2026-11-26T00:00:00\.0000000Z\)/);
    expect(stderr).toMatch(/with no baseline every script and every caller-machine pair is new/);
    expect(stderr).toMatch(/replay --mode corrected --seed-baseline FILE/);
  });

  it('replay --seed-baseline over past days of files, then detect --baseline: the scripts seen before are not new', async () => {
    const seed = join(tmp, 'seed.json');
    const seeded = await cli(
      'replay',
      '--input',
      history,
      '--from',
      '2026-11-25',
      '--to',
      '2026-11-26',
      '--mode',
      'corrected',
      '--seed-baseline',
      seed,
    );
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toBe(''); // no findings printed
    expect(seeded.stderr).toMatch(/^2026-11-25 /m);
    expect(seeded.stderr).toMatch(
      /baseline of 1 day\(s\) \(\d+ entries, observed through 2026-11-26T00:00:00\.0000000Z\) written to/,
    );
    const file = readBaselineFile(seed);
    expect(JSON.parse(readFileSync(seed, 'utf8'))).toMatchObject({
      format: BASELINE_FILE_FORMAT,
      version: 1,
      baselineDays: 14,
    });
    expect(file.entries.length).toBeGreaterThan(0);

    // The same scripts on the next day: known, so no script finding.
    const unseeded = await cli('detect', '--input', PLAIN_DAY, '--mode', 'corrected', '--from', '2026-11-26');
    const next = await cli(
      'detect',
      '--input',
      PLAIN_DAY,
      '--mode',
      'corrected',
      '--from',
      '2026-11-26',
      '--baseline',
      seed,
    );
    expect(next.code).toBe(0);
    expect(lines(unseeded.stdout).length).toBeGreaterThan(0);
    expect(lines(next.stdout)).toEqual([]);
    expect(next.stderr).toMatch(
      new RegExp(`baseline ${seed.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${file.entries.length} entries`),
    );
    expect(next.stderr).toMatch(
      /(\d+) executions \(\1 known to the baseline\), 0 script findings, 0 control-plane findings/,
    );

    // Another day's scripts against it: only those the history did not run are findings.
    const tricky = await cli(
      'detect',
      '--input',
      join(EXAMPLES, 'tricky-day'),
      '--mode',
      'corrected',
      '--from',
      '2026-11-27',
    );
    const trickyKnown = await cli(
      'detect',
      '--input',
      join(EXAMPLES, 'tricky-day'),
      '--mode',
      'corrected',
      '--from',
      '2026-11-27',
      '--baseline',
      seed,
    );
    const hashes = (out: string) => new Set(lines(out).map((l) => JSON.parse(l).ScriptFingerprintHash as string));
    const known = new Set(file.entries.map((e) => e.fingerprint));
    expect([...hashes(trickyKnown.stdout)].sort()).toEqual(
      [...hashes(tricky.stdout)].filter((h) => !known.has(h)).sort(),
    );
  });

  it('detect --save-baseline writes the baseline the job loop (replay) records for the same day', async () => {
    const seed = join(tmp, 'seed2.json');
    await cli(
      'replay',
      '--input',
      history,
      '--from',
      '2026-11-25',
      '--to',
      '2026-11-26',
      '--mode',
      'corrected',
      '--seed-baseline',
      seed,
    );
    const saved = join(tmp, 'saved.json');
    const { code, stderr } = await cli('detect', '--input', PLAIN_DAY, '--mode', 'corrected', '--save-baseline', saved);
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /baseline after this window \(\d+ entries, observed through 2026-11-26T00:00:00\.0000000Z\) written to/,
    );
    expect(readFileSync(saved, 'utf8')).toBe(readFileSync(seed, 'utf8'));
    // Chained: the saved baseline read back and saved again over the next day keeps every entry.
    const again = await cli(
      'detect',
      '--input',
      PLAIN_DAY,
      '--mode',
      'corrected',
      '--from',
      '2026-11-26',
      '--baseline',
      saved,
      '--save-baseline',
      saved,
    );
    expect(again.code).toBe(0);
    const after = readBaselineFile(saved);
    expect(after.observedThrough).toBe('2026-11-27T00:00:00.0000000Z');
    expect(after.entries.length).toBe(readBaselineFile(seed).entries.length);
    expect(after.entries.every((e) => e.count >= 2)).toBe(true);
  });

  it('replay --input in corrected mode prints the findings detect --mode corrected prints for that day', async () => {
    const replayed = await cli(
      'replay',
      '--input',
      history,
      '--from',
      '2026-11-25',
      '--to',
      '2026-11-26',
      '--mode',
      'corrected',
    );
    const detected = await cli('detect', '--input', PLAIN_DAY, '--mode', 'corrected');
    expect(replayed.code).toBe(0);
    const key = (l: string) => JSON.parse(l).ScriptFingerprintHash + JSON.parse(l).StartTime;
    expect(lines(replayed.stdout).map(key).sort()).toEqual(lines(detected.stdout).map(key).sort());
  });

  it.each([
    [
      'a missing baseline file',
      undefined,
      /no such baseline file; seed one with `runcommand-detect replay --mode corrected --seed-baseline FILE`/,
    ],
    ['not a baseline', '{"tables":[]}', /not a baseline file \("format" must be "runcommand-detection\/baseline"\)/],
    [
      'a newer version',
      `{"format":"${BASELINE_FILE_FORMAT}","version":2,"baselineDays":14,"observedThrough":null,"entries":[]}`,
      /baseline file version 2, and this runcommand-detect reads version 1/,
    ],
    [
      'a bad entry',
      `{"format":"${BASELINE_FILE_FORMAT}","version":1,"baselineDays":14,"observedThrough":null,"entries":[{"fingerprint":"abc"}]}`,
      /entries\[0\]\.fingerprint must be 64 lower-case hex digits/,
    ],
  ])('%s is an input error naming the file (exit 1)', async (_name, content, message) => {
    const file = join(tmp, `bad-${Math.random().toString(36).slice(2)}.json`);
    if (content !== undefined) writeFileSync(file, content);
    const { code, stdout, stderr } = await cli(
      'detect',
      '--input',
      PLAIN_DAY,
      '--mode',
      'corrected',
      '--baseline',
      file,
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(stderr).toMatch(message);
  });

  it('replay --input names every missing day folder at once', async () => {
    const { code, stderr } = await cli(
      'replay',
      '--input',
      history,
      '--from',
      '2026-11-24',
      '--to',
      '2026-11-28',
      '--mode',
      'corrected',
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /no folder for days 2026-11-24, 2026-11-26, 2026-11-27: --input takes one folder per UTC day/,
    );
  });
});
