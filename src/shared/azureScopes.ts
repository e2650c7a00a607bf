/**
 * Token scopes and audiences of the Azure services the job calls, from their endpoint
 * (public or sovereign cloud). Computed here only.
 */

/**
 * Token scope for the Log Analytics query API. The public cloud's endpoints
 * (api.loganalytics.azure.com, api.loganalytics.io) take the SDK default
 * (https://api.loganalytics.io/.default); a sovereign cloud's endpoint is its own
 * audience, e.g. https://api.loganalytics.azure.cn/.default.
 */
export function logAnalyticsScope(endpoint: string): string | undefined {
  const url = new URL(endpoint);
  return /^api\.loganalytics\.(azure\.com|io)$/i.test(url.hostname) ? undefined : `${url.origin}/.default`;
}

/**
 * Audience for the Logs Ingestion API, from the ingestion endpoint's cloud:
 * *.azure.cn → https://monitor.azure.cn, *.azure.us → https://monitor.azure.us,
 * otherwise the SDK default (https://monitor.azure.com).
 */
export function logsIngestionAudience(endpoint: string): string | undefined {
  const host = new URL(endpoint).hostname.toLowerCase();
  if (host.endsWith('.azure.cn')) return 'https://monitor.azure.cn';
  if (host.endsWith('.azure.us')) return 'https://monitor.azure.us';
  return undefined;
}
