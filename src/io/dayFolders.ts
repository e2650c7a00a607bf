/**
 * Past days as table files, for `replay --input DIR`: one folder per UTC day, named
 * `YYYY-MM-DD`, each holding that day's three table files as `detect --input` reads
 * them (what `runcommand-detect export --from DAY --to NEXT --out DIR/DAY` writes).
 * The job's window loop reads each window's folder through this source instead of the
 * query API.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectionMode, QueryWindow } from '../detection/schema';
import { TABLE_NAMES } from '../detection/schema';
import type { PullStats, WindowSource } from '../job/runDetectionJob';
import { InputError } from './errors';
import { openTableFiles, readTableDirectory } from './tableFiles';

const DAY_MS = 86_400_000;

/** The folder of the UTC day a window starts on. */
export function dayFolder(dir: string, window: Pick<QueryWindow, 'start'>): string {
  return join(dir, window.start.slice(0, 10));
}

/**
 * The day folders of [from, to) (UTC midnights) that are missing from `dir`, all at once
 * in one error naming `dir`; nothing when every day is there.
 */
export function checkDayFolders(dir: string, from: Date, to: Date): void {
  const missing: string[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    try {
      if (!statSync(join(dir, day)).isDirectory()) missing.push(day);
    } catch {
      missing.push(day);
    }
  }
  if (missing.length > 0)
    throw new InputError(
      dir,
      undefined,
      `no folder for day${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: --input takes one folder per UTC day ` +
        '(YYYY-MM-DD), each with the three table files (e.g. from runcommand-detect export --out DIR/YYYY-MM-DD)',
    );
}

/**
 * A window source over day folders: each window's rows are those of its day's files
 * (read whole: without the rule's byte pre-filter in corrected mode, which reads rows
 * the rule drops).
 */
export function dayFolderSource(dir: string, mode: DetectionMode): WindowSource {
  return {
    async pullWindowInto(window, rows) {
      const opened = await openTableFiles(dayFolder(dir, window), mode);
      try {
        const read = readTableDirectory(opened.files, rows, { prefilter: mode === 'parity', mode });
        const stats = {} as PullStats;
        for (const table of TABLE_NAMES)
          stats[table] = { rows: read.find((s) => s.table === table)?.rowsParsed ?? 0, slices: 1 };
        return stats;
      } finally {
        opened.close();
      }
    },
  };
}
