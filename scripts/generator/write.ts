/**
 * Streams generated days to NDJSON files, one `<Table>.ndjson` per table: directly in
 * the output folder for one day, in one `YYYY-MM-DD/` folder per day for several.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateDays,
  GENERATED_TABLES,
  type GeneratedDaySummary,
  type GeneratedTable,
  type GeneratorOptions,
  type RowSink,
} from './day';

/** Appends lines to a file through a 1 MB buffer, synchronously (the generator is synchronous). */
class NdjsonFile {
  private readonly fd: number;
  private chunks: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(value: unknown): void {
    const line = JSON.stringify(value) + '\n';
    this.chunks.push(line);
    this.pending += line.length;
    if (this.pending >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const buffer = Buffer.from(this.chunks.join(''), 'utf8');
    writeSync(this.fd, buffer);
    this.bytes += buffer.length;
    this.chunks = [];
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Where a day's files go: `dir` itself for a single day, `dir/YYYY-MM-DD` when `days > 1`. */
export function dayFolder(outDir: string, day: string, days: number): string {
  return days > 1 ? join(outDir, day) : outDir;
}

export interface WrittenDay extends GeneratedDaySummary {
  folder: string;
  bytes: number;
}

/** Generates the days of `options` and writes them under `outDir`; returns what was written. */
export function writeDays(outDir: string, options: GeneratorOptions): WrittenDay[] {
  const days = options.days ?? 1;
  const open: { folder: string; files: Partial<Record<GeneratedTable, NdjsonFile>> }[] = [];
  const closeLast = () => {
    const last = open[open.length - 1];
    if (last) for (const file of Object.values(last.files)) file.close();
  };
  const summaries = generateDays(options, (day): RowSink => {
    closeLast();
    const folder = dayFolder(outDir, day, days);
    mkdirSync(folder, { recursive: true });
    const files: Partial<Record<GeneratedTable, NdjsonFile>> = Object.fromEntries(
      GENERATED_TABLES.map((t) => [t, new NdjsonFile(join(folder, `${t}.ndjson`))]),
    );
    open.push({ folder, files });
    // DeviceProcessEvents.ndjson only on a day with Linux runs (corrected mode reads it if present).
    return { row: (table, row) => (files[table] ??= new NdjsonFile(join(folder, `${table}.ndjson`))).write(row) };
  });
  closeLast();
  return summaries.map((s, i) => ({
    ...s,
    folder: open[i].folder,
    bytes: Object.values(open[i].files).reduce((sum, file) => sum + file.bytes, 0),
  }));
}
