/**
 * One run of the daily detection job: flush the spool, then for every due day window
 * from the checkpoint on, oldest first — pull, detect, enrich, write, advance the
 * checkpoint. Correct whatever the timer does:
 *
 * - late or skipped occurrences: the windows come from the checkpoint, never from the
 *   schedule, so missed days are caught up (up to MAX_CATCHUP_DAYS; older days are
 *   skipped and the run says so). `isPastDue` is logged, never relied on;
 * - a failure anywhere in a window leaves the checkpoint where it was and stops the
 *   run, so the next run retries that same window (nothing is left out of order);
 * - a replayed occurrence (lost singleton lock) or two apps on one storage account:
 *   the findings writer's ledger sends each finding once, and the checkpoint is
 *   advanced only if its ETag is unchanged since it was read, so one invocation
 *   advances it and the other stops.
 *
 * A run is a short loop over windows; each window ends in one `WindowOutcome`
 * (processed, yielded to another invocation, or failed in a phase), and the run's
 * `JobRunResult` says which of these ended it.
 *
 * Every collaborator is passed in (see JobPorts), so the job is the same code in the
 * Functions host, in tests and on the command line; the clock is injected too.
 */
import type { VmEnrichment } from '../arm/vmEnrichment';
import type { KqlDateTime } from '../detection/datetime';
import type { DetectedFinding, Detector, RowSink } from '../detection/detector';
import type { BaselineEntry } from '../detection/corrected/baseline';
import { fromDate } from '../detection/datetime';
import { TABLE_NAMES, type DetectionMode, type QueryWindow, type TableName } from '../detection/schema';
import { AppError, errorTypeOf, messageOf } from '../shared/errors';
import type { Log } from '../shared/log';
import { HealthEvents, type HealthEvent } from './health';
import { InvalidCheckpointError, parseDayBoundary, planWindows, type SkippedDays } from './windows';

/**
 * Sent findings stay in the ledger this many days beyond MAX_CATCHUP_DAYS, so that a
 * checkpoint set back by hand (to backfill) within that time still sends nothing twice.
 */
export const LEDGER_MARGIN_DAYS = 30;

/** The checkpoint row the job keeps in the state store. */
export const DEFAULT_CHECKPOINT_NAME = 'runCommandDetection-parity';

export interface CheckpointPort {
  getCheckpoint(name: string): Promise<{ value: string; etag: string } | undefined>;
  /** Returns the new ETag; `expectedEtag` undefined = create only. Throws on conflict (see isConcurrencyConflict). */
  putCheckpoint(name: string, value: string, expectedEtag: string | undefined): Promise<string>;
}

/** Rows and slices a pull delivered, per table. */
export type PullStats = { [T in TableName]: { rows: number; slices: number } };

/** Where a window's rows come from: they are added to `rows` as they arrive. */
export interface WindowSource {
  pullWindowInto(window: QueryWindow, rows: RowSink): Promise<PullStats>;
}

/** How the job runs the rule: a fresh Detector per window, and corrected mode's baseline. */
export interface DetectionPort {
  readonly mode: DetectionMode;
  /** The detector for `window` (corrected mode reads the baseline as it stands before it). */
  detectorFor(window: QueryWindow): Promise<Detector>;
  /**
   * Corrected mode: stores the window's observations in the baseline, after its findings
   * were written and before the checkpoint moves (a failure leaves the window to be retried).
   */
  recordBaseline?(window: QueryWindow, observations: readonly BaselineEntry[]): Promise<void>;
}

export interface WriteOutcomePort {
  /** Findings sent to the Logs Ingestion API by this call. */
  sent: number;
  /** Findings the ledger says were already sent (re-run, replayed occurrence). */
  skippedAlreadySent: number;
  /** Findings kept in the spool, to be sent first at the next run. */
  spooled: number;
  /** Findings already in the spool from an earlier run (the next flush sends them). */
  alreadySpooled?: number;
  /** Findings another writer has claimed and is sending right now (overlapping invocation). */
  skippedInFlight?: number;
  /** Records whose FindingId another record of the same call already had: counted once. */
  duplicates?: number;
  /** What the sink refused, in words a SOC engineer can act on. */
  errors?: ReadonlyArray<{ message: string }>;
}

/** A finding that has been in the spool too long. */
export interface StaleSpooled {
  findingId: string;
  windowStart: KqlDateTime;
  windowEnd: KqlDateTime;
  firstSpooledAt: string;
  lastError: string;
}

/** The context a findings record is built in. */
export interface RecordContext {
  window: QueryWindow;
  mode: DetectionMode;
  timeGenerated: KqlDateTime;
  enrichment: VmEnrichment | undefined;
}

export interface JobPorts<R> {
  checkpoints: CheckpointPort;
  /** True when `error` is the state store's "someone else changed the checkpoint" (409/412). */
  isConcurrencyConflict(error: unknown): boolean;
  source: WindowSource;
  detection: DetectionPort;
  /** ARM enrichment per distinct Scope; absent when ENRICHMENT_ENABLED=false. */
  enrich?: (scopes: string[]) => Promise<Map<string, VmEnrichment>>;
  /** The findings record of one finding (src/ingestion toFindingRecord). */
  toRecord(detected: DetectedFinding, context: RecordContext): R;
  writer: {
    /** Sends what earlier runs spooled; returns how many went out and how many are still spooled. */
    flushSpool(): Promise<{
      sent: number;
      remaining: number;
      errors?: ReadonlyArray<{ message: string }>;
      /** Findings spooled longer than SPOOL_ALERT_DAYS (reported as 'spool-stale' at every run). */
      stale?: ReadonlyArray<StaleSpooled>;
    }>;
    write(records: R[]): Promise<WriteOutcomePort>;
    /** Forgets sent findings of windows that started before `before`; returns how many. */
    pruneLedger?(before: KqlDateTime): Promise<number>;
  };
}

export interface JobOptions {
  now: () => Date;
  ingestionDelayMinutes: number;
  maxCatchupDays: number;
  checkpointName?: string;
  /** From the timer binding: logged only. */
  isPastDue?: boolean;
  log: Log;
}

export type JobPhase = 'pull' | 'detect' | 'enrich' | 'write' | 'baseline' | 'checkpoint';

/** The structured line logged after each window. */
export interface WindowSummary {
  window: QueryWindow;
  rows: Record<TableName, number>;
  slices: Record<TableName, number>;
  findings: number;
  written: number;
  alreadySent: number;
  spooled: number;
  enrichment: Record<string, number>;
  durationsMs: Record<JobPhase, number>;
}

/** How one window ended. */
export type WindowOutcome =
  | { kind: 'processed'; summary: WindowSummary; etag: string }
  /** Another invocation is writing this window's findings, or advanced the checkpoint first. */
  | { kind: 'yielded'; window: QueryWindow; reason: 'findingsInFlight' | 'checkpointMoved' }
  | { kind: 'failed'; window: QueryWindow; phase: JobPhase; error: unknown };

export type SpoolFlush = { sent: number; remaining: number } | { error: string };

/** What a run did; `outcome` says how it ended. */
export type JobRunResult = {
  /** Windows processed and checkpointed by this run, oldest first. */
  processed: WindowSummary[];
  /** Due windows older than MAX_CATCHUP_DAYS, not processed; null when none. */
  skipped: SkippedDays | null;
  spool: SpoolFlush;
  /** What the run saw that a SOC must be told of (also logged as it happened). */
  events: HealthEvent[];
} & (
  | { outcome: 'completed' }
  /** Another invocation took over: this run stopped without error. */
  | { outcome: 'yielded'; window: QueryWindow }
  /** A window failed: the checkpoint still points at its start. */
  | { outcome: 'failed'; window: QueryWindow; phase: JobPhase; error: unknown }
);

/** Thrown by the Functions handler when a run failed, so the invocation shows as failed. */
export class WindowFailedError extends AppError {
  constructor(
    readonly window: QueryWindow,
    readonly phase: JobPhase,
    cause: unknown,
  ) {
    super(
      `Window [${window.start}, ${window.end}) failed while ${PHASE_WORDS[phase]}: ${messageOf(cause)} ` +
        `The checkpoint was not advanced; the next run retries this window.`,
      { cause },
    );
  }
}

const PHASE_WORDS: Record<JobPhase, string> = {
  pull: 'pulling the tables from Log Analytics',
  detect: 'running the rule',
  enrich: 'enriching from Azure Resource Manager',
  write: 'writing the findings',
  baseline: 'storing the baseline of script fingerprints',
  checkpoint: 'advancing the checkpoint',
};

export async function runDetectionJob<R>(ports: JobPorts<R>, options: JobOptions): Promise<JobRunResult> {
  const { log } = options;
  const events = new HealthEvents(log);
  const checkpointName = options.checkpointName ?? DEFAULT_CHECKPOINT_NAME;
  const startedAt = options.now();
  log.info('Run Command detection run started', {
    now: startedAt.toISOString(),
    isPastDue: options.isPastDue ?? null,
    detectionMode: ports.detection.mode,
  });
  const spool = await flushSpool(ports, log, events);
  await pruneLedger(ports, options, startedAt);

  const checkpoint = await ports.checkpoints.getCheckpoint(checkpointName);
  const plan = planWindows({
    checkpoint: checkpoint ? checkpointDay(checkpointName, checkpoint.value) : undefined,
    now: startedAt,
    ingestionDelayMinutes: options.ingestionDelayMinutes,
    maxCatchupDays: options.maxCatchupDays,
  });
  if (plan.skipped) reportSkipped(events, plan.skipped, checkpointName, options.maxCatchupDays);
  log.info(`${plan.windows.length} window(s) due`, {
    checkpoint: checkpoint?.value ?? null,
    windows: plan.windows.map((w) => w.start),
  });

  const processed: WindowSummary[] = [];
  const base = { processed, skipped: plan.skipped ?? null, spool, events: events.events };
  let etag = checkpoint?.etag;
  for (const window of plan.windows) {
    const outcome = await processWindow(ports, { window, etag, checkpointName, now: options.now, log, events });
    switch (outcome.kind) {
      case 'processed':
        processed.push(outcome.summary);
        etag = outcome.etag;
        break;
      case 'yielded':
        return { ...base, outcome: 'yielded', window: outcome.window };
      case 'failed':
        return { ...base, outcome: 'failed', window: outcome.window, phase: outcome.phase, error: outcome.error };
    }
  }
  return { ...base, outcome: 'completed' };
}

function checkpointDay(name: string, value: string): Date {
  const day = parseDayBoundary(value);
  if (!day) throw new InvalidCheckpointError(name, value);
  return day;
}

interface WindowContext {
  window: QueryWindow;
  /** ETag of the checkpoint as last read or written; undefined = not written yet. */
  etag: string | undefined;
  checkpointName: string;
  now: () => Date;
  log: Log;
  events: HealthEvents;
}

/** One window: pull into its detector, detect, enrich, write, store the baseline, advance the checkpoint. */
export async function processWindow<R>(ports: JobPorts<R>, ctx: WindowContext): Promise<WindowOutcome> {
  const { window, log } = ctx;
  const timer = new PhaseTimer();
  try {
    const detector = await timer.time('detect', () => ports.detection.detectorFor(window));
    const stats = await timer.time('pull', () => ports.source.pullWindowInto(window, detector));
    const result = await timer.time('detect', () => detector.finish());
    const findings = result.findings;
    const enrichment = await timer.time('enrich', () => enrich(ports, findings));
    const timeGenerated = fromDate(ctx.now());
    const records = findings.map((f) =>
      ports.toRecord(f, { window, mode: result.mode, timeGenerated, enrichment: enrichment?.get(f.finding.Scope) }),
    );
    const written = await timer.time('write', () => ports.writer.write(records));
    for (const e of written.errors ?? []) {
      ctx.events.emit({
        kind: 'write-refused',
        severity: 'warning',
        message: `Findings spooled for the next run: ${e.message}`,
        window,
      });
    }
    checkAccounted(written, records.length);
    if ((written.skippedInFlight ?? 0) > 0) {
      // Another invocation claimed some of this window's findings and is sending them.
      // Advancing the checkpoint now could lose them if it died: leave the window to it
      // (or, should it die, to the next run, once its claims' lease has run out).
      log.warn(
        `Another invocation is writing ${written.skippedInFlight} finding(s) of [${window.start}, ${window.end}); ` +
          `leaving this window and the checkpoint to it.`,
        { window },
      );
      return { kind: 'yielded', window, reason: 'findingsInFlight' };
    }
    if (ports.detection.recordBaseline)
      await timer.time('baseline', () => ports.detection.recordBaseline!(window, result.observations));
    const etag = await timer.time('checkpoint', () => advanceCheckpoint(ports, ctx));
    if (etag === undefined) return { kind: 'yielded', window, reason: 'checkpointMoved' };
    const summary: WindowSummary = {
      window,
      rows: perTable((t) => stats[t].rows),
      slices: perTable((t) => stats[t].slices),
      findings: findings.length,
      written: written.sent,
      alreadySent: written.skippedAlreadySent,
      spooled: written.spooled,
      enrichment: countBy(
        findings.map((f) => (enrichment ? (enrichment.get(f.finding.Scope)?.status ?? 'error') : 'disabled')),
      ),
      durationsMs: timer.durationsMs,
    };
    log.info('Window processed', { ...summary });
    for (const [scope, e] of enrichment ?? []) {
      if (e.status !== 'ok') log.warn(`VM enrichment ${e.status}: ${e.detail ?? scope}`, { scope, status: e.status });
    }
    return { kind: 'processed', summary, etag };
  } catch (error) {
    const phase = timer.phase;
    ctx.events.emit({
      kind: 'window-failed',
      severity: 'failure',
      message: `Window [${window.start}, ${window.end}) failed while ${PHASE_WORDS[phase]}; checkpoint not advanced`,
      window,
      phase,
      details: { error: messageOf(error), errorType: errorTypeOf(error) },
    });
    return { kind: 'failed', window, phase, error };
  }
}

/** Per distinct Scope; undefined when enrichment is off. */
async function enrich<R>(
  ports: JobPorts<R>,
  findings: readonly DetectedFinding[],
): Promise<Map<string, VmEnrichment> | undefined> {
  if (!ports.enrich) return undefined;
  return ports.enrich([...new Set(findings.map((f) => f.finding.Scope))]);
}

/**
 * Every record must be accounted for by the writer (sent, already sent, spooled, or in
 * another writer's hands); otherwise the checkpoint must not move.
 */
function checkAccounted(written: WriteOutcomePort, records: number): void {
  const accounted =
    written.sent +
    written.skippedAlreadySent +
    written.spooled +
    (written.alreadySpooled ?? 0) +
    (written.skippedInFlight ?? 0) +
    (written.duplicates ?? 0);
  if (accounted < records) {
    throw new Error(
      `the findings writer accounted for ${accounted} of ${records} findings ` +
        `(sent ${written.sent}, already sent ${written.skippedAlreadySent}, spooled ${written.spooled})`,
    );
  }
}

/**
 * Moves the checkpoint to the window's end, if nobody moved it since we read it.
 * Returns the new ETag, or undefined when another invocation (replayed occurrence,
 * second app) advanced it first: its writes and ours were de-duplicated by the ledger,
 * and the windows from here on are its to process.
 */
async function advanceCheckpoint<R>(ports: JobPorts<R>, ctx: WindowContext): Promise<string | undefined> {
  const { window, checkpointName } = ctx;
  try {
    return await ports.checkpoints.putCheckpoint(checkpointName, window.end, ctx.etag);
  } catch (error) {
    if (!ports.isConcurrencyConflict(error)) throw error;
    ctx.log.warn(
      `Another invocation advanced checkpoint '${checkpointName}' while this one processed ` +
        `[${window.start}, ${window.end}); stopping and leaving the remaining windows to it.`,
      { window },
    );
    return undefined;
  }
}

/**
 * Spooled findings of earlier runs go first. A failure here is not the windows' fault:
 * the writer keeps them spooled, and this run carries on.
 */
async function flushSpool<R>(ports: JobPorts<R>, log: Log, events: HealthEvents): Promise<SpoolFlush> {
  try {
    const flushed = await ports.writer.flushSpool();
    const spool = { sent: flushed.sent, remaining: flushed.remaining };
    if (flushed.sent > 0 || flushed.remaining > 0) log.info('Spooled findings flushed', { ...spool });
    for (const e of flushed.errors ?? []) log.warn(`Spooled findings still refused: ${e.message}`);
    reportStaleSpool(events, flushed.stale ?? []);
    return spool;
  } catch (error) {
    log.warn('Could not flush the spool; its findings stay spooled for the next run', { error: messageOf(error) });
    return { error: messageOf(error) };
  }
}

/** One 'spool-stale' event per window with findings spooled longer than SPOOL_ALERT_DAYS, at every run. */
function reportStaleSpool(events: HealthEvents, stale: ReadonlyArray<StaleSpooled>): void {
  const byWindow = new Map<string, StaleSpooled[]>();
  for (const s of stale) byWindow.set(s.windowStart, [...(byWindow.get(s.windowStart) ?? []), s]);
  for (const [windowStart, items] of byWindow) {
    const oldest = items.map((i) => i.firstSpooledAt).reduce((a, b) => (a < b ? a : b));
    const window = { start: windowStart, end: items[0]!.windowEnd };
    events.emit({
      kind: 'spool-stale',
      severity: 'failure',
      message:
        `${items.length} finding(s) of window [${window.start}, ${window.end}) have been in the spool since ` +
        `${oldest}, longer than SPOOL_ALERT_DAYS, and have not reached the findings table. Last error: ` +
        `${items[0]!.lastError} They stay spooled and are retried at every run; fix the cause (the error says ` +
        `what), or see docs/operations.md, "Exactly once".`,
      window,
      details: { findings: items.length, firstSpooledAt: oldest, findingIds: items.map((i) => i.findingId) },
    });
  }
}

function reportSkipped(
  events: HealthEvents,
  skipped: SkippedDays,
  checkpointName: string,
  maxCatchupDays: number,
): void {
  events.emit({
    kind: 'skipped-days',
    severity: 'failure',
    message:
      `Skipping ${skipped.days} day window(s) [${skipped.start}, ${skipped.end}): more than ` +
      `MAX_CATCHUP_DAYS=${maxCatchupDays} days behind; their findings are not written. To see them, run ` +
      `'runcommand-detect run --from ${skipped.start} --to ${skipped.end}' (prints, writes nothing). ` +
      `To have the job write them, raise MAX_CATCHUP_DAYS and set the Value of checkpoint '${checkpointName}' ` +
      `(state table, partition 'checkpoint') back to ${skipped.start}.`,
    window: { start: skipped.start, end: skipped.end },
    details: { days: skipped.days },
  });
}

/**
 * The ledger of sent findings would grow forever: entries of windows older than any the
 * job can still process (MAX_CATCHUP_DAYS, plus LEDGER_MARGIN_DAYS) are dropped. A
 * failure here costs nothing but space, so it is a warning.
 */
async function pruneLedger<R>(ports: JobPorts<R>, options: JobOptions, now: Date): Promise<void> {
  if (!ports.writer.pruneLedger) return;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const before = fromDate(new Date(today - (options.maxCatchupDays + LEDGER_MARGIN_DAYS) * 86_400_000));
  try {
    const pruned = await ports.writer.pruneLedger(before);
    if (pruned > 0) options.log.info('Ledger pruned', { before, pruned });
  } catch (error) {
    options.log.warn('Could not prune the ledger of sent findings; it is tried again at the next run', {
      before,
      error: messageOf(error),
    });
  }
}

/** Milliseconds spent in each phase of a window; `phase` is the one running (or that failed). */
class PhaseTimer {
  phase: JobPhase = 'pull';
  readonly durationsMs: Record<JobPhase, number> = {
    pull: 0,
    detect: 0,
    enrich: 0,
    write: 0,
    baseline: 0,
    checkpoint: 0,
  };

  async time<T>(phase: JobPhase, work: () => Promise<T> | T): Promise<T> {
    this.phase = phase;
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.durationsMs[phase] += Math.round(performance.now() - t0);
    }
  }
}

function perTable(f: (t: TableName) => number): Record<TableName, number> {
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, f(t)])) as Record<TableName, number>;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
