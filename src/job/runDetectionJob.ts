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
 * Every collaborator is passed in (see JobPorts), so the job is the same code in the
 * Functions host, in tests and on the command line; the clock is injected too.
 */
import { fromDate, type KqlDateTime } from '../detection/datetime';
import type { RunCommandFinding, TableName, TableRows } from '../detection/schema';
import { TABLE_NAMES } from '../detection/schema';
import type { VmEnrichment } from '../arm/vmEnrichment';
import { InvalidCheckpointError, parseDayBoundary, planWindows, type QueryWindow } from './windows';

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

export interface PulledWindowPort {
  tables: { [T in TableName]: TableRows[T][] };
  stats: { [T in TableName]: { rows: number; slices: number } };
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
  /** What the sink refused, in words a SOC engineer can act on. */
  errors?: ReadonlyArray<{ message: string }>;
}

export interface JobPorts<R> {
  checkpoints: CheckpointPort;
  /** True when `error` is the state store's "someone else changed the checkpoint" (409/412). */
  isConcurrencyConflict(error: unknown): boolean;
  source: { pullWindow(window: QueryWindow): Promise<PulledWindowPort> };
  /** The findings of one window (parity: the rule; corrected: new fingerprints against the baseline). */
  detect(tables: PulledWindowPort['tables'], window: QueryWindow): RunCommandFinding[] | Promise<RunCommandFinding[]>;
  /**
   * Corrected mode: stores the window's observations in the baseline, after its findings
   * were written and before the checkpoint moves (a failure leaves the window to be retried).
   */
  recordBaseline?: (window: QueryWindow) => Promise<void>;
  /** ARM enrichment per distinct Scope; absent when ENRICHMENT_ENABLED=false. */
  enrich?: (scopes: string[]) => Promise<Map<string, VmEnrichment>>;
  /** The findings record of one finding (src/ingestion toFindingRecord). */
  toRecord(
    finding: RunCommandFinding,
    context: { window: QueryWindow; timeGenerated: KqlDateTime; enrichment: VmEnrichment | undefined },
  ): R;
  writer: {
    /** Sends what earlier runs spooled; returns how many went out and how many are still spooled. */
    flushSpool(): Promise<{ sent: number; remaining: number; errors?: ReadonlyArray<{ message: string }> }>;
    write(records: R[]): Promise<WriteOutcomePort>;
    /** Forgets sent findings of windows that started before `before`; returns how many. */
    pruneLedger?(before: KqlDateTime): Promise<number>;
  };
}

/** What the job logs to; the Functions handler passes the InvocationContext's (see invocationLog.ts). */
export interface JobLog {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface JobOptions {
  now: () => Date;
  ingestionDelayMinutes: number;
  maxCatchupDays: number;
  /** 'parity' or 'corrected': written to the log. */
  detectionMode: string;
  checkpointName?: string;
  /** From the timer binding: logged only. */
  isPastDue?: boolean;
  log: JobLog;
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

export interface JobRunResult {
  /** Windows processed and checkpointed by this run, oldest first. */
  processed: WindowSummary[];
  skipped?: { start: KqlDateTime; end: KqlDateTime; days: number };
  /** Set when another invocation advanced the checkpoint first: this run stopped without error. */
  yieldedTo?: { window: QueryWindow };
  /** Set when a window failed: the checkpoint still points at its start. */
  failed?: { window: QueryWindow; phase: JobPhase; error: unknown };
  spool: { sent: number; remaining: number } | { error: string };
}

/** Thrown by the Functions handler when a run failed, so the invocation shows as failed. */
export class WindowFailedError extends Error {
  override readonly name = 'WindowFailedError';
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runDetectionJob<R>(ports: JobPorts<R>, options: JobOptions): Promise<JobRunResult> {
  const { log } = options;
  const checkpointName = options.checkpointName ?? DEFAULT_CHECKPOINT_NAME;
  const startedAt = options.now();
  log.info('Run Command detection run started', {
    now: startedAt.toISOString(),
    isPastDue: options.isPastDue ?? null,
    detectionMode: options.detectionMode,
  });

  // Spooled findings of earlier runs go first. A failure here is not the windows' fault:
  // the writer keeps them spooled, and this run carries on.
  let spool: JobRunResult['spool'];
  try {
    const flushed = await ports.writer.flushSpool();
    spool = { sent: flushed.sent, remaining: flushed.remaining };
    if (flushed.sent > 0 || flushed.remaining > 0) log.info('Spooled findings flushed', { ...spool });
    for (const e of flushed.errors ?? []) log.warn(`Spooled findings still refused: ${e.message}`);
  } catch (error) {
    spool = { error: messageOf(error) };
    log.warn('Could not flush the spool; its findings stay spooled for the next run', { error: messageOf(error) });
  }

  await pruneLedger(ports, options, startedAt);

  const checkpoint = await ports.checkpoints.getCheckpoint(checkpointName);
  let etag = checkpoint?.etag;
  let checkpointStart: Date | undefined;
  if (checkpoint) {
    checkpointStart = parseDayBoundary(checkpoint.value);
    if (!checkpointStart) throw new InvalidCheckpointError(checkpointName, checkpoint.value);
  }
  const plan = planWindows({
    checkpoint: checkpointStart,
    now: startedAt,
    ingestionDelayMinutes: options.ingestionDelayMinutes,
    maxCatchupDays: options.maxCatchupDays,
  });
  const result: JobRunResult = { processed: [], spool };
  if (plan.skipped) {
    result.skipped = plan.skipped;
    log.warn(
      `Skipping ${plan.skipped.days} day window(s) [${plan.skipped.start}, ${plan.skipped.end}): more than ` +
        `MAX_CATCHUP_DAYS=${options.maxCatchupDays} days behind; their findings are not written. To see them, run ` +
        `'runcommand-detect run --from ${plan.skipped.start} --to ${plan.skipped.end}' (prints, writes nothing). ` +
        `To have the job write them, raise MAX_CATCHUP_DAYS and set the Value of checkpoint '${checkpointName}' ` +
        `(state table, partition 'checkpoint') back to ${plan.skipped.start}.`,
      { ...plan.skipped },
    );
  }
  log.info(`${plan.windows.length} window(s) due`, {
    checkpoint: checkpoint?.value ?? null,
    windows: plan.windows.map((w) => w.start),
  });

  for (const window of plan.windows) {
    const durationsMs: Record<JobPhase, number> = {
      pull: 0,
      detect: 0,
      enrich: 0,
      write: 0,
      baseline: 0,
      checkpoint: 0,
    };
    let phase: JobPhase = 'pull';
    const timed = async <T>(p: JobPhase, work: () => Promise<T> | T): Promise<T> => {
      phase = p;
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        durationsMs[p] = Math.round(performance.now() - t0);
      }
    };
    try {
      const pulled = await timed('pull', () => ports.source.pullWindow(window));
      const findings = await timed('detect', () => ports.detect(pulled.tables, window));
      const enrichment = await timed('enrich', () =>
        ports.enrich ? ports.enrich([...new Set(findings.map((f) => f.Scope))]) : new Map<string, VmEnrichment>(),
      );
      const timeGenerated = fromDate(options.now());
      const records = findings.map((f) =>
        ports.toRecord(f, { window, timeGenerated, enrichment: ports.enrich ? enrichment.get(f.Scope) : undefined }),
      );
      const written = await timed('write', () => ports.writer.write(records));
      for (const e of written.errors ?? []) log.warn(`Findings spooled for the next run: ${e.message}`, { window });
      const inFlight = written.skippedInFlight ?? 0;
      const accounted =
        written.sent + written.skippedAlreadySent + written.spooled + (written.alreadySpooled ?? 0) + inFlight;
      // Findings of one window are distinct (two equal rows share a fingerprint, and
      // `where HashCount == 1` drops both), so every record must be accounted for.
      if (accounted < records.length) {
        throw new Error(
          `the findings writer accounted for ${accounted} of ${records.length} findings ` +
            `(sent ${written.sent}, already sent ${written.skippedAlreadySent}, spooled ${written.spooled})`,
        );
      }
      if (inFlight > 0) {
        // Another invocation claimed some of this window's findings and is sending them.
        // Advancing the checkpoint now could lose them if it died: leave the window to it
        // (or, should it die, to the next run, once its claims' lease has run out).
        log.warn(
          `Another invocation is writing ${inFlight} finding(s) of [${window.start}, ${window.end}); ` +
            `leaving this window and the checkpoint to it.`,
          { window },
        );
        result.yieldedTo = { window };
        return result;
      }
      if (ports.recordBaseline) await timed('baseline', () => ports.recordBaseline!(window));
      try {
        etag = await timed('checkpoint', () => ports.checkpoints.putCheckpoint(checkpointName, window.end, etag));
      } catch (error) {
        if (!ports.isConcurrencyConflict(error)) throw error;
        // Another invocation (replayed occurrence, second app) advanced the checkpoint
        // since we read it. Its writes and ours were de-duplicated by the ledger; the
        // windows from here on are its to process.
        log.warn(
          `Another invocation advanced checkpoint '${checkpointName}' while this one processed ` +
            `[${window.start}, ${window.end}); stopping and leaving the remaining windows to it.`,
          { window },
        );
        result.yieldedTo = { window };
        return result;
      }
      const summary: WindowSummary = {
        window,
        rows: perTable((t) => pulled.stats[t]?.rows ?? pulled.tables[t].length),
        slices: perTable((t) => pulled.stats[t]?.slices ?? 0),
        findings: findings.length,
        written: written.sent,
        alreadySent: written.skippedAlreadySent,
        spooled: written.spooled,
        enrichment: countBy(
          findings.map((f) => (ports.enrich ? (enrichment.get(f.Scope)?.status ?? 'error') : 'disabled')),
        ),
        durationsMs,
      };
      result.processed.push(summary);
      log.info('Window processed', { ...summary });
      for (const [scope, e] of enrichment) {
        if (e.status !== 'ok') log.warn(`VM enrichment ${e.status}: ${e.detail ?? scope}`, { scope, status: e.status });
      }
    } catch (error) {
      result.failed = { window, phase, error };
      log.error(`Window [${window.start}, ${window.end}) failed while ${PHASE_WORDS[phase]}; checkpoint not advanced`, {
        window,
        phase,
        error: messageOf(error),
        errorType: error instanceof Error ? error.name : typeof error,
      });
      return result;
    }
  }
  return result;
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

function perTable(f: (t: TableName) => number): Record<TableName, number> {
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, f(t)])) as Record<TableName, number>;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
