/**
 * The three tables read on two cores. The main thread and one worker thread share the
 * table files through a queue (./tableQueue): the main thread takes them from the front
 * (AzureActivity first), the worker from the back (DeviceEvents first), and
 * DeviceFileEvents goes to whichever is free first, so the threads end closer together
 * whatever each table costs. Each thread reads its files into its own
 * `ParityDetection`; the worker then posts each branch's state, a few thousand groups
 * rather than its rows, and the main thread merges it (`ParityDetection.mergeBranch`).
 * The rule's branches only meet in `finish` (the joins), so where a table's branch ran
 * does not change the findings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ParityDetection } from '../detection/parity/detection';
import { TABLE_NAMES, type RuleTableName } from '../detection/schema';
import { InputError } from './errors';
import {
  locateTableFiles,
  type ReadTableOptions,
  type TableFile,
  type TableFiles,
  type TableReadStats,
} from './tableFiles';
import { readQueuedTables, tableQueueMemory, type QueuedFilesRead } from './tableQueue';
import type { TableWorkerData, TableWorkerMessage } from './tableWorker';

export interface ParallelReadOptions extends ReadTableOptions {
  /**
   * @internal For tests: false leaves every file to the worker (default true: the main
   * thread takes files too), to reach the worker's paths whatever the scheduling.
   */
  mainThreadReads?: boolean;
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

/**
 * Like `readTableDirectory`, with the files shared between this thread and a worker
 * thread (see the module comment). The result, the statistics and the errors are the
 * same: when several files are bad, the error reported is the one of the earliest table
 * in the rule's order, as reading one table after the other would have reported (see
 * ./tableQueue).
 */
export async function readTableDirectoryInParallel(
  dir: string | TableFiles,
  detection: BranchMergingConsumer,
  options: ParallelReadOptions = {},
): Promise<TableReadStats[]> {
  const located = typeof dir === 'string' ? locateTableFiles(dir) : dir;
  const files: TableFile<RuleTableName>[] = TABLE_NAMES.map((table) => located[table]);
  const readOptions: ReadTableOptions = { prefilter: options.prefilter, allowEmpty: options.allowEmpty };
  const queue = tableQueueMemory();
  const worker = startWorker({ files, queue, options: readOptions });
  const offloaded = new Promise<QueuedFilesRead>((resolve, reject) => {
    const stats: QueuedFilesRead['stats'] = [];
    worker.on('message', (message: TableWorkerMessage) => {
      switch (message.kind) {
        case 'failure':
          reject(new Error(`reading table files in a worker thread failed: ${message.message}`));
          return;
        case 'table':
          // Delivered while this thread waits (its own files are read synchronously).
          try {
            detection.mergeBranch(message.branch);
            stats.push({ file: message.file, stats: message.stats });
          } catch (err) {
            reject(err);
          }
          return;
        case 'done': {
          const e = message.inputError;
          resolve({
            stats,
            ...(e ? { error: { file: e.file, error: new InputError(e.path, e.line, e.detail) } } : {}),
          });
          return;
        }
      }
    });
    worker.on('error', reject);
    // Messages posted before the worker ends are delivered first; one tick more for safety.
    worker.on('exit', (code) =>
      setImmediate(() => reject(new Error(`the worker reading table files stopped (exit code ${code})`))),
    );
  });
  offloaded.catch(() => undefined); // handled below; a rejection before we await it is not "unhandled"
  try {
    const mine: QueuedFilesRead =
      options.mainThreadReads === false
        ? { stats: [] }
        : readQueuedTables(files, queue, 'front', (table, row) => detection.add(table, row), readOptions);
    // A failure of the worker itself matters only when the main thread's files were fine.
    const theirs = await offloaded.catch((err: unknown) => {
      if (mine.error) return undefined;
      throw err;
    });
    // The front's error comes before every file the back read (./tableQueue).
    const first = mine.error ?? theirs?.error;
    if (first) throw first.error;
    const stats = new Map<number, TableReadStats>();
    for (const read of [...mine.stats, ...(theirs?.stats ?? [])]) stats.set(read.file, read.stats);
    return files.map((_, index) => stats.get(index) as TableReadStats);
  } finally {
    await worker.terminate();
  }
}
