/**
 * The findings both modes give on every day we ship or generate, as text, so that a
 * refactor can be shown to change nothing: test/fixtures/golden/ holds this text as it
 * was computed before the one-vocabulary refactor (test/unit/refactor/golden.test.ts).
 *
 * Each day runs through the job's window loop in memory (src/job/replay), so corrected
 * mode's baseline is carried from day to day as the job does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coerceRow, TABLE_NAMES, type TableName, type TableRows } from '../../src/detection';
import { inMemorySource, replay } from '../../src/job/replay';
import { generateDayRows } from '../../scripts/generator';

type Tables = { [T in TableName]: TableRows[T][] };

const ROOT = join(__dirname, '..', '..');

function readNdjsonDay(dir: string): Tables {
  const tables = { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] } as unknown as Tables;
  for (const table of TABLE_NAMES) {
    const text = readFileSync(join(ROOT, dir, `${table}.ndjson`), 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      (tables[table] as unknown[]).push(coerceRow(table, JSON.parse(line) as Record<string, unknown>).row);
    }
  }
  return tables;
}

function generatedDays(seed: number): Map<string, Tables> {
  const days = generateDayRows({
    seed,
    operations: 60,
    day: '2026-11-01',
    days: 4,
    noiseFactor: 1,
    runOnceScriptsPerDay: 3,
  });
  const out = new Map<string, Tables>();
  for (const day of days) {
    const tables = {} as Tables;
    for (const table of TABLE_NAMES) {
      (tables as Record<string, unknown[]>)[table] = (day[table] as unknown as Record<string, unknown>[]).map(
        (raw) => coerceRow(table, raw).row,
      );
    }
    out.set(`${day.summary.day}T00:00:00.0000000Z`, tables);
  }
  return out;
}

const NEXT_DAY = (start: string): string =>
  new Date(Date.parse(start) + 86_400_000).toISOString().replace(/\.\d{3}Z$/, '.0000000Z');

/** The findings (and corrected details) of each mode over `days` (window start → tables), one JSON line each. */
async function replayText(days: Map<string, Tables>): Promise<string> {
  const starts = [...days.keys()].sort();
  const lines: string[] = [];
  for (const mode of ['parity', 'corrected'] as const) {
    const result = await replay({
      from: starts[0]!,
      to: NEXT_DAY(starts[starts.length - 1]!),
      mode,
      baselineDays: 14,
      source: inMemorySource(
        (window) => days.get(window.start) ?? { AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] },
      ),
    });
    if (result.failed) throw result.failed.error;
    for (const f of result.findings) {
      lines.push(JSON.stringify({ mode, window: f.window.start, finding: f.finding, details: f.details ?? null }));
    }
  }
  return lines.join('\n') + '\n';
}

/** Name → text for every golden file. */
export async function computeGolden(): Promise<Record<string, string>> {
  const dayStart = (day: string): string => `${day}T00:00:00.0000000Z`;
  const fixtureDay = (dir: string, day: string): Map<string, Tables> => new Map([[dayStart(day), readNdjsonDay(dir)]]);
  return {
    'plain-day.ndjson': await replayText(fixtureDay('test/fixtures/examples/plain-day', '2026-11-25')),
    'tricky-day.ndjson': await replayText(fixtureDay('test/fixtures/examples/tricky-day', '2026-11-25')),
    'sample-day.ndjson': await replayText(fixtureDay('samples/sample-day', '2026-11-25')),
    'generated-seed-1.ndjson': await replayText(generatedDays(1)),
    'generated-seed-2.ndjson': await replayText(generatedDays(2)),
    'generated-seed-3.ndjson': await replayText(generatedDays(3)),
  };
}
