/**
 * Builds the job's collaborators from the validated settings: the credential, the
 * state store (Table Storage), the Log Analytics source, the parity rule, ARM
 * enrichment and the findings writer (ledger + spool + Logs Ingestion sink).
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { VmEnricher } from '../arm/vmEnrichment';
import type { JobConfig } from '../config/settings';
import { detectParity, RULE, type RunCommandFinding } from '../detection';
import { CorrectedDetection, type BaselineEntry, type CorrectedFindingDetails } from '../detection/corrected';
import { TABLE_NAMES, type TableName, type TableRows } from '../detection/schema';
import { FindingsWriter, LogsIngestionSink, toFindingRecord, type FindingRecord } from '../ingestion';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { BaselineStore, ConcurrencyConflictError, StateStore } from '../stateStore';
import type { JobLog, JobPorts, PulledWindowPort } from './runDetectionJob';
import type { QueryWindow } from './windows';

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
    mode: config.detectionMode,
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

  const corrected =
    config.detectionMode === 'corrected'
      ? correctedPorts(new BaselineStore(store.entities), config.baselineDays, log)
      : undefined;

  return {
    checkpointName: `runCommandDetection-${config.detectionMode}`,
    ports: {
      checkpoints: store,
      isConcurrencyConflict: (error) => error instanceof ConcurrencyConflictError,
      source,
      detect: corrected ? corrected.detect : (tables) => detectParity(tables),
      recordBaseline: corrected?.recordBaseline,
      enrich: enricher ? (scopes) => enricher.enrich(scopes) : undefined,
      toRecord: (finding, { window, timeGenerated, enrichment }) =>
        toFindingRecord(finding, {
          window,
          timeGenerated,
          mode: config.detectionMode,
          rule: RULE,
          enrichment,
          extended: corrected?.details.get(finding) as Record<string, unknown> | undefined,
        }),
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
        pruneLedger: (before) => writer.pruneLedger(before),
      },
    },
  };
}

/**
 * Corrected mode's detect and baseline steps: the baseline is loaded from the state
 * store for each window, the detection (pure) runs against it, and the window's
 * observations are stored once its findings are written (`recordBaseline`).
 */
function correctedPorts(
  store: BaselineStore,
  baselineDays: number,
  log: JobLog | undefined,
): {
  detect: (tables: PulledWindowPort['tables'], window: QueryWindow) => Promise<RunCommandFinding[]>;
  recordBaseline: (window: QueryWindow) => Promise<void>;
  details: WeakMap<RunCommandFinding, CorrectedFindingDetails>;
} {
  const details = new WeakMap<RunCommandFinding, CorrectedFindingDetails>();
  let pending: { window: QueryWindow; baseline: Map<string, BaselineEntry>; observations: BaselineEntry[] } | undefined;
  // The baseline as stored after the last window of this run (catch-up reads it once).
  let stored: Map<string, BaselineEntry> | undefined;
  return {
    details,
    async detect(tables, window) {
      const baseline = stored ?? (await store.load());
      const detection = new CorrectedDetection();
      for (const table of TABLE_NAMES) {
        for (const row of tables[table] as TableRows[TableName][]) detection.add(table, row);
      }
      const result = detection.finish({ windowStart: window.start, baselineDays, baseline });
      for (const f of result.findings) details.set(f.finding, f.details);
      pending = { window, baseline, observations: result.observations };
      log?.info('Corrected detection', { window, ...result.stages, baselineEntries: baseline.size });
      return result.findings.map((f) => f.finding);
    },
    async recordBaseline(window) {
      if (!pending || pending.window.start !== window.start) return;
      const { written, pruned, baseline } = await store.record(
        pending.baseline,
        pending.observations,
        window.end,
        baselineDays,
      );
      pending = undefined;
      stored = baseline;
      log?.info('Baseline updated', { window, written, pruned, entries: baseline.size });
    },
  };
}
