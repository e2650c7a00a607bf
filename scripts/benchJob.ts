#!/usr/bin/env node
/**
 * `npm run bench:job [-- --rows N] [-- --seed N]`
 *
 * The whole daily job (runDetectionJob through createJobPorts: the real LogsQueryClient,
 * Table Storage client and Logs Ingestion client) against the HTTPS stand-ins of
 * test/support, serving one generated day (scripts/generator) whose push-down rows
 * (the rows the rule's per-table filters keep, i.e. what the job pulls) number about
 * N (default 2,000,000). Prints wall time, pulled rows per second and peak RSS of the
 * job process, for:
 *
 *   (a) baseline  the source as before this benchmark: 4 slices per table, answers up
 *                 to the API's 500,000-row cap, 5 in flight;
 *   (b) job       the source as the job runs it (slices sized from a push-down count)
 *   (c) job, in a memory cgroup of 2,048 MB (a Flex Consumption instance's default) and
 *       (d) of 512 MB (its smallest), where this machine lets us make one (root):
 *       Node sizes V8's heap from the memory it may use (scripts/bench/memoryCgroup.ts),
 *       so (b) on a machine of many GB is not the peak on an instance
 *
 * each in its own child process (the stand-ins and Azurite run in a third, so their
 * memory is not counted), and their ratios. Exits 1 if the runs disagree on the
 * findings or the rows, or a run fails. Goal: at or below 512 MB peak RSS on the
 * instance sizes, (c) and (d). Not a test: never run in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createMemoryCgroup, type MemoryCgroup } from './bench/memoryCgroup';

const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');
const WORKSPACE = '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const STREAM = 'Custom-RunCommandFindings_CL';
const DAY = '2026-11-25';
/** Push-down rows per Run Command operation of a generated day (measured: about 7.5), to size the day. */
const ROWS_PER_OPERATION = 7.5;

interface Served {
  logAnalyticsEndpoint: string;
  logsIngestionEndpoint: string;
  connectionString: string;
  ca: string;
  pushDownRows: Record<string, number>;
  generatedSeconds: number;
}

interface JobReport {
  variant: string;
  seconds: number;
  peakRssMb: number;
  /** V8's heap limit in the job process (what Node made of the memory it may use). */
  heapLimitMb: number;
  rows: number;
  findings: number;
  written: number;
  outcome: string;
  findingIds: string[];
}

function args(argv: string[]): { rows: number; seed: number } {
  const o = { rows: 2_000_000, seed: 7 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--serve' || a === '--job') {
      i++;
      continue;
    }
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 1) throw new Error(`${a} needs a number >= 1`);
    if (a === '--rows') o.rows = Math.floor(v);
    else if (a === '--seed') o.seed = Math.floor(v);
    else throw new Error(`unknown option '${a}' (use --rows N, --seed N)`);
  }
  return o;
}

/** Loads TypeScript sources (test/support) through the compiler's transpileModule, as src/io/parallel does in tests. */
function requireTypeScript(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const extensions = (require as unknown as { extensions: Record<string, unknown> }).extensions;
  extensions['.ts'] = (module: { _compile(code: string, file: string): void }, filename: string) => {
    const out = ts.transpileModule(readFileSync(filename, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: filename,
    });
    module._compile(out.outputText, filename);
  };
}

/** Child 1: generates the day (push-down rows only), starts Azurite and the stand-ins, serves until stdin closes. */
async function serve(o: { rows: number; seed: number }): Promise<void> {
  requireTypeScript();
  /* eslint-disable @typescript-eslint/no-require-imports */
  // The compiled generator and engine; the stand-ins from their TypeScript sources (test/support).
  const { generateDays } = require('./generator') as typeof import('./generator');
  const { coerceRow, ParityDetection } = require('../src/detection') as typeof import('../src/detection');
  const support = (name: string) => require(join(ROOT, 'test/support', `${name}.ts`)) as Record<string, unknown>;
  type Stoppable = { stop(): Promise<void> };
  const LogAnalyticsStandIn = support('logAnalyticsStandIn').LogAnalyticsStandIn as {
    start(o: {
      workspaceId: string;
      tables: Record<string, unknown[]>;
    }): Promise<Stoppable & { endpoint: string; ca: string }>;
  };
  const IngestionStandIn = support('ingestionStandIn').IngestionStandIn as {
    start(o: { dcrImmutableId: string; streamName: string }): Promise<Stoppable & { endpoint: string }>;
  };
  const startAzuriteTables = support('azurite').startAzuriteTables as () => Promise<
    Stoppable & { connectionString: string }
  >;
  /* eslint-enable @typescript-eslint/no-require-imports */
  type Table = 'AzureActivity' | 'DeviceFileEvents' | 'DeviceEvents';
  const started = process.hrtime.bigint();
  const tables: Record<Table, Record<string, unknown>[]> = {
    AzureActivity: [],
    DeviceFileEvents: [],
    DeviceEvents: [],
  };
  // Only the rows the push-down keeps: the others are never pulled (and would only cost the stand-in memory).
  const operations = Math.ceil(o.rows / ROWS_PER_OPERATION);
  generateDays({ seed: o.seed, operations, day: DAY, noiseFactor: 0, runOnceScriptsPerDay: 25 }, () => ({
    row(table, row) {
      const raw = row as unknown as Record<string, unknown>;
      // No Linux runs are planted here: every row is of the rule's three tables.
      if (table === 'DeviceProcessEvents') return;
      if (ParityDetection.isRelevant(table, coerceRow(table, raw).row)) tables[table as Table].push(raw);
    },
  }));
  const generatedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [azurite, logAnalytics, ingestion] = await Promise.all([
    startAzuriteTables(),
    LogAnalyticsStandIn.start({ workspaceId: WORKSPACE, tables }),
    IngestionStandIn.start({ dcrImmutableId: DCR, streamName: STREAM }),
  ]);
  const served: Served = {
    logAnalyticsEndpoint: logAnalytics.endpoint,
    logsIngestionEndpoint: ingestion.endpoint,
    connectionString: azurite.connectionString,
    ca: logAnalytics.ca,
    pushDownRows: Object.fromEntries(Object.entries(tables).map(([t, rows]) => [t, rows.length])),
    generatedSeconds,
  };
  process.stdout.write(JSON.stringify(served) + '\n');
  await new Promise<void>((resolve) => process.stdin.on('end', resolve).resume());
  await Promise.all([azurite.stop(), logAnalytics.stop(), ingestion.stop()]);
}

/** Child 2: one run of the job for the day, in a fresh state table; reports on stdout. */
async function job(variant: string): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadConfig } = require('../src/config/settings') as typeof import('../src/config/settings');
  const { createJobPorts } = require('../src/job/createJobPorts') as typeof import('../src/job/createJobPorts');
  const { runDetectionJob } = require('../src/job/runDetectionJob') as typeof import('../src/job/runDetectionJob');
  const { LogAnalyticsSource } = require('../src/logAnalytics/source') as typeof import('../src/logAnalytics/source');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const served = JSON.parse(process.env.BENCH_SERVED ?? '{}') as Served;
  const env = {
    LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
    LOG_ANALYTICS_ENDPOINT: served.logAnalyticsEndpoint,
    LOGS_INGESTION_ENDPOINT: served.logsIngestionEndpoint,
    DCR_IMMUTABLE_ID: DCR,
    DCR_STREAM_NAME: STREAM,
    STATE_STORE_CONNECTION_STRING: served.connectionString,
    STATE_STORE_TABLE_NAME: `benchjob${variant}${Date.now()}`,
    ENRICHMENT_ENABLED: 'false',
  };
  const config = loadConfig(env);
  const credential = {
    getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const now = () => new Date(`2026-11-26T00:15:30Z`);
  const wiring = await createJobPorts(config, { credential, tlsCa: served.ca, now });
  if (variant === 'baseline') {
    wiring.ports.source = new LogAnalyticsSource({
      workspaceId: WORKSPACE,
      credential,
      endpoint: served.logAnalyticsEndpoint,
      clientOptions: { tlsOptions: { ca: served.ca } },
      planSlicesByCount: false,
    });
  }
  const findingIds: string[] = [];
  const write = wiring.ports.writer.write;
  wiring.ports.writer.write = (records) => {
    findingIds.push(...records.map((r) => r.record.FindingId));
    return write(records);
  };
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const t0 = process.hrtime.bigint();
  const result = await runDetectionJob(wiring.ports, {
    now,
    ingestionDelayMinutes: config.ingestionDelayMinutes,
    maxCatchupDays: config.maxCatchupDays,
    checkpointName: wiring.checkpointName,
    settleAfterHours: [],
    log: quiet,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const w = result.processed[0];
  const report: JobReport = {
    variant,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    heapLimitMb: (require('node:v8') as typeof import('node:v8')).getHeapStatistics().heap_size_limit / 1048576,
    rows: w ? Object.values(w.rows).reduce((a, b) => a + b, 0) : 0,
    findings: w?.findings ?? 0,
    written: w?.written ?? 0,
    outcome: result.outcome === 'failed' ? `failed: ${String(result.error)}` : result.outcome,
    findingIds: findingIds.sort(),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

function runJob(variant: string, served: Served, cgroup?: MemoryCgroup): Promise<JobReport> {
  return new Promise((resolve, reject) => {
    const args = [__filename, '--job', variant];
    const [command, argv] = cgroup ? cgroup.wrap(process.execPath, args) : [process.execPath, args];
    const child = spawn(command, argv, {
      env: { ...process.env, BENCH_SERVED: JSON.stringify(served) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the ${variant} job exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as JobReport);
    });
  });
}

function startServers(o: { rows: number; seed: number }): Promise<{ child: ChildProcess; served: Served }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [__filename, '--serve', 'x', '--rows', String(o.rows), '--seed', String(o.seed)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`the stand-ins stopped (exit ${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({ child, served: JSON.parse(line) as Served }),
    );
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--serve') return serve(args(argv)).then(() => 0);
  if (argv[0] === '--job') return job(argv[1] ?? 'job').then(() => 0);
  const o = args(argv);
  process.stdout.write(`Generating a day of ~${o.rows.toLocaleString('en-US')} push-down rows (seed ${o.seed}) ...\n`);
  const { child, served } = await startServers(o);
  try {
    const total = Object.values(served.pushDownRows).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `  ${total.toLocaleString('en-US')} push-down rows (${Object.entries(served.pushDownRows)
        .map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`)
        .join(', ')}), generated in ${served.generatedSeconds.toFixed(1)} s\n` +
        `Machine: ${cpus().length} cores, load ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}, Node ${process.version}\n\n`,
    );
    const line = (label: string, r: JobReport) =>
      process.stdout.write(
        `${label}  wall ${r.seconds.toFixed(1).padStart(6)} s  ` +
          `${Math.round(r.rows / r.seconds)
            .toLocaleString('en-US')
            .padStart(9)} rows/s  peak RSS ${r.peakRssMb.toFixed(0).padStart(5)} MB  ` +
          `(V8 heap limit ${r.heapLimitMb.toFixed(0)} MB)  ` +
          `${r.rows.toLocaleString('en-US')} rows pulled, ${r.findings} findings, ${r.written} written, ${r.outcome}\n`,
      );
    const a = await runJob('baseline', served);
    line('(a) baseline             ', a);
    const b = await runJob('job', served);
    line('(b) job                  ', b);
    process.stdout.write(
      `    (b)/(a): wall ${(b.seconds / a.seconds).toFixed(2)}x, peak RSS ${(b.peakRssMb / a.peakRssMb).toFixed(2)}x\n`,
    );
    const onInstances: Array<[number, JobReport]> = [];
    for (const [label, limitMb] of [
      ['(c) job, 2,048 MB cgroup ', 2048],
      ['(d) job, 512 MB cgroup   ', 512],
    ] as const) {
      const cgroup = createMemoryCgroup(limitMb, `runcommand-bench-job-${process.pid}-${limitMb}`);
      if ('unavailable' in cgroup) {
        process.stdout.write(`${label}  skipped: ${cgroup.unavailable}\n`);
        continue;
      }
      try {
        const r = await runJob('job', served, cgroup);
        line(label, r);
        onInstances.push([limitMb, r]);
      } finally {
        cgroup.remove();
      }
    }
    const goal = onInstances.length
      ? onInstances
          .map(
            ([mb, r]) =>
              `${mb.toLocaleString('en-US')} MB instance ${r.peakRssMb.toFixed(0)} MB ${r.peakRssMb <= 512 ? 'met' : 'NOT met'}`,
          )
          .join(', ')
      : `not measured on an instance size (no cgroup here); this machine: ${b.peakRssMb <= 512 ? 'met' : 'NOT met'}`;
    process.stdout.write(`\ngoal peak RSS <= 512 MB: ${goal}\n`);
    const runs = [b, ...onInstances.map(([, r]) => r)];
    const disagree = runs.filter(
      (r) => JSON.stringify(a.findingIds) !== JSON.stringify(r.findingIds) || a.rows !== r.rows,
    );
    if (disagree.length > 0 || runs.some((r) => r.outcome !== a.outcome)) {
      process.stderr.write('bench:job: the runs disagree on the rows pulled, the findings or the outcome\n');
      return 1;
    }
    return 0;
  } finally {
    child.removeAllListeners('close');
    child.stdin?.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:job: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
