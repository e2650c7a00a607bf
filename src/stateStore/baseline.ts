/**
 * Corrected mode's baseline in the state table: one entity per script fingerprint in
 * partition `baseline` (RowKey = the fingerprint, 64 hex digits), with FirstSeen,
 * LastSeen (canonical 7-digit datetimes as text), Count, ExampleVirtualMachine and
 * ExampleScope. The detection reads it (src/detection/corrected takes the baseline as
 * a map and returns the window's observations); this module loads it, merges a
 * window's observations in, and deletes entries last seen behind the horizon.
 */
import {
  expiredFingerprints,
  mergeObservations,
  type Baseline,
  type BaselineEntry,
} from '../detection/corrected/baseline';
import type { KqlDateTime } from '../detection/datetime';
import type { EntityStore } from './entityStore';

export const BASELINE_PARTITION = 'baseline';

interface BaselineProperties {
  [name: string]: string | number;
  FirstSeen: string;
  LastSeen: string;
  Count: number;
  ExampleVirtualMachine: string;
  ExampleScope: string;
}

export class BaselineStore {
  constructor(
    private readonly entities: EntityStore,
    readonly partitionKey: string = BASELINE_PARTITION,
  ) {}

  /** Every stored entry. */
  async load(): Promise<Map<string, BaselineEntry>> {
    const out = new Map<string, BaselineEntry>();
    for await (const e of this.entities.listPartition<BaselineProperties>(this.partitionKey)) {
      const p = e.properties;
      out.set(e.rowKey, {
        fingerprint: e.rowKey,
        firstSeen: String(p.FirstSeen),
        lastSeen: String(p.LastSeen),
        count: Number(p.Count),
        exampleVirtualMachine: String(p.ExampleVirtualMachine ?? ''),
        exampleScope: String(p.ExampleScope ?? ''),
      });
    }
    return out;
  }

  /**
   * Merges a window's observations into `current` (what `load` returned) and stores the
   * entries that changed, then deletes those last seen before the next window's
   * horizon (`windowEnd - baselineDays`). Returns the baseline as now stored.
   */
  async record(
    current: Baseline,
    observations: readonly BaselineEntry[],
    windowEnd: KqlDateTime,
    baselineDays: number,
  ): Promise<{ baseline: Map<string, BaselineEntry>; written: number; pruned: number }> {
    const merged = mergeObservations(current, observations);
    const expired = new Set(expiredFingerprints(merged, windowEnd, baselineDays));
    const changed = observations.map((o) => o.fingerprint).filter((f) => !expired.has(f));
    await this.entities.upsertMany(
      this.partitionKey,
      changed.map((fingerprint) => {
        const e = merged.get(fingerprint)!;
        const properties: BaselineProperties = {
          FirstSeen: e.firstSeen,
          LastSeen: e.lastSeen,
          Count: e.count,
          ExampleVirtualMachine: e.exampleVirtualMachine,
          ExampleScope: e.exampleScope,
        };
        return { rowKey: fingerprint, properties };
      }),
    );
    for (const fingerprint of expired) {
      if (current.has(fingerprint)) await this.entities.delete(this.partitionKey, fingerprint);
      merged.delete(fingerprint);
    }
    return { baseline: merged, written: changed.length, pruned: expired.size };
  }
}
