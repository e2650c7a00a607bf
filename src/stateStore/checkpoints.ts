/**
 * Named checkpoints with optimistic concurrency: each read returns the ETag, each write
 * says which ETag it expects (or `undefined`: create only). Two job invocations racing
 * to advance the same checkpoint: exactly one wins, the other gets ConcurrencyConflictError.
 */
import { toKey, type EntityStore } from './entityStore';

export const CHECKPOINT_PARTITION = 'checkpoint';

export interface Checkpoint {
  value: string;
  etag: string;
}

export async function getCheckpoint(store: EntityStore, name: string): Promise<Checkpoint | undefined> {
  const e = await store.get<{ Value: string }>(CHECKPOINT_PARTITION, toKey(name));
  if (!e || typeof e.properties.Value !== 'string') return undefined;
  return { value: e.properties.Value, etag: e.etag };
}

/**
 * Writes the checkpoint and returns its new ETag.
 * `expectedEtag` undefined: create only (409 if it exists); otherwise replace only if
 * unchanged since read (412). Both throw ConcurrencyConflictError.
 */
export async function putCheckpoint(
  store: EntityStore,
  name: string,
  value: string,
  expectedEtag: string | undefined,
  now: () => Date = () => new Date(),
): Promise<string> {
  const properties = { Value: value, UpdatedAt: now().toISOString() };
  return expectedEtag === undefined
    ? store.insert(CHECKPOINT_PARTITION, toKey(name), properties)
    : store.replace(CHECKPOINT_PARTITION, toKey(name), properties, expectedEtag);
}
