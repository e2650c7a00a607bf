/**
 * Starts a real Azurite Table service on 127.0.0.1 for a test file, in memory and
 * without telemetry, and stops it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningAzurite {
  tableEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startAzuriteTables(): Promise<RunningAzurite> {
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'rcd-azurite-'));
  const bin = require.resolve('azurite/dist/src/table/main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      bin,
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(port),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: location },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`Azurite exited (${child.exitCode}): ${output}`));
      try {
        const res = await fetch(`http://127.0.0.1:${port}/${ACCOUNT}/Tables`, { method: 'GET' });
        await res.arrayBuffer();
        return resolve();
      } catch {
        if (Date.now() > deadline) return reject(new Error(`Azurite did not start on ${port}: ${output}`));
        setTimeout(poll, 100);
      }
    };
    void poll();
  });
  const tableEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    tableEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};TableEndpoint=${tableEndpoint};`,
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      rmSync(location, { recursive: true, force: true });
    },
  };
}
