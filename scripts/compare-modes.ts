#!/usr/bin/env node
/**
 * `npm run compare-modes -- [--days 30] [--operations 150] [--seed 7] [--run-once 2] [--path-scripts 1] [--baseline-days 14] [--noise 2]`
 *
 * Generates a multi-day synthetic tenant (scripts/generator) with a known set of
 * planted run-once scripts (`--run-once` per day, each with a command list that occurs
 * nowhere else in the month), replays it day by day through the job's window loop in
 * both modes (src/job/replay: parity, then corrected with its baseline carried over),
 * and prints the findings per day in each mode and how many of the planted run-once
 * scripts each mode found (a finding on the planted VM whose commands hold the
 * script's marker), per Run Command path: `--path-scripts` more per day on each path
 * beyond the rule's (managed Run Command, scale-set instances, Arc machines, action and
 * managed Run Command on Linux VMs) and on machines not onboarded to Defender, which count as found by a control-plane finding
 * of their operation. No Azure involved.
 */
import { CorrectedDetection, coerceRow, ParityDetection } from '../src/detection';
import { toupper } from '../src/detection/kql';
import { CORRECTED_TABLE_NAMES, type TableName, type TableRows } from '../src/detection/schema';
import { inMemorySource, replay, type ReplayResult } from '../src/job/replay';
import { addDays, generateDays, PLANTED_PATHS, type PlantedPath, type PlantedScript } from './generator';
import type { ReplayedFinding } from '../src/job/replay';

export interface CompareModesOptions {
  days: number;
  operations: number;
  seed: number;
  runOncePerDay: number;
  /** Run-once scripts per day on each path beyond the rule's (generator `pathScriptsPerDay`; default 0). */
  pathScriptsPerDay?: number;
  baselineDays: number;
  noiseFactor: number;
  firstDay?: string;
}

export interface ModeOutcome {
  findingsPerDay: number[];
  total: number;
  /** Planted run-once scripts found (on their own VM, with their marker command). */
  plantedFound: number;
  /** Planted scripts found, per path. */
  foundByPath: Record<PlantedPath, number>;
  /** Findings by kind (parity: all `script`). */
  byKind: { script: number; controlPlane: number };
}

export interface CompareModesResult {
  days: string[];
  planted: PlantedScript[];
  parity: ModeOutcome;
  corrected: ModeOutcome;
  /** Rows kept per day (those either mode can use), per table. */
  rowsPerDay: Array<Record<TableName, number>>;
}

type DayTables = { [T in TableName]: TableRows[T][] };

export async function compareModes(o: CompareModesOptions): Promise<CompareModesResult> {
  const firstDay = o.firstDay ?? '2026-11-01';
  const tablesByDay = new Map<string, DayTables>();
  const summaries = generateDays(
    {
      seed: o.seed,
      operations: o.operations,
      day: firstDay,
      days: o.days,
      noiseFactor: o.noiseFactor,
      runOnceScriptsPerDay: o.runOncePerDay,
      pathScriptsPerDay: o.pathScriptsPerDay ?? 0,
    },
    (day) => {
      const tables: DayTables = { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [], DeviceProcessEvents: [] };
      tablesByDay.set(day, tables);
      return {
        row(table, raw) {
          const row = coerceRow(table, raw as unknown as Record<string, unknown>).row;
          // Keep only what either mode can use (the push-down filters of both sources).
          if (!ParityDetection.isRelevant(table, row) && !CorrectedDetection.isRelevant(table, row)) return;
          (tables[table] as TableRows[TableName][]).push(row);
        },
      };
    },
  );
  const planted = summaries.flatMap((s) => s.planted ?? []);
  const days = summaries.map((s) => s.day);
  const source = inMemorySource((window) => {
    const tables = tablesByDay.get(window.start.slice(0, 10));
    if (!tables) throw new Error(`no generated day for ${window.start}`);
    return tables;
  });
  const from = `${firstDay}T00:00:00.0000000Z`;
  const to = `${addDays(firstDay, o.days)}T00:00:00.0000000Z`;
  const outcome = (r: ReplayResult): ModeOutcome => {
    if (r.failed) throw r.failed.error;
    const found = planted.filter((p) => r.findings.some((f) => finds(f, p)));
    const foundByPath = Object.fromEntries(PLANTED_PATHS.map((path) => [path, 0])) as Record<PlantedPath, number>;
    for (const p of found) foundByPath[p.path]++;
    const controlPlane = r.findings.filter((f) => f.kind === 'control-plane').length;
    return {
      findingsPerDay: r.days.map((d) => d.findings),
      total: r.findings.length,
      plantedFound: found.length,
      foundByPath,
      byKind: { script: r.findings.length - controlPlane, controlPlane },
    };
  };
  const parity = outcome(await replay({ from, to, mode: 'parity', source }));
  const corrected = outcome(await replay({ from, to, mode: 'corrected', baselineDays: o.baselineDays, source }));
  const rowsPerDay = days.map((d) => {
    const t = tablesByDay.get(d)!;
    return Object.fromEntries(CORRECTED_TABLE_NAMES.map((n) => [n, t[n].length])) as Record<TableName, number>;
  });
  return { days, planted, parity, corrected, rowsPerDay };
}

/**
 * Whether finding `f` is the planted script `p`: a script finding on its machine, that
 * day, holding its marker command; for a machine not onboarded to Defender (no
 * endpoint rows), the control-plane finding of its operation.
 */
function finds(f: ReplayedFinding, p: PlantedScript): boolean {
  if (!f.window.start.startsWith(p.day)) return false;
  if (p.path === 'not-onboarded') return f.kind === 'control-plane' && f.identity.CorrelationId === p.correlationId;
  return (
    f.kind !== 'control-plane' &&
    f.finding.VirtualMachineName.toLowerCase() === p.armName.toLowerCase() &&
    // PowerShell commands are upper-cased (`toupper`); a Linux script's are its processes' command lines, as is.
    f.finding.PowershellScriptCommands.includes(p.path.startsWith('linux-') ? p.commands[0]! : toupper(p.commands[0]!))
  );
}

export function formatComparison(r: CompareModesResult, o: CompareModesOptions): string {
  const lines = [
    `Generated tenant: ${r.days.length} days from ${r.days[0]}, ${o.operations} Run Command operations a day, seed ${o.seed}, ` +
      `${o.runOncePerDay} planted run-once script(s) a day; corrected mode with BASELINE_DAYS=${o.baselineDays}.`,
    '',
    'Day         parity  corrected  planted',
  ];
  r.days.forEach((d, i) => {
    const planted = r.planted.filter((p) => p.day === d).length;
    lines.push(
      `${d}  ${String(r.parity.findingsPerDay[i]).padStart(6)}  ${String(r.corrected.findingsPerDay[i]).padStart(9)}  ${String(planted).padStart(7)}`,
    );
  });
  lines.push(
    `total       ${String(r.parity.total).padStart(6)}  ${String(r.corrected.total).padStart(9)}  ${String(r.planted.length).padStart(7)}`,
    '',
    `Planted run-once scripts found: parity ${r.parity.plantedFound} of ${r.planted.length}, ` +
      `corrected ${r.corrected.plantedFound} of ${r.planted.length}.`,
    `Corrected findings by kind: ${r.corrected.byKind.script} script, ${r.corrected.byKind.controlPlane} control-plane.`,
    '',
    'Path              planted  parity  corrected',
  );
  for (const path of PLANTED_PATHS) {
    const planted = r.planted.filter((p) => p.path === path).length;
    lines.push(
      `${path.padEnd(16)}  ${String(planted).padStart(7)}  ${String(r.parity.foundByPath[path]).padStart(6)}  ${String(r.corrected.foundByPath[path]).padStart(9)}`,
    );
  }
  return lines.join('\n') + '\n';
}

function parseArgs(argv: string[]): CompareModesOptions {
  const o: CompareModesOptions = {
    days: 30,
    operations: 150,
    seed: 7,
    runOncePerDay: 2,
    pathScriptsPerDay: 1,
    baselineDays: 14,
    noiseFactor: 2,
  };
  const flags: Record<string, keyof CompareModesOptions> = {
    '--days': 'days',
    '--operations': 'operations',
    '--seed': 'seed',
    '--run-once': 'runOncePerDay',
    '--path-scripts': 'pathScriptsPerDay',
    '--baseline-days': 'baselineDays',
    '--noise': 'noiseFactor',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = flags[argv[i]!];
    const v = Number(argv[i + 1]);
    if (!key || !Number.isFinite(v) || v < 0) {
      throw new Error(
        `compare-modes: bad argument '${argv[i]} ${argv[i + 1] ?? ''}' (options: ${Object.keys(flags).join(', ')})`,
      );
    }
    (o as unknown as Record<string, number>)[key] = v;
    i++;
  }
  return o;
}

export const COMPARE_MODES_USAGE = `Usage: npm run compare-modes -- [--days N] [--operations N] [--seed N] [--run-once N] [--baseline-days N] [--noise F]

Generates a synthetic tenant of N days with planted run-once scripts, replays it day by
day in parity and in corrected mode, and prints the findings per day of each mode and
how many of the planted scripts each found. No Azure.

  --days N           days to generate (default 30)
  --operations N     Run Command operations per day (default 150)
  --seed N           generator seed (default 7)
  --run-once N       planted run-once scripts per day (default 2)
  --baseline-days N  corrected mode's BASELINE_DAYS (default 14)
  --noise F          unrelated rows per Run Command one (default 2)
  -h, --help         show this help
`;

if (require.main === module && (process.argv.includes('--help') || process.argv.includes('-h'))) {
  process.stdout.write(COMPARE_MODES_USAGE);
} else if (require.main === module) {
  let options: CompareModesOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  compareModes(options).then(
    (r) => process.stdout.write(formatComparison(r, options)),
    (e: unknown) => {
      process.stderr.write(`compare-modes: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
