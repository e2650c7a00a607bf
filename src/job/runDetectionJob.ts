/**
 * One run of the daily detection job: flush the spool, then for every due day window
 * from the checkpoint on, oldest first — pull, detect, enrich, write, advance the
 * checkpoint. Correct whatever the timer does:
 *
 * - late or skipped occurrences: the windows come from the checkpoint, never from the
 *   schedule, so missed days are caught up (up to MAX_CATCHUP_DAYS; older days are
 *   skipped, which fails the invocation and says how to backfill them). `isPastDue`
 *   is logged, never relied on;
 * - late rows: after the due windows, the days processed earlier whose settle pass is
 *   due (SETTLE_AFTER_HOURS after they ended, ./settle) are pulled and detected again;
 *   what they yield that was not sent yet is written, and a finding sent earlier that
 *   the more complete day no longer yields is reported as superseded (never retracted);
 * - a first run fixes its first window (stores it as the checkpoint) before processing
 *   it, so a first run that dies does not let that day slip away;
 * - a source gap (a table with no rows at all in a window) and a table far below its
 *   recent days are health events; rows the engine cannot evaluate are quarantined;
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
import type { Quarantine } from '../detection/detector';
import {
  CORRECTED_TABLE_NAMES,
  TABLE_NAMES,
  type DetectionMode,
  type QueryWindow,
  type TableName,
  type TableRecord,
} from '../detection/schema';
import { AppError, errorTypeOf, messageOf } from '../shared/errors';
import type { Log } from '../shared/log';
import { HealthEvents, type HealthEvent } from './health';
import { RunAllowlist, type AllowlistPort } from './allowlist';
import {
  checkNotInFuture,
  dueBoundary,
  firstWindowStart,
  InvalidCheckpointError,
  parseDayBoundary,
  planWindows,
  type SkippedDays,
} from './windows';
import {
  DEFAULT_SETTLE_AFTER_HOURS,
  DEFAULT_SOURCE_LOW_PERCENT,
  EMPTY_HISTORY,
  HISTORY_SUFFIX,
  lowTables,
  parseHistory,
  recordPull,
  recordVolume,
  serializeHistory,
  settlePassesDue,
  type WindowHistory,
} from './settle';

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
export type PullStats = TableRecord<{ rows: number; slices: number }>;

/** Where a window's rows come from: they are added to `rows` as they arrive. */
export interface WindowSource {
  pullWindowInto(window: QueryWindow, rows: RowSink): Promise<PullStats>;
  /**
   * Rows each table has in the window at all, without the rule's filters (source
   * health: a table with none is a source gap). Absent: no source-health events.
   */
  countWindow?(window: QueryWindow): Promise<Partial<Record<TableName, number>>>;
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
  /** The FindingId of a record (the ledger's key); needed to report superseded findings. */
  findingIdOf?(record: R): string;
  /** ALLOWLIST_WATCHLIST: read once per run; a record an entry in force matches is not written (./allowlist). */
  allowlist?: AllowlistPort<R>;
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
    /** FindingIds the ledger holds (sent, sending or spooled) for the window starting at `windowStart`. */
    sentFindingIds?(windowStart: KqlDateTime): Promise<ReadonlySet<string>>;
  };
}

export interface JobOptions {
  now: () => Date;
  ingestionDelayMinutes: number;
  maxCatchupDays: number;
  checkpointName?: string;
  /** From the timer binding: logged only. */
  isPastDue?: boolean;
  /**
   * SETTLE_AFTER_HOURS: each processed day is queried again this many hours after it
   * ended. Default 6, 24, 72 (DEFAULT_SETTLE_AFTER_HOURS); empty: no settle passes.
   */
  settleAfterHours?: readonly number[];
  /** SOURCE_LOW_PERCENT: a table below this percent of its recent days' median is a warning. Default 10. */
  sourceLowPercent?: number;
  /** DETECTION_START_DATE: the first window when there is no checkpoint (default: the latest complete day). */
  detectionStartDate?: KqlDateTime;
  log: Log;
}

export type JobPhase = 'pull' | 'detect' | 'enrich' | 'write' | 'baseline' | 'checkpoint';

/** The structured line logged after each window. */
export interface WindowSummary {
  window: QueryWindow;
  /** 'main': the window's first processing (it moved the checkpoint); 'settle': a settle pass. */
  pass: WindowPass;
  /** Rows pulled per table: those the rule's filters keep (pushed down to the query). */
  rows: TableRecord<number>;
  /** Rows per table in the window at all, without the rule's filters (when the source counts them). */
  tableRows?: Partial<Record<TableName, number>>;
  /** Rows the engine could not evaluate, set aside. */
  quarantined: number;
  slices: TableRecord<number>;
  findings: number;
  /** Findings the allowlist suppressed: not written (./allowlist). */
  allowlisted: number;
  written: number;
  alreadySent: number;
  spooled: number;
  enrichment: Record<string, number>;
  durationsMs: Record<JobPhase, number>;
}

export type WindowPass = 'main' | 'settle';

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
  /** Settle passes this run made over days processed earlier, oldest first. */
  settled: WindowSummary[];
  /** Due windows older than MAX_CATCHUP_DAYS, not processed; null when none. */
  skipped: SkippedDays | null;
  spool: SpoolFlush;
  /** What the run saw that a SOC must be told of (also logged as it happened). */
  events: HealthEvent[];
} & (
  | { outcome: 'completed' }
  /** Another invocation took over: this run stopped without error. */
  | { outcome: 'yielded'; window: QueryWindow }
  /** A window failed: the checkpoint still points at its start (a failed settle pass is retried next run). */
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

/**
 * Thrown by the Functions handler when the run skipped days beyond MAX_CATCHUP_DAYS: their
 * findings are lost unless backfilled, so the invocation fails (once: the checkpoint
 * has moved past them). The message says how to backfill them.
 */
export class SkippedDaysError extends AppError {
  constructor(
    readonly skipped: SkippedDays,
    message: string,
  ) {
    super(message);
  }
}

/** The error the invocation must fail with, if the run did not do all it should have. */
export function runFailure(result: JobRunResult): AppError | undefined {
  if (result.outcome === 'failed') return new WindowFailedError(result.window, result.phase, result.error);
  if (result.skipped) {
    const event = result.events.find((e) => e.kind === 'skipped-days');
    return new SkippedDaysError(result.skipped, event?.message ?? `Skipped ${result.skipped.days} day window(s)`);
  }
  return undefined;
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
  const settleHours = options.settleAfterHours ?? DEFAULT_SETTLE_AFTER_HOURS;
  const startedAt = options.now();
  log.info('Run Command detection run started', {
    now: startedAt.toISOString(),
    isPastDue: options.isPastDue ?? null,
    detectionMode: ports.detection.mode,
  });
  const spool = await flushSpool(ports, log, events);
  await pruneLedger(ports, options, startedAt);

  const checkpoint = await startingCheckpoint(ports, options, checkpointName, startedAt);
  const plan = planWindows({
    checkpoint: checkpoint?.day,
    now: startedAt,
    ingestionDelayMinutes: options.ingestionDelayMinutes,
    maxCatchupDays: options.maxCatchupDays,
  });
  if (plan.skipped) reportSkipped(events, plan.skipped, checkpointName, options.maxCatchupDays);
  log.info(`${plan.windows.length} window(s) due`, {
    checkpoint: checkpoint?.value ?? null,
    windows: plan.windows.map((w) => w.start),
  });
  const history = new HistoryKeeper(ports, checkpointName + HISTORY_SUFFIX, log);
  await history.load();
  // The planned windows are pulled now: their settle passes count from now on.
  if (plan.windows.length > 0) {
    await history.update((h) => plan.windows.reduce((acc, w) => recordPull(acc, w, startedAt, settleHours), h));
  }

  const processed: WindowSummary[] = [];
  const settled: WindowSummary[] = [];
  const base = () => ({ processed, settled, skipped: plan.skipped ?? null, spool, events: events.events });
  const allowlist = new RunAllowlist(ports.allowlist, events, options.now, log);
  const common = { checkpointName, now: options.now, log, events, lowPercent: options.sourceLowPercent, allowlist };
  let etag = checkpoint?.etag;
  for (const window of plan.windows) {
    const outcome = await processWindow(ports, { ...common, window, etag, pass: 'main', history: history.current });
    switch (outcome.kind) {
      case 'processed':
        processed.push(outcome.summary);
        etag = outcome.etag;
        await history.tryUpdate((h) => recordVolumeOf(h, outcome.summary));
        break;
      case 'yielded':
        return { ...base(), outcome: 'yielded', window: outcome.window };
      case 'failed':
        return { ...base(), outcome: 'failed', window: outcome.window, phase: outcome.phase, error: outcome.error };
    }
  }

  // Settle passes over the days processed before this run's (nothing is due yet for those just done).
  const checkpointEnd = processed.at(-1)?.window.end ?? checkpoint?.value;
  const due = settlePassesDue(
    history.current,
    startedAt,
    settleHours,
    checkpointEnd === undefined ? undefined : parseDayBoundary(checkpointEnd),
  );
  if (due.length > 0) log.info(`${due.length} settle pass(es) due`, { windows: due.map((w) => w.start) });
  let settleFailure: Extract<WindowOutcome, { kind: 'failed' }> | undefined;
  for (const window of due) {
    const ctx = { ...common, window, etag: undefined, pass: 'settle' as const, history: history.current };
    const outcome = await processWindow(ports, ctx);
    if (outcome.kind === 'processed') {
      settled.push(outcome.summary);
      await history.tryUpdate((h) => recordVolumeOf(recordPull(h, window, startedAt, settleHours), outcome.summary));
    } else if (outcome.kind === 'failed') {
      // Still due: the next run tries it again. The other days' passes go on.
      settleFailure ??= outcome;
    }
  }
  if (settleFailure) {
    const { window, phase, error } = settleFailure;
    return { ...base(), outcome: 'failed', window, phase, error };
  }
  return { ...base(), outcome: 'completed' };
}

function recordVolumeOf(history: WindowHistory, summary: WindowSummary): WindowHistory {
  return summary.tableRows ? recordVolume(history, summary.window, summary.tableRows) : history;
}

/**
 * The checkpoint the run starts from. With none stored, the first window is fixed now
 * (DETECTION_START_DATE, else the latest complete day) and stored before it is
 * processed; if another invocation stored one first, that one is read and used. A
 * stored checkpoint that is no day boundary, not a string, or in the future fails the
 * invocation with what to do.
 */
async function startingCheckpoint<R>(
  ports: JobPorts<R>,
  options: JobOptions,
  name: string,
  now: Date,
): Promise<{ day: Date; value: string; etag: string | undefined }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const stored = await ports.checkpoints.getCheckpoint(name);
    if (stored) {
      const day = checkpointDay(name, stored.value);
      checkNotInFuture(name, stored.value, day, now, options.ingestionDelayMinutes);
      return { day, value: stored.value, etag: stored.etag };
    }
    const first = firstWindowStart({
      now,
      ingestionDelayMinutes: options.ingestionDelayMinutes,
      detectionStartDate: options.detectionStartDate,
    });
    const value = fromDate(first);
    if (first.getTime() >= dueBoundary(now, options.ingestionDelayMinutes).getTime()) {
      options.log.info(`No checkpoint yet; the first window starts ${value} and is not due yet`, { first: value });
      return { day: first, value, etag: undefined };
    }
    try {
      const etag = await ports.checkpoints.putCheckpoint(name, value, undefined);
      options.log.info(`No checkpoint yet: the first window, from ${value}, is fixed in checkpoint '${name}'`, {
        first: value,
      });
      return { day: first, value, etag };
    } catch (error) {
      if (!ports.isConcurrencyConflict(error)) throw error;
      // Another invocation stored the first window meanwhile: read it and go on from there.
    }
  }
  throw new Error(`checkpoint '${name}' kept changing while this run read it; the next run tries again`);
}

function checkpointDay(name: string, value: string): Date {
  const day = parseDayBoundary(value);
  if (!day) throw new InvalidCheckpointError(name, value);
  return day;
}

/** The window history entity (./settle), read once and updated with ETags. */
class HistoryKeeper<R> {
  current: WindowHistory = EMPTY_HISTORY;
  private etag: string | undefined;

  constructor(
    private readonly ports: JobPorts<R>,
    private readonly name: string,
    private readonly log: Log,
  ) {}

  async load(): Promise<void> {
    const stored = await this.ports.checkpoints.getCheckpoint(this.name);
    this.current = stored ? parseHistory(this.name, stored.value) : EMPTY_HISTORY;
    this.etag = stored?.etag;
  }

  /** Applies `change` to the stored history; on a concurrent change, re-reads and applies it again. */
  async update(change: (h: WindowHistory) => WindowHistory): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const next = change(this.current);
      try {
        this.etag = await this.ports.checkpoints.putCheckpoint(this.name, serializeHistory(next), this.etag);
        this.current = next;
        return;
      } catch (error) {
        if (!this.ports.isConcurrencyConflict(error)) throw error;
        await this.load();
      }
    }
    throw new Error(`the window history '${this.name}' kept changing under this run`);
  }

  /** `update`, where a failure costs only a repeated settle pass or a row-count comparison: a warning. */
  async tryUpdate(change: (h: WindowHistory) => WindowHistory): Promise<void> {
    try {
      await this.update(change);
    } catch (error) {
      this.log.warn(`Could not update the window history '${this.name}'; the next run may repeat a settle pass`, {
        error: messageOf(error),
      });
    }
  }
}

interface WindowContext {
  window: QueryWindow;
  /** The checkpoint's ETag (main pass; a settle pass never moves the checkpoint). */
  etag: string | undefined;
  pass: WindowPass;
  /** The window history as it stood before this window (for "far below its recent days"). */
  history?: WindowHistory;
  /** SOURCE_LOW_PERCENT. */
  lowPercent?: number;
  checkpointName: string;
  now: () => Date;
  log: Log;
  events: HealthEvents;
  /** The run's allowlist (read once, at the run's first window). */
  allowlist?: RunAllowlist<unknown>;
}

/**
 * One window: pull into its detector, detect, enrich, write, store the baseline, advance
 * the checkpoint. A settle pass (`ctx.pass === 'settle'`) does the same up to the write,
 * then reports the findings the complete day no longer yields, and leaves the baseline
 * and the checkpoint alone.
 */
export async function processWindow<R>(ports: JobPorts<R>, ctx: WindowContext): Promise<WindowOutcome> {
  const { window, log } = ctx;
  const timer = new PhaseTimer();
  try {
    const detector = await timer.time('detect', () => ports.detection.detectorFor(window));
    const stats = await timer.time('pull', () => ports.source.pullWindowInto(window, detector));
    const tableRows = await timer.time('pull', () => ports.source.countWindow?.(window));
    const result = await timer.time('detect', () => detector.finish());
    if (tableRows) reportSourceHealth(ctx, tableRows);
    const quarantined = reportQuarantine(ctx, result.quarantine);
    const findings = result.findings;
    const enrichment = await timer.time('enrich', () => enrich(ports, findings));
    const timeGenerated = fromDate(ctx.now());
    const records = findings.map((f) =>
      ports.toRecord(f, { window, mode: result.mode, timeGenerated, enrichment: enrichment?.get(f.finding.Scope) }),
    );
    const allowlist = ctx.allowlist as RunAllowlist<R> | undefined;
    const { kept, allowlisted } = allowlist
      ? await timer.time('write', () => allowlist.apply(records, window, ctx.pass, ports.findingIdOf))
      : { kept: records, allowlisted: [] };
    const written = await timer.time('write', () => writeRecords(ports, ctx, kept));
    if (ctx.pass === 'settle' && result.mode === 'parity') {
      // Every record the day yields: one the allowlist suppresses now is not "superseded".
      await timer.time('write', () => reportSuperseded(ports, ctx, records));
    }
    if ((written.skippedInFlight ?? 0) > 0) return yieldToWriter(ctx, written.skippedInFlight!);
    let etag = '';
    if (ctx.pass === 'main') {
      // A settle pass neither re-records the baseline (its window is in it already) nor moves the checkpoint.
      if (ports.detection.recordBaseline)
        await timer.time('baseline', () => ports.detection.recordBaseline!(window, result.observations));
      const advanced = await timer.time('checkpoint', () => advanceCheckpoint(ports, ctx));
      if (advanced === undefined) return { kind: 'yielded', window, reason: 'checkpointMoved' };
      etag = advanced;
    }
    const summary: WindowSummary = {
      window,
      pass: ctx.pass,
      rows: perTable(stats, (s) => s.rows),
      ...(tableRows ? { tableRows } : {}),
      quarantined,
      slices: perTable(stats, (s) => s.slices),
      findings: findings.length,
      allowlisted: allowlisted.length,
      written: written.sent,
      alreadySent: written.skippedAlreadySent,
      spooled: written.spooled,
      enrichment: enrichmentCounts(findings, enrichment),
      durationsMs: timer.durationsMs,
    };
    log.info(ctx.pass === 'main' ? 'Window processed' : 'Settle pass processed', { ...summary });
    for (const [scope, e] of enrichment ?? []) {
      if (e.status !== 'ok') log.warn(`VM enrichment ${e.status}: ${e.detail ?? scope}`, { scope, status: e.status });
    }
    return { kind: 'processed', summary, etag };
  } catch (error) {
    const phase = timer.phase;
    ctx.events.emit({
      kind: 'window-failed',
      severity: 'failure',
      message:
        ctx.pass === 'main'
          ? `Window [${window.start}, ${window.end}) failed while ${PHASE_WORDS[phase]}; checkpoint not advanced`
          : `Settle pass over [${window.start}, ${window.end}) failed while ${PHASE_WORDS[phase]}; the next run tries it again`,
      window,
      phase,
      ...tableOf(error),
      details: { error: messageOf(error), errorType: errorTypeOf(error), pass: ctx.pass },
    });
    return { kind: 'failed', window, phase, error };
  }
}

/** Sends the window's records; what the sink refused is spooled and reported. */
async function writeRecords<R>(ports: JobPorts<R>, ctx: WindowContext, records: R[]): Promise<WriteOutcomePort> {
  const written = await ports.writer.write(records);
  for (const e of written.errors ?? []) {
    ctx.events.emit({
      kind: 'write-refused',
      severity: 'warning',
      message: `Findings spooled for the next run: ${e.message}`,
      window: ctx.window,
    });
  }
  checkAccounted(written, records.length);
  return written;
}

/**
 * Another invocation claimed some of this window's findings and is sending them.
 * Advancing the checkpoint now could lose them if it died: leave the window to it (or,
 * should it die, to the next run, once its claims' lease has run out).
 */
function yieldToWriter(ctx: WindowContext, inFlight: number): WindowOutcome {
  const { window } = ctx;
  ctx.log.warn(
    `Another invocation is writing ${inFlight} finding(s) of [${window.start}, ${window.end}); ` +
      `leaving this window and the checkpoint to it.`,
    { window },
  );
  return { kind: 'yielded', window, reason: 'findingsInFlight' };
}

/** Findings per enrichment status ('disabled' when enrichment is off). */
function enrichmentCounts(
  findings: readonly DetectedFinding[],
  enrichment: Map<string, VmEnrichment> | undefined,
): Record<string, number> {
  return countBy(findings.map((f) => (enrichment ? (enrichment.get(f.finding.Scope)?.status ?? 'error') : 'disabled')));
}

/** The table an error names (a slice that failed, a row budget exceeded), for the event. */
function tableOf(error: unknown): { table?: TableName } {
  const table = (error as { table?: unknown } | null)?.table;
  return typeof table === 'string' && (TABLE_NAMES as readonly string[]).includes(table)
    ? { table: table as TableName }
    : {};
}

/** Where a table's rows come from, and what to check when it has none. */
const CONNECTOR_ADVICE: Record<TableName, string> = {
  AzureActivity:
    "check the diagnostic setting that sends each subscription's Activity log to this workspace " +
    '(Microsoft Sentinel: the "Azure Activity" data connector), for every subscription whose VMs are watched',
  DeviceFileEvents:
    'check the Microsoft Defender XDR data connector in Microsoft Sentinel (DeviceFileEvents must be selected ' +
    'under "Microsoft Defender for Endpoint") and that the VMs are onboarded to Defender for Endpoint',
  DeviceEvents:
    'check the Microsoft Defender XDR data connector in Microsoft Sentinel (DeviceEvents must be selected ' +
    'under "Microsoft Defender for Endpoint") and that the VMs are onboarded to Defender for Endpoint',
  DeviceProcessEvents:
    'check the Microsoft Defender XDR data connector in Microsoft Sentinel (DeviceProcessEvents must be selected ' +
    'under "Microsoft Defender for Endpoint") and that the Linux VMs are onboarded to Defender for Endpoint',
};

/**
 * A table with no rows at all in the window cannot be told from a quiet one by the rule:
 * a failure-level source gap (the window is still processed; the settle passes look
 * again). A table far below its recent days is a warning (SOURCE_LOW_PERCENT).
 */
function reportSourceHealth(ctx: WindowContext, tableRows: Partial<Record<TableName, number>>): void {
  const { window } = ctx;
  const span = `[${window.start}, ${window.end})`;
  for (const table of TABLE_NAMES) {
    if (tableRows[table] !== 0) continue;
    ctx.events.emit({
      kind: 'source-gap',
      severity: 'failure',
      message:
        `${table} has no rows at all in ${span}: its findings cannot be seen, so "0 findings" means nothing ` +
        `for this day. ${CONNECTOR_ADVICE[table][0]!.toUpperCase()}${CONNECTOR_ADVICE[table].slice(1)}. ` +
        `The window was processed; the settle passes query it again.`,
      window,
      table,
      details: { rows: 0, pass: ctx.pass },
    });
  }
  const percent = ctx.lowPercent ?? DEFAULT_SOURCE_LOW_PERCENT;
  for (const low of lowTables(ctx.history ?? EMPTY_HISTORY, window, tableRows, percent)) {
    ctx.events.emit({
      kind: 'source-low',
      severity: 'warning',
      message:
        `${low.table} has ${low.rows} rows in ${span}, below ${percent}% of its median of ${low.median} ` +
        `over the ${low.windows} days before (SOURCE_LOW_PERCENT=${percent}): part of its sources may have ` +
        `stopped sending; ${CONNECTOR_ADVICE[low.table]}.`,
      window,
      table: low.table,
      details: { rows: low.rows, median: low.median, windows: low.windows, percent, pass: ctx.pass },
    });
  }
}

/** Rows the detector set aside: one warning per table, with the first rows' time and text. Returns the count. */
function reportQuarantine(ctx: WindowContext, quarantine: Quarantine | undefined): number {
  if (!quarantine) return 0;
  let total = 0;
  for (const table of CORRECTED_TABLE_NAMES) {
    const count = quarantine.count[table] ?? 0;
    if (count === 0) continue;
    total += count;
    const samples = quarantine.samples.filter((r) => r.table === table);
    ctx.events.emit({
      kind: 'quarantined-rows',
      severity: 'warning',
      message:
        `${count} ${table} row(s) of [${ctx.window.start}, ${ctx.window.end}) could not be evaluated and were ` +
        `set aside; the rest of the window was processed. First: TimeGenerated ${samples[0]?.TimeGenerated ?? '?'}, ` +
        `${samples[0]?.error ?? ''}: ${samples[0]?.excerpt ?? ''}`,
      window: ctx.window,
      table,
      details: { count, samples, pass: ctx.pass },
    });
  }
  return total;
}

/**
 * A settle pass: findings sent for this window earlier that the more complete day no
 * longer yields (e.g. a script whose fingerprint the late rows show twice) are not
 * retracted (the incident exists); each is reported as superseded.
 */
async function reportSuperseded<R>(ports: JobPorts<R>, ctx: WindowContext, records: readonly R[]): Promise<void> {
  if (!ports.findingIdOf || !ports.writer.sentFindingIds) return;
  const sent = await ports.writer.sentFindingIds(ctx.window.start);
  const yielded = new Set(records.map((r) => ports.findingIdOf!(r)));
  for (const findingId of sent) {
    if (yielded.has(findingId)) continue;
    ctx.events.emit({
      kind: 'superseded-finding',
      severity: 'warning',
      message:
        `Finding ${findingId} of [${ctx.window.start}, ${ctx.window.end}) was sent, but the day as it stands now ` +
        `no longer yields it (rows that arrived late changed the result, e.g. its script fingerprint is now seen ` +
        `twice). It is not retracted: review its incident with that in mind.`,
      window: ctx.window,
      details: { findingId },
    });
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
      `(state table, partition 'checkpoint') back to ${skipped.start}. This invocation fails so that the loss ` +
      `is seen; the checkpoint has moved past these days, so the next run does not skip them again.`,
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

/** One figure per table pulled (the rule's three; DeviceProcessEvents in corrected mode). */
function perTable(stats: PullStats, f: (s: { rows: number; slices: number }) => number): TableRecord<number> {
  return Object.fromEntries(
    CORRECTED_TABLE_NAMES.filter((t) => stats[t] !== undefined).map((t) => [t, f(stats[t]!)]),
  ) as TableRecord<number>;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
