/**
 * The ledger of FindingIds in the state store (partition "ledger", one entity per
 * FindingId), so that nothing is sent twice: not by a re-run of the same window, not by
 * a replayed timer occurrence, not by two writers racing on the same window.
 *
 * A FindingId moves through these states:
 *   (absent) --insert-if-absent--> sending --sent--> sent
 *                                     \--failed, record spooled--> spooled --flush claims--> sending
 * A writer sends only what it claimed. Claiming is an insert-if-absent (409: another
 * writer has it) or an ETag-conditional replace (412: another writer took it first) of
 * a `spooled` entry or of a `sending` entry whose lease ran out (its writer crashed).
 */
import { ConcurrencyConflictError, type EntityStore, type StoredEntity } from '../stateStore';

export const LEDGER_PARTITION = 'ledger';

export type LedgerState = 'sending' | 'sent' | 'spooled';

export interface LedgerEntry extends Record<string, string | number | boolean> {
  State: LedgerState;
  /** Writer that last claimed the finding. */
  Owner: string;
  /** When it was claimed (ISO 8601, ms); a `sending` claim older than the lease may be taken over. */
  ClaimedAt: string;
  WindowStart: string;
  UpdatedAt: string;
}

export type ClaimOutcome =
  | { kind: 'claimed'; etag: string }
  | { kind: 'sent' }
  | { kind: 'spooled'; etag: string }
  | { kind: 'inFlight'; owner: string };

export class Ledger {
  constructor(
    private readonly store: EntityStore,
    readonly writerId: string,
    readonly leaseMs: number,
    private readonly now: () => number,
  ) {}

  get(findingId: string): Promise<StoredEntity<LedgerEntry> | undefined> {
    return this.store.get<LedgerEntry>(LEDGER_PARTITION, findingId);
  }

  /**
   * Claims a finding for sending. `takeSpooled`: a `spooled` finding may be claimed (the
   * spool flush does this); otherwise it is reported as `spooled` and left to the flush.
   */
  async claim(findingId: string, windowStart: string, takeSpooled: boolean): Promise<ClaimOutcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return {
          kind: 'claimed',
          etag: await this.store.insert(LEDGER_PARTITION, findingId, this.entry('sending', windowStart)),
        };
      } catch (e) {
        if (!(e instanceof ConcurrencyConflictError)) throw e;
      }
      const existing = await this.get(findingId);
      if (!existing) continue; // released between our insert and read: try again
      const { State, Owner, ClaimedAt } = existing.properties;
      if (State === 'sent') return { kind: 'sent' };
      if (State === 'spooled' && !takeSpooled) return { kind: 'spooled', etag: existing.etag };
      if (State === 'sending' && this.now() - Date.parse(String(ClaimedAt)) < this.leaseMs)
        return { kind: 'inFlight', owner: Owner };
      // spooled (and we flush), or a sending claim whose lease ran out: take it over, if nobody beats us.
      try {
        const etag = await this.store.replace(
          LEDGER_PARTITION,
          findingId,
          this.entry('sending', windowStart),
          existing.etag,
        );
        return { kind: 'claimed', etag };
      } catch (e) {
        if (!(e instanceof ConcurrencyConflictError)) throw e;
        return { kind: 'inFlight', owner: 'another writer' };
      }
    }
    return { kind: 'inFlight', owner: 'another writer' };
  }

  /** The finding arrived. Unconditional: whoever holds the entry now, it was sent. */
  async markSent(findingId: string, windowStart: string): Promise<void> {
    await this.store.upsert(LEDGER_PARTITION, findingId, this.entry('sent', windowStart));
  }

  /** The finding is in the spool; the next flush sends it. */
  async markSpooled(findingId: string, windowStart: string): Promise<void> {
    await this.store.upsert(LEDGER_PARTITION, findingId, this.entry('spooled', windowStart));
  }

  /** Gives a claim back (nothing was sent and nothing spooled), if still ours. */
  async release(findingId: string, etag: string): Promise<void> {
    await this.store.delete(LEDGER_PARTITION, findingId, etag);
  }

  /**
   * Deletes `sent` entries of windows that started before `before` (canonical datetime
   * text): windows that old are never processed again. Returns how many were deleted.
   * Entries changed meanwhile (ETag) are left alone.
   */
  async pruneSent(before: string): Promise<number> {
    const stale: StoredEntity<LedgerEntry>[] = [];
    for await (const e of this.store.listPartition<LedgerEntry>(LEDGER_PARTITION)) {
      if (e.properties.State === 'sent' && String(e.properties.WindowStart) < before) stale.push(e);
    }
    let deleted = 0;
    for (const e of stale) {
      try {
        await this.store.delete(LEDGER_PARTITION, e.rowKey, e.etag);
        deleted++;
      } catch (err) {
        if (!(err instanceof ConcurrencyConflictError)) throw err;
      }
    }
    return deleted;
  }

  /** FindingIds of the window that started at `windowStart` (any state: sent, sending or spooled). */
  async findingIdsOfWindow(windowStart: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const e of this.store.listPartition<LedgerEntry>(LEDGER_PARTITION)) {
      if (String(e.properties.WindowStart) === windowStart) ids.add(e.rowKey);
    }
    return ids;
  }

  private entry(State: LedgerState, windowStart: string): LedgerEntry {
    const at = new Date(this.now()).toISOString();
    return {
      State,
      Owner: this.writerId,
      ClaimedAt: at,
      WindowStart: windowStart,
      UpdatedAt: at,
    };
  }
}
