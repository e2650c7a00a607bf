#!/usr/bin/env node
/**
 * `npm run bench [-- --small] [-- --rounds N --seed N --threads N]`
 *
 * Generates two synthetic tenant days once (cached in bench-data/, outside git):
 *   heavy        20,000 Run Command operations, noise 17  (about 2.9 M rows, 1.1 GB)
 *   noise-heavy     400 Run Command operations, noise 900 (about 2.9 M rows, 1.1 GB:
 *                what most tenants look like, Run Command is rare)
 * and on each, in its own child process, in turn (detect, DuckDB, cat, detect, …) for
 * `--rounds` rounds (default 3), so that a ratio compares runs made side by side:
 *   (a) detect  `node dist/src/cli/main.js detect --input DIR --output FILE`
 *   (b) DuckDB  the rule as SQL (scripts/bench/duckdbRule.ts) through @duckdb/node-api
 *   (c) cat     the same files to /dev/null: the cost of reading the bytes
 *   (d) the floors under any detect in Node (scripts/bench/floor.ts): `read floor`
 *       starts Node and reads every byte once on two threads, `scan floor` also runs
 *       the pre-filter's kernel over every byte; neither parses a row
 * It prints each one's median wall and CPU time, input MB/s, peak RSS and findings, and
 * the median of the per-round ratios DuckDB / detect, detect / cat and DuckDB / each
 * floor (the most a detect could reach on this machine: a target above it cannot be
 * met by tuning). Then the pull
 * path's client-side decode cost on the heavy day's push-down rows (scripts/bench/pullDecode.ts).
 *
 * Exit 1 when detect and DuckDB disagree on the findings of any run, when detect is not
 * at least 5x faster than DuckDB (median wall ratio) on either day, or when detect's
 * peak RSS exceeds 256 MB. Not a test: never run in CI.
 *
 * --small: 500 and 20 operations, for a sanity run in seconds (the targets are not checked).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { measurePullDecode } from './bench/pullDecode';
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

/** The targets of issue 15. */
const MIN_SPEEDUP_OVER_DUCKDB = 5;
const MAX_PEAK_RSS_MB = 256;

interface DayKind {
  name: string;
  operations: number;
  noise: number;
}

interface BenchOptions {
  days: DayKind[];
  small: boolean;
  rounds: number;
  seed: number;
  threads?: number;
}

function parseArgs(argv: string[]): BenchOptions {
  const small = argv.includes('--small');
  const opts: BenchOptions = {
    days: [
      { name: 'heavy', operations: small ? 500 : 20_000, noise: 17 },
      { name: 'noise-heavy', operations: small ? 20 : 400, noise: 900 },
    ],
    small,
    rounds: 3,
    seed: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--small') continue;
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 1) throw new Error(`${a} needs a number >= 1`);
    if (a === '--rounds') opts.rounds = Math.floor(v);
    else if (a === '--seed') opts.seed = Math.floor(v);
    else if (a === '--threads') opts.threads = Math.floor(v);
    else throw new Error(`unknown option '${a}' (use --small, --rounds N, --seed N, --threads N)`);
  }
  return opts;
}

interface Day {
  kind: DayKind;
  dir: string;
  day: string;
  bytes: number;
  rows: number;
  files: string[];
}

/** The cached day for these options, generated on first use. */
function benchDay(kind: DayKind, seed: number): Day {
  const dir = join(ROOT, 'bench-data', `day-ops${kind.operations}-noise${kind.noise}-seed${seed}`);
  const done = join(dir, 'generated.json');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(
      `Generating the ${kind.name} day: ${kind.operations} Run Command operations (noise ${kind.noise}) into ${dir} ...\n`,
    );
    const started = process.hrtime.bigint();
    const [day] = writeDays(dir, { seed, operations: kind.operations, noiseFactor: kind.noise });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    writeFileSync(done, JSON.stringify({ ...day, seconds }, null, 2));
    process.stdout.write(`  generated in ${seconds.toFixed(1)} s\n`);
  }
  const summary = JSON.parse(readFileSync(done, 'utf8')) as { day: string; rows: Record<string, number> };
  const files = GENERATED_TABLES.map((t) => join(dir, `${t}.ndjson`));
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  const rows = Object.values(summary.rows).reduce((s, n) => s + n, 0);
  return { kind, dir, day: summary.day, bytes, rows, files };
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

/**
 * Runs `command args` in a child process (standard output to /dev/null with
 * `discardStdout`); peak RSS from `/usr/bin/time -v`, else by polling /proc.
 */
function measure(command: string, args: string[], discardStdout = false): Promise<Measured> {
  const useTime = existsSync(TIME);
  const [cmd, cmdArgs] = useTime ? [TIME, ['-v', command, ...args]] : [command, args];
  const devNull = discardStdout ? openSync('/dev/null', 'w') : undefined;
  return new Promise<Measured>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', devNull ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
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
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr}`));
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const kb = useTime && m ? Number(m[1]) : polledKb;
      const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
      const system = /System time \(seconds\): ([\d.]+)/.exec(stderr);
      const cpuSeconds = useTime && user && system ? Number(user[1]) + Number(system[1]) : null;
      resolve({ seconds, cpuSeconds, peakRssMb: kb / 1024, stdout, stderr });
    });
  }).finally(() => {
    if (devNull !== undefined) closeSync(devNull);
  });
}

function canonicalFindings(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.stringify(JSON.parse(l)))
    .sort();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const ENGINES = ['detect', 'duckdb', 'cat', 'readFloor', 'scanFloor'] as const;
type Engine = (typeof ENGINES)[number];
const ENGINE_LABELS: Record<Engine, string> = {
  detect: 'detect',
  duckdb: 'duckdb',
  cat: 'cat',
  readFloor: 'read floor',
  scanFloor: 'scan floor',
};

interface DayResult {
  day: Day;
  runs: Record<Engine, Measured[]>;
  findings: { detect: number; duckdb: number; same: boolean };
  duckdbOverDetect: number[];
  detectOverCat: number[];
  duckdbOverReadFloor: number[];
  duckdbOverScanFloor: number[];
}

async function benchOneDay(day: Day, o: BenchOptions, outDir: string): Promise<DayResult> {
  const runs: Record<Engine, Measured[]> = { detect: [], duckdb: [], cat: [], readFloor: [], scanFloor: [] };
  const detectOut = join(outDir, `detect-${day.kind.name}.ndjson`);
  const duckOut = join(outDir, `duckdb-${day.kind.name}.ndjson`);
  const duckArgs = [join(DIST, 'scripts', 'bench', 'duckdbChild.js'), day.dir, duckOut];
  if (o.threads) duckArgs.push(String(o.threads));
  let same = true;
  let counts = { detect: 0, duckdb: 0 };
  for (let round = 0; round < o.rounds; round++) {
    process.stdout.write(`  round ${round + 1} of ${o.rounds}: detect`);
    const main = join(DIST, 'src', 'cli', 'main.js');
    runs.detect.push(await measure(process.execPath, [main, 'detect', '--input', day.dir, '--output', detectOut]));
    process.stdout.write(', duckdb');
    runs.duckdb.push(await measure(process.execPath, duckArgs));
    process.stdout.write(', cat');
    runs.cat.push(await measure('cat', day.files, true));
    process.stdout.write(', floors\n');
    const floor = join(DIST, 'scripts', 'bench', 'floor.js');
    runs.readFloor.push(await measure(process.execPath, [floor, 'read', ...day.files]));
    runs.scanFloor.push(await measure(process.execPath, [floor, 'scan', ...day.files]));
    const detectFindings = canonicalFindings(detectOut);
    const duckFindings = canonicalFindings(duckOut);
    counts = { detect: detectFindings.length, duckdb: duckFindings.length };
    same &&= detectFindings.length === duckFindings.length && detectFindings.every((f, i) => f === duckFindings[i]);
  }
  const pair = (a: Engine, b: Engine): number[] => runs[a].map((m, i) => m.seconds / runs[b][i].seconds);
  return {
    day,
    runs,
    findings: { ...counts, same },
    duckdbOverDetect: pair('duckdb', 'detect'),
    detectOverCat: pair('detect', 'cat'),
    duckdbOverReadFloor: pair('duckdb', 'readFloor'),
    duckdbOverScanFloor: pair('duckdb', 'scanFloor'),
  };
}

function printDay(r: DayResult): void {
  const mb = r.day.bytes / 1e6;
  const cols = ['engine'.padEnd(10), 'wall s'.padStart(8), 'CPU s'.padStart(8), 'MB/s'.padStart(6)];
  process.stdout.write(
    [...cols, 'peak RSS MB'.padStart(12), 'findings'.padStart(9)].join(' ') + '   (medians of the rounds)\n',
  );
  for (const engine of ENGINES) {
    const ms = r.runs[engine];
    const wall = median(ms.map((m) => m.seconds));
    const cpu = ms.every((m) => m.cpuSeconds !== null) ? median(ms.map((m) => m.cpuSeconds as number)) : null;
    const findings = engine === 'detect' || engine === 'duckdb' ? String(r.findings[engine]) : '-';
    process.stdout.write(
      [
        ENGINE_LABELS[engine].padEnd(10),
        wall.toFixed(2).padStart(8),
        (cpu === null ? '-' : cpu.toFixed(2)).padStart(8),
        (mb / wall).toFixed(0).padStart(6),
        median(ms.map((m) => m.peakRssMb))
          .toFixed(0)
          .padStart(12),
        findings.padStart(9),
      ].join(' ') + '\n',
    );
  }
  const range = (xs: number[]): string =>
    `${median(xs).toFixed(2)}x (rounds ${xs.map((x) => x.toFixed(2)).join(', ')})`;
  process.stdout.write(`duckdb / detect, wall: ${range(r.duckdbOverDetect)}\n`);
  const cpu = r.runs.detect.map((m, i) => (r.runs.duckdb[i].cpuSeconds ?? NaN) / (m.cpuSeconds ?? NaN));
  // On a busy machine the wall ratio also measures who got the cores; the CPU ratio does not.
  if (cpu.every(Number.isFinite)) process.stdout.write(`duckdb / detect, CPU:  ${range(cpu)}\n`);
  process.stdout.write(`detect / cat, wall:    ${range(r.detectOverCat)}\n`);
  process.stdout.write(`duckdb / read floor, wall: ${range(r.duckdbOverReadFloor)}\n`);
  process.stdout.write(`duckdb / scan floor, wall: ${range(r.duckdbOverScanFloor)}\n`);
  process.stdout.write(
    '  (the floors: Node started and every byte read once on two threads; the same with the\n' +
      "  pre-filter's kernel over every byte; no row parsed. No detect in Node is faster than\n" +
      '  the read floor, none that scans every byte with that kernel faster than the scan floor)\n',
  );
  process.stdout.write(
    r.findings.same
      ? `Findings agree in every round: ${r.findings.detect} (identical rows)\n`
      : `FINDINGS DIFFER: detect ${r.findings.detect}, duckdb ${r.findings.duckdb} (see bench-data/out)\n`,
  );
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const days = o.days.map((kind) => benchDay(kind, o.seed));
  const outDir = join(ROOT, 'bench-data', 'out');
  mkdirSync(outDir, { recursive: true });
  process.stdout.write(
    `Machine: ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)} at start (other work on the machine skews the times), Node ${process.version}; peak RSS by ${existsSync(TIME) ? TIME + ' -v' : '/proc polling'}; ${o.rounds} rounds, each engine in turn\n`,
  );
  const results: DayResult[] = [];
  for (const day of days) {
    process.stdout.write(
      `\n== ${day.kind.name} day: ${day.kind.operations} operations, noise ${day.kind.noise}: ${day.rows.toLocaleString('en-US')} rows, ${(day.bytes / 1e6).toFixed(0)} MB NDJSON (${day.dir})\n`,
    );
    const r = await benchOneDay(day, o, outDir);
    printDay(r);
    results.push(r);
  }

  const heavy = days[0];
  process.stdout.write(
    `\n== pull path, client side: the ${heavy.kind.name} day's push-down rows answered from memory through LogsQueryClient\n`,
  );
  const pull = await measurePullDecode(heavy.dir, heavy.day);
  process.stdout.write(
    `${pull.rows.toLocaleString('en-US')} rows, ${(pull.responseBytes / 1e6).toFixed(0)} MB of answers: ` +
      `${pull.seconds.toFixed(2)} s wall, ${pull.cpuSeconds.toFixed(2)} s CPU; ` +
      `${Math.round(pull.rows / pull.seconds).toLocaleString('en-US')} rows/s ` +
      `(${Math.round(pull.rows / pull.cpuSeconds).toLocaleString('en-US')} rows per CPU second)\n`,
  );

  const failures: string[] = [];
  for (const r of results) {
    const name = r.day.kind.name;
    if (!r.findings.same) failures.push(`${name}: detect and DuckDB disagree on the findings`);
    if (o.small) continue;
    const speedup = median(r.duckdbOverDetect);
    if (speedup < MIN_SPEEDUP_OVER_DUCKDB)
      failures.push(`${name}: detect is ${speedup.toFixed(2)}x DuckDB, below the ${MIN_SPEEDUP_OVER_DUCKDB}x target`);
    const peak = Math.max(...r.runs.detect.map((m) => m.peakRssMb));
    if (peak > MAX_PEAK_RSS_MB)
      failures.push(`${name}: detect's peak RSS ${peak.toFixed(0)} MB is over ${MAX_PEAK_RSS_MB} MB`);
  }
  process.stdout.write(`\nLoad average at the end: ${loadavg()[0].toFixed(2)}\n`);
  process.stdout.write(
    failures.length === 0
      ? o.small
        ? 'Findings agree (--small: the speed and memory targets are not checked)\n'
        : `Targets met: detect at least ${MIN_SPEEDUP_OVER_DUCKDB}x DuckDB on each day, peak RSS at most ${MAX_PEAK_RSS_MB} MB, same findings\n`
      : failures.map((f) => `FAILED ${f}\n`).join(''),
  );

  const summarize = (ms: Measured[]) => ({
    seconds: ms.map((m) => m.seconds),
    cpuSeconds: ms.map((m) => m.cpuSeconds),
    peakRssMb: ms.map((m) => m.peakRssMb),
  });
  const result = {
    at: new Date().toISOString(),
    loadAverage: loadavg()[0],
    options: o,
    days: results.map((r) => ({
      kind: r.day.kind,
      input: { rows: r.day.rows, bytes: r.day.bytes },
      detect: summarize(r.runs.detect),
      duckdb: summarize(r.runs.duckdb),
      cat: summarize(r.runs.cat),
      readFloor: summarize(r.runs.readFloor),
      scanFloor: summarize(r.runs.scanFloor),
      duckdbOverReadFloor: r.duckdbOverReadFloor,
      duckdbOverScanFloor: r.duckdbOverScanFloor,
      duckdbOverDetect: r.duckdbOverDetect,
      detectOverCat: r.detectOverCat,
      findings: r.findings,
    })),
    pullDecode: pull,
    failures,
  };
  writeFileSync(join(outDir, 'last-result.json'), JSON.stringify(result, null, 2));
  return failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
