#!/usr/bin/env node
/**
 * `node dist/scripts/bench/duckdbChild.js DIR OUTPUT [THREADS]`: runs the DuckDB SQL
 * baseline of the rule over DIR in its own process (so that the benchmark measures its
 * memory like that of `detect`), writes the findings as NDJSON to OUTPUT and prints
 * `{"findings":N,"totals":N}`.
 */
import { writeFileSync } from 'node:fs';
import { formatFindings } from '../../src/cli/format';
import { runDuckDbRule } from './duckdbRule';

async function main(argv: string[]): Promise<number> {
  const [dir, output, threads] = argv;
  if (!dir || !output) {
    process.stderr.write('usage: duckdbChild DIR OUTPUT [THREADS]\n');
    return 2;
  }
  const result = await runDuckDbRule(dir, threads ? Number(threads) : undefined);
  writeFileSync(output, formatFindings(result.findings, 'ndjson'));
  process.stdout.write(JSON.stringify({ findings: result.findings.length, totals: result.totals }) + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`duckdb baseline: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
