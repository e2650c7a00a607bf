/**
 * Placeholder values: what local.settings.example.json carries where a real id or host
 * belongs. A copied example must not pass validation (a zero GUID is a valid GUID), so
 * each is refused with "replace with …" and where the real value is found.
 */

/** Where each id is found (deployment outputs are those of infra/bicep/main.bicep). */
export const WORKSPACE_ID_SOURCE =
  "the workspace's Overview page (Workspace ID), `az monitor log-analytics workspace show --query customerId`, or the deployment output logAnalyticsWorkspaceId";
export const DCR_ID_SOURCE =
  "the data collection rule's Overview page or JSON view (immutableId), or the deployment output dcrImmutableId";
export const CLIENT_ID_SOURCE =
  "the managed identity's Overview page (Client ID), or the deployment output identityClientId";
export const INGESTION_ENDPOINT_SOURCE =
  "the data collection rule's Overview page or JSON view (endpoints.logsIngestion), the data collection endpoint's Overview page, or the deployment output logsIngestionEndpoint";

/** `<...>` markup, as in `https://<dcr-name>.<region>-1.ingest.monitor.azure.com`. */
const MARKUP = /<[^<>]*>/;
const ZERO_GUID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;
const ZERO_DCR_ID = /^dcr-0{32}$/i;
/**
 * The Logs Ingestion host earlier versions of local.settings.example.json (and the
 * README) showed; copies of it still exist.
 */
export const FORMER_EXAMPLE_INGESTION_HOST = 'my-dce-abcd.westeurope-1.ingest.monitor.azure.com';

export const isZeroGuid = (v: string): boolean => ZERO_GUID.test(v);
export const isZeroDcrId = (v: string): boolean => ZERO_DCR_ID.test(v);

/** The problem text for a placeholder id: "'…' is a placeholder: replace with the real value from …". */
export function replaceWith(value: string, source: string): string {
  return `'${value}' is a placeholder: replace with the real value from ${source}`;
}

/**
 * "…is a placeholder" when the text carries `<...>` markup; the value itself is not
 * repeated when it may hold a secret.
 */
export function placeholderProblem(text: string, secret: boolean): string | undefined {
  if (!MARKUP.test(text)) return undefined;
  return `${secret ? 'the value' : `'${text}'`} is a placeholder (it contains <...>): replace with the real value`;
}
