/**
 * Health events: what a run saw that a SOC must be told of, beyond its findings. Each
 * event is logged at its severity as it happens and returned in the run's result; the
 * health records (src/job/healthRecords.ts) carry them to RunCommandDetectionHealth_CL,
 * where the alert rules of infra/bicep count them. "0 findings" is only trustworthy
 * when a window has no failure-level event.
 */
import type { QueryWindow, TableName } from '../detection/schema';
import type { Log } from '../shared/log';

/** The kinds, as the health table's EventKind column holds them (infra/health-table.json). */
export type HealthEventKind =
  /** A window failed in a phase; the checkpoint did not move. */
  | 'window-failed'
  /** Days older than MAX_CATCHUP_DAYS were not processed. */
  | 'skipped-days'
  /** A table had no rows at all in a window: a connector or diagnostic setting to check. */
  | 'source-gap'
  /** A table had far fewer rows than on its recent days. */
  | 'source-low'
  /** A finding has been in the spool longer than SPOOL_ALERT_DAYS. */
  | 'spool-stale'
  /** Rows the engine could not evaluate were set aside; the rest of the window was processed. */
  | 'quarantined-rows'
  /** A finding already sent is no longer yielded by the more complete day. */
  | 'superseded-finding'
  /** Findings an allowlist entry suppressed (not written). */
  | 'allowlisted'
  /** The allowlist watchlist could not be read or has no items: every finding was written. */
  | 'allowlist-unavailable'
  /** Allowlist rows that are not applied (unknown Kind, bad Value or Expires, no Reason). */
  | 'allowlist-entry-refused'
  /** Allowlist entries past their Expires: they no longer suppress findings. */
  | 'allowlist-entry-expired'
  /** The Logs Ingestion API refused findings; they are spooled. */
  | 'write-refused';

export type HealthSeverity = 'info' | 'warning' | 'failure';

export interface HealthEvent {
  kind: HealthEventKind;
  severity: HealthSeverity;
  /** What happened and what to do, in a SOC engineer's words. */
  message: string;
  window?: QueryWindow;
  table?: TableName;
  phase?: string;
  details?: Record<string, unknown>;
}

/** Collects a run's events and logs each one as it is emitted. */
export class HealthEvents {
  readonly events: HealthEvent[] = [];

  constructor(private readonly log: Log) {}

  emit(event: HealthEvent): void {
    this.events.push(event);
    const data = {
      healthEvent: event.kind,
      ...(event.window ? { window: event.window } : {}),
      ...(event.table ? { table: event.table } : {}),
      ...(event.phase ? { phase: event.phase } : {}),
      ...event.details,
    };
    if (event.severity === 'failure') this.log.error(event.message, data);
    else if (event.severity === 'warning') this.log.warn(event.message, data);
    else this.log.info(event.message, data);
  }

  /** Whether any event of the run is failure-level. */
  get hasFailure(): boolean {
    return this.events.some((e) => e.severity === 'failure');
  }
}
