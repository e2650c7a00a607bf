import { logsIngestionEndpointProblem } from '../../../src/config/endpoints';
import { settingProblem } from '../../../src/config/settings';

describe('LOGS_INGESTION_ENDPOINT: a Logs Ingestion host of an Azure cloud (it is sent a monitor token)', () => {
  it.each([
    // A data collection endpoint, as the Logs Ingestion API overview shows it.
    'https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com',
    // A DCR's own endpoint (kind Direct), as Bicep's endpoints.logsIngestion gives it.
    'https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com/',
    'https://MY-DCE-5KYL.EastUS-1.ingest.monitor.azure.com',
    // Azure operated by 21Vianet and Azure US Government.
    'https://my-dce-x1y2.chinaeast2-1.ingest.monitor.azure.cn',
    'https://my-dce-x1y2.usgovvirginia-1.ingest.monitor.azure.us',
    // Loopback stand-ins: the token cannot leave the machine.
    'https://127.0.0.1:8443',
    'https://localhost:44321/',
    'https://[::1]:9000',
  ])('accepts %s', (url) => {
    expect(logsIngestionEndpointProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://my-dce-5kyl.eastus-1.ingest.monitor.azure.com', 'not an https URL'],
    ['http://127.0.0.1:8443', 'not an https URL'],
    ['https://dce.example.com', "'dce.example.com' is not an Azure Monitor Logs Ingestion host"],
    ['https://ingest.monitor.azure.com', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://my-dce.eastus-1.ingest.monitor.azure.com.evil.example', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://my-dce.eastus.ingest.monitor.azure.com', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://a.b.eastus-1.ingest.monitor.azure.com', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://my-dce.eastus-1.ingest.monitor.azure.de', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://127.0.0.2:8443', 'is not an Azure Monitor Logs Ingestion host'],
    ['https://my-dce-7xo3.uksouth-1.handler.control.monitor.azure.com', 'configuration access endpoint'],
    ['https://my-dce-7xo3.uksouth-1.metrics.ingest.monitor.azure.com', 'metrics ingestion endpoint'],
    ['https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com:8443', 'listen on 443 only'],
    [
      'https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com/dataCollectionRules/dcr-0123456789abcdef0123456789abcdef',
      'has a path',
    ],
    ['https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com/?api-version=2023-01-01', 'query string'],
    ['https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com', "is the example's placeholder: replace with"],
  ])('refuses %s', (url, problem) => {
    expect(logsIngestionEndpointProblem(url)).toContain(problem);
  });

  it("refuses the example settings' <...> host as a placeholder and says where the real value is", () => {
    const p = settingProblem(
      'LOGS_INGESTION_ENDPOINT',
      'https://<dcr-name>-<suffix>.<region>-1.ingest.monitor.azure.com',
    );
    expect(p?.problem).toContain('is a placeholder (it contains <...>): replace with the real value');
    expect(p?.expected).toContain('the deployment output logsIngestionEndpoint');
    expect(p?.expected).toContain('a loopback host cannot carry the monitor token off the machine');
  });
});
