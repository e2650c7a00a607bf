#!/usr/bin/env node
/**
 * `npm run bench [-- --small] [-- --operations N --noise F --seed N --threads N]`
 *
 * Generates one synthetic tenant day once (cached in bench-data/, outside git), then
 * times, each in its own child process on the same NDJSON files:
 *   (a) detect  `node dist/src/cli/main.js detect --input DIR --output FILE`
 *   (b) DuckDB  the rule as SQL (scripts/bench/duckdbRule.ts) through @duckdb/node-api
 * and prints wall time, input MB/s, peak RSS and findings of each, and their ratios.
 * It fails (exit 1) if the two disagree on the findings. Not a test: never run in CI.
 *
 * Default: 20,000 Run Command operations with noise 17 (about 3 million rows, 1.1 GB).
 * --small: 500 operations, for a sanity run in seconds.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { GENERATED_TABLES, writeDays } from './generator';

// --help: the usage (this file's header), and nothing else: no build, no data, no timing.
if (require.main === module && (process.argv.includes('--help') || process.argv.includes('-h'))) {
  process.stdout.write(
    'Usage: npm run bench [-- --small] [-- --operations N --noise F --seed N --threads N]\n\n' +
      'Times detect against a DuckDB baseline on one generated tenant day (cached in bench-data/);\n' +
      'see the header of scripts/bench.ts and docs/development.md.\n',
  );
  process.exit(0);
}

const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

interface BenchOptions {
  operations: number;
  noise: number;
  seed: number;
  threads?: number;
}

function parseArgs(argv: string[]): BenchOptions {
  const small = argv.includes('--small');
  const opts: BenchOptions = { operations: small ? 500 : 20_000, noise: 17, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--small') continue;
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number >= 0`);
    if (a === '--operations') opts.operations = Math.floor(v);
    else if (a === '--noise') opts.noise = v;
    else if (a === '--seed') opts.seed = Math.floor(v);
    else if (a === '--threads') opts.threads = Math.floor(v);
    else throw new Error(`unknown option '${a}' (use --small, --operations N, --noise F, --seed N, --threads N)`);
  }
  return opts;
}

/** The cached day for these options, generated on first use. */
function benchDay(o: BenchOptions): { dir: string; bytes: number; rows: number } {
  const dir = join(ROOT, 'bench-data', `day-ops${o.operations}-noise${o.noise}-seed${o.seed}`);
  const done = join(dir, 'generated.json');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`Generating ${o.operations} Run Command operations (noise ${o.noise}) into ${dir} ...\n`);
    const started = process.hrtime.bigint();
    const [day] = writeDays(dir, { seed: o.seed, operations: o.operations, noiseFactor: o.noise });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    writeFileSync(done, JSON.stringify({ ...day, seconds }, null, 2));
    process.stdout.write(`  generated in ${seconds.toFixed(1)} s\n`);
  }
  const summary = JSON.parse(readFileSync(done, 'utf8')) as { rows: Record<string, number> };
  const bytes = GENERATED_TABLES.reduce((s, t) => s + statSync(join(dir, `${t}.ndjson`)).size, 0);
  const rows = Object.values(summary.rows).reduce((s, n) => s + n, 0);
  return { dir, bytes, rows };
}

interface Measured {
  seconds: number;
  /** User + system CPU seconds (from /usr/bin/time; null when polling /proc). */
  cpuSeconds: number | null;
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

const TIME = '/usr/bin/time';

/** Runs `node args` in a child process; peak RSS from `/usr/bin/time -v`, else by polling /proc. */
function measure(args: string[]): Promise<Measured> {
  const useTime = existsSync(TIME);
  const [cmd, cmdArgs] = useTime ? [TIME, ['-v', process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let polledKb = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledKb = Math.max(polledKb, Number(m[1]));
          } catch {
            // the child has exited
          }
        }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited with ${code}:\n${stderr}`));
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const kb = useTime && m ? Number(m[1]) : polledKb;
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
      const system = /System time \(seconds\): ([\d.]+)/.exec(stderr);
      const cpuSeconds = useTime && user && system ? Number(user[1]) + Number(system[1]) : null;
      resolve({ seconds, cpuSeconds, peakRssMb: kb / 1024, stdout, stderr });
    });
  });
}

function canonicalFindings(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.stringify(JSON.parse(l)))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const day = benchDay(o);
  const mb = day.bytes / 1e6;
  const outDir = join(ROOT, 'bench-data', 'out');
  mkdirSync(outDir, { recursive: true });
  process.stdout.write(
    `Input: ${day.rows.toLocaleString('en-US')} rows, ${mb.toFixed(0)} MB NDJSON (${day.dir})\n` +
      `Machine: ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)} at start (other work on the machine skews the times), Node ${process.version}; peak RSS by ${existsSync(TIME) ? TIME + ' -v' : '/proc polling'}\n\n`,
  );

  const detectOut = join(outDir, 'detect.ndjson');
  const detect = await measure([
    join(DIST, 'src', 'cli', 'main.js'),
    'detect',
    '--input',
    day.dir,
    '--output',
    detectOut,
  ]);
  const duckOut = join(outDir, 'duckdb.ndjson');
  const duckArgs = [join(DIST, 'scripts', 'bench', 'duckdbChild.js'), day.dir, duckOut];
  if (o.threads) duckArgs.push(String(o.threads));
  const duck = await measure(duckArgs);

  const detectFindings = canonicalFindings(detectOut);
  const duckFindings = canonicalFindings(duckOut);
  const sameSet =
    detectFindings.length === duckFindings.length && detectFindings.every((f, i) => f === duckFindings[i]);

  const row = (name: string, m: Measured, findings: number) =>
    [
      name.padEnd(8),
      m.seconds.toFixed(2).padStart(8),
      (m.cpuSeconds === null ? '-' : m.cpuSeconds.toFixed(2)).padStart(8),
      (mb / m.seconds).toFixed(0).padStart(6),
      m.peakRssMb.toFixed(0).padStart(12),
      String(findings).padStart(9),
    ].join(' ');
  process.stdout.write(
    [
      'engine'.padEnd(8),
      'wall s'.padStart(8),
      'CPU s'.padStart(8),
      'MB/s'.padStart(6),
      'peak RSS MB'.padStart(12),
      'findings'.padStart(9),
    ].join(' ') + '\n',
  );
  process.stdout.write(row('detect', detect, detectFindings.length) + '\n');
  process.stdout.write(row('duckdb', duck, duckFindings.length) + '\n');
  const cpuRatio =
    detect.cpuSeconds && duck.cpuSeconds ? `, CPU ${(duck.cpuSeconds / detect.cpuSeconds).toFixed(2)}x` : '';
  process.stdout.write(
    `\nduckdb / detect: wall ${(duck.seconds / detect.seconds).toFixed(2)}x${cpuRatio}, peak RSS ${(duck.peakRssMb / detect.peakRssMb).toFixed(2)}x\n`,
  );
  process.stdout.write(
    sameSet
      ? `Findings agree: ${detectFindings.length} (identical rows)\n`
      : `FINDINGS DIFFER: detect ${detectFindings.length}, duckdb ${duckFindings.length} (see ${outDir})\n`,
  );
  process.stdout.write(`Load average at the end: ${loadavg()[0].toFixed(2)}\n`);
  const result = {
    at: new Date().toISOString(),
    loadAverage: loadavg()[0],
    options: o,
    input: { rows: day.rows, bytes: day.bytes },
    detect: {
      seconds: detect.seconds,
      cpuSeconds: detect.cpuSeconds,
      peakRssMb: detect.peakRssMb,
      findings: detectFindings.length,
    },
    duckdb: {
      seconds: duck.seconds,
      cpuSeconds: duck.cpuSeconds,
      peakRssMb: duck.peakRssMb,
      findings: duckFindings.length,
    },
    sameFindings: sameSet,
  };
  writeFileSync(join(outDir, 'last-result.json'), JSON.stringify(result, null, 2));
  return sameSet ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
