/**
 * The small-entity operations everything in the state store is built from: the
 * checkpoints, the ingestion ledger and spool, and the corrected-mode baseline.
 *
 * An entity is addressed by (partitionKey, rowKey) as in Azure Table Storage, carries
 * string/number/boolean properties and an ETag that changes on every write. All
 * conditional writes throw `ConcurrencyConflictError` when another writer got there first.
 */

/**
 * Property values we store. Numbers go without a type annotation: keep them within Int32
 * (or non-integral), and store anything larger, such as epoch milliseconds, as a string.
 */
export type EntityValue = string | number | boolean;
export type EntityProperties = Record<string, EntityValue>;

export interface StoredEntity<P extends EntityProperties = EntityProperties> {
  partitionKey: string;
  rowKey: string;
  properties: P;
  etag: string;
}

export interface EntityStore {
  /** Human-readable name of where the entities live (table name, "memory"), for messages. */
  readonly description: string;
  /** Creates the table if needed. Idempotent. */
  ensureReady(): Promise<void>;
  /** The entity, or undefined when there is none. */
  get<P extends EntityProperties = EntityProperties>(
    partitionKey: string,
    rowKey: string,
  ): Promise<StoredEntity<P> | undefined>;
  /** Insert-if-absent. Returns the new ETag; 409 → ConcurrencyConflictError. */
  insert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string>;
  /** Replaces the whole entity if its ETag is still `etag`. Returns the new ETag; 412 → ConcurrencyConflictError. */
  replace(partitionKey: string, rowKey: string, properties: EntityProperties, etag: string): Promise<string>;
  /** Unconditional insert-or-replace. Returns the new ETag. */
  upsert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string>;
  /**
   * Deletes the entity. With an ETag, only if unchanged (412 → ConcurrencyConflictError).
   * Deleting an entity that is not there is not an error.
   */
  delete(partitionKey: string, rowKey: string, etag?: string): Promise<void>;
  /**
   * Unconditional insert-or-replace of many entities of one partition, in entity group
   * transactions (at most 100 entities / 4 MiB each; each transaction is all-or-nothing).
   * For bulk state such as a baseline of script fingerprints.
   */
  upsertMany(
    partitionKey: string,
    rows: ReadonlyArray<{ rowKey: string; properties: EntityProperties }>,
  ): Promise<void>;
  /** Every entity of a partition, in rowKey order. */
  listPartition<P extends EntityProperties = EntityProperties>(partitionKey: string): AsyncIterable<StoredEntity<P>>;
}

/** Limits of one entity group transaction in Table Storage. */
export const TRANSACTION_MAX_ENTITIES = 100;
export const TRANSACTION_MAX_BYTES = 3_500_000; // under the 4 MiB limit, with room for the multipart framing

/** Cuts rows into transaction-sized groups (by count and by estimated JSON payload size). */
export function transactionGroups<T extends { properties: EntityProperties }>(rows: ReadonlyArray<T>): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row), 'utf8') + 512;
    if (group.length && (group.length === TRANSACTION_MAX_ENTITIES || bytes + size > TRANSACTION_MAX_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(row);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/**
 * Characters Table Storage forbids in PartitionKey/RowKey: / \ # ? and control characters.
 * Keys we build from names go through `toKey`, which percent-encodes them.
 */
export function isValidKey(key: string): boolean {
  if (key.length === 0 || key.length > 512) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return false;
    if (c === 0x2f /* / */ || c === 0x5c /* \ */ || c === 0x23 /* # */ || c === 0x3f /* ? */) return false;
  }
  return true;
}

/** A safe PartitionKey/RowKey for an arbitrary name (percent-encoding, reversible with decodeURIComponent). */
export function toKey(name: string): string {
  return encodeURIComponent(name);
}
