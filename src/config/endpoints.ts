/**
 * Which hosts the job sends a token to. LOGS_INGESTION_ENDPOINT receives a token for
 * Azure Monitor (audience https://monitor.azure.com, .cn, .us), so it must be a Logs
 * Ingestion host of an Azure cloud, not "any https URL".
 *
 * The host forms, as Azure Monitor documents them:
 * - Data collection endpoint (DCE): "Logs ingestion endpoint … Example:
 *   <unique-dce-identifier>.<regionname>-1.ingest" ("Data collection endpoints in Azure
 *   Monitor", https://learn.microsoft.com/azure/azure-monitor/essentials/data-collection-endpoint-overview),
 *   e.g. https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com ("Logs Ingestion API in
 *   Azure Monitor", Endpoint URI, https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
 * - Per cloud: `<dce-name>-<suffix>.<region>-<suffix>.ingest.monitor.azure.com`, `….azure.cn`
 *   (21Vianet), `….azure.us` (US Government) ("High scale logs collection in Container
 *   Insights", network and firewall requirements,
 *   https://learn.microsoft.com/azure/azure-monitor/containers/container-insights-high-scale).
 * - DCR endpoint: a DCR of kind `Direct` gets its own `endpoints.logsIngestion` ("Structure
 *   of a data collection rule", https://learn.microsoft.com/azure/azure-monitor/essentials/data-collection-rule-structure),
 *   of the same form with the DCR's name, e.g. https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com.
 * Not accepted: the DCE's configuration access endpoint (`….handler.control.monitor…`) and
 * its metrics endpoint (`….metrics.ingest.monitor…`), which take no logs.
 *
 * Local stand-ins (tests, a developer's fake) listen on loopback: `https://127.0.0.1:<port>`,
 * `https://localhost:<port>` and `https://[::1]:<port>` are accepted, because a token sent
 * to a loopback host does not leave the machine.
 */
import { FORMER_EXAMPLE_INGESTION_HOST } from './placeholders';

/** One DNS label, then `<region>-<n>`, then the Logs Ingestion domain of one of the three clouds. */
const INGESTION_HOST = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.[a-z0-9]+-\d+\.ingest\.monitor\.azure\.(?:com|cn|us)$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** What is wrong with an https URL setting (not a URL, not https, a query string), or undefined. */
export function httpsUrlProblem(v: string): string | undefined {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `'${v}' is not a URL`;
  }
  if (url.protocol !== 'https:') return `'${v}' is not an https URL`;
  if (url.search || url.hash) return `'${v}' must not carry a query string or fragment`;
  return undefined;
}

export const isLoopbackHost = (hostname: string): boolean => LOOPBACK_HOSTS.has(hostname.toLowerCase());

/** What is wrong with a LOGS_INGESTION_ENDPOINT value, or undefined when it is a Logs Ingestion host. */
export function logsIngestionEndpointProblem(v: string): string | undefined {
  const why = httpsUrlProblem(v);
  if (why) return why;
  const url = new URL(v);
  const host = url.hostname; // lower case, as the URL parser gives it
  if (url.pathname.replace(/\/+$/, '') !== '')
    return `'${v}' has a path (${url.pathname}): give the endpoint only, the job adds /dataCollectionRules/…`;
  if (isLoopbackHost(host)) return undefined;
  if (host === FORMER_EXAMPLE_INGESTION_HOST) return `'${v}' is the example's placeholder: replace with the real value`;
  if (/\.handler\.control\.monitor\.azure\.(com|cn|us)$/.test(host))
    return `'${host}' is a data collection endpoint's configuration access endpoint, not its Logs Ingestion endpoint`;
  if (/\.metrics\.ingest\.monitor\.azure\.(com|cn|us)$/.test(host))
    return `'${host}' is a metrics ingestion endpoint, not a Logs Ingestion endpoint`;
  if (!INGESTION_HOST.test(host))
    return `'${host}' is not an Azure Monitor Logs Ingestion host (<name>.<region>-<n>.ingest.monitor.azure.com, .azure.cn or .azure.us), and the job would send it a monitor token`;
  if (url.port !== '') return `'${v}' names a port: Logs Ingestion endpoints listen on 443 only`;
  return undefined;
}
