import { CredentialUnavailableError } from '@azure/identity';
import { RestError } from '@azure/core-rest-pipeline';
import {
  IngestionAuthenticationError,
  IngestionPayloadTooLargeError,
  IngestionThrottledError,
  IngestionUnavailableError,
  describeUploadFailure,
} from '../../../src/ingestion';

const target = {
  endpoint: 'https://my-dce.westeurope-1.ingest.monitor.azure.com',
  dcrImmutableId: 'dcr-00112233445566778899aabbccddeeff',
  streamName: 'Custom-RunCommandFindings_CL',
};

describe('describeUploadFailure', () => {
  it('a missing managed identity says how to give the job one', () => {
    const e = describeUploadFailure(new CredentialUnavailableError('ManagedIdentityCredential: no identity'), target);
    expect(e).toBeInstanceOf(IngestionAuthenticationError);
    expect(e.message).toMatch(/managed identity.*AZURE_CLIENT_ID.*az login/s);
    expect(e.message).toContain(target.dcrImmutableId);
    expect(e.retriable).toBe(true);
  });

  it('a connection failure names the endpoint and keeps the findings', () => {
    const e = describeUploadFailure(
      new RestError('connect ECONNREFUSED 10.0.0.1:443', { code: 'ECONNREFUSED' }),
      target,
    );
    expect(e).toBeInstanceOf(IngestionUnavailableError);
    expect(e.message).toContain(target.endpoint);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/kept in the spool/);
  });

  it('429 and 413 get their own classes; 429 may succeed later, 413 never will', () => {
    const throttled = describeUploadFailure(new RestError('Too many', { statusCode: 429 }), target);
    expect(throttled).toBeInstanceOf(IngestionThrottledError);
    expect(throttled.retriable).toBe(true);
    const tooLarge = describeUploadFailure(new RestError('Too large', { statusCode: 413 }), target);
    expect(tooLarge).toBeInstanceOf(IngestionPayloadTooLargeError);
    expect(tooLarge.retriable).toBe(false);
  });
});
