/**
 * Worker thread body for `readTableDirectoryInParallel` (./parallel): takes table files
 * from the back of the queue it shares with the main thread (./tableQueue) and reads
 * them with the ordinary reader into its own `ParityDetection`, so that those tables'
 * branches of the rule (their `where`s, `extend`s and first `summarize`) run here; then
 * posts each branch's state and its read statistics to the main thread as soon as the
 * table is read, so that the main thread, when it waits, copies and merges one branch
 * while this thread reads the next table. An input error is posted as data, so the main
 * thread can raise the same `InputError` it would have raised reading the file itself.
 *
 * It loads the reader and parity's detection only (./tableFiles imports the engine's
 * modules, not ../detection/index), since starting this thread is part of what it costs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ParityDetection, type BranchState } from '../detection/parity/detection';
import type { RuleTableName } from '../detection/schema';
import type { ReadTableOptions, TableFile, TableReadStats } from './tableFiles';
import { readQueuedTables } from './tableQueue';

export interface TableWorkerData {
  /** The rule's three tables, in its order. */
  files: TableFile<RuleTableName>[];
  /** The queue's counters (./tableQueue `tableQueueMemory`). */
  queue: SharedArrayBuffer;
  options: ReadTableOptions;
}

export type TableWorkerMessage =
  /** One file read: its statistics and its table's branch. */
  | { kind: 'table'; file: number; stats: TableReadStats; branch: BranchState }
  | {
      kind: 'done';
      /** The input error of the earliest file among those read (./tableQueue). */
      inputError?: { file: number; path: string; line: number | undefined; detail: string };
    }
  | { kind: 'failure'; message: string };

function runTableWorker(): void {
  const port = parentPort;
  if (!port) return;
  const { files, queue, options } = workerData as TableWorkerData;
  const post = (message: TableWorkerMessage): void => port.postMessage(message);
  try {
    const detection = new ParityDetection();
    const read = readQueuedTables(
      files,
      queue,
      'back',
      (table, row) => detection.add(table, row),
      options,
      (file, stats) => post({ kind: 'table', file, stats, branch: detection.exportBranch(files[file].table) }),
    );
    const error = read.error;
    post({
      kind: 'done',
      ...(error
        ? {
            inputError: {
              file: error.file,
              path: error.error.file,
              line: error.error.line,
              detail: error.error.detail,
            },
          }
        : {}),
    });
  } catch (err) {
    post({ kind: 'failure', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

runTableWorker();
