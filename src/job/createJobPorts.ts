/**
 * Builds the job's collaborators from the validated settings: the credential, the
 * state store (Table Storage), the Log Analytics source, the parity rule, ARM
 * enrichment and the findings writer (ledger + spool + Logs Ingestion sink).
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { VmEnricher } from '../arm/vmEnrichment';
import type { JobConfig } from '../config/settings';
import { RULE } from '../detection/rule';
import {
  FindingsWriter,
  LogAnalyticsReadBack,
  LogsIngestionSink,
  toOutgoingFinding,
  type OutgoingFinding,
} from '../ingestion';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { logAnalyticsScope, logsIngestionAudience } from '../shared/azureScopes';
import { DEFAULT_AZURE_CALL_TIMEOUT_MS, withCallTimeout, type AddedPolicy } from '../shared/callTimeout';
import type { Log } from '../shared/log';
import { BaselineStore, ConcurrencyConflictError, StateStore } from '../stateStore';
import { detectionPort } from './detectionPort';
import type { JobPorts } from './runDetectionJob';

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
  /**
   * Delivery bounds, until the settings carry them (INGESTION_LATENCY_BOUND_MINUTES,
   * AZURE_CALL_TIMEOUT_SECONDS, SPOOL_ALERT_DAYS); each defaults as the writer does.
   */
  delivery?: {
    ingestionLatencyBoundMs?: number;
    azureCallTimeoutMs?: number;
    spoolAlertDays?: number;
    leaseMs?: number;
  };
  /** Policies added to every Azure SDK client's pipeline (tests: faults at each HTTP request). */
  pipelinePolicies?: AddedPolicy[];
}

export interface JobWiring {
  ports: JobPorts<OutgoingFinding>;
  checkpointName: string;
}

export async function createJobPorts(
  config: JobConfig,
  overrides: JobHostOverrides = {},
  log?: Log,
): Promise<JobWiring> {
  const credential =
    overrides.credential ??
    new DefaultAzureCredential(config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {});
  const tlsOptions = overrides.tlsCa ? { tlsOptions: { ca: overrides.tlsCa } } : {};
  // Every Azure SDK call ends within the call timeout, far under the ledger lease.
  const callTimeoutMs = overrides.delivery?.azureCallTimeoutMs ?? DEFAULT_AZURE_CALL_TIMEOUT_MS;
  const http = <T extends object>(options: T): T & { additionalPolicies: AddedPolicy[] } =>
    withCallTimeout({ ...options, additionalPolicies: [...(overrides.pipelinePolicies ?? [])] }, callTimeoutMs);
  const nowMs = overrides.now ? () => overrides.now!().getTime() : undefined;
  const sdkRetries = overrides.fastRetries
    ? { retryOptions: { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 } }
    : {};

  const store = await StateStore.open(config.stateStore, {
    credential,
    tableName: config.stateStoreTableName,
    options: http(
      overrides.fastRetries ? { retryOptions: { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 } } : {},
    ),
  });
  const source = new LogAnalyticsSource({
    workspaceId: config.logAnalyticsWorkspaceId,
    credential,
    endpoint: config.logAnalyticsEndpoint,
    clientOptions: http({
      ...tlsOptions,
      ...scopeOption(logAnalyticsScope(config.logAnalyticsEndpoint)),
    }),
    retry: overrides.fastRetries ? { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
    mode: config.detectionMode,
    logger: log,
  });
  const sink = new LogsIngestionSink({
    endpoint: config.logsIngestionEndpoint,
    dcrImmutableId: config.dcrImmutableId,
    streamName: config.dcrStreamName,
    credential,
    clientOptions: http({
      ...tlsOptions,
      ...audienceOption(logsIngestionAudience(config.logsIngestionEndpoint)),
    }),
  });
  const readBack = new LogAnalyticsReadBack({
    workspaceId: config.logAnalyticsWorkspaceId,
    credential,
    endpoint: config.logAnalyticsEndpoint,
    clientOptions: http({ ...tlsOptions, ...sdkRetries }),
    now: nowMs,
  });
  const writer = new FindingsWriter({
    store: store.entities,
    sink,
    readBack,
    now: nowMs,
    log,
    ingestionLatencyBoundMs: overrides.delivery?.ingestionLatencyBoundMs,
    spoolAlertDays: overrides.delivery?.spoolAlertDays,
    leaseMs: overrides.delivery?.leaseMs,
    retryDelays: overrides.fastRetries ? { baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
  });
  const enricher = config.enrichmentEnabled
    ? new VmEnricher({
        credential,
        endpoint: config.armEndpoint,
        clientOptions: http({ ...tlsOptions, ...sdkRetries }),
      })
    : undefined;

  const detection = detectionPort({
    mode: config.detectionMode,
    baselineDays: config.baselineDays,
    baseline: config.detectionMode === 'corrected' ? new BaselineStore(store.entities) : undefined,
    log,
  });

  return {
    checkpointName: `runCommandDetection-${config.detectionMode}`,
    ports: {
      checkpoints: store,
      isConcurrencyConflict: (error) => error instanceof ConcurrencyConflictError,
      source,
      detection,
      enrich: enricher ? (scopes) => enricher.enrich(scopes) : undefined,
      toRecord: (detected, { window, mode, timeGenerated, enrichment }) =>
        toOutgoingFinding(detected.finding, {
          window,
          identity: detected.identity,
          timeGenerated,
          mode,
          rule: RULE,
          enrichment,
          extended: detected.details ? { ...detected.details } : undefined,
        }),
      writer: {
        flushSpool: async () => {
          const flushed = await writer.flushSpool();
          return {
            sent: flushed.sent,
            remaining: flushed.stillSpooled + flushed.skippedInFlight,
            errors: flushed.errors,
            stale: flushed.stale,
          };
        },
        write: (records) => writer.write(records),
        pruneLedger: (before) => writer.pruneLedger(before),
      },
    },
  };
}

function scopeOption(scope: string | undefined): { credentials?: { scopes: string[] } } {
  return scope ? { credentials: { scopes: [scope] } } : {};
}

function audienceOption(audience: string | undefined): { audience?: string } {
  return audience ? { audience } : {};
}
