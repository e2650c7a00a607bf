/**
 * FindingsWriter: ledger + spool + sink. Loss-free and idempotent writing of findings.
 *
 *   flushSpool()  first at each run: sends what earlier runs could not.
 *   write(records) claims each FindingId in the ledger, sends what it claimed, marks it
 *                  sent; what the sink refused goes to the spool (marked spooled).
 *
 * A finding is never both unsent and unrecorded: if it can be neither sent nor spooled,
 * its claim is released and FindingsNotSavedError is thrown, so the caller does not
 * advance its checkpoint and the window runs again.
 *
 * The one window for a duplicate: a writer that dies after the service accepted a batch
 * but before it marked the findings sent; after the lease runs out another writer sends
 * them again (the Logs Ingestion API itself is not idempotent).
 */
import { AppError, asError } from '../shared/errors';
import { mapLimit } from '../shared/pool';
import { randomUUID } from 'node:crypto';
import type { EntityStore } from '../stateStore';
import { Ledger } from './ledger';
import type { FindingRecord } from './record';
import type { FindingsSink } from './sink';
import { Spool } from './spool';
import { fromDate } from '../detection/datetime';

export interface FindingsWriterOptions {
  /** The state store's entities (StateStore.entities), holding the ledger and the spool. */
  store: EntityStore;
  sink: FindingsSink;
  /** Names this writer in the ledger; default a random UUID. */
  writerId?: string;
  /** How long a `sending` claim protects a finding before another writer may take it over. Default 15 minutes. */
  leaseMs?: number;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

export interface WriteProblem {
  /** What went wrong and what to do (the sink's error message). */
  message: string;
  findingIds: string[];
  error: Error;
}

export interface WriteResult {
  /** Findings that reached the sink now. */
  sent: number;
  /** Already sent before (same window re-run, replayed occurrence, or the racing writer sent them). */
  skippedAlreadySent: number;
  /** Claimed by another writer that is still within its lease: it will send or spool them. */
  skippedInFlight: number;
  /** Refused by the sink now: kept in the spool for the next run. */
  spooled: number;
  /** Already in the spool from an earlier run: flushSpool sends them. */
  alreadySpooled: number;
  errors: WriteProblem[];
}

export interface FlushResult {
  sent: number;
  /** Still refused: they stay in the spool. */
  stillSpooled: number;
  skippedInFlight: number;
  /** Spool copies of findings the ledger says were sent (left by a crash): removed. */
  removedAlreadySent: number;
  errors: WriteProblem[];
}

/** Some findings could be neither sent nor kept in the spool. */
export class FindingsNotSavedError extends AppError {
  constructor(
    readonly findingIds: string[],
    readonly causes: Error[],
  ) {
    super(
      `${findingIds.length} finding(s) could be neither sent nor kept in the spool: ` +
        `${causes.map((c) => c.message).join(' | ')}. The window will be processed again at the next run.`,
      { cause: causes[0], retriable: true },
    );
  }
}

const CLAIM_CONCURRENCY = 8;
export const DEFAULT_LEASE_MS = 15 * 60 * 1000;

export class FindingsWriter {
  readonly writerId: string;
  private readonly ledger: Ledger;
  private readonly spool: Spool;
  private readonly sink: FindingsSink;
  private readonly now: () => number;

  constructor(options: FindingsWriterOptions) {
    this.writerId = options.writerId ?? randomUUID();
    this.now = options.now ?? Date.now;
    this.sink = options.sink;
    this.ledger = new Ledger(options.store, this.writerId, options.leaseMs ?? DEFAULT_LEASE_MS, this.now);
    this.spool = new Spool(options.store);
  }

  async write(records: FindingRecord[]): Promise<WriteResult> {
    const result: WriteResult = {
      sent: 0,
      skippedAlreadySent: 0,
      skippedInFlight: 0,
      spooled: 0,
      alreadySpooled: 0,
      errors: [],
    };
    const unique = [...new Map(records.map((r) => [r.FindingId, r])).values()];
    const claimed: Array<{ record: FindingRecord; etag: string }> = [];
    await mapLimit(unique, CLAIM_CONCURRENCY, async (record) => {
      const outcome = await this.ledger.claim(record.FindingId, record.WindowStart, false);
      if (outcome.kind === 'claimed') claimed.push({ record, etag: outcome.etag });
      else if (outcome.kind === 'sent') result.skippedAlreadySent++;
      else if (outcome.kind === 'spooled') result.alreadySpooled++;
      else result.skippedInFlight++;
    });
    if (claimed.length === 0) return result;
    // Claims finish in any order; send in the caller's order.
    const order = new Map(unique.map((r, i) => [r.FindingId, i]));
    claimed.sort((a, b) => order.get(a.record.FindingId)! - order.get(b.record.FindingId)!);

    const etags = new Map(claimed.map((c) => [c.record.FindingId, c.etag]));
    const outcome = await this.sink.send(claimed.map((c) => c.record));
    await mapLimit(outcome.sent, CLAIM_CONCURRENCY, (r) => this.ledger.markSent(r.FindingId, r.WindowStart));
    result.sent = outcome.sent.length;

    const notSaved: string[] = [];
    const notSavedCauses: Error[] = [];
    for (const failure of outcome.failed) {
      result.errors.push(problem(failure.error, failure.records));
      await mapLimit(failure.records, CLAIM_CONCURRENCY, async (record) => {
        try {
          await this.spool.put(record, failure.error.message, this.isoNow());
          await this.ledger.markSpooled(record.FindingId, record.WindowStart);
          result.spooled++;
        } catch (e) {
          notSaved.push(record.FindingId);
          notSavedCauses.push(asError(e));
          await this.ledger.release(record.FindingId, etags.get(record.FindingId)!).catch(() => undefined);
        }
      });
    }
    if (notSaved.length) throw new FindingsNotSavedError(notSaved, notSavedCauses);
    return result;
  }

  /** Sends every spooled finding (oldest window first). Call at the start of each run. */
  async flushSpool(): Promise<FlushResult> {
    const result: FlushResult = { sent: 0, stillSpooled: 0, skippedInFlight: 0, removedAlreadySent: 0, errors: [] };
    const spooled = await this.spool.list();
    const claimed: typeof spooled = [];
    for (const item of spooled) {
      const outcome = await this.ledger.claim(item.record.FindingId, item.record.WindowStart, true);
      if (outcome.kind === 'claimed') claimed.push(item);
      else if (outcome.kind === 'sent') {
        await this.spool.remove(item.head);
        result.removedAlreadySent++;
      } else result.skippedInFlight++;
    }
    if (claimed.length === 0) return result;

    const byId = new Map(claimed.map((c) => [c.record.FindingId, c]));
    const outcome = await this.sink.send(claimed.map((c) => c.record));
    for (const record of outcome.sent) {
      await this.ledger.markSent(record.FindingId, record.WindowStart);
      await this.spool.remove(byId.get(record.FindingId)!.head);
      result.sent++;
    }
    for (const failure of outcome.failed) {
      result.errors.push(problem(failure.error, failure.records));
      for (const record of failure.records) {
        await this.spool.put(record, failure.error.message, this.isoNow());
        await this.ledger.markSpooled(record.FindingId, record.WindowStart);
        result.stillSpooled++;
      }
    }
    return result;
  }

  /**
   * Forgets sent findings of windows that started before `before` (canonical datetime
   * text, e.g. a month ago), so the ledger does not grow forever. Only call it with a
   * date older than any window the job may still (re)process: a window re-run after its
   * ledger entries are pruned would send its findings again.
   */
  pruneLedger(before: string): Promise<number> {
    return this.ledger.pruneSent(before);
  }

  private isoNow(): string {
    return fromDate(new Date(this.now()));
  }
}

function problem(error: Error, records: FindingRecord[]): WriteProblem {
  return { message: error.message, findingIds: records.map((r) => r.FindingId), error };
}
