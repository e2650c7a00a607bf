/**
 * LogsIngestionSink with the real LogsIngestionClient against the HTTPS ingestion stand-in.
 */
import { FakeCredential } from '../../support/credential';
import { IngestionStandIn } from '../../support/ingestionStandIn';
import { CredentialUnavailableError } from '@azure/identity';
import {
  IngestionAuthenticationError,
  IngestionBadRequestError,
  IngestionForbiddenError,
  IngestionNotFoundError,
  IngestionThrottledError,
  IngestionUnavailableError,
  LogsIngestionSink,
  type FindingRecord,
} from '../../../src/ingestion';
import { exampleFindings, generatedFindings, recordOf } from '../../unit/ingestion/sampleFindings';

const TINY_RETRIES = { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 };

describe('LogsIngestionSink against the ingestion stand-in', () => {
  let standIn: IngestionStandIn;
  const records: FindingRecord[] = exampleFindings().map((f) => recordOf(f));

  const sink = (overrides: { dcrImmutableId?: string; streamName?: string } = {}): LogsIngestionSink =>
    new LogsIngestionSink({
      endpoint: standIn.endpoint,
      dcrImmutableId: overrides.dcrImmutableId ?? standIn.dcrImmutableId,
      streamName: overrides.streamName,
      credential: new FakeCredential(),
      maxConcurrency: 1,
      clientOptions: { tlsOptions: { ca: standIn.ca }, retryOptions: TINY_RETRIES },
    });

  beforeAll(async () => {
    standIn = await IngestionStandIn.start();
  });
  afterAll(async () => standIn?.stop());
  beforeEach(() => standIn.reset());

  it('sends the records gzipped, with the bearer token, to the DCR stream of infra/findings-table.json', async () => {
    const result = await sink().send(records);
    expect(result.failed).toEqual([]);
    expect(result.sent).toHaveLength(records.length);
    expect(standIn.calls).toHaveLength(1);
    expect(standIn.calls[0]).toMatchObject({
      stream: 'Custom-RunCommandFindings_CL',
      apiVersion: '2023-01-01',
      authorization: 'Bearer fake-token',
      contentEncoding: 'gzip',
    });
    expect(standIn.received).toEqual(JSON.parse(JSON.stringify(records)));
  });

  it('cuts more than 1 MB into several calls, makes each once (SDK retries off), and reports exactly the records of a call that failed', async () => {
    const many = generatedFindings(30, 60_000).map((f) => recordOf(f));
    standIn.failNext('ok', { status: 500 });
    const result = await sink().send(many);
    // One call per chunk, none retried by the SDK although the client options ask for 2 retries.
    expect(standIn.calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(standIn.calls.flatMap((c) => c.records.map((r) => r.FindingId))).size).toBe(
      standIn.calls.reduce((n, c) => n + c.records.length, 0),
    );
    expect(standIn.calls.map((c) => c.status).filter((s) => s !== 204)).toEqual([500]);
    expect(result.failed).toHaveLength(1);
    // A 500 does not say the records were refused: they may be in the table.
    expect(result.failed[0]!.maybeDelivered).toBe(true);
    expect(result.failed[0]!.retryNow).toBeUndefined();
    const failedIds = result.failed[0]!.records.map((r) => r.FindingId);
    expect(failedIds.length).toBeGreaterThan(0);
    expect(result.failed[0]!.error).toBeInstanceOf(IngestionUnavailableError);
    expect(result.sent.map((r) => r.FindingId).sort()).toEqual(
      many
        .map((r) => r.FindingId)
        .filter((id) => !failedIds.includes(id))
        .sort(),
    );
    expect(standIn.received.map((r) => r.FindingId).sort()).toEqual(result.sent.map((r) => r.FindingId).sort());
  });

  it('429: reported as a refusal to retry now, after the Retry-After it carried (the writer retries)', async () => {
    standIn.failNext({ status: 429, retryAfterSeconds: 7 });
    const result = await sink().send(records);
    expect(standIn.calls.map((c) => c.status)).toEqual([429]);
    expect(result.sent).toEqual([]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ maybeDelivered: false, retryNow: { afterMs: 7000 } });
    expect(result.failed[0]!.error).toBeInstanceOf(IngestionThrottledError);
  });

  it('503 is a refusal to retry now; a dropped answer after the service kept the batch may have arrived', async () => {
    standIn.failNext({ status: 503 });
    const refused = await sink().send(records);
    expect(refused.failed[0]).toMatchObject({ maybeDelivered: false, retryNow: { afterMs: undefined } });
    standIn.reset();
    standIn.failNext('accept-and-drop');
    const dropped = await sink().send(records);
    expect(dropped.sent).toEqual([]);
    expect(dropped.failed[0]).toMatchObject({ maybeDelivered: true });
    expect(dropped.failed[0]!.error).toBeInstanceOf(IngestionUnavailableError);
    expect(standIn.received).toHaveLength(records.length); // the service has them
    expect(standIn.calls).toHaveLength(1);
  });

  it('403: tells the engineer which role to grant on which DCR, and that it takes up to 30 minutes', async () => {
    standIn.failNext({ status: 403 });
    const result = await sink().send(records);
    expect(result.sent).toEqual([]);
    const error = result.failed[0]!.error;
    expect(error).toBeInstanceOf(IngestionForbiddenError);
    expect(error.message).toContain(
      `grant the function's identity the 'Monitoring Metrics Publisher' role on data collection rule ${standIn.dcrImmutableId}`,
    );
    expect(error.message).toMatch(/up to 30 minutes/);
    expect(error.message).toMatch(/does not have access to ingest data/); // what the service said
    expect(standIn.calls).toHaveLength(1); // not retried
  });

  it("400: says what the API said about which column, and where the table's definition lives", async () => {
    standIn.failNext({ status: 400 });
    const result = await sink().send(records);
    const error = result.failed[0]!.error;
    expect(error).toBeInstanceOf(IngestionBadRequestError);
    expect(error.message).toMatch(/column 'PowershellFileSize' of type 'long'/);
    expect(error.message).toMatch(/infra\/findings-table\.json/);
    expect(error.message).toContain('Custom-RunCommandFindings_CL');
  });

  it('404: wrong DCR id or stream names the settings to check', async () => {
    const wrongDcr = await sink({ dcrImmutableId: 'dcr-ffffffffffffffffffffffffffffffff' }).send(records);
    expect(wrongDcr.failed[0]!.error).toBeInstanceOf(IngestionNotFoundError);
    expect(wrongDcr.failed[0]!.error.message).toMatch(/DCR_IMMUTABLE_ID.*DCR_STREAM_NAME/s);
    expect(wrongDcr.failed[0]!.error.message).toContain('dcr-ffffffffffffffffffffffffffffffff');
    const wrongStream = await sink({ streamName: 'Custom-Other_CL' }).send(records);
    expect(wrongStream.failed[0]!.error).toBeInstanceOf(IngestionNotFoundError);
    expect(wrongStream.failed[0]!.error.message).toMatch(/Stream 'Custom-Other_CL' is not declared/);
  });

  it('a wrong token is refused like a missing role', async () => {
    const s = new LogsIngestionSink({
      endpoint: standIn.endpoint,
      dcrImmutableId: standIn.dcrImmutableId,
      credential: new FakeCredential('someone-else'),
      clientOptions: { tlsOptions: { ca: standIn.ca }, retryOptions: TINY_RETRIES },
    });
    const result = await s.send(records);
    expect(result.failed[0]!.error).toBeInstanceOf(IngestionForbiddenError);
  });

  it('a credential that cannot get a token is reported as an identity problem, with every record kept', async () => {
    const noIdentity = {
      getToken: async () => {
        throw new CredentialUnavailableError('ManagedIdentityCredential: no managed identity endpoint found');
      },
    };
    const s = new LogsIngestionSink({
      endpoint: standIn.endpoint,
      dcrImmutableId: standIn.dcrImmutableId,
      credential: noIdentity,
      clientOptions: { tlsOptions: { ca: standIn.ca }, retryOptions: TINY_RETRIES },
    });
    const result = await s.send(records);
    expect(result.sent).toEqual([]);
    expect(result.failed.flatMap((f) => f.records)).toHaveLength(records.length);
    expect(result.failed[0]!.error).toBeInstanceOf(IngestionAuthenticationError);
    expect(result.failed[0]!.maybeDelivered).toBe(false); // nothing left the process
    expect(standIn.calls).toHaveLength(0);
  });
});
