/**
 * The three tables read on two cores. A worker thread reads some table files (by
 * default DeviceEvents, a third to a half of the work) into its own `ParityDetection`,
 * so those tables' branches of the rule (their `where`s, `extend`s and first
 * `summarize`) run there too; the main thread meanwhile reads the other tables into the
 * caller's detection. The worker then posts each branch's
 * state, a few thousand groups rather than its rows, and the main thread merges it
 * (`ParityDetection.mergeBranch`). The rule's branches only meet in `finish` (the
 * joins), so where a table's branch ran does not change the findings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ParityDetection } from '../detection/parity/detection';
import { CORRECTED_TABLE_NAMES, TABLE_NAMES, type RuleTableName, type TableName } from '../detection/schema';
import { InputError } from './errors';
import {
  locateTableFiles,
  readTableFile,
  type ReadTableOptions,
  type TableFiles,
  type TableReadStats,
} from './tableFiles';
import type { TableWorkerData, TableWorkerMessage } from './tableWorker';

export interface ParallelReadOptions extends ReadTableOptions {
  /**
   * The tables read in the worker thread. Default DeviceEvents: its branch keeps
   * little (a few thousand command lists). Offloading DeviceFileEvents as well is about
   * as fast on the 1 GB bench day but holds ~35 MB more (two heaps of parsed rows).
   */
  offload?: readonly TableName[];
}

/** The worker's branches are merged into the caller's detection. */
export type BranchMergingConsumer = Pick<ParityDetection, 'add' | 'mergeBranch'>;

/** Starts the worker thread from its entry file (`tableWorker.ts` beside this module when run from the sources). */
export type TableWorkerStarter = (entry: string, data: TableWorkerData) => Worker;

let sourceStarter: TableWorkerStarter | undefined;

/**
 * @internal The one test seam of this module. The worker runs `tableWorker.js` beside
 * this file, which exists in the compiled build only; tests run the TypeScript sources
 * (ts-jest), so their setup (test/support/tableWorkerFromSource.ts, a jest setupFile)
 * installs here a starter that can load `tableWorker.ts`. Nothing in src calls it, and
 * the compiled build never uses it.
 */
export function setTableWorkerStarter(start: TableWorkerStarter | undefined): void {
  sourceStarter = start;
}

function startWorker(data: TableWorkerData): Worker {
  const compiled = join(__dirname, 'tableWorker.js');
  if (existsSync(compiled)) return new Worker(compiled, { workerData: data });
  if (sourceStarter) return sourceStarter(join(__dirname, 'tableWorker.ts'), data);
  throw new Error(`${compiled} is missing: build the project (npm run build) or run detect with --threads 1`);
}

/** A table's input error, to report the one the sequential reader would have met first. */
type TableError = { table: TableName; error: InputError };

/**
 * Like `readTableDirectory`, with some tables read in a worker thread. The result, the
 * statistics and the errors are the same: when files of both threads are bad, the error
 * reported is the one of the earlier table in the rule's order, as reading one table
 * after the other would have reported.
 */
export async function readTableDirectoryInParallel(
  dir: string | TableFiles,
  detection: BranchMergingConsumer,
  options: ParallelReadOptions = {},
): Promise<TableReadStats[]> {
  const files = typeof dir === 'string' ? locateTableFiles(dir) : dir;
  const offload = new Set<TableName>(options.offload ?? ['DeviceEvents']);
  const readOptions: ReadTableOptions = { prefilter: options.prefilter, allowEmpty: options.allowEmpty };
  const worker = startWorker({
    files: TABLE_NAMES.filter((table) => offload.has(table)).map((table) => files[table]),
    options: readOptions,
  });
  const offloaded = new Promise<{ stats: TableReadStats[] } | TableError>((resolve, reject) => {
    worker.on('message', (message: TableWorkerMessage) => {
      switch (message.kind) {
        case 'done':
          try {
            for (const branch of message.branches) detection.mergeBranch(branch);
            resolve({ stats: message.stats });
          } catch (err) {
            reject(err);
          }
          return;
        case 'inputError':
          resolve({ table: message.table, error: new InputError(message.file, message.line, message.detail) });
          return;
        case 'failure':
          reject(new Error(`reading table files in a worker thread failed: ${message.message}`));
          return;
      }
    });
    worker.on('error', reject);
    // Messages posted before the worker ends are delivered first; one tick more for safety.
    worker.on('exit', (code) =>
      setImmediate(() => reject(new Error(`the worker reading table files stopped (exit code ${code})`))),
    );
  });
  offloaded.catch(() => undefined); // handled below; a rejection before we await it is not "unhandled"
  const stats = new Map<TableName, TableReadStats>();
  let mainError: TableError | undefined;
  try {
    for (const table of TABLE_NAMES) {
      if (offload.has(table)) continue;
      try {
        stats.set(
          table,
          readTableFile<RuleTableName>(files[table], (row) => detection.add(table, row), readOptions),
        );
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        mainError = { table, error: err };
        break;
      }
    }
    // A failure of the worker itself matters only when the main thread's tables were fine.
    const outcome = await offloaded.catch((err: unknown) => {
      if (mainError) return undefined;
      throw err;
    });
    const workerError = outcome && 'error' in outcome ? outcome : undefined;
    const first = [mainError, workerError]
      .filter((e): e is TableError => e !== undefined)
      .sort((a, b) => CORRECTED_TABLE_NAMES.indexOf(a.table) - CORRECTED_TABLE_NAMES.indexOf(b.table))[0];
    if (first) throw first.error;
    if (outcome && 'stats' in outcome) for (const s of outcome.stats) stats.set(s.table, s);
  } finally {
    await worker.terminate();
  }
  return TABLE_NAMES.map((table) => stats.get(table) as TableReadStats);
}
