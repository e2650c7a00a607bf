/**
 * FindingsWriter logic with the in-memory state store and the NDJSON file sink (both
 * real implementations); the Azure-backed runs are in test/integration/ingestion.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryEntityStore, StateStoreError, type EntityProperties } from '../../../src/stateStore';
import {
  FindingsNotSavedError,
  FindingsWriter,
  LEDGER_PARTITION,
  NdjsonFileSink,
  SPOOL_PARTITION,
} from '../../../src/ingestion';
import { CONTEXT, generatedFindings, recordOf } from './sampleFindings';

/** A state store whose spool writes fail, as when the storage account refuses writes. */
class SpoolRefusingStore extends MemoryEntityStore {
  override async upsert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string> {
    if (partitionKey === SPOOL_PARTITION)
      throw new StateStoreError(`State store: could not upsert '${partitionKey}/${rowKey}'`);
    return super.upsert(partitionKey, rowKey, properties);
  }
}

describe('FindingsWriter (in-memory store, file sink)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rcd-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const records = generatedFindings(4).map((f) => recordOf(f));
  const lines = (path: string): Array<Record<string, unknown>> =>
    readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes each finding once as NDJSON, and nothing on a re-run or for duplicates in the input', async () => {
    const store = new MemoryEntityStore();
    const out = join(dir, 'sub', 'findings.ndjson');
    const sendTime = Date.parse('2026-11-28T07:00:00.123Z');
    const writer = new FindingsWriter({ store, sink: new NdjsonFileSink(out), now: () => sendTime });
    expect(await writer.write([...records, records[0]!])).toMatchObject({ sent: 4, skippedAlreadySent: 0 });
    expect(await writer.write(records)).toMatchObject({ sent: 0, skippedAlreadySent: 4 });
    // In the caller's order; TimeGenerated is when the record was sent (a spooled or
    // resent finding enters the table with the time it arrives, see writer.ts).
    const sent = JSON.parse(JSON.stringify(records)).map((r: Record<string, unknown>) => ({
      ...r,
      TimeGenerated: '2026-11-28T07:00:00.1230000Z',
    }));
    expect(lines(out)).toEqual(sent);
  });

  it('spools what the sink cannot take, with the reason, and the flush after the fix sends it', async () => {
    const store = new MemoryEntityStore();
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'a file where the folder should be');
    const broken = new FindingsWriter({ store, sink: new NdjsonFileSink(join(blocked, 'findings.ndjson')) });
    const result = await broken.write(records);
    expect(result).toMatchObject({ sent: 0, spooled: 4 });
    expect(result.errors[0]!.message).toMatch(/Could not write findings to .*blocked/);
    const heads = [];
    for await (const e of store.listPartition(SPOOL_PARTITION)) heads.push(e.properties);
    expect(heads).toHaveLength(4);
    expect(String(heads[0]!.LastError)).toMatch(/Could not write findings/);
    // A write of the same window now leaves the spooled findings to the flush.
    expect(await broken.write(records)).toMatchObject({ sent: 0, alreadySpooled: 4 });

    const out = join(dir, 'findings.ndjson');
    const fixed = new FindingsWriter({ store, sink: new NdjsonFileSink(out) });
    expect(await fixed.flushSpool()).toMatchObject({ sent: 4, stillSpooled: 0 });
    expect(
      lines(out)
        .map((r) => r.FindingId)
        .sort(),
    ).toEqual(records.map((r) => r.FindingId).sort());
    const ledger = [];
    for await (const e of store.listPartition(LEDGER_PARTITION)) ledger.push(e.properties.State);
    expect(ledger).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(await fixed.flushSpool()).toMatchObject({ sent: 0 });
  });

  it('throws FindingsNotSavedError and releases its claims when findings can be neither sent nor spooled', async () => {
    const store = new SpoolRefusingStore();
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'x');
    const writer = new FindingsWriter({ store, sink: new NdjsonFileSink(join(blocked, 'f.ndjson')) });
    const error = await writer.write(records).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FindingsNotSavedError);
    expect((error as FindingsNotSavedError).findingIds.sort()).toEqual(records.map((r) => r.FindingId).sort());
    expect((error as Error).message).toMatch(/neither sent nor kept in the spool.*processed again/s);
    // Nothing is left claimed: the next run sends them at once.
    const out = join(dir, 'ok.ndjson');
    expect(await new FindingsWriter({ store, sink: new NdjsonFileSink(out) }).write(records)).toMatchObject({
      sent: 4,
    });
  });

  it('removes spool copies of findings the ledger says were sent (a crash between the two)', async () => {
    const store = new MemoryEntityStore();
    const out = join(dir, 'f.ndjson');
    const writer = new FindingsWriter({ store, sink: new NdjsonFileSink(out) });
    await writer.write(records.slice(0, 1));
    // Leave a stale spool copy as a crashed flush would.
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'x');
    const other = recordOf(generatedFindings(5)[4]!);
    await new FindingsWriter({ store, sink: new NdjsonFileSink(join(blocked, 'f')) }).write([other]);
    await store.upsert(LEDGER_PARTITION, other.FindingId, {
      State: 'sent',
      Owner: 'x',
      ClaimedAt: '',
      WindowStart: '',
      UpdatedAt: '',
    });
    expect(await writer.flushSpool()).toMatchObject({ sent: 0, removedAlreadySent: 1 });
    const left = [];
    for await (const e of store.listPartition(SPOOL_PARTITION)) left.push(e);
    expect(left).toEqual([]);
    expect(lines(out)).toHaveLength(1);
  });

  it('prunes sent ledger entries of old windows only', async () => {
    const store = new MemoryEntityStore();
    const writer = new FindingsWriter({ store, sink: new NdjsonFileSink(join(dir, 'f.ndjson')) });
    // Findings of an October day (other scripts than the November records').
    const older = generatedFindings(6)
      .slice(4)
      .map((f) =>
        recordOf(f, {
          ...CONTEXT,
          window: { start: '2026-10-01T00:00:00.0000000Z', end: '2026-10-02T00:00:00.0000000Z' },
        }),
      );
    await writer.write([...older, ...records]);
    expect(await writer.pruneLedger('2026-11-01T00:00:00.0000000Z')).toBe(2);
    const left = [];
    for await (const e of store.listPartition(LEDGER_PARTITION)) left.push(e.rowKey);
    expect(left.sort()).toEqual(records.map((r) => r.FindingId).sort());
    expect(await writer.write(records)).toMatchObject({ sent: 0, skippedAlreadySent: 4 });
  });
});
