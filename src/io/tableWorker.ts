/**
 * Worker thread body for `readTableDirectoryInParallel` (./parallel): reads its table
 * files with the ordinary reader into its own `ParityDetection`, so that those tables'
 * branches of the rule (their `where`s, `extend`s and first `summarize`) run here, and
 * posts each branch's state and the read statistics to the main thread in one message.
 * An input error is posted as data, so the main thread can raise the same `InputError`
 * it would have raised reading the file itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ParityDetection, type BranchState } from '../detection/parity/detection';
import type { RuleTableName, TableName } from '../detection/schema';
import { InputError } from './errors';
import { readTableFile, type ReadTableOptions, type TableFile, type TableReadStats } from './tableFiles';

export interface TableWorkerData {
  /** In the order to read them (the rule's table order). */
  files: TableFile[];
  options: ReadTableOptions;
}

export type TableWorkerMessage =
  | { kind: 'done'; stats: TableReadStats[]; branches: BranchState[] }
  | { kind: 'inputError'; table: TableName; file: string; line: number | undefined; detail: string }
  | { kind: 'failure'; message: string };

function runTableWorker(): void {
  const port = parentPort;
  if (!port) return;
  const { files, options } = workerData as TableWorkerData;
  const post = (message: TableWorkerMessage): void => port.postMessage(message);
  const detection = new ParityDetection();
  const stats: TableReadStats[] = [];
  let table: TableName | undefined;
  try {
    for (const file of files) {
      table = file.table;
      stats.push(readTableFile(file, (row) => detection.add(file.table, row), options));
    }
    // Parity reads the rule's three tables only (./parallel offloads no other).
    post({ kind: 'done', stats, branches: files.map((file) => detection.exportBranch(file.table as RuleTableName)) });
  } catch (err) {
    if (err instanceof InputError && table !== undefined)
      post({ kind: 'inputError', table, file: err.file, line: err.line, detail: err.detail });
    else post({ kind: 'failure', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

runTableWorker();
