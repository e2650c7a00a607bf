/**
 * `runcommand-detect job --import-baseline FILE` against a real Azurite table: the
 * baseline file's entries land in the state store the job reads (merged, pruned behind
 * the file's horizon, idempotent), and the settings or the file refuse it loudly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from '../../../src/cli/job';
import type { CliIo } from '../../../src/cli/io';
import type { BaselineEntry } from '../../../src/detection/corrected/baseline';
import { writeBaselineFile } from '../../../src/io/baselineFile';
import { BaselineStore, StateStore } from '../../../src/stateStore';
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';

const fp = (c: string) => c.repeat(64);
const entry = (fingerprint: string, lastSeen: string, count = 1): BaselineEntry => ({
  fingerprint,
  firstSeen: '2026-11-01T04:00:00.0000000Z',
  lastSeen,
  count,
  exampleVirtualMachine: 'app07',
  exampleScope: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/app07',
});

let azurite: RunningAzurite;
let tmp: string;
let tableNo = 0;
beforeAll(async () => {
  azurite = await startAzuriteTables();
  tmp = mkdtempSync(join(tmpdir(), 'rcd-import-baseline-'));
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function settings(mode: string): NodeJS.ProcessEnv {
  return {
    LOG_ANALYTICS_WORKSPACE_ID: '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
    LOGS_INGESTION_ENDPOINT: 'https://dce-test.westeurope-1.ingest.monitor.azure.com',
    DCR_IMMUTABLE_ID: 'dcr-00112233445566778899aabbccddeeff',
    STATE_STORE_CONNECTION_STRING: azurite.connectionString,
    STATE_STORE_TABLE_NAME: `importbaseline${++tableNo}`,
    DETECTION_MODE: mode,
    BASELINE_DAYS: '14',
    ENRICHMENT_ENABLED: 'false',
  };
}

async function job(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const io: CliIo = { stdout: new PassThrough(), stderr, env };
  const code = await run(argv, io);
  return { code, stderr: text };
}

async function stored(env: NodeJS.ProcessEnv): Promise<Map<string, BaselineEntry>> {
  const store = await StateStore.open(
    { kind: 'connectionString', connectionString: azurite.connectionString },
    { tableName: env.STATE_STORE_TABLE_NAME },
  );
  return new BaselineStore(store.entities).load();
}

describe('job --import-baseline', () => {
  const file = () => join(tmp, `baseline-${tableNo}.json`);

  it('merges the file into the state store, pruning what is behind its horizon; a second import changes nothing', async () => {
    const env = settings('corrected');
    const path = file();
    writeBaselineFile(path, {
      baselineDays: 14,
      observedThrough: '2026-11-30T00:00:00.0000000Z',
      entries: [
        entry(fp('a'), '2026-11-29T04:00:00.0000000Z', 3),
        entry(fp('b'), '2026-11-20T04:00:00.0000000Z'),
        // Last seen before 2026-11-16 (observedThrough - 14 days): the job would have forgotten it.
        entry(fp('c'), '2026-11-10T04:00:00.0000000Z'),
      ],
    });
    const first = await job(['--import-baseline', path], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('imported 3 baseline entries');
    expect(first.stderr).toContain('1 pruned');
    const after = await stored(env);
    expect([...after.keys()].sort()).toEqual([fp('a'), fp('b')]);
    expect(after.get(fp('a'))).toMatchObject({ lastSeen: '2026-11-29T04:00:00.0000000Z', count: 3 });

    const again = await job(['--import-baseline', path], env);
    expect(again.code).toBe(0);
    expect(await stored(env)).toEqual(after);
  }, 60_000);

  it('keeps what the job recorded: the earliest FirstSeen and the latest LastSeen win', async () => {
    const env = settings('corrected');
    const store = new BaselineStore(
      (
        await StateStore.open(
          { kind: 'connectionString', connectionString: azurite.connectionString },
          { tableName: env.STATE_STORE_TABLE_NAME },
        )
      ).entities,
    );
    await store.record(
      new Map(),
      [entry(fp('d'), '2026-12-01T04:00:00.0000000Z', 5)],
      '2026-12-02T00:00:00.0000000Z',
      14,
    );
    const path = file();
    writeBaselineFile(path, {
      baselineDays: 14,
      observedThrough: '2026-11-30T00:00:00.0000000Z',
      entries: [{ ...entry(fp('d'), '2026-11-25T04:00:00.0000000Z'), firstSeen: '2026-10-20T04:00:00.0000000Z' }],
    });
    expect((await job(['--import-baseline', path], env)).code).toBe(0);
    expect((await stored(env)).get(fp('d'))).toMatchObject({
      firstSeen: '2026-10-20T04:00:00.0000000Z',
      lastSeen: '2026-12-01T04:00:00.0000000Z',
      count: 5,
    });
  }, 60_000);

  it('is refused in parity mode (exit 2, naming DETECTION_MODE), for a bad file (exit 1) and beside --dry-run (exit 2)', async () => {
    const path = file();
    writeBaselineFile(path, { baselineDays: 14, observedThrough: null, entries: [] });
    const parity = await job(['--import-baseline', path], settings('parity'));
    expect(parity.code).toBe(2);
    expect(parity.stderr).toMatch(/DETECTION_MODE is parity: only corrected mode reads a baseline/);

    const missing = join(tmp, 'no-such-baseline.json');
    const bad = await job(['--import-baseline', missing], settings('corrected'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(missing);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);

    const usage = await job(['--import-baseline', path, '--dry-run'], settings('corrected'));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--import-baseline runs no window/);
  }, 60_000);
});
