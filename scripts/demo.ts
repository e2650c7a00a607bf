#!/usr/bin/env node
/**
 * `npm run demo`: runs the detection on the bundled sample day, with no Azure at all.
 * Prints the rows read per table, the rows left after each stage of the rule, the
 * time taken and the findings, writes them to out/demo-findings.ndjson, and checks
 * them against the day's expected.ndjson.
 *
 * Options: `--input DIR` (another exported day), `--output FILE`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ParityDetection, STAGE_LABELS } from '../src/detection';
import { formatFindings, formatFindingsTable } from '../src/cli/format';
import { InputError } from '../src/io/errors';
import { readTableDirectory } from '../src/io/tableFiles';

/** The repository root: this file runs as dist/scripts/demo.js (or scripts/demo.ts under ts-jest). */
const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');

export const DEMO_USAGE = `Usage: npm run demo [-- --input DIR] [-- --output FILE]

Runs the rule (parity mode) over the bundled sample day (samples/sample-day), with no
Azure: prints the rows read per table, the rows left after each stage of the rule and
the findings, writes them to out/demo-findings.ndjson and checks them against the
day's expected.ndjson.

  --input DIR    another exported day (one file per table, as 'detect --input' reads)
  --output FILE  where to write the findings (default out/demo-findings.ndjson)
  -h, --help     show this help

Exit status: 0 done (and the findings match expected.ndjson where there is one),
1 an input error or a mismatch.
`;

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

const ms = (from: bigint): string => `${(Number(process.hrtime.bigint() - from) / 1e6).toFixed(1)} ms`;

export function runDemo(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(DEMO_USAGE.trimEnd());
    return 0;
  }
  const input = argValue(argv, '--input') ?? join(ROOT, 'samples', 'sample-day');
  const output = argValue(argv, '--output') ?? join(ROOT, 'out', 'demo-findings.ndjson');
  out(`Run Command detection demo: ${relative(process.cwd(), input) || '.'} (local files, no Azure)`);
  out('');

  const detection = new ParityDetection();
  const readStarted = process.hrtime.bigint();
  let stats;
  try {
    stats = readTableDirectory(input, detection);
  } catch (e) {
    if (e instanceof InputError) {
      process.stderr.write(`demo: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const readTime = ms(readStarted);
  const ruleStarted = process.hrtime.bigint();
  const { findings, stages } = detection.finish();
  const ruleTime = ms(ruleStarted);

  out('Rows read');
  for (const s of stats) out(`  ${s.table.padEnd(18)} ${String(s.rowsRead).padStart(8)}   ${relative(input, s.file)}`);
  out('');
  out('Rows left after each stage of the rule');
  for (const [key, label] of STAGE_LABELS) out(`  ${String(stages[key]).padStart(8)}  ${label}`);
  out('');
  out(`Time: reading ${readTime}, joins and uniqueness ${ruleTime}`);
  out('');
  out(`Findings (${findings.length})`);
  out(formatFindingsTable(findings));

  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, formatFindings(findings, 'ndjson'));
  out('');
  out(`Findings written to ${relative(process.cwd(), output)}`);

  const expectedFile = join(input, 'expected.ndjson');
  if (existsSync(expectedFile)) {
    const canonical = (lines: string[]) =>
      lines
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.stringify(JSON.parse(l)))
        .sort();
    const expected = canonical(readFileSync(expectedFile, 'utf8').split('\n'));
    const got = canonical(formatFindings(findings, 'ndjson').split('\n'));
    const same = expected.length === got.length && expected.every((l, i) => l === got[i]);
    out(
      same
        ? `Same ${got.length} findings as ${relative(process.cwd(), expectedFile)}`
        : `DIFFERENT from ${relative(process.cwd(), expectedFile)}: expected ${expected.length} findings, got ${got.length}`,
    );
    if (!same) return 1;
  }
  return 0;
}

if (require.main === module) {
  process.exitCode = runDemo(process.argv.slice(2));
}
