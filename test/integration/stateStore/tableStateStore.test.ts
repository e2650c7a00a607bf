/**
 * The state store against a real Azurite Table service: checkpoints with ETags,
 * insert-if-absent, conditional replace/delete, large text split across properties
 * and entities.
 */
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import {
  ConcurrencyConflictError,
  StateStore,
  TableEntityStore,
  readLargeText,
  writeLargeText,
  deleteLargeText,
  isContinuationRow,
} from '../../../src/stateStore';

describe('state store on Azurite', () => {
  let azurite: RunningAzurite;
  let store: StateStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    store = await StateStore.open(
      { kind: 'connectionString', connectionString: azurite.connectionString },
      { tableName: 'statestoretest' },
    );
  });
  afterAll(async () => azurite?.stop());

  it('creates a checkpoint only once, then advances it only from the ETag it read', async () => {
    expect(await store.getCheckpoint('parity/window')).toBeUndefined();
    const etag1 = await store.putCheckpoint('parity/window', '2026-11-25T00:00:00.0000000Z', undefined);
    await expect(store.putCheckpoint('parity/window', 'other', undefined)).rejects.toBeInstanceOf(
      ConcurrencyConflictError,
    );
    const read = await store.getCheckpoint('parity/window');
    expect(read).toEqual({ value: '2026-11-25T00:00:00.0000000Z', etag: etag1 });

    const etag2 = await store.putCheckpoint('parity/window', '2026-11-26T00:00:00.0000000Z', etag1);
    expect(etag2).not.toBe(etag1);
    // A second invocation that read the old ETag loses.
    const stale = store.putCheckpoint('parity/window', '2026-11-27T00:00:00.0000000Z', etag1);
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(stale).rejects.toThrow(/changed by another writer/);
    expect((await store.getCheckpoint('parity/window'))?.value).toBe('2026-11-26T00:00:00.0000000Z');
  });

  it('lets exactly one of two racing writers advance a checkpoint', async () => {
    const etag = await store.putCheckpoint('race', 'a', undefined);
    const results = await Promise.allSettled([
      store.putCheckpoint('race', 'b', etag),
      store.putCheckpoint('race', 'c', etag),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(ConcurrencyConflictError);
  });

  it('does generic entity operations with ETags', async () => {
    const e = store.entities;
    const etag = await e.insert('p', 'r1', { State: 'sending', N: 3 });
    await expect(e.insert('p', 'r1', { State: 'x' })).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const got = await e.get('p', 'r1');
    expect(got).toMatchObject({ partitionKey: 'p', rowKey: 'r1', properties: { State: 'sending', N: 3 }, etag });
    const etag2 = await e.replace('p', 'r1', { State: 'sent' }, etag);
    await expect(e.replace('p', 'r1', { State: 'again' }, etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(e.delete('p', 'r1', etag)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await e.upsert('p', 'r0', { State: 'other' });
    const listed = [];
    for await (const x of e.listPartition('p')) listed.push([x.rowKey, x.properties.State]);
    expect(listed).toEqual([
      ['r0', 'other'],
      ['r1', 'sent'],
    ]);
    await e.delete('p', 'r1', etag2);
    expect(await e.get('p', 'r1')).toBeUndefined();
    await e.delete('p', 'r1'); // absent: not an error
  });

  it('stores text over the 64 KiB property and 1 MiB entity limits, and reads it back exactly', async () => {
    const e = store.entities;
    // ~1.6 M UTF-16 code units with astral characters straddling part boundaries: 5 parts' worth per entity is exceeded.
    const unit = 'Get-Process 😀 é ' + 'x'.repeat(29_981);
    const text = unit.repeat(55);
    expect(text.length).toBeGreaterThan(1_600_000);
    await writeLargeText(e, 'spool', 'doc1', text, { Kind: 'test' });
    const head = await e.get('spool', 'doc1');
    expect(head?.properties.Kind).toBe('test');
    expect(await readLargeText(e, head!)).toBe(text);
    const rows: string[] = [];
    for await (const x of e.listPartition('spool')) rows.push(x.rowKey);
    expect(rows.filter((r) => !isContinuationRow(r))).toEqual(['doc1']);
    expect(rows.length).toBeGreaterThan(1);
    await deleteLargeText(e, head!, head!.etag);
    const after: string[] = [];
    for await (const x of e.listPartition('spool')) after.push(x.rowKey);
    expect(after).toEqual([]);
  });

  it('upserts many entities of a partition in transactions of at most 100', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => ({
      rowKey: `hash${String(i).padStart(4, '0')}`,
      properties: { FirstSeen: '2026-11-01T00:00:00.0000000Z', Count: i },
    }));
    await store.entities.upsertMany('baseline', rows);
    await store.entities.upsertMany('baseline', [
      { rowKey: 'hash0000', properties: { FirstSeen: 'changed', Count: 0 } },
    ]);
    const listed: Array<[string, unknown]> = [];
    for await (const x of store.entities.listPartition('baseline')) listed.push([x.rowKey, x.properties.Count]);
    expect(listed).toEqual(rows.map((r) => [r.rowKey, r.properties.Count]));
    expect((await store.entities.get('baseline', 'hash0000'))?.properties.FirstSeen).toBe('changed');
  });

  it('names the table and the fix when the account key is wrong', async () => {
    const bad = azurite.connectionString.replace(
      /AccountKey=[^;]+/,
      'AccountKey=' + Buffer.from('wrong').toString('base64'),
    );
    const s = TableEntityStore.fromConnectionString(bad, 'statestoretest', { retryOptions: { maxRetries: 0 } });
    await expect(s.get('p', 'r')).rejects.toThrow(/statestoretest.*(access denied|Storage Table Data Contributor)/s);
  });
});
