/**
 * Worker thread body for `readTableDirectoryInParallel` (./parallel): reads one table
 * file with the ordinary reader and posts its typed rows to the main thread in
 * batches, then its read statistics. An input error is posted as data, so the main
 * thread can raise the same `InputError` it would have raised reading the file itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { TableName } from '../detection/schema';
import { InputError } from './errors';
import { readTableFile, type ReadTableOptions, type TableFile } from './tableFiles';

export interface TableWorkerData {
  file: TableFile;
  options: ReadTableOptions;
}

export type TableWorkerMessage =
  | { kind: 'rows'; rows: unknown[] }
  | { kind: 'done'; stats: ReturnType<typeof readTableFile> }
  | { kind: 'inputError'; file: string; line: number | undefined; detail: string }
  | { kind: 'failure'; message: string };

/** Rows per message: large enough to amortise messaging, small enough to keep the queue short. */
const BATCH = 4096;

function runTableWorker(): void {
  const port = parentPort;
  if (!port) return;
  const { file, options } = workerData as TableWorkerData;
  let batch: unknown[] = [];
  const post = (message: TableWorkerMessage): void => port.postMessage(message);
  try {
    const stats = readTableFile(
      file as TableFile & { table: TableName },
      (row) => {
        batch.push(row);
        if (batch.length === BATCH) {
          post({ kind: 'rows', rows: batch });
          batch = [];
        }
      },
      options,
    );
    if (batch.length > 0) post({ kind: 'rows', rows: batch });
    post({ kind: 'done', stats });
  } catch (err) {
    if (err instanceof InputError) post({ kind: 'inputError', file: err.file, line: err.line, detail: err.detail });
    else post({ kind: 'failure', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

runTableWorker();
