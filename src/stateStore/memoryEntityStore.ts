/**
 * `EntityStore` in process memory, with the same ETag semantics as Table Storage.
 * For `--output` runs without a storage account; nothing survives the process.
 */
import type { EntityProperties, EntityStore, StoredEntity } from './entityStore';
import { ConcurrencyConflictError } from './errors';

export class MemoryEntityStore implements EntityStore {
  readonly description = 'in-memory state store';
  private readonly entities = new Map<string, StoredEntity>();
  private version = 0;

  async ensureReady(): Promise<void> {}

  async get<P extends EntityProperties = EntityProperties>(
    partitionKey: string,
    rowKey: string,
  ): Promise<StoredEntity<P> | undefined> {
    const e = this.entities.get(keyOf(partitionKey, rowKey));
    return e ? (clone(e) as StoredEntity<P>) : undefined;
  }

  async insert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string> {
    if (this.entities.has(keyOf(partitionKey, rowKey))) {
      throw new ConcurrencyConflictError('memory', partitionKey, rowKey, 409);
    }
    return this.write(partitionKey, rowKey, properties);
  }

  async replace(partitionKey: string, rowKey: string, properties: EntityProperties, etag: string): Promise<string> {
    const current = this.entities.get(keyOf(partitionKey, rowKey));
    if (!current || current.etag !== etag) throw new ConcurrencyConflictError('memory', partitionKey, rowKey, 412);
    return this.write(partitionKey, rowKey, properties);
  }

  async upsert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string> {
    return this.write(partitionKey, rowKey, properties);
  }

  async upsertMany(
    partitionKey: string,
    rows: ReadonlyArray<{ rowKey: string; properties: EntityProperties }>,
  ): Promise<void> {
    for (const r of rows) this.write(partitionKey, r.rowKey, r.properties);
  }

  async delete(partitionKey: string, rowKey: string, etag?: string): Promise<void> {
    const key = keyOf(partitionKey, rowKey);
    const current = this.entities.get(key);
    if (!current) return;
    if (etag !== undefined && etag !== '*' && current.etag !== etag) {
      throw new ConcurrencyConflictError('memory', partitionKey, rowKey, 412);
    }
    this.entities.delete(key);
  }

  async *listPartition<P extends EntityProperties = EntityProperties>(
    partitionKey: string,
  ): AsyncIterable<StoredEntity<P>> {
    const rows = [...this.entities.values()]
      .filter((e) => e.partitionKey === partitionKey)
      .sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
    for (const e of rows) yield clone(e) as StoredEntity<P>;
  }

  private write(partitionKey: string, rowKey: string, properties: EntityProperties): string {
    const etag = `W/"mem-${++this.version}"`;
    this.entities.set(keyOf(partitionKey, rowKey), { partitionKey, rowKey, properties: { ...properties }, etag });
    return etag;
  }
}

const keyOf = (partitionKey: string, rowKey: string): string => `${partitionKey}\u0000${rowKey}`;
const clone = (e: StoredEntity): StoredEntity => ({ ...e, properties: { ...e.properties } });
