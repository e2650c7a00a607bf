/**
 * The rule's three table files shared by two threads (./parallel): the main thread takes
 * them from the front (AzureActivity first, as the sequential reader), the worker thread
 * from the back (DeviceEvents first), and the table in the middle (DeviceFileEvents)
 * goes to whichever is free first. A count in memory both threads share
 * (`Atomics.add`) hands out each file once. So the threads end closer together on any
 * day: AzureActivity's parsed rows make its bytes two to three times dearer than
 * DeviceEvents' on the bench days, and the worker also spends its start-up first.
 *
 * Whole files, not byte ranges of them: reading parts of every file in both threads
 * was measured slower (docs/perf-notes.md, third pass): each thread then compiles and
 * holds the state of every table's rows.
 *
 * Where a file is read does not change the findings: each thread adds its rows to its own
 * `ParityDetection`, and the worker's branches are merged into the caller's
 * (`mergeBranch`), as before this queue, when the worker read DeviceEvents.
 *
 * Errors: the sequential reader reports the first input error in table order. Every file
 * the front takes comes before every file the back takes. The front reads its files in
 * order and stops at its first error, which is then the first of all (the files before it
 * are the front's, read without one), and tells the back to stop. The back reads its files
 * in descending order and goes on after an error, so its last error is its earliest. So
 * the front's error, or else the back's last one, is the one the sequential reader meets.
 */
import type { RuleTableName, TableRows } from '../detection/schema';
import { InputError } from './errors';
import { readTableFile, type ReadTableOptions, type TableFile, type TableReadStats } from './tableFiles';

/** The shared counters: files handed out, and whether the front met an input error (then the back stops too). */
const TAKEN = 0;
const STOP = 1;

/** The memory the two threads share for one queue. */
export function tableQueueMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** An input error met in a file (by index in the files). */
export interface QueuedFileError {
  file: number;
  error: InputError;
}

/** What one thread read: the statistics of each file it read, and its input error that comes first. */
export interface QueuedFilesRead {
  stats: Array<{ file: number; stats: TableReadStats }>;
  error?: QueuedFileError;
}

/**
 * Takes files from `end` of the queue in `memory` until none is left, reading each
 * into `onRow` and then calling `onFileRead` with its statistics; input errors as in
 * the module comment (any other error is thrown).
 */
export function readQueuedTables(
  files: readonly TableFile<RuleTableName>[],
  memory: SharedArrayBuffer,
  end: 'front' | 'back',
  onRow: <T extends RuleTableName>(table: T, row: TableRows[T]) => void,
  options: ReadTableOptions,
  onFileRead: (file: number, stats: TableReadStats) => void = () => undefined,
): QueuedFilesRead {
  const queue = new Int32Array(memory);
  const read: QueuedFilesRead = { stats: [] };
  let next = end === 'front' ? 0 : files.length - 1;
  while (Atomics.load(queue, STOP) === 0 && Atomics.add(queue, TAKEN, 1) < files.length) {
    const index = next;
    next += end === 'front' ? 1 : -1;
    const file = files[index];
    const table = file.table;
    try {
      const stats = readTableFile(file, (row) => onRow(table, row), options);
      read.stats.push({ file: index, stats });
      onFileRead(index, stats);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      read.error = { file: index, error: err };
      if (end === 'front') {
        Atomics.store(queue, STOP, 1);
        return read;
      }
    }
  }
  return read;
}
