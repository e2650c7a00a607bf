import { logAnalyticsScope, logsIngestionAudience } from '../../../src/shared/azureScopes';

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
