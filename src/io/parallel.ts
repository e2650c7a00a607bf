/**
 * The three tables read on two cores: one table file in a worker thread, the other
 * two on the main thread, at the same time. The rows all go to the one consumer on
 * the main thread; the worker's arrive in file order, after the main thread's tables.
 * The rule's branches only meet in `finish` (the joins), so the order in which the
 * tables' rows are added does not change the findings.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TABLE_NAMES, type TableName } from '../detection/schema';
import { InputError } from './errors';
import {
  locateTableFiles,
  readTableFile,
  type ReadTableOptions,
  type RowConsumer,
  type TableReadStats,
} from './tableFiles';
import type { TableWorkerData, TableWorkerMessage } from './tableWorker';

export interface ParallelReadOptions extends ReadTableOptions {
  /**
   * The table read in the worker thread. Default DeviceEvents: a third to a half of
   * the work, and its rows are small to pass between threads (offloading
   * AzureActivity is about as fast but holds ~40 MB more in flight).
   */
  offload?: TableName;
}

/**
 * Starts the worker. From the compiled build it runs `tableWorker.js`; from the
 * TypeScript sources (tests under ts-jest) it loads `tableWorker.ts` through the
 * TypeScript compiler's `transpileModule`, so the same code runs in both.
 */
function startWorker(data: TableWorkerData): Worker {
  if (__filename.endsWith('.js')) return new Worker(join(__dirname, 'tableWorker.js'), { workerData: data });
  const bootstrap = `
    const ts = require('typescript');
    const fs = require('node:fs');
    require.extensions['.ts'] = (module, filename) => {
      const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: filename,
      });
      module._compile(out.outputText, filename);
    };
    require(${JSON.stringify(join(__dirname, 'tableWorker.ts'))});
  `;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/**
 * Like `readTableDirectory`, with one table read in a worker thread. Errors are the
 * same `InputError`s; when both sides fail, the main thread's error is reported.
 */
export async function readTableDirectoryInParallel(
  dir: string,
  consumer: RowConsumer,
  options: ParallelReadOptions = {},
): Promise<TableReadStats[]> {
  const files = locateTableFiles(dir);
  const offload = options.offload ?? 'DeviceEvents';
  const readOptions: ReadTableOptions = { prefilter: options.prefilter, allowEmpty: options.allowEmpty };
  const worker = startWorker({ file: files[offload], options: readOptions });
  const offloaded = new Promise<TableReadStats>((resolve, reject) => {
    worker.on('message', (message: TableWorkerMessage) => {
      switch (message.kind) {
        case 'rows':
          try {
            for (const row of message.rows) consumer.add(offload, row as never);
          } catch (err) {
            reject(err);
          }
          return;
        case 'done':
          resolve(message.stats);
          return;
        case 'inputError':
          reject(new InputError(message.file, message.line, message.detail));
          return;
        case 'failure':
          reject(new Error(`reading ${files[offload].path} failed in a worker thread: ${message.message}`));
          return;
      }
    });
    worker.on('error', reject);
    // Messages posted before the worker ends are delivered first; one tick more for safety.
    worker.on('exit', (code) =>
      setImmediate(() => reject(new Error(`the worker reading ${files[offload].path} stopped (exit code ${code})`))),
    );
  });
  offloaded.catch(() => undefined); // handled below; a rejection before we await it is not "unhandled"
  const stats = new Map<TableName, TableReadStats>();
  try {
    for (const table of TABLE_NAMES) {
      if (table === offload) continue;
      stats.set(
        table,
        readTableFile(files[table], (row) => consumer.add(table, row), readOptions),
      );
    }
    stats.set(offload, await offloaded);
  } finally {
    await worker.terminate();
  }
  return TABLE_NAMES.map((table) => stats.get(table) as TableReadStats);
}
