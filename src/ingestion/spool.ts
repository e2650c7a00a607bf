/**
 * The spool: findings that could not be sent (after the client's retries) are kept in
 * the state store (partition "spool", one document per FindingId) and sent first at the
 * next run. A record can be larger than one Table Storage property (64 KiB) or entity
 * (1 MiB), so it is stored with the stateStore large-text helpers.
 */
import {
  deleteLargeText,
  isContinuationRow,
  readLargeText,
  writeLargeText,
  type EntityStore,
  type StoredEntity,
} from '../stateStore';
import type { FindingRecord } from './record';

export const SPOOL_PARTITION = 'spool';

export interface SpooledFinding {
  record: FindingRecord;
  head: StoredEntity;
}

/** When a spooled finding was first spooled (entries of earlier releases: when last spooled). */
export function firstSpooledAt(item: SpooledFinding): string {
  return String(item.head.properties.FirstSpooledAt ?? item.head.properties.SpooledAt ?? '');
}

export class Spool {
  constructor(private readonly store: EntityStore) {}

  /**
   * Keeps the record (replacing any earlier copy) with why it was not sent.
   * `firstSpooledAt`: when it was first spooled (kept across re-spools, for SPOOL_ALERT_DAYS).
   */
  async put(record: FindingRecord, reason: string, spooledAt: string, firstSpooledAt = spooledAt): Promise<void> {
    await writeLargeText(this.store, SPOOL_PARTITION, record.FindingId, JSON.stringify(record), {
      FindingId: record.FindingId,
      WindowStart: record.WindowStart,
      SpooledAt: spooledAt,
      FirstSpooledAt: firstSpooledAt,
      LastError: reason.slice(0, 30_000),
    });
  }

  /** Every spooled finding, oldest window first (then by FindingId). */
  async list(): Promise<SpooledFinding[]> {
    const heads: StoredEntity[] = [];
    for await (const e of this.store.listPartition(SPOOL_PARTITION)) if (!isContinuationRow(e.rowKey)) heads.push(e);
    const out: SpooledFinding[] = [];
    for (const head of heads) {
      out.push({ head, record: JSON.parse(await readLargeText(this.store, head)) as FindingRecord });
    }
    return out.sort((a, b) =>
      a.record.WindowStart === b.record.WindowStart
        ? a.record.FindingId < b.record.FindingId
          ? -1
          : 1
        : a.record.WindowStart < b.record.WindowStart
          ? -1
          : 1,
    );
  }

  async remove(head: StoredEntity): Promise<void> {
    await deleteLargeText(this.store, head);
  }
}
