/**
 * Named checkpoints with optimistic concurrency: each read returns the ETag, each write
 * says which ETag it expects (or `undefined`: create only). Two job invocations racing
 * to advance the same checkpoint: exactly one wins, the other gets ConcurrencyConflictError.
 */
import { toKey, type EntityStore } from './entityStore';
import { StateStoreError } from './errors';

export const CHECKPOINT_PARTITION = 'checkpoint';

export interface Checkpoint {
  value: string;
  etag: string;
}

/**
 * A checkpoint entity whose Value is not a string (edited in Storage Explorer with
 * another type, e.g. DateTime) or is missing. Reading it as "no checkpoint" would make
 * the job start over and fail to create it (409) for good: it is an error instead.
 */
export class CheckpointTypeError extends StateStoreError {
  constructor(
    readonly checkpointName: string,
    readonly description: string,
    found: string,
  ) {
    super(
      `Checkpoint '${checkpointName}' in ${description} (partition '${CHECKPOINT_PARTITION}') has ${found}, ` +
        `so the job cannot tell where it stands. Edit the entity and set Value, of type String, to the start of the first day still to ` +
        `process (e.g. 2026-11-25T00:00:00.0000000Z), or delete the entity to start again from the latest complete day.`,
    );
  }
}

export async function getCheckpoint(store: EntityStore, name: string): Promise<Checkpoint | undefined> {
  const e = await store.get(CHECKPOINT_PARTITION, toKey(name));
  if (!e) return undefined;
  const value: unknown = e.properties.Value;
  if (typeof value !== 'string') {
    // The table store hands on string, number and boolean properties only: a DateTime,
    // Guid or binary Value arrives as missing.
    const found =
      value === undefined || value === null
        ? 'no Value of type String (it is missing, or of another type such as DateTime)'
        : `a Value of type ${typeof value} (${String(value)})`;
    throw new CheckpointTypeError(name, store.description, found);
  }
  return { value, etag: e.etag };
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
