/**
 * FindingsWriter: ledger + spool + sink + read-back. Every finding reaches the findings
 * table once, whatever fails on the way (docs/operations.md, "Exactly once").
 *
 *   flushSpool()  first at each run: sends what earlier runs could not, and reports what
 *                 has been spooled longer than SPOOL_ALERT_DAYS.
 *   write(items)  claims each FindingId in the ledger, sends what it claimed, marks it
 *                 sent; what the sink refused, or did not answer, goes to the spool.
 *
 * Sending, for write and flush alike:
 *   - a finding whose earlier attempt may have reached the table (an unanswered or
 *     5xx-answered upload, a claim taken over after its lease, a spooled finding whose
 *     last attempt was unanswered) is not sent before its last attempt is older than the
 *     ingestion latency bound; then the workspace is asked (read-back) and only the
 *     findings it does not have are sent;
 *   - each upload attempt is recorded in the ledger before it is made, by an ETag-
 *     conditional write that also re-checks the claim and renews its lease; the SDK does
 *     not retry uploads, the writer does (429/503: up to maxUploadAttempts per run);
 *   - an unanswered attempt is not retried in the same run (its findings are spooled and
 *     wait for the bound); "mark sent" is retried with backoff, and if it still fails
 *     the read-back decides at the next run.
 *
 * A finding is never both unsent and unrecorded: if it can be neither sent nor spooled,
 * FindingsNotSavedError is thrown, so the caller does not advance its checkpoint.
 */
import { AppError, asError, messageOf } from '../shared/errors';
import { withBackoff, sleep } from '../shared/backoff';
import type { Log } from '../shared/log';
import { mapLimit } from '../shared/pool';
import { randomUUID } from 'node:crypto';
import { ConcurrencyConflictError, type EntityStore, type StoredEntity } from '../stateStore';
import { Ledger, NO_ATTEMPTS, historyOf, type AttemptHistory } from './ledger';
import type { FindingsReadBack } from './readBack';
import type { FindingRecord, OutgoingFinding } from './record';
import type { FindingsSink, SendFailure } from './sink';
import { Spool, firstSpooledAt } from './spool';
import { fromDate } from '../detection/datetime';

/** Default lease of a `sending` claim: longer than functionTimeout (host.json: 01:00:00), and renewed at each attempt. */
export const DEFAULT_LEASE_MS = 70 * 60 * 1000;
/** INGESTION_LATENCY_BOUND_MINUTES' default (docs/operations.md, "Exactly once", says where it comes from). */
export const DEFAULT_INGESTION_LATENCY_BOUND_MS = 60 * 60 * 1000;
/** SPOOL_ALERT_DAYS' default. */
export const DEFAULT_SPOOL_ALERT_DAYS = 2;
export const DEFAULT_MAX_UPLOAD_ATTEMPTS = 4;

export interface RetryDelays {
  /** Upload retries (429/503) and "mark sent" retries: first delay, doubling up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is cut to it. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_DELAYS: RetryDelays = { baseDelayMs: 2_000, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };

export interface FindingsWriterOptions {
  /** The state store's entities (StateStore.entities), holding the ledger and the spool. */
  store: EntityStore;
  sink: FindingsSink;
  /**
   * Asks the findings table which findings arrived. Without one (the NDJSON file sink), a
   * finding whose attempt may have arrived is sent again once the latency bound passed.
   */
  readBack?: FindingsReadBack;
  /** Names this writer in the ledger; default a random UUID. */
  writerId?: string;
  /** How long a `sending` claim protects a finding before another writer may take it over. Default 70 minutes. */
  leaseMs?: number;
  /** INGESTION_LATENCY_BOUND_MINUTES in ms: no resend (nor read-back) before the last attempt is this old. Default 60 minutes. */
  ingestionLatencyBoundMs?: number;
  /** SPOOL_ALERT_DAYS: a finding spooled this long is reported at each flush. Default 2. */
  spoolAlertDays?: number;
  /** Upload attempts per finding per run (429/503 are retried). Default 4. */
  maxUploadAttempts?: number;
  retryDelays?: RetryDelays;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
  log?: Log;
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
  /** Already sent before (same window re-run, replayed occurrence, the racing writer, or found by read-back). */
  skippedAlreadySent: number;
  /** Claimed by another writer that is still within its lease: it will send or spool them. */
  skippedInFlight: number;
  /** Refused by the sink now, or waiting for the latency bound and a read-back: kept in the spool for the next run. */
  spooled: number;
  /** Of `spooled`: waiting, because an attempt may have arrived. */
  awaitingReadBack: number;
  /** Already in the spool from an earlier run: flushSpool sends them. */
  alreadySpooled: number;
  /** Records whose FindingId came twice (or more) in the input: each FindingId is handled once. */
  duplicates: number;
  /** Upload attempts made (each recorded in the ledger before it was made). */
  uploadAttempts: number;
  errors: WriteProblem[];
}

/** A finding spooled longer than SPOOL_ALERT_DAYS. */
export interface StaleSpooledFinding {
  findingId: string;
  windowStart: string;
  windowEnd: string;
  firstSpooledAt: string;
  lastError: string;
}

export interface FlushResult {
  sent: number;
  /** Still refused, or waiting for a read-back: they stay in the spool. */
  stillSpooled: number;
  skippedInFlight: number;
  /** Spool copies of findings the ledger (or the read-back) says were sent: removed. */
  removedAlreadySent: number;
  /** Spooled longer than SPOOL_ALERT_DAYS and still spooled. */
  stale: StaleSpooledFinding[];
  uploadAttempts: number;
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

/** A finding this writer holds a claim on. */
interface Claim {
  record: FindingRecord;
  etag: string;
  history: AttemptHistory;
  /** Its spool copy, when it came from the spool. */
  spoolHead?: StoredEntity;
  firstSpooledAt?: string;
}

/** What happened to each claim, for the caller's counters. */
interface DeliveryOutcome {
  sent: number;
  foundByReadBack: number;
  spooled: number;
  awaitingReadBack: number;
  lost: number;
  uploadAttempts: number;
  errors: WriteProblem[];
  notSaved: { ids: string[]; causes: Error[] };
}

export class FindingsWriter {
  readonly writerId: string;
  private readonly ledger: Ledger;
  private readonly spool: Spool;
  private readonly sink: FindingsSink;
  private readonly readBack: FindingsReadBack | undefined;
  private readonly now: () => number;
  private readonly latencyBoundMs: number;
  private readonly spoolAlertMs: number;
  private readonly maxUploadAttempts: number;
  private readonly delays: RetryDelays;
  private readonly log: Log | undefined;

  constructor(options: FindingsWriterOptions) {
    this.writerId = options.writerId ?? randomUUID();
    this.now = options.now ?? Date.now;
    this.sink = options.sink;
    this.readBack = options.readBack;
    this.latencyBoundMs = options.ingestionLatencyBoundMs ?? DEFAULT_INGESTION_LATENCY_BOUND_MS;
    this.spoolAlertMs = (options.spoolAlertDays ?? DEFAULT_SPOOL_ALERT_DAYS) * 86_400_000;
    this.maxUploadAttempts = Math.max(1, options.maxUploadAttempts ?? DEFAULT_MAX_UPLOAD_ATTEMPTS);
    this.delays = options.retryDelays ?? DEFAULT_RETRY_DELAYS;
    this.log = options.log;
    this.ledger = new Ledger(options.store, this.writerId, options.leaseMs ?? DEFAULT_LEASE_MS, this.now);
    this.spool = new Spool(options.store);
  }

  /** Writes a window's findings (records, or records with their legacy id: see OutgoingFinding). */
  async write(findings: ReadonlyArray<FindingRecord | OutgoingFinding>): Promise<WriteResult> {
    const result: WriteResult = {
      sent: 0,
      skippedAlreadySent: 0,
      skippedInFlight: 0,
      spooled: 0,
      awaitingReadBack: 0,
      alreadySpooled: 0,
      duplicates: 0,
      uploadAttempts: 0,
      errors: [],
    };
    const items = findings.map((f): OutgoingFinding => ('record' in f ? f : { record: f }));
    const unique = [...new Map(items.map((f) => [f.record.FindingId, f])).values()];
    result.duplicates = items.length - unique.length;
    if (result.duplicates > 0) {
      this.log?.warn(`${result.duplicates} finding(s) repeated a FindingId of the same window; each is written once`);
    }
    const claimed: Claim[] = [];
    await mapLimit(unique, CLAIM_CONCURRENCY, async ({ record, legacyFindingId }) => {
      let inherited = NO_ATTEMPTS;
      if (legacyFindingId && legacyFindingId !== record.FindingId) {
        // Migration: the same finding, as an earlier release named it.
        const legacy = await this.ledger.get(legacyFindingId);
        if (legacy) {
          const { State } = legacy.properties;
          if (State === 'sent') return void result.skippedAlreadySent++;
          if (State === 'spooled') return void result.alreadySpooled++; // the flush sends the legacy copy
          if (this.ledger.isLeased(legacy.properties)) return void result.skippedInFlight++;
          const history = historyOf(legacy.properties);
          inherited = history.maybeDelivered ? { ...history, legacyFindingId } : NO_ATTEMPTS;
        }
      }
      const outcome = await this.ledger.claim(record.FindingId, record.WindowStart, { takeSpooled: false, inherited });
      if (outcome.kind === 'claimed') claimed.push({ record, etag: outcome.etag, history: outcome.history });
      else if (outcome.kind === 'sent') result.skippedAlreadySent++;
      else if (outcome.kind === 'spooled') result.alreadySpooled++;
      else result.skippedInFlight++;
    });
    if (claimed.length === 0) return result;
    // Claims finish in any order; send in the caller's order.
    const order = new Map(unique.map((f, i) => [f.record.FindingId, i]));
    claimed.sort((a, b) => order.get(a.record.FindingId)! - order.get(b.record.FindingId)!);

    const outcome = await this.deliver(claimed);
    result.sent = outcome.sent;
    result.skippedAlreadySent += outcome.foundByReadBack;
    result.spooled = outcome.spooled;
    result.awaitingReadBack = outcome.awaitingReadBack;
    result.skippedInFlight += outcome.lost;
    result.uploadAttempts = outcome.uploadAttempts;
    result.errors = outcome.errors;
    if (outcome.notSaved.ids.length) throw new FindingsNotSavedError(outcome.notSaved.ids, outcome.notSaved.causes);
    return result;
  }

  /** Sends every spooled finding (oldest window first). Call at the start of each run. */
  async flushSpool(): Promise<FlushResult> {
    const result: FlushResult = {
      sent: 0,
      stillSpooled: 0,
      skippedInFlight: 0,
      removedAlreadySent: 0,
      stale: [],
      uploadAttempts: 0,
      errors: [],
    };
    const spooled = await this.spool.list();
    const claimed: Claim[] = [];
    const left = new Set<string>();
    for (const item of spooled) {
      const id = item.record.FindingId;
      const outcome = await this.ledger.claim(id, item.record.WindowStart, { takeSpooled: true, readFirst: true });
      if (outcome.kind === 'claimed') {
        claimed.push({
          record: item.record,
          etag: outcome.etag,
          history: outcome.history,
          spoolHead: item.head,
          firstSpooledAt: firstSpooledAt(item),
        });
      } else if (outcome.kind === 'sent') {
        await this.spool.remove(item.head);
        result.removedAlreadySent++;
      } else {
        result.skippedInFlight++;
        left.add(id);
      }
    }
    if (claimed.length > 0) {
      const outcome = await this.deliver(claimed);
      result.sent = outcome.sent;
      result.removedAlreadySent += outcome.foundByReadBack;
      result.stillSpooled = outcome.spooled;
      result.skippedInFlight += outcome.lost;
      result.uploadAttempts = outcome.uploadAttempts;
      result.errors = outcome.errors;
      for (const id of outcome.notSaved.ids) left.add(id);
      for (const c of claimed) if (outcome.stillSpooledIds.has(c.record.FindingId)) left.add(c.record.FindingId);
    }
    const alertBefore = this.now() - this.spoolAlertMs;
    for (const item of spooled) {
      const first = firstSpooledAt(item);
      if (left.has(item.record.FindingId) && Date.parse(first) <= alertBefore) {
        result.stale.push({
          findingId: item.record.FindingId,
          windowStart: item.record.WindowStart,
          windowEnd: item.record.WindowEnd,
          firstSpooledAt: first,
          lastError: String(item.head.properties.LastError ?? ''),
        });
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

  /** Read-back where needed, then the upload attempts; every claim ends sent, spooled, or lost to another writer. */
  private async deliver(claims: Claim[]): Promise<DeliveryOutcome & { stillSpooledIds: Set<string> }> {
    const out: DeliveryOutcome & { stillSpooledIds: Set<string> } = {
      sent: 0,
      foundByReadBack: 0,
      spooled: 0,
      awaitingReadBack: 0,
      lost: 0,
      uploadAttempts: 0,
      errors: [],
      notSaved: { ids: [], causes: [] },
      stillSpooledIds: new Set(),
    };
    const now = this.now();
    const ready: Claim[] = [];
    const toCheck: Claim[] = [];
    const waiting: Claim[] = [];
    for (const c of claims) {
      if (!c.history.maybeDelivered) ready.push(c);
      else if (now - (c.history.lastAttemptAt ?? 0) < this.latencyBoundMs) waiting.push(c);
      else toCheck.push(c);
    }
    if (waiting.length) {
      const minutes = Math.round(this.latencyBoundMs / 60_000);
      await this.keepSpooled(
        waiting,
        `An earlier upload attempt may have reached the findings table; it is checked once the attempt is ` +
          `older than the ingestion latency bound (${minutes} min) and sent only if it did not arrive.`,
        out,
        true,
      );
    }
    if (toCheck.length) ready.push(...(await this.readBackClaims(toCheck, out)));
    await this.upload(ready, out);
    return out;
  }

  /**
   * Asks the findings table which of `toCheck` (claims whose earlier attempt may have
   * arrived, older than the latency bound) are there: those are marked sent; the
   * absent ones are returned, to be sent.
   */
  private async readBackClaims(
    toCheck: Claim[],
    out: DeliveryOutcome & { stillSpooledIds: Set<string> },
  ): Promise<Claim[]> {
    const ready: Claim[] = [];
    if (!this.readBack) {
      ready.push(...toCheck); // no table to ask (file sink): the bound has passed, send again
    } else {
      try {
        const since = toCheck.map((c) => c.record.WindowStart).reduce((a, b) => (a < b ? a : b));
        const ids = toCheck.flatMap((c) =>
          c.history.legacyFindingId ? [c.record.FindingId, c.history.legacyFindingId] : [c.record.FindingId],
        );
        const present = await this.readBack.present(ids, since);
        for (const c of toCheck) {
          const arrived =
            present.has(c.record.FindingId) ||
            (c.history.legacyFindingId !== '' && present.has(c.history.legacyFindingId));
          if (!arrived) {
            // Checked absent after the bound: the earlier attempts did not arrive.
            ready.push({ ...c, history: { ...c.history, maybeDelivered: false } });
            continue;
          }
          await this.markSent(c);
          if (c.spoolHead) await this.spool.remove(c.spoolHead);
          out.foundByReadBack++;
        }
      } catch (e) {
        const error = asError(e);
        out.errors.push(
          problem(
            error,
            toCheck.map((c) => c.record),
          ),
        );
        await this.keepSpooled(toCheck, error.message, out, true);
      }
    }
    return ready;
  }

  /** The upload attempts, each recorded in the ledger before it is made; 429/503 retried here. */
  private async upload(ready: Claim[], out: DeliveryOutcome & { stillSpooledIds: Set<string> }): Promise<void> {
    let pending = ready;
    for (let attempt = 1; pending.length > 0; attempt++) {
      // Record the attempt before it is made; this re-checks each claim (ETag) and renews its lease.
      const recorded: Claim[] = [];
      const unrecorded: Claim[] = [];
      let storageError: Error | undefined;
      await mapLimit(pending, CLAIM_CONCURRENCY, async (c) => {
        try {
          const next = await this.ledger.recordAttempt(c.record.FindingId, c.record.WindowStart, c.etag, c.history);
          recorded.push({ ...c, etag: next.etag, history: next.history });
        } catch (e) {
          if (e instanceof ConcurrencyConflictError) out.lost++;
          else {
            storageError = asError(e);
            unrecorded.push(c);
          }
        }
      });
      if (unrecorded.length) {
        out.errors.push(
          problem(
            storageError!,
            unrecorded.map((c) => c.record),
          ),
        );
        await this.keepSpooled(unrecorded, storageError!.message, out, false);
      }
      if (recorded.length === 0) break;
      const order = new Map(pending.map((c, i) => [c.record.FindingId, i]));
      recorded.sort((a, b) => order.get(a.record.FindingId)! - order.get(b.record.FindingId)!);
      out.uploadAttempts += recorded.length;
      const byId = new Map(recorded.map((c) => [c.record.FindingId, c]));
      // TimeGenerated is when the record is sent: a finding spooled for days, or sent again
      // after a lost answer, carries the time it entered the table, so the companion
      // Sentinel rule's lookback (TimeGenerated) sees it however late it arrives.
      const sentAt = fromDate(new Date(this.now()));
      const sendResult = await this.sink.send(recorded.map((c) => ({ ...c.record, TimeGenerated: sentAt })));
      await mapLimit(sendResult.sent, CLAIM_CONCURRENCY, async (r) => {
        const c = byId.get(r.FindingId)!;
        await this.markSent(c);
        if (c.spoolHead) await this.removeFromSpool(c.spoolHead);
        out.sent++;
      });
      const retry: Claim[] = [];
      let waitMs = 0;
      for (const failure of sendResult.failed) {
        const claimsOf = failure.records.map((r) => byId.get(r.FindingId)!);
        const refused = claimsOf.map((c) => ({
          ...c,
          history: { ...c.history, maybeDelivered: failure.maybeDelivered },
        }));
        if (!failure.maybeDelivered && failure.retryNow && attempt < this.maxUploadAttempts) {
          retry.push(...refused);
          waitMs = Math.max(waitMs, this.retryDelay(attempt, failure));
          continue;
        }
        out.errors.push(problem(failure.error, failure.records));
        await this.keepSpooled(refused, failure.error.message, out, failure.maybeDelivered);
      }
      if (retry.length && waitMs > 0) await sleep(waitMs);
      pending = retry;
    }
  }

  private retryDelay(attempt: number, failure: SendFailure): number {
    const backoff = Math.min(this.delays.maxDelayMs, this.delays.baseDelayMs * 2 ** (attempt - 1));
    const asked = failure.retryNow?.afterMs;
    return asked === undefined ? backoff : Math.min(this.delays.maxRetryAfterMs, Math.max(asked, backoff));
  }

  /**
   * "Mark sent", retried with backoff (an idempotent upsert). If it still fails, the
   * finding's entry keeps its unanswered-looking attempt, so the next run's read-back
   * finds it in the table instead of sending it again: the run goes on.
   */
  private async markSent(c: Claim): Promise<void> {
    try {
      await withBackoff(() => this.ledger.markSent(c.record.FindingId, c.record.WindowStart, c.history), {
        attempts: 4,
        baseDelayMs: this.delays.baseDelayMs,
        maxDelayMs: this.delays.maxDelayMs,
      });
    } catch (e) {
      this.log?.warn(
        `Finding ${c.record.FindingId} reached the findings table but the ledger could not record it ` +
          `(${messageOf(e)}); the next run finds it in the table (read-back) and does not send it again.`,
        { findingId: c.record.FindingId },
      );
    }
  }

  private async removeFromSpool(head: StoredEntity): Promise<void> {
    try {
      await this.spool.remove(head);
    } catch (e) {
      // The ledger says sent: the next flush removes the copy without sending it.
      this.log?.warn(`Could not remove a sent finding from the spool (${messageOf(e)}); the next run does.`);
    }
  }

  /** Puts claims in the spool (or leaves their copy there) and marks them spooled; what cannot be kept is not saved. */
  private async keepSpooled(
    claims: Claim[],
    reason: string,
    out: DeliveryOutcome & { stillSpooledIds: Set<string> },
    awaitingReadBack: boolean,
  ): Promise<void> {
    const at = this.isoNow();
    await mapLimit(claims, CLAIM_CONCURRENCY, async (c) => {
      try {
        await this.spool.put(c.record, reason, at, c.firstSpooledAt ?? at);
        await this.ledger.markSpooled(c.record.FindingId, c.record.WindowStart, c.history);
        out.spooled++;
        if (awaitingReadBack) out.awaitingReadBack++;
        out.stillSpooledIds.add(c.record.FindingId);
      } catch (e) {
        out.notSaved.ids.push(c.record.FindingId);
        out.notSaved.causes.push(asError(e));
        // Give the claim back only if nothing of it may have gone out; otherwise its entry
        // (with the attempt) stays, and after the lease the next writer reads back first.
        if (!c.history.maybeDelivered && !c.spoolHead) {
          await this.ledger.release(c.record.FindingId, c.etag).catch(() => undefined);
        }
      }
    });
  }

  private isoNow(): string {
    return fromDate(new Date(this.now()));
  }
}

function problem(error: Error, records: FindingRecord[]): WriteProblem {
  return { message: error.message, findingIds: records.map((r) => r.FindingId), error };
}
