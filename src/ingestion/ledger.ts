/**
 * The ledger of FindingIds in the state store (partition "ledger", one entity per
 * FindingId), so that nothing is sent twice: not by a re-run of the same window, not by
 * a replayed timer occurrence, not by two writers racing on the same window, not by a
 * retry after an answer that never came.
 *
 * A FindingId moves through these states:
 *   (absent) --insert-if-absent--> sending --sent--> sent
 *                                     \--refused or unanswered, record spooled--> spooled --flush claims--> sending
 * A writer sends only what it claimed. Claiming is an insert-if-absent (409: another
 * writer has it) or an ETag-conditional replace (412: another writer took it first) of
 * a `spooled` entry or of a `sending` entry whose lease ran out (its writer is gone).
 *
 * Every upload attempt is recorded before it is made (`recordAttempt`: Attempts + 1,
 * LastAttemptAt), by an ETag-conditional replace that also re-checks the claim and
 * renews its lease; a refusal the service answered (429, 503, 4xx) is recorded with the
 * next write (LastAttemptRefused). So the ledger always knows whether an earlier attempt
 * may have reached the findings table (`maybeDelivered`): then the writer asks the
 * workspace (read-back) before it sends again.
 */
import { ConcurrencyConflictError, type EntityStore, type StoredEntity } from '../stateStore';

export const LEDGER_PARTITION = 'ledger';

export type LedgerState = 'sending' | 'sent' | 'spooled';

export interface LedgerEntry extends Record<string, string | number | boolean> {
  State: LedgerState;
  /** Writer that last claimed the finding. */
  Owner: string;
  /** When it was claimed or last renewed (ISO 8601, ms); a `sending` claim older than the lease may be taken over. */
  ClaimedAt: string;
  WindowStart: string;
  UpdatedAt: string;
  /** Upload attempts made for this finding, by every writer. */
  Attempts: number;
  /** When the last one was recorded (ISO 8601, ms); '' when none. */
  LastAttemptAt: string;
  /** The service answered the last attempt with a refusal: it did not reach the table. */
  LastAttemptRefused: boolean;
  /** The id earlier releases gave this finding, when an attempt may have gone out under it; '' otherwise. */
  LegacyFindingId: string;
}

/** What the ledger knows of a finding's earlier upload attempts. */
export interface AttemptHistory {
  attempts: number;
  /** ms since the epoch; undefined when no attempt was made. */
  lastAttemptAt: number | undefined;
  /** The last attempt was not answered with a refusal: the record may be in the table. */
  maybeDelivered: boolean;
  /** Also look for this id in the table (an attempt may have gone out under the legacy id). */
  legacyFindingId: string;
}

export const NO_ATTEMPTS: AttemptHistory = {
  attempts: 0,
  lastAttemptAt: undefined,
  maybeDelivered: false,
  legacyFindingId: '',
};

/**
 * The history an entry records. An entry written before attempts were counted (no
 * `Attempts`) that is `sending` or `spooled` may have gone out (the SDK retried uploads
 * whose answer was lost): it counts as one unanswered attempt at its last update.
 */
export function historyOf(entry: Partial<LedgerEntry>): AttemptHistory {
  if (typeof entry.Attempts !== 'number') {
    if (entry.State !== 'sending' && entry.State !== 'spooled') return NO_ATTEMPTS;
    const at = Date.parse(String(entry.UpdatedAt ?? entry.ClaimedAt ?? ''));
    return {
      attempts: 1,
      lastAttemptAt: Number.isNaN(at) ? 0 : at,
      maybeDelivered: true,
      legacyFindingId: '',
    };
  }
  const at = Date.parse(String(entry.LastAttemptAt ?? ''));
  return {
    attempts: entry.Attempts,
    lastAttemptAt: Number.isNaN(at) ? undefined : at,
    maybeDelivered: entry.Attempts > 0 && entry.LastAttemptRefused !== true,
    legacyFindingId: String(entry.LegacyFindingId ?? ''),
  };
}

export type ClaimOutcome =
  /** Ours now; `history` is what earlier attempts (by any writer) left. */
  | { kind: 'claimed'; etag: string; history: AttemptHistory }
  | { kind: 'sent' }
  | { kind: 'spooled'; etag: string }
  | { kind: 'inFlight'; owner: string };

export interface ClaimOptions {
  /** A `spooled` finding may be claimed (the spool flush does this); otherwise it is left to the flush. */
  takeSpooled: boolean;
  /** Read the entry before trying to insert one (the flush: its findings have entries). */
  readFirst?: boolean;
  /** Attempts made under the finding's legacy id, carried into a new entry. */
  inherited?: AttemptHistory;
}

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

  /** Whether a `sending` entry is still protected by its writer's lease. */
  isLeased(entry: Partial<LedgerEntry>): boolean {
    return entry.State === 'sending' && this.now() - Date.parse(String(entry.ClaimedAt)) < this.leaseMs;
  }

  /** Claims a finding for sending (see ClaimOptions). */
  async claim(findingId: string, windowStart: string, options: ClaimOptions): Promise<ClaimOutcome> {
    const inherited = options.inherited ?? NO_ATTEMPTS;
    let readFirst = options.readFirst ?? false;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!readFirst) {
        try {
          const etag = await this.store.insert(
            LEDGER_PARTITION,
            findingId,
            this.entry('sending', windowStart, inherited),
          );
          return { kind: 'claimed', etag, history: inherited };
        } catch (e) {
          if (!(e instanceof ConcurrencyConflictError)) throw e;
        }
      }
      readFirst = false;
      const existing = await this.get(findingId);
      if (!existing) continue; // released between our insert and read: try again
      const { State, Owner } = existing.properties;
      if (State === 'sent') return { kind: 'sent' };
      if (State === 'spooled' && !options.takeSpooled) return { kind: 'spooled', etag: existing.etag };
      if (this.isLeased(existing.properties)) return { kind: 'inFlight', owner: Owner };
      // spooled (and we flush), or a sending claim whose lease ran out: take it over, if nobody beats us.
      const history = historyOf(existing.properties);
      try {
        const etag = await this.store.replace(
          LEDGER_PARTITION,
          findingId,
          this.entry('sending', windowStart, history),
          existing.etag,
        );
        return { kind: 'claimed', etag, history };
      } catch (e) {
        if (!(e instanceof ConcurrencyConflictError)) throw e;
        return { kind: 'inFlight', owner: 'another writer' };
      }
    }
    return { kind: 'inFlight', owner: 'another writer' };
  }

  /**
   * Records an upload attempt before it is made: only if the claim is still ours (ETag),
   * and renews its lease. Returns the new ETag and history; ConcurrencyConflictError when
   * another writer holds the finding now (then it must not be sent).
   */
  async recordAttempt(
    findingId: string,
    windowStart: string,
    etag: string,
    history: AttemptHistory,
  ): Promise<{ etag: string; history: AttemptHistory }> {
    const next: AttemptHistory = {
      attempts: history.attempts + 1,
      lastAttemptAt: this.now(),
      maybeDelivered: true,
      legacyFindingId: history.legacyFindingId,
    };
    const newEtag = await this.store.replace(
      LEDGER_PARTITION,
      findingId,
      this.entry('sending', windowStart, next),
      etag,
    );
    return { etag: newEtag, history: next };
  }

  /** The finding is in the table. Unconditional (an idempotent upsert): whoever holds the entry now, it was sent. */
  async markSent(findingId: string, windowStart: string, history: AttemptHistory): Promise<void> {
    await this.store.upsert(LEDGER_PARTITION, findingId, this.entry('sent', windowStart, history));
  }

  /** The finding is in the spool; the next flush sends it (after a read-back, if `history.maybeDelivered`). */
  async markSpooled(findingId: string, windowStart: string, history: AttemptHistory): Promise<void> {
    await this.store.upsert(LEDGER_PARTITION, findingId, this.entry('spooled', windowStart, history));
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

  private entry(State: LedgerState, windowStart: string, history: AttemptHistory): LedgerEntry {
    const at = new Date(this.now()).toISOString();
    return {
      State,
      Owner: this.writerId,
      ClaimedAt: at,
      WindowStart: windowStart,
      UpdatedAt: at,
      Attempts: history.attempts,
      LastAttemptAt: history.lastAttemptAt === undefined ? '' : new Date(history.lastAttemptAt).toISOString(),
      LastAttemptRefused: history.attempts > 0 && !history.maybeDelivered,
      LegacyFindingId: history.legacyFindingId,
    };
  }
}
