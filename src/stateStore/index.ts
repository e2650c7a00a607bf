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
import { StateStoreError } from './errors';

export * from './errors';
export * from './entityStore';
export { CHECKPOINT_PARTITION, CheckpointTypeError, type Checkpoint } from './checkpoints';
export { readLargeText, writeLargeText, deleteLargeText, isContinuationRow, splitText } from './largeText';
export { TableEntityStore, type TableStoreOptions } from './tableEntityStore';
export { MemoryEntityStore } from './memoryEntityStore';

export const DEFAULT_STATE_TABLE = 'runcommanddetection';

/** Where the state table lives: the one type for this idea (settings produce it, `open` takes it). */
export type StateStoreLocation =
  | { kind: 'endpoint'; endpoint: string } // Azure: the table endpoint, with a credential
  | { kind: 'connectionString'; connectionString: string } // local / Azurite
  | { kind: 'memory' }; // replay and tests: nothing leaves the process

/** How to reach the table at a location. */
export interface StateStoreAccess {
  /** Default DEFAULT_STATE_TABLE. */
  tableName?: string;
  /** Needed for an `endpoint` location (the managed identity in Azure). */
  credential?: TokenCredential;
  options?: TableStoreOptions;
}

export class StateStore {
  constructor(readonly entities: EntityStore) {}

  /** Opens (and creates if needed) the state table. */
  static async open(location: StateStoreLocation, access: StateStoreAccess = {}): Promise<StateStore> {
    const tableName = access.tableName ?? DEFAULT_STATE_TABLE;
    let entities: EntityStore;
    switch (location.kind) {
      case 'memory':
        entities = new MemoryEntityStore();
        break;
      case 'connectionString':
        entities = TableEntityStore.fromConnectionString(location.connectionString, tableName, access.options);
        break;
      case 'endpoint':
        if (!access.credential) throw new StateStoreError(`State store ${location.endpoint}: no credential given.`);
        entities = TableEntityStore.fromEndpoint(location.endpoint, tableName, access.credential, access.options);
        break;
    }
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
