import {
  ConcurrencyConflictError,
  MemoryEntityStore,
  StateStore,
  isValidKey,
  readLargeText,
  splitText,
  toKey,
  transactionGroups,
  writeLargeText,
} from '../../../src/stateStore';

describe('splitText', () => {
  it('cuts into parts of at most the given size that join back to the text', () => {
    const text = 'abcdefghij'.repeat(7);
    const parts = splitText(text, 16);
    expect(parts.every((p) => p.length <= 16)).toBe(true);
    expect(parts.join('')).toBe(text);
    expect(splitText('', 16)).toEqual(['']);
  });

  it('never splits a surrogate pair', () => {
    const text = 'a' + '😀'.repeat(50);
    for (const size of [2, 3, 7, 16]) {
      const parts = splitText(text, size);
      expect(parts.join('')).toBe(text);
      for (const p of parts)
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(p)).toBe(false);
    }
  });
});

describe('MemoryEntityStore', () => {
  it('has Table Storage ETag semantics', async () => {
    const s = new MemoryEntityStore();
    const e1 = await s.insert('p', 'r', { a: 1 });
    await expect(s.insert('p', 'r', { a: 2 })).rejects.toBeInstanceOf(ConcurrencyConflictError);
    const e2 = await s.replace('p', 'r', { a: 3 }, e1);
    await expect(s.replace('p', 'r', { a: 4 }, e1)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(s.delete('p', 'r', e1)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await s.get('p', 'r'))?.properties).toEqual({ a: 3 });
    await s.delete('p', 'r', e2);
    expect(await s.get('p', 'r')).toBeUndefined();
  });

  it('serves checkpoints through StateStore like the table does', async () => {
    const store = await StateStore.open({ kind: 'memory' });
    const etag = await store.putCheckpoint('c', 'v1', undefined);
    await expect(store.putCheckpoint('c', 'v2', 'W/"stale"')).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await store.putCheckpoint('c', 'v2', etag);
    expect((await store.getCheckpoint('c'))?.value).toBe('v2');
  });

  it('round-trips large text', async () => {
    const s = new MemoryEntityStore();
    const text = 'x'.repeat(1_000_001);
    await writeLargeText(s, 'p', 'doc', text);
    expect(await readLargeText(s, (await s.get('p', 'doc'))!)).toBe(text);
  });
});

describe('keys', () => {
  it('encodes any name into a valid PartitionKey/RowKey', () => {
    for (const name of ['runCommandDetection-parity', 'a/b\\c#d?e', 'tab\there', 'é😀']) {
      expect(isValidKey(toKey(name))).toBe(true);
      expect(decodeURIComponent(toKey(name))).toBe(name);
    }
    expect(isValidKey('a/b')).toBe(false);
    expect(isValidKey('')).toBe(false);
  });
});

describe('transactionGroups', () => {
  it('keeps groups within 100 entities and about 3.5 MB, in order', () => {
    const small = Array.from({ length: 250 }, (_, i) => ({ rowKey: String(i), properties: { v: i } }));
    expect(transactionGroups(small).map((g) => g.length)).toEqual([100, 100, 50]);
    const big = Array.from({ length: 10 }, (_, i) => ({ rowKey: String(i), properties: { v: 'x'.repeat(1_000_000) } }));
    const groups = transactionGroups(big);
    expect(groups.map((g) => g.length)).toEqual([3, 3, 3, 1]);
    expect(groups.flat()).toEqual(big);
  });
});
