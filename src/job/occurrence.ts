/**
 * One occurrence of the daily job, the same code whoever starts it: the timer handler
 * in the Functions host (src/job/timerOccurrence.ts) and `runcommand-detect job`
 * (src/cli/job.ts). Builds the collaborators from the validated settings, runs the due
 * windows, and writes the run's health records.
 *
 * What runs:
 * - by default, the windows due from the checkpoint (what the timer runs);
 * - `backfill`: the days [from, to) instead, through the real writer, whose ledger
 *   sends each finding once, with a checkpoint of their own: the job's does not move;
 * - `dryRun` (with either): the windows pulled and detected, their findings records
 *   returned instead of sent; nothing is written (no findings, no ledger, no
 *   checkpoint, no baseline, no health records).
 */
import { randomUUID } from 'node:crypto';
import type { JobConfig } from '../config/settings';
import { fromDate } from '../detection/datetime';
import { messageOf } from '../shared/errors';
import type { Log } from '../shared/log';
import { packageVersion } from '../shared/version';
import { ConcurrencyConflictError, StateStore } from '../stateStore';
import { createJobPorts, type JobHostOverrides, type JobWiring } from './createJobPorts';
import { toHealthRecords } from './healthRecords';
import { runDetectionJob, type JobPorts, type JobRunResult } from './runDetectionJob';
import { parseDayBoundary } from './windows';
import type { FindingRecord, OutgoingFinding } from '../ingestion';

export interface OccurrenceRequest {
  /** From the timer binding: logged only. */
  isPastDue?: boolean;
  /** Send nothing, move nothing: return the records that would be sent. */
  dryRun?: boolean;
  /** Process these UTC days [from, to) instead of the days due from the checkpoint. */
  backfill?: { from: string; to: string };
}

export interface OccurrenceResult {
  run: JobRunResult;
  /** dryRun: the findings records that would have been sent, in window order. */
  wouldSend: FindingRecord[];
}

const DAY_MS = 86_400_000;

export async function runOccurrence(
  config: JobConfig,
  occurrence: OccurrenceRequest,
  log: Log,
  host: JobHostOverrides = {},
): Promise<OccurrenceResult> {
  const now = host.now ?? (() => new Date());
  const startedAt = now();
  const wiring = await createJobPorts(config, host, log);
  const wouldSend: FindingRecord[] = [];
  const { ports, checkpointName, options } = await occurrencePorts(wiring, occurrence, wouldSend);
  const run = await runDetectionJob(ports, {
    now: options.now ?? now,
    ingestionDelayMinutes: options.ingestionDelayMinutes ?? config.ingestionDelayMinutes,
    maxCatchupDays: options.maxCatchupDays ?? config.maxCatchupDays,
    checkpointName,
    isPastDue: occurrence.isPastDue,
    settleAfterHours: config.settleAfterHours,
    sourceLowPercent: config.sourceLowPercent,
    detectionStartDate: config.detectionStartDate,
    log,
  });
  if (!occurrence.dryRun) await writeHealth(wiring, run, config, startedAt, now, log);
  return { run, wouldSend };
}

interface OccurrenceWiring {
  ports: JobPorts<OutgoingFinding>;
  checkpointName: string;
  options: { now?: () => Date; ingestionDelayMinutes?: number; maxCatchupDays?: number };
}

async function occurrencePorts(
  wiring: JobWiring,
  occurrence: OccurrenceRequest,
  wouldSend: FindingRecord[],
): Promise<OccurrenceWiring> {
  const chosen: OccurrenceWiring = occurrence.backfill
    ? await backfillPorts(wiring.ports, wiring.checkpointName, occurrence.backfill.from, occurrence.backfill.to)
    : { ports: wiring.ports, checkpointName: wiring.checkpointName, options: {} };
  if (occurrence.dryRun) chosen.ports = await dryRunPorts(chosen.ports, chosen.checkpointName, wouldSend);
  return chosen;
}

/**
 * The job's checkpoint copied into memory (so the same windows are due), the writer
 * collecting instead of sending, and corrected mode's baseline read but not stored.
 */
async function dryRunPorts(
  ports: JobPorts<OutgoingFinding>,
  checkpointName: string,
  wouldSend: FindingRecord[],
): Promise<JobPorts<OutgoingFinding>> {
  const memory = await StateStore.open({ kind: 'memory' });
  const current = await ports.checkpoints.getCheckpoint(checkpointName);
  if (current) await memory.putCheckpoint(checkpointName, current.value, undefined);
  return {
    ...ports,
    checkpoints: memory,
    isConcurrencyConflict: (e) => e instanceof ConcurrencyConflictError,
    detection: { mode: ports.detection.mode, detectorFor: (w) => ports.detection.detectorFor(w) },
    writer: {
      flushSpool: async () => ({ sent: 0, remaining: 0 }),
      write: async (records) => {
        wouldSend.push(...records.map((r) => r.record));
        return { sent: records.length, skippedAlreadySent: 0, spooled: 0 };
      },
    },
  };
}

/** Backfill: its own checkpoint in memory at `from`, every day up to `to` due, the real writer. */
async function backfillPorts(
  ports: JobPorts<OutgoingFinding>,
  checkpointName: string,
  from: string,
  to: string,
): Promise<OccurrenceWiring> {
  const first = parseDayBoundary(from);
  const end = parseDayBoundary(to);
  if (!first || !end || end <= first) throw new TypeError(`backfill needs whole UTC days, from before to`);
  const memory = await StateStore.open({ kind: 'memory' });
  const backfillCheckpoint = `${checkpointName}-backfill`;
  await memory.putCheckpoint(backfillCheckpoint, from, undefined);
  return {
    ports: { ...ports, checkpoints: memory, isConcurrencyConflict: (e) => e instanceof ConcurrencyConflictError },
    checkpointName: backfillCheckpoint,
    // "Now" is the end of the last day, with no delay: exactly the days asked for are due.
    options: {
      now: () => end,
      ingestionDelayMinutes: 0,
      maxCatchupDays: Math.round((end.getTime() - first.getTime()) / DAY_MS),
    },
  };
}

async function writeHealth(
  wiring: JobWiring,
  run: JobRunResult,
  config: JobConfig,
  startedAt: Date,
  now: () => Date,
  log: Log,
): Promise<void> {
  const records = toHealthRecords(run, {
    runId: randomUUID(),
    timeGenerated: fromDate(now()),
    version: packageVersion(),
    mode: config.detectionMode,
    durationMs: now().getTime() - startedAt.getTime(),
  });
  const error = await wiring.health.send(records).catch((e: unknown) => e);
  if (error) {
    log.error(
      `Could not write ${records.length} health record(s) to RunCommandDetectionHealth_CL: ${messageOf(error)} ` +
        `The health alerts will count this run as missing.`,
      { records: records.length },
    );
  }
}

/** What a dry run found, for the command line: the records, one JSON object a line. */
export function formatWouldSend(records: readonly FindingRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}
