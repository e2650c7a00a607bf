/**
 * Jest setup (jest.config.js `setupFiles`): lets `readTableDirectoryInParallel` start its
 * worker thread from the TypeScript sources, as tests run them. A worker does not share
 * ts-jest's transformer, so the worker first registers a `.ts` loader that transpiles
 * each module with the TypeScript compiler (`transpileModule`), then loads
 * `src/io/tableWorker.ts`: the same code the compiled build runs as `tableWorker.js`.
 */
import { Worker } from 'node:worker_threads';
import { setTableWorkerStarter } from '../../src/io/parallel';

const bootstrap = (entry: string): string => `
  const ts = require(${JSON.stringify(require.resolve('typescript'))});
  const fs = require('node:fs');
  require.extensions['.ts'] = (module, filename) => {
    const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: filename,
    });
    module._compile(out.outputText, filename);
  };
  require(${JSON.stringify(entry)});
`;

setTableWorkerStarter((entry, data) => new Worker(bootstrap(entry), { eval: true, workerData: data }));
