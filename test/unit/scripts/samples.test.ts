import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDayRows, GENERATED_TABLES, writeDays } from '../../../scripts/generator';
import { coerceRow, ParityDetection, TABLE_NAMES } from '../../../src/detection';
import { runDemo } from '../../../scripts/demo';
import { runDuckDbRule } from '../../../scripts/bench/duckdbRule';

const ROOT = join(__dirname, '..', '..', '..');
const SAMPLE = join(ROOT, 'samples', 'sample-day');
const EXAMPLES = join(ROOT, 'test', 'fixtures', 'examples');

const canonical = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.stringify(JSON.parse(l)))
    .sort();

describe('samples/sample-day', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'rcd-sample-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is exactly what the generator makes with the options in its README', () => {
    writeDays(dir, { seed: 20261125, operations: 50, noiseFactor: 2 });
    for (const t of GENERATED_TABLES) {
      expect(readFileSync(join(dir, `${t}.ndjson`), 'utf8')).toBe(readFileSync(join(SAMPLE, `${t}.ndjson`), 'utf8'));
    }
  });

  it('runs through the demo, which finds expected.ndjson and writes the findings file', () => {
    const lines: string[] = [];
    const output = join(dir, 'demo', 'findings.ndjson');
    expect(runDemo(['--input', SAMPLE, '--output', output], (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/AzureActivity\s+345\b/);
    expect(text).toContain('| where HashCount == 1');
    expect(text).toMatch(/Same 10 findings as/);
    expect(canonical(readFileSync(output, 'utf8'))).toEqual(
      canonical(readFileSync(join(SAMPLE, 'expected.ndjson'), 'utf8')),
    );
  });

  it('makes the demo fail when the findings differ from expected.ndjson', () => {
    const lines: string[] = [];
    // tricky-day's tables with plain-day's expected findings: a mismatch the demo must report.
    const mixed = mkdtempSync(join(tmpdir(), 'rcd-mixed-'));
    try {
      for (const t of GENERATED_TABLES) {
        copyFileSync(join(EXAMPLES, 'tricky-day', `${t}.ndjson`), join(mixed, `${t}.ndjson`));
      }
      copyFileSync(join(EXAMPLES, 'plain-day', 'expected.ndjson'), join(mixed, 'expected.ndjson'));
      expect(runDemo(['--input', mixed, '--output', join(mixed, 'out.ndjson')], (l) => lines.push(l))).toBe(1);
      expect(lines.join('\n')).toMatch(/DIFFERENT from .*expected\.ndjson: expected 3 findings, got 4/);
    } finally {
      rmSync(mixed, { recursive: true, force: true });
    }
  });
});

describe('DuckDB SQL baseline of the rule', () => {
  it.each(['plain-day', 'tricky-day'])('returns exactly the expected findings of the %s example', async (name) => {
    const { findings, totals } = await runDuckDbRule(join(EXAMPLES, name));
    const expected = canonical(readFileSync(join(EXAMPLES, name, 'expected.ndjson'), 'utf8'));
    expect(canonical(findings.map((f) => JSON.stringify(f)).join('\n'))).toEqual(expected);
    expect(totals).toBeGreaterThan(findings.length);
  });

  it('agrees with the engine on the sample day', async () => {
    const { findings } = await runDuckDbRule(SAMPLE);
    expect(canonical(findings.map((f) => JSON.stringify(f)).join('\n'))).toEqual(
      canonical(readFileSync(join(SAMPLE, 'expected.ndjson'), 'utf8')),
    );
  });
});

describe('the engine and the DuckDB baseline on generated tricky days', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'rcd-cross-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([101, 202])('return the same findings (seed %i, 1500 operations)', async (seed) => {
    const options = { seed, operations: 1500, noiseFactor: 0.2 };
    const folder = join(dir, String(seed));
    writeDays(folder, options);
    const [day] = generateDayRows(options);
    const detection = new ParityDetection();
    for (const t of TABLE_NAMES) {
      for (const raw of day[t]) detection.add(t, coerceRow(t, raw as unknown as Record<string, unknown>).row);
    }
    const engine = detection.finish();
    const sql = await runDuckDbRule(folder);
    expect(engine.findings.length).toBeGreaterThan(10);
    expect(sql.totals).toBe(engine.stages.runCommandData);
    const text = (fs: readonly object[]) => canonical(fs.map((f) => JSON.stringify(f)).join('\n'));
    expect(text(sql.findings)).toEqual(text(engine.findings));
  });
});
