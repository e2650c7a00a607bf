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
  IngestionUnavailableError,
  LogsIngestionSink,
  toFindingRecord,
  type FindingRecord,
} from '../../../src/ingestion';
import { CONTEXT, exampleFindings, generatedFindings } from '../../unit/ingestion/sampleFindings';

const TINY_RETRIES = { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 };

describe('LogsIngestionSink against the ingestion stand-in', () => {
  let standIn: IngestionStandIn;
  const records: FindingRecord[] = exampleFindings().map((f) => toFindingRecord(f, CONTEXT));

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

  it('cuts more than 1 MB into several calls, and reports exactly the records of a call that failed for good', async () => {
    const many = generatedFindings(30, 60_000).map((f) => toFindingRecord(f, CONTEXT));
    standIn.failNext('ok', { status: 500 }, { status: 500 }, { status: 500 });
    const result = await sink().send(many);
    expect(standIn.calls.length).toBeGreaterThanOrEqual(4); // 1 ok + 3 attempts of the 2nd batch + the rest
    expect(result.failed).toHaveLength(1);
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

  it('retries 429 after its Retry-After and then succeeds', async () => {
    standIn.failNext({ status: 429, retryAfterSeconds: 0 });
    const result = await sink().send(records);
    expect(result.failed).toEqual([]);
    expect(standIn.calls.map((c) => c.status)).toEqual([429, 204]);
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
    expect(standIn.calls).toHaveLength(0);
  });
});
