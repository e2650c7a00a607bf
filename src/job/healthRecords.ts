/**
 * The health records of a run, one row each of RunCommandDetectionHealth_CL
 * (infra/health-table.json): one `run` record (how it ended, spool), one `window`
 * record per window it processed, failed, yielded or skipped, and one `event` record
 * per health event (src/job/health.ts). The alert rules of infra/bicep count these
 * rows: no processed window in 26 hours, a failed or skipped window, a source gap, a
 * stale spool. Pure: the same result and metadata always give the same rows.
 */
import healthTable from '../../infra/health-table.json';
import type { KqlDateTime } from '../detection/datetime';
import type { DetectionMode, TableName } from '../detection/schema';
import { messageOf } from '../shared/errors';
import type { HealthEvent } from './health';
import type { JobRunResult, WindowSummary } from './runDetectionJob';

export type HealthRecordKind = 'run' | 'window' | 'event';

/** One row of RunCommandDetectionHealth_CL, in the table's column order. */
export interface HealthRecord {
  TimeGenerated: KqlDateTime;
  RecordKind: HealthRecordKind;
  RunId: string;
  /** run: ok | failed | nothing-due; window: processed | failed | yielded | skipped; event: its kind. */
  Outcome: string;
  EventKind: string;
  Severity: 'info' | 'warning' | 'failure';
  WindowStart: KqlDateTime | null;
  WindowEnd: KqlDateTime | null;
  Phase: string;
  TableName: string;
  Message: string;
  RowsAll: Partial<Record<TableName, number>> | null;
  RowsKept: Partial<Record<TableName, number>> | null;
  Findings: number | null;
  FindingsSent: number | null;
  FindingsAlreadySent: number | null;
  FindingsSpooled: number | null;
  /** Findings the allowlist suppressed (not written). */
  AllowlistedFindings: number | null;
  SpoolSize: number | null;
  SpoolOldestAgeHours: number | null;
  DurationsMs: Record<string, number> | null;
  Version: string;
  DetectionMode: DetectionMode;
  Details: Record<string, unknown> | null;
}

export interface HealthRecordContext {
  runId: string;
  timeGenerated: KqlDateTime;
  version: string;
  mode: DetectionMode;
  /** The run's own duration, for the run record. */
  durationMs?: number;
}

const EMPTY: Omit<
  HealthRecord,
  'TimeGenerated' | 'RecordKind' | 'RunId' | 'Outcome' | 'Severity' | 'Version' | 'DetectionMode'
> = {
  EventKind: '',
  WindowStart: null,
  WindowEnd: null,
  Phase: '',
  TableName: '',
  Message: '',
  RowsAll: null,
  RowsKept: null,
  Findings: null,
  FindingsSent: null,
  FindingsAlreadySent: null,
  FindingsSpooled: null,
  AllowlistedFindings: null,
  SpoolSize: null,
  SpoolOldestAgeHours: null,
  DurationsMs: null,
  Details: null,
};

export function toHealthRecords(result: JobRunResult, context: HealthRecordContext): HealthRecord[] {
  const base = {
    ...EMPTY,
    TimeGenerated: context.timeGenerated,
    RunId: context.runId,
    Version: context.version,
    DetectionMode: context.mode,
  };
  const records: HealthRecord[] = [runRecord(result, base, context)];
  for (const summary of [...result.processed, ...result.settled]) records.push(processedRecord(summary, base));
  if (result.skipped) {
    records.push({
      ...base,
      RecordKind: 'window',
      Outcome: 'skipped',
      Severity: 'failure',
      WindowStart: result.skipped.start,
      WindowEnd: result.skipped.end,
      Message: `${result.skipped.days} day window(s) skipped: more than MAX_CATCHUP_DAYS behind`,
      Details: { days: result.skipped.days },
    });
  }
  if (result.outcome === 'failed' || result.outcome === 'yielded') {
    records.push({
      ...base,
      RecordKind: 'window',
      Outcome: result.outcome,
      Severity: result.outcome === 'failed' ? 'failure' : 'info',
      WindowStart: result.window.start,
      WindowEnd: result.window.end,
      Phase: result.outcome === 'failed' ? result.phase : '',
      Message: result.outcome === 'failed' ? messageOf(result.error) : 'another invocation took this window over',
    });
  }
  for (const event of result.events) records.push(eventRecord(event, base));
  return records.map(inTableOrder);
}

/** The record with the health table's columns in its order (infra/health-table.json, the one definition). */
function inTableOrder(record: HealthRecord): HealthRecord {
  const ordered: Record<string, unknown> = {};
  for (const { name } of healthTable.columns)
    ordered[name] = (record as unknown as Record<string, unknown>)[name] ?? null;
  return ordered as unknown as HealthRecord;
}

type Base = Omit<HealthRecord, 'RecordKind' | 'Outcome' | 'Severity'>;

function runRecord(result: JobRunResult, base: Base, context: HealthRecordContext): HealthRecord {
  const outcome =
    result.outcome === 'failed' || result.events.some((e) => e.severity === 'failure')
      ? 'failed'
      : result.processed.length === 0 && result.settled.length === 0 && result.outcome === 'completed'
        ? 'nothing-due'
        : 'ok';
  const spool = 'error' in result.spool ? null : result.spool;
  return {
    ...base,
    RecordKind: 'run',
    Outcome: outcome,
    Severity: outcome === 'failed' ? 'failure' : 'info',
    Message:
      `${result.processed.length} window(s) processed; run ${result.outcome}` +
      ('error' in result.spool ? `; spool not flushed: ${result.spool.error}` : ''),
    Findings: sum(result.processed, (s) => s.findings),
    FindingsSent: sum(result.processed, (s) => s.written),
    FindingsAlreadySent: sum(result.processed, (s) => s.alreadySent),
    FindingsSpooled: sum(result.processed, (s) => s.spooled),
    AllowlistedFindings: sum(result.processed, (s) => s.allowlisted),
    SpoolSize: spool ? spool.remaining : null,
    DurationsMs: context.durationMs === undefined ? null : { run: context.durationMs },
    Details: { spoolFlushed: spool ? spool.sent : null, windows: result.processed.map((s) => s.window.start) },
  };
}

function processedRecord(summary: WindowSummary, base: Base): HealthRecord {
  return {
    ...base,
    RecordKind: 'window',
    Outcome: 'processed',
    Severity: 'info',
    WindowStart: summary.window.start,
    WindowEnd: summary.window.end,
    Message:
      `${summary.findings} finding(s); ${summary.written} sent, ${summary.alreadySent} already sent, ` +
      `${summary.spooled} spooled` +
      (summary.allowlisted ? `, ${summary.allowlisted} allowlisted (not written)` : ''),
    RowsAll: summary.tableRows ? { ...summary.tableRows } : null,
    RowsKept: { ...summary.rows },
    Findings: summary.findings,
    FindingsSent: summary.written,
    FindingsAlreadySent: summary.alreadySent,
    FindingsSpooled: summary.spooled,
    AllowlistedFindings: summary.allowlisted,
    DurationsMs: { ...summary.durationsMs },
    Details: {
      pass: summary.pass,
      quarantined: summary.quarantined,
      slices: summary.slices,
      enrichment: summary.enrichment,
    },
  };
}

function eventRecord(event: HealthEvent, base: Base): HealthRecord {
  return {
    ...base,
    RecordKind: 'event',
    Outcome: event.kind,
    EventKind: event.kind,
    Severity: event.severity,
    WindowStart: event.window?.start ?? null,
    WindowEnd: event.window?.end ?? null,
    Phase: event.phase ?? '',
    TableName: event.table ?? '',
    Message: event.message,
    Details: event.details ? { ...event.details } : null,
  };
}

function sum(items: readonly WindowSummary[], f: (s: WindowSummary) => number): number {
  return items.reduce((n, s) => n + f(s), 0);
}
