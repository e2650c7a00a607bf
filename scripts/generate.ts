#!/usr/bin/env node
/**
 * `node dist/scripts/generate.js --out DIR --seed N --operations N [--day YYYY-MM-DD]
 * [--days N] [--noise F] [--plain]`
 *
 * Writes synthetic tenant days (AzureActivity, DeviceFileEvents, DeviceEvents as
 * NDJSON) for the detection to run on. One day: `DIR/<Table>.ndjson`. Several days:
 * `DIR/YYYY-MM-DD/<Table>.ndjson`, one folder per day.
 */
import { isDay, writeDays, type GeneratorOptions } from './generator';

export class UsageError extends Error {}

const USAGE = `Usage: generate --out DIR --seed N --operations N [--day YYYY-MM-DD] [--days N] [--noise F] [--plain]

  --out DIR          folder to write (created); several days go to DIR/YYYY-MM-DD/
  --seed N           seed: the same options always give the same rows
  --operations N     Run Command operations per day
  --day YYYY-MM-DD   first day (default 2026-11-25)
  --days N           consecutive days (default 1); the tenant carries over between days
  --noise F          unrelated operations, files and events per Run Command one (default 10)
  --plain            leave out the corners of the query (case variants, odd whitespace, ...)`;

export function parseGenerateArgs(argv: string[]): { out: string; options: GeneratorOptions } {
  const values = new Map<string, string>();
  let plain = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--plain') {
      plain = true;
      continue;
    }
    if (!['--out', '--seed', '--operations', '--day', '--days', '--noise'].includes(a)) {
      throw new UsageError(`unknown option '${a}'`);
    }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    values.set(a, v);
  }
  const whole = (name: string, fallback?: number): number => {
    const text = values.get(name);
    if (text === undefined) {
      if (fallback === undefined) throw new UsageError(`${name} is required`);
      return fallback;
    }
    if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a whole number, got '${text}'`);
    return Number(text);
  };
  const out = values.get('--out');
  if (!out) throw new UsageError('--out is required');
  const day = values.get('--day') ?? '2026-11-25';
  if (!isDay(day)) {
    throw new UsageError(`--day must be a date YYYY-MM-DD, got '${day}'`);
  }
  const noiseText = values.get('--noise');
  const noiseFactor = noiseText === undefined ? 10 : Number(noiseText);
  if (!Number.isFinite(noiseFactor) || noiseFactor < 0) {
    throw new UsageError(`--noise must be a number >= 0, got '${noiseText}'`);
  }
  return {
    out,
    options: {
      seed: whole('--seed'),
      operations: whole('--operations'),
      day,
      days: whole('--days', 1),
      noiseFactor,
      tricky: !plain,
    },
  };
}

export function main(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let parsed;
  try {
    parsed = parseGenerateArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`generate: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  const started = process.hrtime.bigint();
  const written = writeDays(parsed.out, parsed.options);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const d of written) {
    const r = d.rows;
    process.stdout.write(
      `${d.day}: ${d.folder}  AzureActivity ${r.AzureActivity}, DeviceFileEvents ${r.DeviceFileEvents}, ` +
        `DeviceEvents ${r.DeviceEvents} rows, ${(d.bytes / 1e6).toFixed(1)} MB\n`,
    );
  }
  process.stdout.write(`generated in ${seconds.toFixed(1)} s\n`);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`generate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
