/**
 * Chaos test of issue 11: the job, end to end, run many times against Azurite and the
 * HTTPS stand-ins (real SDK clients, production writer and lease defaults, a simulated
 * clock), with faults at every I/O point. After each scenario the job is run again (a
 * fresh process state: fresh ports and clients, the same Azurite table and stand-ins;
 * the clock moved past the lease) until the window is checkpointed and nothing is left
 * spooled or claimed. Then every expected finding must have reached the ingestion
 * stand-in exactly once, per FindingId, and nothing else.
 *
 * Scenarios:
 *   - a crash at HTTP request k, for every k of a run whose window has findings, in two
 *     forms: the k-th request never leaves ('before'), or it was answered and the
 *     process died before it could read the answer ('after'). A crash is a pipeline
 *     policy in every Azure SDK client (state table, query API, Logs Ingestion, ARM) that
 *     leaves that request and every later one of the run pending forever;
 *   - the service keeping a batch and the connection dropping before its answer;
 *     a 500 without keeping it; an upload slower than the client timeout;
 *   - 503 and 429 from each service (ingestion, query API, read-back, Table Storage, ARM);
 *   - "mark sent" failing for good after a send (a Table Storage outage);
 *   - queries and ARM calls slower than the client timeout;
 *   - two invocations overlapping;
 *   - a spool that cannot be sent for days is reported as 'spool-stale' at every run.
 *
 * The stand-in makes an ingested row queryable 5 simulated minutes after it arrived;
 * the writer's latency bound is the production 60 minutes.
 */
import { createHttpHeaders, type PipelinePolicy, type PipelineResponse } from '@azure/core-rest-pipeline';
import { join } from 'node:path';
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { startArmStandIn, type ArmStandIn } from '../../support/armStandIn';
import { FakeCredential } from '../../support/credential';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { LogAnalyticsStandIn, readFixtureDay } from '../../support/logAnalyticsStandIn';
import { testCertificate } from '../../support/tls';
import { loadConfig } from '../../../src/config/settings';
import { createJobPorts } from '../../../src/job/createJobPorts';
import { runDetectionJob, type JobRunResult } from '../../../src/job/runDetectionJob';
import { DEFAULT_LEASE_MS, LEDGER_PARTITION, SPOOL_PARTITION } from '../../../src/ingestion';
import type { AddedPolicy } from '../../../src/shared/callTimeout';
import type { Log } from '../../../src/shared/log';
import { StateStore } from '../../../src/stateStore';

const WORKSPACE = '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const CHECKPOINT = 'runCommandDetection-parity';
const DONE = '2026-11-26T00:00:00.0000000Z';
const START = Date.parse('2026-11-26T00:15:30Z');
const CALL_TIMEOUT_MS = 2_000;
const SLOW_MS = 4_000;
const MAX_RECOVERY_RUNS = 6;

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

const quietLog = (): Log & { lines: Array<{ level: string; message: string }> } => {
  const lines: Array<{ level: string; message: string }> = [];
  return {
    lines,
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
  };
};

/** A process that dies at its k-th HTTP request: before it is sent, or after its answer arrived. */
function crashAt(k: number, when: 'before' | 'after'): { policy: AddedPolicy; crashed: Promise<void> } {
  let n = 0;
  let dead = false;
  let signal!: () => void;
  const crashed = new Promise<void>((r) => (signal = r));
  const die = <T>(): Promise<T> => {
    dead = true;
    signal();
    return never<T>();
  };
  const policy: PipelinePolicy = {
    name: 'chaosCrashPolicy',
    async sendRequest(request, next) {
      if (dead) return never();
      n++;
      const mine = n === k;
      if (mine && when === 'before') return die();
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (e) {
        // An answer the SDK turns into an error (a 404 of a read, a 409 of an insert) is an answer too.
        if (mine) return die();
        if (dead) return never();
        throw e;
      }
      if (dead) return never();
      if (mine) return die();
      return response;
    },
  };
  return { policy: { policy, position: 'perRetry' }, crashed };
}

/** Counts the HTTP requests of a run. */
function counter(): { policy: AddedPolicy; count: () => number } {
  let n = 0;
  return {
    policy: {
      policy: { name: 'chaosCountPolicy', sendRequest: (req, next) => (n++, next(req)) },
      position: 'perRetry',
    },
    count: () => n,
  };
}

/** Answers chosen Table Storage requests with a status of its own instead of sending them. */
function tableFaults(
  tableEndpoint: string,
  answer: (method: string, body: string, n: number) => number | undefined,
): AddedPolicy {
  let n = 0;
  const policy: PipelinePolicy = {
    name: 'chaosTableFaultPolicy',
    async sendRequest(request, next) {
      if (!request.url.startsWith(tableEndpoint)) return next(request);
      const status = answer(request.method, typeof request.body === 'string' ? request.body : '', ++n);
      if (status === undefined) return next(request);
      const headers = createHttpHeaders({ 'content-type': 'application/json', 'retry-after': '0' });
      const code = status === 429 ? 'TooManyRequests' : 'ServerBusy';
      const response: PipelineResponse = {
        request,
        status,
        headers,
        bodyAsText: JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: 'chaos' } } }),
      };
      return response;
    },
  };
  return { policy, position: 'perRetry' };
}

describe('exactly once, whatever fails on the way (chaos)', () => {
  let azurite: RunningAzurite;
  let logAnalytics: LogAnalyticsStandIn;
  let ingestion: IngestionStandIn;
  let arm: ArmStandIn;
  let clock = START;
  let tableNo = 0;
  let expectedIds: string[] = [];
  let requestsPerRun = 0;

  beforeAll(async () => {
    [azurite, logAnalytics, ingestion, arm] = await Promise.all([
      startAzuriteTables(),
      LogAnalyticsStandIn.start({
        workspaceId: WORKSPACE,
        tables: readFixtureDay(join(__dirname, '../../fixtures/examples/plain-day')),
      }),
      IngestionStandIn.start({ dcrImmutableId: DCR, clock: () => clock }),
      startArmStandIn([]),
    ]);
    ingestion.visibilityDelayMs = 5 * 60_000;
    logAnalytics.findingsTable = () => ingestion.visibleRecords();
    arm.responseDelayMs = 0;
  });
  afterAll(async () => {
    await Promise.all([azurite?.stop(), logAnalytics?.stop(), ingestion?.stop(), arm?.stop()]);
  });

  const tableEndpoint = (): string => /TableEndpoint=([^;]+)/.exec(azurite.connectionString)![1]!;

  function freshScenario(): string {
    clock = START;
    ingestion.reset();
    logAnalytics.faults.length = 0;
    logAnalytics.readBackFaults.length = 0;
    logAnalytics.responseDelayMs = 0;
    logAnalytics.requests.length = 0;
    arm.clearFailures();
    arm.responseDelayMs = 0;
    return `chaos${++tableNo}`;
  }

  /** One run of the job as one process: fresh ports (clients, writer id) over the same table and stand-ins. */
  async function runJob(tableName: string, policies: AddedPolicy[] = [], log = quietLog()): Promise<JobRunResult> {
    const config = loadConfig({
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      LOG_ANALYTICS_ENDPOINT: logAnalytics.endpoint,
      LOGS_INGESTION_ENDPOINT: ingestion.endpoint,
      DCR_IMMUTABLE_ID: DCR,
      STATE_STORE_CONNECTION_STRING: azurite.connectionString,
      STATE_STORE_TABLE_NAME: tableName,
      ARM_ENDPOINT: arm.endpoint,
      ENRICHMENT_ENABLED: 'true',
      DETECTION_MODE: 'parity',
    });
    const wiring = await createJobPorts(
      config,
      {
        credential: new FakeCredential(),
        tlsCa: testCertificate().ca,
        now: () => new Date(clock),
        fastRetries: true,
        delivery: { azureCallTimeoutMs: CALL_TIMEOUT_MS },
        pipelinePolicies: policies,
      },
      log,
    );
    return runDetectionJob(wiring.ports, {
      now: () => new Date(clock),
      ingestionDelayMinutes: config.ingestionDelayMinutes,
      maxCatchupDays: config.maxCatchupDays,
      checkpointName: wiring.checkpointName,
      log,
    });
  }

  async function state(tableName: string): Promise<{ checkpoint?: string; spooled: number; open: number }> {
    const store = await StateStore.open(
      { kind: 'connectionString', connectionString: azurite.connectionString },
      { tableName },
    );
    let spooled = 0;
    let open = 0;
    for await (const e of store.entities.listPartition(SPOOL_PARTITION)) if (!e.rowKey.includes('~')) spooled++;
    for await (const e of store.entities.listPartition(LEDGER_PARTITION)) if (e.properties.State !== 'sent') open++;
    return { checkpoint: (await store.getCheckpoint(CHECKPOINT))?.value, spooled, open };
  }

  /** Runs the job (no faults) as later timer occurrences, past the lease each time, until all is delivered. */
  async function recover(tableName: string): Promise<number> {
    for (let run = 1; run <= MAX_RECOVERY_RUNS; run++) {
      const s = await state(tableName);
      if (s.checkpoint === DONE && s.spooled === 0 && s.open === 0) return run - 1;
      clock += DEFAULT_LEASE_MS + 60_000;
      await runJob(tableName);
    }
    const s = await state(tableName);
    if (s.checkpoint === DONE && s.spooled === 0 && s.open === 0) return MAX_RECOVERY_RUNS;
    throw new Error(`did not converge in ${MAX_RECOVERY_RUNS} runs: ${JSON.stringify(s)}`);
  }

  /** Per FindingId, how often it reached the ingestion stand-in; '' if that is once each for exactly the expected ones. */
  function deliveryProblems(): string {
    const counts = new Map<string, number>();
    for (const r of ingestion.received) counts.set(String(r.FindingId), (counts.get(String(r.FindingId)) ?? 0) + 1);
    const problems: string[] = [];
    for (const id of expectedIds) if (counts.get(id) !== 1) problems.push(`${id.slice(0, 8)}×${counts.get(id) ?? 0}`);
    for (const id of counts.keys()) if (!expectedIds.includes(id)) problems.push(`unexpected ${id.slice(0, 8)}`);
    return problems.join(', ');
  }

  it('a clean run delivers the day once (the reference for every scenario)', async () => {
    await runJob(freshScenario()); // warm-up: the first run of the process is slower (and may retry)
    const table = freshScenario();
    const count = counter();
    const result = await runJob(table, [count.policy]);
    expect(result.outcome).toBe('completed');
    expectedIds = ingestion.received.map((r) => String(r.FindingId)).sort();
    requestsPerRun = count.count();
    expect(expectedIds).toHaveLength(3);
    expect(new Set(expectedIds).size).toBe(3);
    expect(requestsPerRun).toBeGreaterThan(15);
    expect(deliveryProblems()).toBe('');
  });

  it('a crash at every HTTP request of the run, before it is sent or after its answer, loses and doubles nothing', async () => {
    expect(requestsPerRun).toBeGreaterThan(0);
    const failures: string[] = [];
    let scenarios = 0;
    let crashes = 0;
    for (const when of ['before', 'after'] as const) {
      for (let k = 1; k <= requestsPerRun; k++) {
        const table = freshScenario();
        const crash = crashAt(k, when);
        const outcome = await Promise.race([
          runJob(table, [crash.policy]).then(() => 'finished' as const),
          crash.crashed.then(() => 'crashed' as const),
        ]);
        scenarios++;
        if (outcome === 'crashed') crashes++;
        else failures.push(`crash ${when} request ${k}: the run made fewer requests and finished`);
        try {
          await recover(table);
          const problems = deliveryProblems();
          if (problems) failures.push(`crash ${when} request ${k}: ${problems}`);
        } catch (e) {
          failures.push(`crash ${when} request ${k}: ${(e as Error).message}`);
        }
      }
    }
    console.log(
      `chaos: ${scenarios} crash scenarios (${requestsPerRun} HTTP requests per run × before/after), ` +
        `${crashes} crashed, ${failures.length} failed`,
    );
    expect(failures).toEqual([]);
    expect(crashes).toBe(2 * requestsPerRun);
  }, 600_000); // 64 whole runs: a cap for a loaded machine, not a timing requirement

  /** Runs `first` (a faulty run), recovers, and returns what is wrong with the deliveries. */
  async function scenario(first: (table: string) => Promise<unknown>): Promise<string> {
    const table = freshScenario();
    await first(table).catch(() => undefined);
    logAnalytics.faults.length = 0;
    logAnalytics.readBackFaults.length = 0;
    logAnalytics.responseDelayMs = 0;
    arm.clearFailures();
    arm.responseDelayMs = 0;
    await recover(table);
    return deliveryProblems();
  }

  it('the service keeps a batch and the answer is lost: read back after the latency bound, not resent', async () => {
    let spooled = -1;
    const problems = await scenario(async (table) => {
      ingestion.failNext('accept-and-drop');
      const result = await runJob(table);
      spooled = result.outcome === 'completed' ? (result.processed[0]?.spooled ?? -1) : -1;
      // Before the bound, nothing is resent (nor read back).
      clock += 30 * 60_000;
      const early = await runJob(table);
      expect(early.spool).toMatchObject({ sent: 0, remaining: 3 });
    });
    expect(spooled).toBe(3);
    expect(problems).toBe('');
    expect(logAnalytics.requests.some((r) => r.query.startsWith('RunCommandFindings_CL'))).toBe(true);
  });

  it('a 500 without keeping the batch: read back absent after the bound, then sent once', async () => {
    expect(await scenario((table) => (ingestion.failNext({ status: 500 }), runJob(table)))).toBe('');
    expect(ingestion.calls.filter((c) => c.accepted)).toHaveLength(1);
  });

  it('an upload slower than the client timeout (kept by the service): not resent', async () => {
    expect(await scenario((table) => (ingestion.failNext({ acceptAndDelayMs: SLOW_MS }), runJob(table)))).toBe('');
  });

  it('503 and 429 from the Logs Ingestion API are retried in the run', async () => {
    const problems = await scenario(async (table) => {
      ingestion.failNext({ status: 503 }, { status: 429, retryAfterSeconds: 0 });
      const result = await runJob(table);
      expect(result.outcome).toBe('completed');
      expect(ingestion.calls.map((c) => c.status)).toEqual([503, 429, 204]);
    });
    expect(problems).toBe('');
  });

  it('503 and 429 from the query API (pull) and from the read-back', async () => {
    const problems = await scenario(async (table) => {
      logAnalytics.faults.push({ kind: 'status', status: 503 }, { kind: 'status', status: 429, retryAfter: '0' });
      ingestion.failNext('accept-and-drop');
      await runJob(table);
      // The next run's read-back meets 503s and 429s beyond the SDK's retries: the findings stay spooled.
      clock += DEFAULT_LEASE_MS + 60_000;
      for (let i = 0; i < 4; i++) logAnalytics.readBackFaults.push({ kind: 'status', status: i % 2 ? 429 : 503 });
      const blocked = await runJob(table);
      expect(blocked.spool).toMatchObject({ sent: 0, remaining: 3 });
    });
    expect(problems).toBe('');
  });

  it('503 and 429 from Table Storage, on every fifth request', async () => {
    const problems = await scenario((table) =>
      runJob(table, [tableFaults(tableEndpoint(), (_m, _b, n) => (n % 5 === 0 ? (n % 10 ? 503 : 429) : undefined))]),
    );
    expect(problems).toBe('');
  });

  it('"mark sent" (and the checkpoint) failing for good after the send: the next run reads back, does not resend', async () => {
    const log = quietLog();
    let first: JobRunResult | undefined;
    const problems = await scenario(async (table) => {
      // The first window is stored as the checkpoint before it is processed (an earlier
      // run's doing, here): the outage then hits the advance, not the first write.
      const store = await StateStore.open(
        { kind: 'connectionString', connectionString: azurite.connectionString },
        { tableName: table },
      );
      await store.putCheckpoint('runCommandDetection-parity', '2026-11-25T00:00:00.0000000Z', undefined);
      const outage = tableFaults(tableEndpoint(), (m, body) =>
        m !== 'GET' && (body.includes('"State":"sent"') || body.includes('"Value":"2026-11-26')) ? 503 : undefined,
      );
      first = await runJob(table, [outage], log);
    });
    expect(first).toMatchObject({ outcome: 'failed', phase: 'checkpoint' });
    expect(log.lines.some((l) => l.level === 'warn' && /could not record it/.test(l.message))).toBe(true);
    expect(problems).toBe('');
    // The recovery run found the three in the table: one read-back query, no second upload.
    expect(logAnalytics.requests.filter((r) => r.query.startsWith('RunCommandFindings_CL'))).toHaveLength(1);
    expect(ingestion.calls).toHaveLength(1);
  });

  it('503/429 and slow answers from ARM, slow query API answers', async () => {
    expect(await scenario((table) => (arm.fail('*', 429), runJob(table)))).toBe('');
    expect(await scenario((table) => (arm.fail('*', 500, 1), (arm.responseDelayMs = SLOW_MS), runJob(table)))).toBe('');
    const slowQuery = await scenario(async (table) => {
      logAnalytics.responseDelayMs = SLOW_MS;
      const result = await runJob(table);
      expect(result.outcome).toBe('failed'); // the pull timed out: the window is retried
    });
    expect(slowQuery).toBe('');
  });

  it('two invocations overlapping (a replayed occurrence), also after a lost answer', async () => {
    expect(await scenario((table) => Promise.all([runJob(table), runJob(table)]))).toBe('');
    expect(
      await scenario(async (table) => {
        ingestion.failNext('accept-and-drop');
        await runJob(table);
        clock += DEFAULT_LEASE_MS + 60_000;
        await Promise.all([runJob(table), runJob(table)]);
      }),
    ).toBe('');
  });

  it("a spool that cannot be sent is reported as 'spool-stale' at every run after SPOOL_ALERT_DAYS, never dropped", async () => {
    const table = freshScenario();
    ingestion.failWhen(() => ({ status: 403 }));
    const stale: number[] = [];
    for (let day = 0; day < 4; day++) {
      const result = await runJob(table);
      stale.push(result.events.filter((e) => e.kind === 'spool-stale' && e.severity === 'failure').length);
      clock += 86_400_000;
    }
    // Spooled on day 0; two days later, and every run after, it is reported.
    expect(stale).toEqual([0, 0, 1, 1]);
    ingestion.failWhen(undefined);
    const delivered = await runJob(table);
    expect(delivered.events.filter((e) => e.kind === 'spool-stale')).toEqual([]);
    expect(deliveryProblems()).toBe('');
  });
});
