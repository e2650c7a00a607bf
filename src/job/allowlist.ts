/**
 * The allowlist within a run (ALLOWLIST_WATCHLIST): read once, at the run's first
 * window (a run with nothing due reads nothing), then applied to each window's findings records before they are written.
 *
 * - A record an entry in force matches is not written (no alert, no incident); each is
 *   logged with the entry and its reason, counted in the window's summary (the health
 *   table's AllowlistedFindings) and listed in one `allowlisted` event per window.
 * - Refused rows (unknown Kind, a Value that is no SHA256 or IP, no Reason, a bad
 *   Expires) are one `allowlist-entry-refused` warning naming each row; the other
 *   entries apply.
 * - Entries whose Expires has passed (at the run's start) suppress nothing; they are
 *   one `allowlist-entry-expired` event listing each with its expiry.
 * - The watchlist cannot be read, or has no items: every finding is written (nothing
 *   is dropped on an allowlist nobody can see), and one `allowlist-unavailable`
 *   warning says so and why. The SOC gets incidents it meant to silence, never loses one.
 */
import {
  describeEntry,
  entriesAt,
  matchingEntry,
  type Allowlist,
  type AllowlistEntry,
  type FindingSubject,
} from '../allowlist/allowlist';
import type { QueryWindow } from '../detection/schema';
import { messageOf } from '../shared/errors';
import type { Log } from '../shared/log';
import type { HealthEvents } from './health';

/** Where the job's allowlist comes from, and what of a record it matches. */
export interface AllowlistPort<R> {
  /** "watchlist 'RunCommandAllowlist' of workspace …", for messages. */
  readonly description: string;
  read(): Promise<Allowlist>;
  /** The findings-table columns of `record` an entry can match. */
  subjectOf(record: R): FindingSubject;
}

/** One suppressed finding, as the `allowlisted` event lists it. */
export interface AllowlistedFinding {
  findingId: string | null;
  VirtualMachineName: string;
  Caller: string;
  kind: AllowlistEntry['kind'];
  value: string;
  reason: string;
  expires: string;
  entry: string;
}

export class RunAllowlist<R> {
  private loading: Promise<AllowlistEntry[] | undefined> | undefined;

  constructor(
    private readonly port: AllowlistPort<R> | undefined,
    private readonly events: HealthEvents,
    private readonly now: () => Date,
    private readonly log: Log,
  ) {}

  /** The entries in force, read at the first call of the run; undefined: no allowlist applies. */
  private entries(): Promise<AllowlistEntry[] | undefined> {
    this.loading ??= this.load();
    return this.loading;
  }

  private async load(): Promise<AllowlistEntry[] | undefined> {
    const port = this.port;
    if (!port) return undefined;
    let list: Allowlist;
    try {
      list = await port.read();
    } catch (error) {
      this.unavailable(`could not be read: ${messageOf(error)}`, { error: messageOf(error) });
      return undefined;
    }
    if (list.refused.length > 0) {
      this.events.emit({
        kind: 'allowlist-entry-refused',
        severity: 'warning',
        message:
          `${list.refused.length} row(s) of the allowlist, ${port.description}, are not applied: ` +
          list.refused.map((r) => `${r.where}: ${r.problem}`).join('; ') +
          '. Fix them in the watchlist (docs/operations.md, "Allowlist"); the other entries apply.',
        details: { refused: list.refused },
      });
    }
    if (list.entries.length === 0 && list.refused.length === 0) {
      this.unavailable('has no items (check the alias, or unset ALLOWLIST_WATCHLIST if no allowlist is wanted)', {});
      return undefined;
    }
    const { inForce, expired } = entriesAt(list.entries, this.now().getTime());
    if (expired.length > 0) {
      this.events.emit({
        kind: 'allowlist-entry-expired',
        severity: 'info',
        message:
          `${expired.length} allowlist entr${expired.length === 1 ? 'y has' : 'ies have'} expired and no longer ` +
          `suppress findings: ${expired.map(describeEntry).join('; ')}. Renew or remove them in ${port.description}.`,
        details: {
          expired: expired.map((e) => ({ where: e.where, kind: e.kind, value: e.value, expires: e.expires })),
        },
      });
    }
    this.log.info(`Allowlist read: ${inForce.length} entr${inForce.length === 1 ? 'y' : 'ies'} in force`, {
      allowlist: port.description,
      inForce: inForce.length,
      expired: expired.length,
      refused: list.refused.length,
    });
    return inForce;
  }

  private unavailable(why: string, details: Record<string, unknown>): void {
    this.events.emit({
      kind: 'allowlist-unavailable',
      severity: 'warning',
      message:
        `The allowlist, ${this.port!.description}, ${why}. This run suppresses nothing: every finding is ` +
        'written, including those the allowlist would have silenced.',
      details,
    });
  }

  /**
   * The records no entry in force matches (to be written) and those it does, with the
   * entry; one `allowlisted` event for the window when any was suppressed.
   */
  async apply(
    records: R[],
    window: QueryWindow,
    pass: string,
    findingIdOf: ((record: R) => string) | undefined,
  ): Promise<{ kept: R[]; allowlisted: AllowlistedFinding[] }> {
    if (!this.port) return { kept: records, allowlisted: [] };
    // Read at the first window even when it has no findings: refused rows and expiries are reported every run.
    const entries = await this.entries();
    if (!entries || entries.length === 0 || records.length === 0) return { kept: records, allowlisted: [] };
    const kept: R[] = [];
    const allowlisted: AllowlistedFinding[] = [];
    for (const record of records) {
      const subject = this.port.subjectOf(record);
      const entry = matchingEntry(entries, subject);
      if (!entry) {
        kept.push(record);
        continue;
      }
      const suppressed: AllowlistedFinding = {
        findingId: findingIdOf ? findingIdOf(record) : null,
        VirtualMachineName: subject.VirtualMachineName,
        Caller: subject.Caller,
        kind: entry.kind,
        value: entry.value,
        reason: entry.reason,
        expires: entry.expires,
        entry: entry.where,
      };
      allowlisted.push(suppressed);
      this.log.info(`Finding allowlisted, not written: ${describeEntry(entry)}`, { window, pass, ...suppressed });
    }
    if (allowlisted.length > 0) {
      this.events.emit({
        kind: 'allowlisted',
        severity: 'info',
        message:
          `${allowlisted.length} finding(s) of [${window.start}, ${window.end}) matched the allowlist and were not ` +
          `written: ${allowlisted.map((a) => `${a.VirtualMachineName} by ${a.kind} '${a.value}' (${a.reason})`).join('; ')}.`,
        window,
        details: { findings: allowlisted, pass },
      });
    }
    return { kept, allowlisted };
  }
}
