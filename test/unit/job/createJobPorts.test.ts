import { loadConfig } from '../../../src/config/settings';
import {
  createJobPorts,
  DetectionModeUnavailableError,
  logAnalyticsScope,
  logsIngestionAudience,
} from '../../../src/job/createJobPorts';
import { FakeCredential } from '../../support/credential';

describe('cloud audiences', () => {
  it('keeps the SDK default scope for the public Log Analytics endpoints and uses a sovereign endpoint as its own', () => {
    expect(logAnalyticsScope('https://api.loganalytics.azure.com/v1')).toBeUndefined();
    expect(logAnalyticsScope('https://api.loganalytics.io/v1')).toBeUndefined();
    expect(logAnalyticsScope('https://api.loganalytics.azure.cn/v1')).toBe(
      'https://api.loganalytics.azure.cn/.default',
    );
    expect(logAnalyticsScope('https://api.loganalytics.us/v1')).toBe('https://api.loganalytics.us/.default');
  });

  it('picks the Logs Ingestion audience from the endpoint cloud', () => {
    expect(logsIngestionAudience('https://dce-1.westeurope-1.ingest.monitor.azure.com')).toBeUndefined();
    expect(logsIngestionAudience('https://dce-1.chinanorth3-1.ingest.monitor.azure.cn')).toBe(
      'https://monitor.azure.cn',
    );
    expect(logsIngestionAudience('https://dce-1.usgovvirginia-1.ingest.monitor.azure.us')).toBe(
      'https://monitor.azure.us',
    );
  });
});

describe('createJobPorts', () => {
  it('refuses the corrected mode with a message that says what to set, before touching Azure', async () => {
    const config = loadConfig({
      LOG_ANALYTICS_WORKSPACE_ID: '5b7a2f0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
      LOGS_INGESTION_ENDPOINT: 'https://dce.example.com',
      DCR_IMMUTABLE_ID: 'dcr-0123456789abcdef0123456789abcdef',
      // Nothing listens here: reaching it would fail differently.
      STATE_STORE_ENDPOINT: 'https://127.0.0.1:1',
      DETECTION_MODE: 'corrected',
    });
    const credential = new FakeCredential();
    await expect(createJobPorts(config, { credential })).rejects.toBeInstanceOf(DetectionModeUnavailableError);
    await expect(createJobPorts(config, { credential })).rejects.toThrow(/Set DETECTION_MODE to 'parity'/);
    expect(credential.scopesAsked).toEqual([]);
  });
});
