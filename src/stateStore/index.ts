/**
 * The job's state in Azure Table Storage: checkpoints (ETag-conditional), the
 * ingestion ledger and spool (src/ingestion), and generic small-entity operations for
 * anything else that needs them (e.g. the corrected-mode baseline).
 */
import type { TokenCredential } from '@azure/core-auth';
import type { EntityStore } from './entityStore';
import { getCheckpoint, putCheckpoint, type Checkpoint } from './checkpoints';
import { MemoryEntityStore } from './memoryEntityStore';
import { TableEntityStore, type TableStoreOptions } from './tableEntityStore';

export * from './errors';
export * from './entityStore';
export { CHECKPOINT_PARTITION, type Checkpoint } from './checkpoints';
export { readLargeText, writeLargeText, deleteLargeText, isContinuationRow, splitText } from './largeText';
export { TableEntityStore, type TableStoreOptions } from './tableEntityStore';
export { MemoryEntityStore } from './memoryEntityStore';

export const DEFAULT_STATE_TABLE = 'runcommanddetection';

export type StateStoreLocation =
  | { connectionString: string; tableName?: string; options?: TableStoreOptions }
  | { endpoint: string; credential: TokenCredential; tableName?: string; options?: TableStoreOptions }
  | { memory: true };

export class StateStore {
  constructor(readonly entities: EntityStore) {}

  /** Opens (and creates if needed) the state table. */
  static async open(location: StateStoreLocation): Promise<StateStore> {
    let entities: EntityStore;
    if ('memory' in location) entities = new MemoryEntityStore();
    else if ('connectionString' in location)
      entities = TableEntityStore.fromConnectionString(
        location.connectionString,
        location.tableName ?? DEFAULT_STATE_TABLE,
        location.options,
      );
    else
      entities = TableEntityStore.fromEndpoint(
        location.endpoint,
        location.tableName ?? DEFAULT_STATE_TABLE,
        location.credential,
        location.options,
      );
    await entities.ensureReady();
    return new StateStore(entities);
  }

  /** `{ value, etag }` of the named checkpoint, or undefined if never written. */
  getCheckpoint(name: string): Promise<Checkpoint | undefined> {
    return getCheckpoint(this.entities, name);
  }

  /** New ETag. `expectedEtag` undefined = create only. Conflict → ConcurrencyConflictError. */
  putCheckpoint(name: string, value: string, expectedEtag: string | undefined): Promise<string> {
    return putCheckpoint(this.entities, name, value, expectedEtag);
  }
}
export { BaselineStore, BASELINE_PARTITION } from './baseline';
