/**
 * FindingsWriter end to end: real LogsIngestionClient → HTTPS stand-in, ledger and spool
 * in a real Azurite table. Each test uses its own table.
 */
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { FakeCredential } from '../../support/credential';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { StateStore } from '../../../src/stateStore';
import {
  FindingsWriter,
  IngestionForbiddenError,
  LEDGER_PARTITION,
  LogsIngestionSink,
  SPOOL_PARTITION,
  type FindingRecord,
} from '../../../src/ingestion';
import { generatedFindings, recordOf } from '../../unit/ingestion/sampleFindings';

const TINY_RETRIES = { maxRetries: 1, retryDelayInMs: 1, maxRetryDelayInMs: 5 };

describe('FindingsWriter with the ingestion stand-in and Azurite', () => {
  let azurite: RunningAzurite;
  let standIn: IngestionStandIn;
  let tableNo = 0;

  beforeAll(async () => {
    [azurite, standIn] = await Promise.all([startAzuriteTables(), IngestionStandIn.start()]);
  });
  afterAll(async () => {
    await standIn?.stop();
    await azurite?.stop();
  });
  beforeEach(() => standIn.reset());

  const openStore = (): Promise<StateStore> =>
    StateStore.open(
      { kind: 'connectionString', connectionString: azurite.connectionString },
      { tableName: `writer${++tableNo}` },
    );

  const newWriter = (store: StateStore, extra: { now?: () => number; leaseMs?: number; writerId?: string } = {}) =>
    new FindingsWriter({
      store: store.entities,
      sink: new LogsIngestionSink({
        endpoint: standIn.endpoint,
        dcrImmutableId: standIn.dcrImmutableId,
        credential: new FakeCredential(),
        maxConcurrency: 1,
        clientOptions: { tlsOptions: { ca: standIn.ca }, retryOptions: TINY_RETRIES },
      }),
      // 429/503 are retried once in a run, without waiting long.
      maxUploadAttempts: 2,
      retryDelays: { baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 },
      ...extra,
    });

  /** ~3 upload calls' worth of findings (the SDK cuts calls at 1 MB). */
  const dayOfFindings = (): FindingRecord[] => generatedFindings(24, 60_000).map((f) => recordOf(f));

  const receivedIds = (): string[] => standIn.received.map((r) => String(r.FindingId));
  const expectEachExactlyOnce = (records: FindingRecord[]): void =>
    expect([...receivedIds()].sort()).toEqual(records.map((r) => r.FindingId).sort());

  const partition = async (store: StateStore, pk: string): Promise<Record<string, unknown>[]> => {
    const rows: Record<string, unknown>[] = [];
    for await (const e of store.entities.listPartition(pk)) rows.push({ rowKey: e.rowKey, ...e.properties });
    return rows;
  };

  it('spools the findings of a batch that fails for good, sends them first at the next run, each exactly once', async () => {
    const store = await openStore();
    const records = dayOfFindings();
    // Run 1: first call ok, the second call fails on both of its attempts, the rest ok.
    standIn.failNext('ok', { status: 503 }, { status: 503 });
    const run1 = newWriter(store);
    expect(await run1.flushSpool()).toMatchObject({ sent: 0, stillSpooled: 0 });
    const first = await run1.write(records);
    expect(first.spooled).toBeGreaterThan(0);
    expect(first.sent + first.spooled).toBe(records.length);
    expect(first.errors).toHaveLength(1);
    expect(first.errors[0]!.message).toMatch(/kept in the spool/);
    expect(first.errors[0]!.findingIds).toHaveLength(first.spooled);
    const spooledIds = first.errors[0]!.findingIds;
    const spoolHeads = (await partition(store, SPOOL_PARTITION)).filter((r) => !String(r.rowKey).includes('~'));
    expect(spoolHeads.map((r) => r.rowKey).sort()).toEqual([...spooledIds].sort());

    // Run 2 (a new writer, as after a restart): the spool goes out first, then the window again.
    const callsBefore = standIn.calls.length;
    const run2 = newWriter(store);
    const flush = await run2.flushSpool();
    expect(flush).toMatchObject({ sent: spooledIds.length, stillSpooled: 0, errors: [] });
    const flushedIds = standIn.calls.slice(callsBefore).flatMap((c) => c.records.map((r) => String(r.FindingId)));
    expect(flushedIds.sort()).toEqual([...spooledIds].sort());
    const second = await run2.write(records);
    expect(second).toMatchObject({ sent: 0, spooled: 0, skippedAlreadySent: records.length });

    expectEachExactlyOnce(records);
    expect(await partition(store, SPOOL_PARTITION)).toEqual([]);
    const ledger = await partition(store, LEDGER_PARTITION);
    expect(ledger).toHaveLength(records.length);
    expect(new Set(ledger.map((r) => r.State))).toEqual(new Set(['sent']));
  });

  it('sends nothing when the same window is written twice (a replayed occurrence)', async () => {
    const store = await openStore();
    const records = dayOfFindings().slice(0, 5);
    const first = await newWriter(store).write(records);
    expect(first).toMatchObject({ sent: 5, skippedAlreadySent: 0 });
    const callsAfterFirst = standIn.calls.length;
    const again = await newWriter(store).write(records);
    expect(again).toMatchObject({ sent: 0, skippedAlreadySent: 5, spooled: 0 });
    expect(standIn.calls.length).toBe(callsAfterFirst);
    expectEachExactlyOnce(records);
  });

  it('two writers racing on the same window send each finding once', async () => {
    const store = await openStore();
    const records = dayOfFindings();
    const [a, b] = await Promise.all([newWriter(store).write(records), newWriter(store).write([...records].reverse())]);
    expect(a.sent + b.sent).toBe(records.length);
    expect(a.sent + a.skippedAlreadySent + a.skippedInFlight).toBe(records.length);
    expect(b.sent + b.skippedAlreadySent + b.skippedInFlight).toBe(records.length);
    expectEachExactlyOnce(records);
  });

  it('two runs flushing the same spool at once send each spooled finding once', async () => {
    const store = await openStore();
    const records = dayOfFindings().slice(0, 6);
    standIn.failNext({ status: 503 }, { status: 503 });
    const first = await newWriter(store).write(records);
    expect(first.spooled).toBe(6);
    await Promise.all([newWriter(store).flushSpool(), newWriter(store).flushSpool()]);
    expectEachExactlyOnce(records);
    expect(await partition(store, SPOOL_PARTITION)).toEqual([]);
  });

  it("takes over a crashed writer's claim only after its lease, then sends it once", async () => {
    const store = await openStore();
    const [record] = dayOfFindings();
    let clock = 1_000_000;
    const now = () => clock;
    // A writer claimed the finding and died before its first upload attempt.
    await store.entities.insert(LEDGER_PARTITION, record!.FindingId, {
      State: 'sending',
      Owner: 'crashed-writer',
      ClaimedAt: new Date(clock).toISOString(),
      WindowStart: record!.WindowStart,
      UpdatedAt: 'x',
      Attempts: 0,
      LastAttemptAt: '',
      LastAttemptRefused: false,
      LegacyFindingId: '',
    });
    const writer = newWriter(store, { now, leaseMs: 60_000 });
    expect(await writer.write([record!])).toMatchObject({ sent: 0, skippedInFlight: 1 });
    expect(standIn.calls).toHaveLength(0);
    clock += 60_001;
    expect(await writer.write([record!])).toMatchObject({ sent: 1, skippedInFlight: 0 });
    expectEachExactlyOnce([record!]);
  });

  it('403: findings are spooled with the role to grant, and go out once the role has been granted', async () => {
    const store = await openStore();
    const records = dayOfFindings().slice(0, 3);
    standIn.failWhen(() => ({ status: 403 }));
    const result = await newWriter(store).write(records);
    expect(result.spooled).toBe(3);
    expect(result.errors[0]!.error).toBeInstanceOf(IngestionForbiddenError);
    expect(result.errors[0]!.message).toMatch(/Monitoring Metrics Publisher.*up to 30 minutes/s);
    const stillRefused = await newWriter(store).flushSpool();
    expect(stillRefused).toMatchObject({ sent: 0, stillSpooled: 3 });
    standIn.failWhen(undefined); // the role assignment has propagated
    expect(await newWriter(store).flushSpool()).toMatchObject({ sent: 3, stillSpooled: 0 });
    expectEachExactlyOnce(records);
  });
});
