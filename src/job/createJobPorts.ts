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
import { FindingsWriter, LogsIngestionSink, toFindingRecord, type FindingRecord } from '../ingestion';
import { Ledger } from '../ingestion/ledger';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { logAnalyticsScope, logsIngestionAudience } from '../shared/azureScopes';
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
}

export interface JobWiring {
  ports: JobPorts<FindingRecord>;
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
  const sdkRetries = overrides.fastRetries
    ? { retryOptions: { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 } }
    : {};

  const store = await StateStore.open(config.stateStore, { credential, tableName: config.stateStoreTableName });
  const source = new LogAnalyticsSource({
    workspaceId: config.logAnalyticsWorkspaceId,
    credential,
    endpoint: config.logAnalyticsEndpoint,
    clientOptions: {
      ...tlsOptions,
      ...scopeOption(logAnalyticsScope(config.logAnalyticsEndpoint)),
    },
    retry: overrides.fastRetries ? { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
    mode: config.detectionMode,
    logger: log,
  });
  const sink = new LogsIngestionSink({
    endpoint: config.logsIngestionEndpoint,
    dcrImmutableId: config.dcrImmutableId,
    streamName: config.dcrStreamName,
    credential,
    clientOptions: {
      ...tlsOptions,
      ...sdkRetries,
      ...audienceOption(logsIngestionAudience(config.logsIngestionEndpoint)),
    },
  });
  const writer = new FindingsWriter({ store: store.entities, sink });
  // Read-only view of the ledger, for the findings a settle pass no longer yields.
  const ledger = new Ledger(store.entities, 'reader', 0, () => Date.now());
  const enricher = config.enrichmentEnabled
    ? new VmEnricher({
        credential,
        endpoint: config.armEndpoint,
        clientOptions: { ...tlsOptions, ...sdkRetries },
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
        toFindingRecord(detected.finding, {
          window,
          timeGenerated,
          mode,
          rule: RULE,
          enrichment,
          extended: detected.details ? { ...detected.details } : undefined,
        }),
      findingIdOf: (record) => record.FindingId,
      writer: {
        sentFindingIds: (windowStart) => ledger.findingIdsOfWindow(windowStart),
        flushSpool: async () => {
          const flushed = await writer.flushSpool();
          return {
            sent: flushed.sent,
            remaining: flushed.stillSpooled + flushed.skippedInFlight,
            errors: flushed.errors,
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
