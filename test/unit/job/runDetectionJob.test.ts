/**
 * The job's control flow with in-process collaborators: the real state store (in
 * memory), a source that serves rows per window, a detector that turns every
 * AzureActivity row into one finding, and a writer with a ledger.
 */
import type { VmEnrichment } from '../../../src/arm/vmEnrichment';
import type { DetectedFinding, Detector } from '../../../src/detection/detector';
import type { AzureActivityRow, QueryWindow, RunCommandFinding, TableName } from '../../../src/detection/schema';
import {
  runDetectionJob,
  runFailure,
  DEFAULT_CHECKPOINT_NAME,
  SkippedDaysError,
  WindowFailedError,
  type JobPorts,
} from '../../../src/job/runDetectionJob';
import { FutureCheckpointError, InvalidCheckpointError } from '../../../src/job/windows';
import { CheckpointTypeError, CHECKPOINT_PARTITION } from '../../../src/stateStore';
import type { Log } from '../../../src/shared/log';
import { parseAllowlist, type AllowlistRow } from '../../../src/allowlist/allowlist';
import type { AllowlistPort } from '../../../src/job/allowlist';
import { ConcurrencyConflictError, StateStore } from '../../../src/stateStore';

interface Rec {
  id: string;
  window: string;
  enrichment?: string;
}

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

const day = (d: string) => `${d}T00:00:00.0000000Z`;

/** A detector that turns every AzureActivity row into one finding (its Caller names the VM and the finding). */
function callerDetector(): Detector {
  const findings: DetectedFinding[] = [];
  return {
    mode: 'parity',
    isRelevant: () => true,
    add: (table, row) => {
      if (table !== 'AzureActivity') return;
      const caller = (row as AzureActivityRow).Caller;
      const f = finding(
        `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${caller.split('#')[0]}`,
        caller,
      );
      findings.push({
        finding: f,
        identity: {
          CorrelationId: caller,
          VirtualMachineName: f.VirtualMachineName,
          PowershellFileName: f.PowershellFileName,
          PowershellFileCreatedTimestamp: f.StartTime,
          InitiatingProcessCommandLine: '',
        },
        details: null,
      });
    },
    finish: () => ({
      mode: 'parity',
      findings,
      observations: [],
      stages: {} as never,
    }),
  };
}

function finding(scope: string, caller: string): RunCommandFinding {
  return {
    timestamp: '2026-11-24T10:00:00.0000000Z',
    StartTime: '2026-11-24T10:00:00.0000000Z',
    EndTime: '2026-11-24T10:01:00.0000000Z',
    PowershellFileName: 'script0.ps1',
    VirtualMachineName: scope.split('/').pop() ?? '',
    Caller: caller,
    CallerName: caller,
    CallerUPNSuffix: '',
    CallerIpAddress: '',
    PowershellScriptCommands: [],
    PowershellFileSize: 1,
    ScriptFingerprintHash: caller,
    Prevalence: 100,
    Scope: scope,
  };
}

class Harness {
  readonly log: LogLine[] = [];
  readonly pulls: string[] = [];
  readonly sent: Rec[] = [];
  readonly ledger = new Set<string>();
  spool: Rec[] = [];
  failPull = new Set<string>();
  failWrite = false;
  spoolInsteadOfSend = false;
  /** Record ids another writer holds a claim on. */
  inFlight = new Set<string>();
  /** Findings (by Caller) per window start. */
  callersByDay = new Map<string, string[]>();
  beforeCheckpoint?: () => Promise<void>;
  enrichCalls: string[][] = [];
  prunedBefore: string[] = [];
  failPrune = false;
  /** Rows per table in a window without the rule's filters (source health); absent: not counted. */
  counts?: (start: string) => Partial<Record<TableName, number>>;
  /** Whether the ledger can be read back (superseded findings). */
  ledgerReadBack = true;
  /** Allowlist rows (ALLOWLIST_WATCHLIST); undefined: no allowlist. Reads are counted. */
  allowlistRows?: AllowlistRow[];
  allowlistReads = 0;

  constructor(readonly store: StateStore) {}

  ports(enrichment = true): JobPorts<Rec> {
    return {
      checkpoints: {
        getCheckpoint: (n) => this.store.getCheckpoint(n),
        putCheckpoint: async (n, v, e) => {
          await this.beforeCheckpoint?.();
          return this.store.putCheckpoint(n, v, e);
        },
      },
      isConcurrencyConflict: (e) => e instanceof ConcurrencyConflictError,
      source: {
        ...(this.counts ? { countWindow: async (w: QueryWindow) => this.counts!(w.start) } : {}),
        pullWindowInto: async (w: QueryWindow, rows) => {
          this.pulls.push(w.start);
          if (this.failPull.has(w.start)) throw new Error(`slice of DeviceEvents failed for ${w.start}`);
          const callers = this.callersByDay.get(w.start) ?? [];
          for (const c of callers) {
            rows.add('AzureActivity', {
              TimeGenerated: w.start,
              OperationNameValue: '',
              Authorization: '',
              CorrelationId: '',
              Caller: c,
              CallerIpAddress: '',
              ActivityStatusValue: '',
            });
          }
          return {
            AzureActivity: { rows: callers.length, slices: 4 },
            DeviceFileEvents: { rows: 0, slices: 4 },
            DeviceEvents: { rows: 0, slices: 4 },
          };
        },
      },
      detection: { mode: 'parity', detectorFor: async () => callerDetector() },
      enrich: enrichment
        ? async (scopes) => {
            this.enrichCalls.push(scopes);
            return new Map<string, VmEnrichment>(
              scopes.map((s) => [s, s.endsWith('gone') ? { status: 'notFound', detail: 'gone' } : { status: 'ok' }]),
            );
          }
        : undefined,
      toRecord: ({ finding: f }, ctx) => ({
        id: `${ctx.window.start}|${f.Caller}`,
        window: ctx.window.start,
        enrichment: ctx.enrichment?.status,
      }),
      ...(this.ledgerReadBack ? { findingIdOf: (r: Rec) => r.id } : {}),
      ...(this.allowlistRows ? { allowlist: this.allowlistPort() } : {}),
      writer: {
        ...(this.ledgerReadBack
          ? { sentFindingIds: async (start: string) => new Set([...this.ledger].filter((id) => id.startsWith(start))) }
          : {}),
        pruneLedger: async (before) => {
          this.prunedBefore.push(before);
          if (this.failPrune) throw new Error('table unavailable');
          return 0;
        },
        flushSpool: async () => {
          const n = this.spool.length;
          this.sent.push(...this.spool);
          this.spool = [];
          return { sent: n, remaining: 0 };
        },
        write: async (records) => {
          if (this.failWrite) throw new Error('state store unavailable');
          let sent = 0;
          let skipped = 0;
          let spooled = 0;
          let inFlight = 0;
          for (const r of records) {
            if (this.inFlight.has(r.id)) inFlight++;
            else if (this.ledger.has(r.id)) skipped++;
            else if (this.spoolInsteadOfSend) {
              this.ledger.add(r.id);
              this.spool.push(r);
              spooled++;
            } else {
              this.ledger.add(r.id);
              this.sent.push(r);
              sent++;
            }
          }
          return { sent, skippedAlreadySent: skipped, spooled, skippedInFlight: inFlight };
        },
      },
    };
  }

  /** The allowlist as the job sees it: the rows as they stand now; a record's Caller is in its id. */
  allowlistPort(): AllowlistPort<Rec> {
    return {
      description: "watchlist 'test'",
      read: async () => {
        this.allowlistReads++;
        return parseAllowlist("watchlist 'test'", this.allowlistRows ?? []);
      },
      subjectOf: (r) => ({
        ScriptSha256: null,
        ScriptFingerprintHash: '',
        Caller: r.id.split('|')[1]!,
        VirtualMachineName: '',
        CallerIpAddress: '',
      }),
    };
  }

  logger(): Log {
    return {
      info: (message, data) => this.log.push({ level: 'info', message, data }),
      warn: (message, data) => this.log.push({ level: 'warn', message, data }),
      error: (message, data) => this.log.push({ level: 'error', message, data }),
    };
  }

  run(now: string, extra: Partial<Parameters<typeof runDetectionJob>[1]> = {}, enrichment = true) {
    return runDetectionJob(this.ports(enrichment), {
      now: () => new Date(now),
      ingestionDelayMinutes: 15,
      maxCatchupDays: 14,
      log: this.logger(),
      ...extra,
    });
  }

  async checkpoint(): Promise<string | undefined> {
    return (await this.store.getCheckpoint(DEFAULT_CHECKPOINT_NAME))?.value;
  }
}

describe('runDetectionJob', () => {
  let h: Harness;
  beforeEach(async () => {
    h = new Harness(await StateStore.open({ kind: 'memory' }));
    h.callersByDay.set(day('2026-11-22'), ['alice']);
    h.callersByDay.set(day('2026-11-23'), ['bob', 'carol']);
    h.callersByDay.set(day('2026-11-24'), ['dave']);
  });

  it('first run: processes the latest complete day, writes, advances the checkpoint and logs one summary', async () => {
    const result = await h.run('2026-11-25T00:15:07Z', { isPastDue: true });
    expect(h.pulls).toEqual([day('2026-11-24')]);
    expect(h.sent.map((r) => r.id)).toEqual([`${day('2026-11-24')}|dave`]);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
    expect(result.processed).toHaveLength(1);
    const summaries = h.log.filter((l) => l.message === 'Window processed');
    expect(summaries).toHaveLength(1);
    expect(summaries[0].data).toMatchObject({
      window: { start: day('2026-11-24'), end: day('2026-11-25') },
      rows: { AzureActivity: 1, DeviceFileEvents: 0, DeviceEvents: 0 },
      slices: { AzureActivity: 4, DeviceFileEvents: 4, DeviceEvents: 4 },
      findings: 1,
      written: 1,
      spooled: 0,
      enrichment: { ok: 1 },
    });
    expect(Object.keys(summaries[0].data?.durationsMs as object).sort()).toEqual(
      ['baseline', 'checkpoint', 'detect', 'enrich', 'pull', 'write'].sort(),
    );
    expect(h.log[0].data).toMatchObject({ isPastDue: true });
  });

  it('a second run the same day processes nothing new; after 6 hours it makes the first settle pass', async () => {
    await h.run('2026-11-25T00:15:07Z');
    const early = await h.run('2026-11-25T05:00:00Z');
    expect(early.processed).toEqual([]);
    expect(early.settled).toEqual([]);
    expect(h.pulls).toEqual([day('2026-11-24')]);
    const result = await h.run('2026-11-25T09:00:00Z');
    expect(result.processed).toEqual([]);
    expect(result.settled.map((s) => [s.window.start, s.pass])).toEqual([[day('2026-11-24'), 'settle']]);
    expect(h.pulls).toEqual([day('2026-11-24'), day('2026-11-24')]);
    // The ledger sends each finding once.
    expect(h.sent).toHaveLength(1);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('catches up missed days in order, one checkpoint step per window', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-22'), undefined);
    const result = await h.run('2026-11-25T03:00:00Z');
    expect(h.pulls).toEqual([day('2026-11-22'), day('2026-11-23'), day('2026-11-24')]);
    expect(result.processed.map((s) => s.findings)).toEqual([1, 2, 1]);
    expect(h.sent.map((r) => r.window)).toEqual([
      day('2026-11-22'),
      day('2026-11-23'),
      day('2026-11-23'),
      day('2026-11-24'),
    ]);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('a failing window stops the run with the checkpoint at its start; the next run retries it', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-22'), undefined);
    h.failPull.add(day('2026-11-23'));
    const first = await h.run('2026-11-25T03:00:00Z');
    expect(first).toMatchObject({ outcome: 'failed', window: { start: day('2026-11-23') }, phase: 'pull' });
    expect(first.events).toEqual([
      expect.objectContaining({ kind: 'window-failed', severity: 'failure', phase: 'pull' }),
    ]);
    expect(h.pulls).toEqual([day('2026-11-22'), day('2026-11-23')]);
    expect(await h.checkpoint()).toBe(day('2026-11-23'));
    expect(h.log.some((l) => l.level === 'error' && l.message.includes('pulling the tables'))).toBe(true);

    h.failPull.clear();
    const second = await h.run('2026-11-25T04:00:00Z');
    expect(second.outcome).toBe('completed');
    expect(h.pulls.slice(2)).toEqual([day('2026-11-23'), day('2026-11-24')]);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
    expect(h.sent.map((r) => r.id).sort()).toEqual(
      [
        `${day('2026-11-22')}|alice`,
        `${day('2026-11-23')}|bob`,
        `${day('2026-11-23')}|carol`,
        `${day('2026-11-24')}|dave`,
      ].sort(),
    );
  });

  it('a write failure also leaves the checkpoint', async () => {
    h.failWrite = true;
    const result = await h.run('2026-11-25T03:00:00Z');
    expect(result).toMatchObject({ outcome: 'failed', phase: 'write' });
    // The first window was fixed before it was processed, and stays.
    expect(await h.checkpoint()).toBe(day('2026-11-24'));
  });

  it('stores the baseline after the write and before the checkpoint; a baseline failure leaves the checkpoint', async () => {
    const order: string[] = [];
    const ports = h.ports();
    const write = ports.writer.write;
    ports.writer.write = async (records) => {
      order.push('write');
      return write(records);
    };
    let failBaseline = true;
    ports.detection = { ...ports.detection, mode: 'corrected' };
    ports.detection.recordBaseline = async (w) => {
      order.push(`baseline ${w.start}`);
      if (failBaseline) throw new Error('state table unavailable');
    };
    const options = {
      now: () => new Date('2026-11-25T03:00:00Z'),
      ingestionDelayMinutes: 15,
      maxCatchupDays: 14,
      log: h.logger(),
    };
    const failed = await runDetectionJob(ports, options);
    expect(failed).toMatchObject({ outcome: 'failed', phase: 'baseline' });
    expect(await h.checkpoint()).toBe(day('2026-11-24'));
    failBaseline = false;
    await runDetectionJob(ports, options);
    expect(order).toEqual(['write', `baseline ${day('2026-11-24')}`, 'write', `baseline ${day('2026-11-24')}`]);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('skips windows beyond MAX_CATCHUP_DAYS and says so', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-10'), undefined);
    const result = await h.run('2026-11-25T03:00:00Z', { maxCatchupDays: 2 });
    expect(result.skipped).toEqual({ start: day('2026-11-10'), end: day('2026-11-23'), days: 13 });
    expect(h.pulls).toEqual([day('2026-11-23'), day('2026-11-24')]);
    // Skipped days are lost findings: a failure-level health event, logged as an error.
    const logged = h.log.find((l) => l.level === 'error' && l.message.startsWith('Skipping 13 day window(s)'));
    expect(logged?.message).toContain('MAX_CATCHUP_DAYS=2');
    expect(result.events).toEqual([
      expect.objectContaining({
        kind: 'skipped-days',
        severity: 'failure',
        window: { start: day('2026-11-10'), end: day('2026-11-23') },
      }),
    ]);
  });

  it('two overlapping invocations: one advances the checkpoint, the other yields, nothing is written twice', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-23'), undefined);
    // Both read the checkpoint before either advances it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived = 0;
    h.beforeCheckpoint = async () => {
      if (++arrived === 2) release();
      await gate;
    };
    const [a, b] = await Promise.all([h.run('2026-11-25T03:00:00Z'), h.run('2026-11-25T03:00:00Z')]);
    const yielded = [a, b].filter((r) => r.outcome === 'yielded');
    expect(yielded).toHaveLength(1);
    expect(yielded[0]).toMatchObject({ outcome: 'yielded', window: { start: day('2026-11-23') } });
    expect(h.sent.map((r) => r.id).sort()).toEqual(
      [`${day('2026-11-23')}|bob`, `${day('2026-11-23')}|carol`, `${day('2026-11-24')}|dave`].sort(),
    );
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('leaves the checkpoint to another invocation that is still sending some of the window', async () => {
    h.inFlight.add(`${day('2026-11-24')}|dave`);
    const result = await h.run('2026-11-25T03:00:00Z');
    expect(result).toMatchObject({ outcome: 'yielded', window: { start: day('2026-11-24') } });
    expect(await h.checkpoint()).toBe(day('2026-11-24'));
    expect(h.sent).toEqual([]);
  });

  it('flushes the spool before the windows and counts spooled findings as written', async () => {
    h.spool.push({ id: 'old', window: day('2026-11-20') });
    h.spoolInsteadOfSend = true;
    const result = await h.run('2026-11-25T03:00:00Z');
    expect(result.spool).toEqual({ sent: 1, remaining: 0 });
    expect(h.sent.map((r) => r.id)).toEqual(['old']);
    expect(result.processed[0]).toMatchObject({ spooled: 1, written: 0 });
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('enriches each distinct Scope once per window and keeps findings whose VM is not found', async () => {
    h.callersByDay.set(day('2026-11-24'), ['dave#1', 'dave#2', 'gone']);
    const result = await h.run('2026-11-25T03:00:00Z');
    expect(h.enrichCalls).toHaveLength(1);
    expect(h.enrichCalls[0]).toHaveLength(2);
    expect(h.sent.map((r) => r.enrichment).sort()).toEqual(['notFound', 'ok', 'ok']);
    expect(result.processed[0].enrichment).toEqual({ ok: 2, notFound: 1 });
    expect(h.log.some((l) => l.level === 'warn' && l.message.includes('VM enrichment notFound'))).toBe(true);
  });

  it('without enrichment, records carry no enrichment and the summary says disabled', async () => {
    const result = await h.run('2026-11-25T03:00:00Z', {}, false);
    expect(h.sent[0].enrichment).toBeUndefined();
    expect(result.processed[0].enrichment).toEqual({ disabled: 1 });
  });

  it('prunes the ledger before MAX_CATCHUP_DAYS + LEDGER_MARGIN_DAYS; a pruning failure is only a warning', async () => {
    await h.run('2026-11-25T00:15:07Z', { maxCatchupDays: 14 });
    expect(h.prunedBefore).toEqual([day('2026-10-12')]); // 2026-11-25 - (14 + 30) days
    h.failPrune = true;
    h.callersByDay.set(day('2026-11-25'), ['erin']);
    const result = await h.run('2026-11-26T00:15:07Z', { maxCatchupDays: 14 });
    expect(result.processed).toHaveLength(1);
    expect(h.log.some((l) => l.level === 'warn' && l.message.startsWith('Could not prune the ledger'))).toBe(true);
  });

  it('refuses a checkpoint that is not a day boundary', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, '2026-11-24T13:00:00.0000000Z', undefined);
    await expect(h.run('2026-11-25T03:00:00Z')).rejects.toBeInstanceOf(InvalidCheckpointError);
    expect(h.pulls).toEqual([]);
  });
});

describe('no silent gaps', () => {
  let h: Harness;
  beforeEach(async () => {
    h = new Harness(await StateStore.open({ kind: 'memory' }));
    h.callersByDay.set(day('2026-11-24'), ['dave']);
    h.callersByDay.set(day('2026-11-25'), ['erin']);
  });

  it('late rows: a settle pass finds what arrived after the first pull and writes it once', async () => {
    await h.run('2026-11-25T00:15:07Z');
    expect(h.sent.map((r) => r.id)).toEqual([`${day('2026-11-24')}|dave`]);
    // A row of the 24th becomes queryable after its day was pulled.
    h.callersByDay.set(day('2026-11-24'), ['dave', 'frank']);
    const next = await h.run('2026-11-26T00:15:07Z');
    expect(next.processed.map((s) => s.window.start)).toEqual([day('2026-11-25')]);
    // The 6- and 24-hour passes of the 24th fell due between the two runs: one pull does both.
    expect(next.settled.map((s) => s.window.start)).toEqual([day('2026-11-24')]);
    expect(h.sent.map((r) => r.id).sort()).toEqual(
      [`${day('2026-11-24')}|dave`, `${day('2026-11-24')}|frank`, `${day('2026-11-25')}|erin`].sort(),
    );
    // Each day: its 6/24-hour passes at the next daily run, its 72-hour pass three days after it ended.
    const third = await h.run('2026-11-27T00:15:07Z');
    expect(third.settled.map((s) => s.window.start)).toEqual([day('2026-11-25')]);
    const fourth = await h.run('2026-11-28T00:15:07Z');
    expect(fourth.settled.map((s) => s.window.start)).toEqual([day('2026-11-24'), day('2026-11-26')]);
    const fifth = await h.run('2026-11-29T00:15:07Z');
    expect(fifth.settled.map((s) => s.window.start)).toEqual([day('2026-11-25'), day('2026-11-27')]);
    // All passes of the 24th are done: it is never pulled again.
    const later = await h.run('2026-12-05T00:15:07Z');
    expect(later.settled.map((s) => s.window.start)).not.toContain(day('2026-11-24'));
    expect(h.pulls.filter((p) => p === day('2026-11-24'))).toHaveLength(3);
    const ids = h.sent.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('settle passes are configurable, and empty means none', async () => {
    await h.run('2026-11-25T00:15:07Z', { settleAfterHours: [] });
    const next = await h.run('2026-11-26T00:15:07Z', { settleAfterHours: [] });
    expect(next.settled).toEqual([]);
    expect(h.pulls).toEqual([day('2026-11-24'), day('2026-11-25')]);
  });

  it('a host clock 40 minutes ahead pulled the day before it ended: the settle pass sees the rest', async () => {
    // True time 2026-11-24T23:35, the host says 00:15 on the 25th.
    await h.run('2026-11-25T00:15:00Z');
    h.callersByDay.set(day('2026-11-24'), ['dave', 'late-evening']);
    await h.run('2026-11-25T06:15:00Z');
    expect(h.sent.map((r) => r.id)).toContain(`${day('2026-11-24')}|late-evening`);
  });

  it('a finding sent earlier that the complete day no longer yields is reported as superseded, not retracted', async () => {
    await h.run('2026-11-25T00:15:07Z');
    h.callersByDay.set(day('2026-11-24'), []);
    const next = await h.run('2026-11-25T07:00:00Z');
    expect(next.events).toEqual([
      expect.objectContaining({
        kind: 'superseded-finding',
        severity: 'warning',
        window: { start: day('2026-11-24'), end: day('2026-11-25') },
        details: { findingId: `${day('2026-11-24')}|dave` },
      }),
    ]);
    expect(h.sent).toHaveLength(1);
  });

  it('a table with no rows at all is a failure-level source gap naming the table and its connector; the window is processed', async () => {
    h.counts = () => ({ AzureActivity: 120, DeviceFileEvents: 0, DeviceEvents: 3000 });
    const result = await h.run('2026-11-25T00:15:07Z');
    expect(result.outcome).toBe('completed');
    expect(result.processed[0]).toMatchObject({
      tableRows: { AzureActivity: 120, DeviceFileEvents: 0, DeviceEvents: 3000 },
    });
    const gaps = result.events.filter((e) => e.kind === 'source-gap');
    expect(gaps).toEqual([expect.objectContaining({ severity: 'failure', table: 'DeviceFileEvents' })]);
    expect(gaps[0].message).toMatch(/DeviceFileEvents has no rows at all.*Microsoft Defender XDR data connector/);
    expect(h.log.some((l) => l.level === 'error' && l.message.startsWith('DeviceFileEvents has no rows'))).toBe(true);
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
  });

  it('a table far below its recent days is a warning (SOURCE_LOW_PERCENT)', async () => {
    for (const d of ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24']) {
      h.callersByDay.set(day(d), []);
    }
    h.counts = (start) => ({
      AzureActivity: start === day('2026-11-24') ? 40 : 1000,
      DeviceFileEvents: 500,
      DeviceEvents: start === day('2026-11-24') ? 450 : 5000,
    });
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-20'), undefined);
    const result = await h.run('2026-11-25T00:15:07Z', { sourceLowPercent: 10 });
    const low = result.events.filter((e) => e.kind === 'source-low');
    // 40 < 10% of 1000: low; 450 is not below 10% of 5000... it is 9%: low as well.
    expect(low.map((e) => [e.table, e.severity, e.window?.start])).toEqual([
      ['AzureActivity', 'warning', day('2026-11-24')],
      ['DeviceEvents', 'warning', day('2026-11-24')],
    ]);
    expect(low[0].details).toMatchObject({ rows: 40, median: 1000, windows: 4 });
  });

  it('with no checkpoint, the first window is stored before it is processed: a first run that dies loses no day', async () => {
    h.failPull.add(day('2026-11-24'));
    const first = await h.run('2026-11-25T00:15:07Z');
    expect(first.outcome).toBe('failed');
    expect(await h.checkpoint()).toBe(day('2026-11-24'));
    h.failPull.clear();
    const next = await h.run('2026-11-26T00:15:07Z');
    expect(next.processed.map((s) => s.window.start)).toEqual([day('2026-11-24'), day('2026-11-25')]);
  });

  it('DETECTION_START_DATE sets the first window', async () => {
    h.callersByDay.set(day('2026-11-22'), ['alice']);
    const result = await h.run('2026-11-25T00:15:07Z', { detectionStartDate: '2026-11-22T00:00:00.0000000Z' });
    expect(result.processed.map((s) => s.window.start)).toEqual([
      day('2026-11-22'),
      day('2026-11-23'),
      day('2026-11-24'),
    ]);
  });

  it('a create-only conflict on the first checkpoint re-reads it and goes on from what the other invocation stored', async () => {
    const ports = h.ports();
    let reads = 0;
    ports.checkpoints.getCheckpoint = async (n) => {
      // The first read misses the checkpoint another invocation is storing at that moment.
      if (n === DEFAULT_CHECKPOINT_NAME && reads++ === 0) {
        await h.store.putCheckpoint(n, day('2026-11-23'), undefined);
        return undefined;
      }
      return h.store.getCheckpoint(n);
    };
    h.callersByDay.set(day('2026-11-23'), ['bob']);
    const result = await runDetectionJob(ports, {
      now: () => new Date('2026-11-25T00:15:07Z'),
      ingestionDelayMinutes: 15,
      maxCatchupDays: 14,
      log: h.logger(),
    });
    expect(result.outcome).toBe('completed');
    expect(result.processed.map((s) => s.window.start)).toEqual([day('2026-11-23'), day('2026-11-24')]);
  });

  it('a checkpoint in the future fails the invocation with how to fix it', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2030-01-01'), undefined);
    const run = h.run('2026-11-25T03:00:00Z');
    await expect(run).rejects.toBeInstanceOf(FutureCheckpointError);
    await expect(run).rejects.toThrow(/2030-01-01.*in the future.*Set its Value.*2026-11-25T00:00:00.0000000Z/s);
    expect(h.pulls).toEqual([]);
  });

  it('a checkpoint ahead by less than an hour (a host clock that ran ahead, since corrected) is accepted', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-25'), undefined);
    const result = await h.run('2026-11-24T23:40:00Z');
    expect(result.outcome).toBe('completed');
    expect(result.processed).toEqual([]);
  });

  it('a checkpoint whose Value is not a string fails the invocation instead of starting over', async () => {
    await h.store.entities.insert(CHECKPOINT_PARTITION, DEFAULT_CHECKPOINT_NAME, { Value: 20261124 });
    const run = h.run('2026-11-25T03:00:00Z');
    await expect(run).rejects.toBeInstanceOf(CheckpointTypeError);
    await expect(run).rejects.toThrow(/not a String|of type number/);
    expect(h.pulls).toEqual([]);
  });

  it('skipping days beyond MAX_CATCHUP_DAYS fails the invocation, once, saying how to backfill', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-10'), undefined);
    const result = await h.run('2026-11-25T03:00:00Z', { maxCatchupDays: 2 });
    const failure = runFailure(result);
    expect(failure).toBeInstanceOf(SkippedDaysError);
    expect(failure?.message).toMatch(/Skipping 13 day window.*runcommand-detect run --from 2026-11-10/s);
    // The days that could be processed were; the next run has nothing to skip.
    expect(await h.checkpoint()).toBe(day('2026-11-25'));
    expect(runFailure(await h.run('2026-11-25T04:00:00Z', { maxCatchupDays: 2 }))).toBeUndefined();
  });

  it('a failed window fails the invocation', async () => {
    h.failPull.add(day('2026-11-24'));
    expect(runFailure(await h.run('2026-11-25T03:00:00Z'))).toBeInstanceOf(WindowFailedError);
  });

  it('a failing settle pass is retried at the next run and fails this one; the other passes go on', async () => {
    await h.run('2026-11-24T00:15:07Z');
    await h.run('2026-11-25T00:15:07Z');
    h.failPull.add(day('2026-11-23'));
    h.callersByDay.set(day('2026-11-24'), ['dave', 'gina']);
    // Due on the 27th: the 72-hour pass of the 23rd and the 24-hour pass of the 24th.
    const result = await h.run('2026-11-27T00:15:07Z');
    expect(result).toMatchObject({ outcome: 'failed', window: { start: day('2026-11-23') } });
    expect(result.processed.map((s) => s.window.start)).toEqual([day('2026-11-25'), day('2026-11-26')]);
    expect(result.settled.map((s) => s.window.start)).toEqual([day('2026-11-24')]);
    expect(h.sent.map((r) => r.id)).toContain(`${day('2026-11-24')}|gina`);
    h.failPull.clear();
    const retry = await h.run('2026-11-27T01:00:00Z');
    expect(retry.settled.map((s) => s.window.start)).toEqual([day('2026-11-23')]);
    expect(retry.outcome).toBe('completed');
  });
});

describe('the allowlist across windows and settle passes', () => {
  let h: Harness;
  const entry = (caller: string, Expires = ''): AllowlistRow => ({
    where: `row ${caller}`,
    Kind: 'Caller',
    Value: caller,
    Reason: `${caller} is the patch robot`,
    Expires,
  });
  beforeEach(async () => {
    h = new Harness(await StateStore.open({ kind: 'memory' }));
    h.callersByDay.set(day('2026-11-23'), ['bob', 'carol']);
    h.callersByDay.set(day('2026-11-24'), ['dave', 'bob']);
  });

  it('is read once per run, however many windows it processes, and applies to each', async () => {
    await h.store.putCheckpoint(DEFAULT_CHECKPOINT_NAME, day('2026-11-23'), undefined);
    h.allowlistRows = [entry('bob')];
    const result = await h.run('2026-11-25T00:15:07Z', { settleAfterHours: [] });
    expect(result.processed.map((s) => [s.window.start, s.findings, s.allowlisted, s.written])).toEqual([
      [day('2026-11-23'), 2, 1, 1],
      [day('2026-11-24'), 2, 1, 1],
    ]);
    expect(h.allowlistReads).toBe(1);
    expect(h.sent.map((r) => r.id).sort()).toEqual([`${day('2026-11-23')}|carol`, `${day('2026-11-24')}|dave`]);
    // The suppressed findings never reached the writer, so the ledger does not hold them.
    expect([...h.ledger].some((id) => id.endsWith('|bob'))).toBe(false);
  });

  it('a finding sent before its entry was added is not reported as superseded by a settle pass', async () => {
    await h.run('2026-11-25T00:15:07Z');
    expect(h.sent.map((r) => r.id).sort()).toEqual([`${day('2026-11-24')}|bob`, `${day('2026-11-24')}|dave`]);
    h.allowlistRows = [entry('dave')];
    const settle = await h.run('2026-11-25T07:00:00Z');
    expect(settle.settled).toEqual([expect.objectContaining({ allowlisted: 1 })]);
    expect(settle.events.filter((e) => e.kind === 'superseded-finding')).toEqual([]);
    expect(settle.events.filter((e) => e.kind === 'allowlisted')).toHaveLength(1);
    expect(h.sent).toHaveLength(2);
  });

  it('a finding suppressed earlier is written by a later settle pass once its entry has expired', async () => {
    h.allowlistRows = [entry('bob', '2026-11-25T12:00:00Z')];
    const first = await h.run('2026-11-25T00:15:07Z');
    expect(first.processed[0]!.allowlisted).toBe(1);
    expect(h.sent.map((r) => r.id)).toEqual([`${day('2026-11-24')}|dave`]);
    // The 24-hour settle pass of the 24th runs after the entry expired.
    const later = await h.run('2026-11-26T00:15:07Z');
    expect(h.sent.map((r) => r.id)).toContain(`${day('2026-11-24')}|bob`);
    expect(later.events).toContainEqual(expect.objectContaining({ kind: 'allowlist-entry-expired', severity: 'info' }));
  });

  it('a run with nothing due does not read the allowlist', async () => {
    h.allowlistRows = [entry('bob')];
    await h.run('2026-11-25T00:15:07Z', { settleAfterHours: [] });
    const reads = h.allowlistReads;
    const idle = await h.run('2026-11-25T03:00:00Z', { settleAfterHours: [] });
    expect(idle.processed).toEqual([]);
    expect(h.allowlistReads).toBe(reads);
  });
});
