/**
 * Builds the job's collaborators from the validated settings: the credential, the
 * state store (Table Storage), the Log Analytics source, the parity rule, ARM
 * enrichment and the findings writer (ledger + spool + Logs Ingestion sink).
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { VmEnricher } from '../arm/vmEnrichment';
import type { JobConfig } from '../config/settings';
import { detectParity, RULE } from '../detection';
import { FindingsWriter, LogsIngestionSink, toFindingRecord, type FindingRecord } from '../ingestion';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { ConcurrencyConflictError, StateStore } from '../stateStore';
import type { JobLog, JobPorts } from './runDetectionJob';

/** How the job reaches Azure, when not the defaults (tests, local tooling). */
export interface JobHostOverrides {
  /** Instead of DefaultAzureCredential. */
  credential?: TokenCredential;
  /** A CA certificate (PEM) every HTTPS client trusts, for stand-ins with self-signed certificates. */
  tlsCa?: string;
  /** The clock. */
  now?: () => Date;
  /** Millisecond-scale retry delays instead of the production back-off. */
  fastRetries?: boolean;
}

/** The corrected detection mode is built by a later issue. */
export class DetectionModeUnavailableError extends Error {
  override readonly name = 'DetectionModeUnavailableError';
  constructor() {
    super(
      "DETECTION_MODE=corrected is not available in this version of the job. Set DETECTION_MODE to 'parity' " +
        '(the published rule, reproduced exactly) in the Function App settings.',
    );
  }
}

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

export interface JobWiring {
  ports: JobPorts<FindingRecord>;
  checkpointName: string;
}

export async function createJobPorts(
  config: JobConfig,
  overrides: JobHostOverrides = {},
  log?: JobLog,
): Promise<JobWiring> {
  if (config.detectionMode !== 'parity') throw new DetectionModeUnavailableError();
  const credential =
    overrides.credential ??
    new DefaultAzureCredential(config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {});
  const tlsOptions = overrides.tlsCa ? { tlsOptions: { ca: overrides.tlsCa } } : {};
  const sdkRetries = overrides.fastRetries
    ? { retryOptions: { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 } }
    : {};

  const store = await StateStore.open(
    config.stateStore.kind === 'connectionString'
      ? { connectionString: config.stateStore.connectionString, tableName: config.stateStoreTableName }
      : { endpoint: config.stateStore.endpoint, credential, tableName: config.stateStoreTableName },
  );
  const source = new LogAnalyticsSource({
    workspaceId: config.logAnalyticsWorkspaceId,
    credential,
    endpoint: config.logAnalyticsEndpoint,
    clientOptions: {
      ...tlsOptions,
      ...(logAnalyticsScope(config.logAnalyticsEndpoint)
        ? { credentials: { scopes: [logAnalyticsScope(config.logAnalyticsEndpoint)!] } }
        : {}),
    },
    retry: overrides.fastRetries ? { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
    logger: log ? { info: log.info, warn: log.warn } : undefined,
  });
  const sink = new LogsIngestionSink({
    endpoint: config.logsIngestionEndpoint,
    dcrImmutableId: config.dcrImmutableId,
    streamName: config.dcrStreamName,
    credential,
    clientOptions: {
      ...tlsOptions,
      ...sdkRetries,
      ...(logsIngestionAudience(config.logsIngestionEndpoint)
        ? { audience: logsIngestionAudience(config.logsIngestionEndpoint) }
        : {}),
    },
  });
  const writer = new FindingsWriter({ store: store.entities, sink });
  const enricher = config.enrichmentEnabled
    ? new VmEnricher({
        credential,
        endpoint: config.armEndpoint,
        clientOptions: { ...tlsOptions, ...sdkRetries },
      })
    : undefined;

  return {
    checkpointName: `runCommandDetection-${config.detectionMode}`,
    ports: {
      checkpoints: store,
      isConcurrencyConflict: (error) => error instanceof ConcurrencyConflictError,
      source,
      detect: (tables) => detectParity(tables),
      enrich: enricher ? (scopes) => enricher.enrich(scopes) : undefined,
      toRecord: (finding, { window, timeGenerated, enrichment }) =>
        toFindingRecord(finding, { window, timeGenerated, mode: 'parity', rule: RULE, enrichment }),
      writer: {
        flushSpool: async () => {
          const flushed = await writer.flushSpool();
          return {
            sent: flushed.sent,
            remaining: flushed.stillSpooled + flushed.skippedInFlight,
            errors: flushed.errors,
          };
        },
        write: (records) => writer.write(records),
      },
    },
  };
}
