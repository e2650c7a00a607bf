/**
 * Builds the job's collaborators from the validated settings: the credential, the
 * state store (Table Storage), the Log Analytics source, the parity rule, ARM
 * enrichment and the findings writer (ledger + spool + Logs Ingestion sink).
 */
import { WINDOWS_MANAGED_HANDLER, type WindowsManagedHandler } from '../detection/corrected/paths';
import type { TokenCredential } from '@azure/core-auth';
import { VmEnricher } from '../arm/vmEnrichment';
import { createCredential } from '../config/credential';
import type { JobConfig } from '../config/settings';
import { HealthSink } from '../ingestion/healthSink';
import { RULE } from '../detection/rule';
import { CONTROL_PLANE_SEVERITY } from '../detection/corrected/detection';
import {
  FindingsWriter,
  LogAnalyticsReadBack,
  LogsIngestionSink,
  toOutgoingFinding,
  type OutgoingFinding,
} from '../ingestion';
import { Ledger } from '../ingestion/ledger';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { WatchlistAllowlist } from '../logAnalytics/watchlist';
import type { FindingRecord } from '../ingestion/record';
import type { FindingSubject } from '../allowlist/allowlist';
import { logAnalyticsScope, logsIngestionAudience } from '../shared/azureScopes';
import { withCallTimeout, type AddedPolicy } from '../shared/callTimeout';
import type { Log } from '../shared/log';
import { BaselineStore, ConcurrencyConflictError, StateStore } from '../stateStore';
import { detectionPort } from './detectionPort';
import type { JobPorts, RecordContext } from './runDetectionJob';
import type { DetectedFinding } from '../detection/detector';
import { windowRowBudgetFor } from './rowBudget';

/** How the job reaches Azure, when not the defaults (tests, local tooling). */
export interface JobHostOverrides {
  /** Instead of the credential createCredential chooses (managed identity in Azure, developer sign-in elsewhere). */
  credential?: TokenCredential;
  /** A CA certificate (PEM) every HTTPS client trusts, for stand-ins with self-signed certificates. */
  tlsCa?: string;
  /** The clock. */
  now?: () => Date;
  /** Millisecond-scale retry delays instead of the production back-off. */
  fastRetries?: boolean;
  /**
   * Delivery bounds instead of the settings INGESTION_LATENCY_BOUND_MINUTES,
   * AZURE_CALL_TIMEOUT_SECONDS, SPOOL_ALERT_DAYS (tests: milliseconds), and the lease.
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
  /** Where the run's health records go (RunCommandDetectionHealth_CL, through the same DCR). */
  health: HealthSink;
}

export async function createJobPorts(
  config: JobConfig,
  overrides: JobHostOverrides = {},
  log?: Log,
): Promise<JobWiring> {
  const azure = azureClientOptions(config, overrides, log);
  const store = await openStateStore(config, azure);
  const writer = findingsWriter(config, overrides, azure, store, log);
  // Read-only view of the ledger, for the findings a settle pass no longer yields.
  const ledger = new Ledger(store.entities, 'reader', 0, () => Date.now());
  const enricher = config.enrichmentEnabled
    ? new VmEnricher({
        credential: azure.credential,
        endpoint: config.armEndpoint,
        clientOptions: azure.http({ ...azure.tls, ...azure.sdkRetries }),
      })
    : undefined;
  return {
    checkpointName: `runCommandDetection-${config.detectionMode}`,
    health: new HealthSink({
      endpoint: config.logsIngestionEndpoint,
      dcrImmutableId: config.dcrImmutableId,
      credential: azure.credential,
      clientOptions: azure.http({ ...azure.tls, ...azure.sdkRetries, ...azure.ingestionAudience }),
    }),
    ports: {
      checkpoints: store,
      isConcurrencyConflict: (error) => error instanceof ConcurrencyConflictError,
      source: new LogAnalyticsSource({
        workspaceId: config.logAnalyticsWorkspaceId,
        credential: azure.credential,
        endpoint: config.logAnalyticsEndpoint,
        clientOptions: azure.http({ ...azure.tls, ...azure.queryScope }),
        retry: overrides.fastRetries ? { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
        mode: config.detectionMode,
        windowsManagedHandler: windowsManagedHandlerOf(config),
        logger: log,
        windowRowBudget: windowRowBudgetFor(config.windowRowBudget),
      }),
      detection: detectionPort({
        mode: config.detectionMode,
        baselineDays: config.baselineDays,
        baseline: config.detectionMode === 'corrected' ? new BaselineStore(store.entities) : undefined,
        windowsManagedHandler: windowsManagedHandlerOf(config),
        log,
      }),
      enrich: enricher ? (scopes) => enricher.enrich(scopes) : undefined,
      toRecord: findingRecordOf,
      findingIdOf: (outgoing) => outgoing.record.FindingId,
      allowlist: allowlistOf(config, azure),
      writer: {
        sentFindingIds: (windowStart) => ledger.findingIdsOfWindow(windowStart),
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

/** The findings record of a detected finding (also what `runcommand-detect allowlist` matches entries against). */
export function findingRecordOf(detected: DetectedFinding, context: RecordContext): OutgoingFinding {
  const { window, mode, timeGenerated, enrichment } = context;
  return toOutgoingFinding(detected.finding, {
    window,
    identity: detected.identity,
    timeGenerated,
    mode,
    rule: RULE,
    enrichment,
    extended: detected.details ? { ...detected.details } : undefined,
    evidence: { ...detected.evidence, FindingKind: detected.kind ?? 'script' },
    severity: detected.kind === 'control-plane' ? CONTROL_PLANE_SEVERITY : undefined,
  });
}

/**
 * Corrected mode's baseline in the job's state store, reached as the job reaches it
 * (same settings, identity and table): for `runcommand-detect job --import-baseline`.
 */
export async function openBaselineStore(
  config: JobConfig,
  overrides: JobHostOverrides = {},
  log?: Log,
): Promise<BaselineStore> {
  const store = await openStateStore(config, azureClientOptions(config, overrides, log));
  return new BaselineStore(store.entities);
}

/** The state store the settings name (STATE_STORE_*), through the job's identity and HTTP options. */
function openStateStore(config: JobConfig, azure: AzureClientOptions): Promise<StateStore> {
  return StateStore.open(config.stateStore, {
    credential: azure.credential,
    tableName: config.stateStoreTableName,
    options: azure.http(azure.sdkRetries),
  });
}

/** ALLOWLIST_WATCHLIST: the watchlist, read through the same query API and identity as the tables. */
function allowlistOf(config: JobConfig, azure: AzureClientOptions): JobPorts<OutgoingFinding>['allowlist'] {
  if (!config.allowlistWatchlist) return undefined;
  const watchlist = new WatchlistAllowlist({
    workspaceId: config.logAnalyticsWorkspaceId,
    alias: config.allowlistWatchlist,
    credential: azure.credential,
    endpoint: config.logAnalyticsEndpoint,
    clientOptions: azure.http({ ...azure.tls, ...azure.sdkRetries, ...azure.queryScope }),
    now: azure.nowMs,
  });
  return {
    description: watchlist.description,
    read: () => watchlist.read(),
    subjectOf: (outgoing) => findingSubjectOf(outgoing.record),
  };
}

/** The columns of a findings record an allowlist entry can match. */
export function findingSubjectOf(record: FindingRecord): FindingSubject {
  return {
    ScriptSha256: record.ScriptSha256,
    ScriptFingerprintHash: record.ScriptFingerprintHash,
    Caller: record.Caller,
    VirtualMachineName: record.VirtualMachineName,
    CallerIpAddress: record.CallerIpAddress,
  };
}

/** What every Azure SDK client of the job is built with. */
interface AzureClientOptions {
  credential: TokenCredential;
  tls: { tlsOptions?: { ca: string } };
  sdkRetries: { retryOptions?: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number } };
  queryScope: { credentials?: { scopes: string[] } };
  ingestionAudience: { audience?: string };
  /** The client options with the call timeout and any added policies. */
  http<T extends object>(options: T): T & { additionalPolicies: AddedPolicy[] };
  nowMs: (() => number) | undefined;
}

function azureClientOptions(config: JobConfig, overrides: JobHostOverrides, log: Log | undefined): AzureClientOptions {
  // Every Azure SDK call ends within the call timeout, far under the ledger lease.
  const callTimeoutMs = overrides.delivery?.azureCallTimeoutMs ?? config.azureCallTimeoutSeconds * 1000;
  const scope = logAnalyticsScope(config.logAnalyticsEndpoint);
  const audience = logsIngestionAudience(config.logsIngestionEndpoint);
  return {
    credential: overrides.credential ?? chosenCredential(config, log),
    tls: overrides.tlsCa ? { tlsOptions: { ca: overrides.tlsCa } } : {},
    sdkRetries: overrides.fastRetries
      ? { retryOptions: { maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 5 } }
      : {},
    queryScope: scope ? { credentials: { scopes: [scope] } } : {},
    ingestionAudience: audience ? { audience } : {},
    http: (options) =>
      withCallTimeout({ ...options, additionalPolicies: [...(overrides.pipelinePolicies ?? [])] }, callTimeoutMs),
    nowMs: overrides.now ? () => overrides.now!().getTime() : undefined,
  };
}

/** The ledger + spool + sink writer, with the read-back of the findings table and the delivery bounds. */
function findingsWriter(
  config: JobConfig,
  overrides: JobHostOverrides,
  azure: AzureClientOptions,
  store: StateStore,
  log: Log | undefined,
): FindingsWriter {
  return new FindingsWriter({
    store: store.entities,
    sink: new LogsIngestionSink({
      endpoint: config.logsIngestionEndpoint,
      dcrImmutableId: config.dcrImmutableId,
      streamName: config.dcrStreamName,
      credential: azure.credential,
      clientOptions: azure.http({ ...azure.tls, ...azure.ingestionAudience }),
    }),
    readBack: new LogAnalyticsReadBack({
      workspaceId: config.logAnalyticsWorkspaceId,
      credential: azure.credential,
      endpoint: config.logAnalyticsEndpoint,
      clientOptions: azure.http({ ...azure.tls, ...azure.sdkRetries, ...azure.queryScope }),
      now: azure.nowMs,
    }),
    now: azure.nowMs,
    log,
    ingestionLatencyBoundMs:
      overrides.delivery?.ingestionLatencyBoundMs ?? config.ingestionLatencyBoundMinutes * 60_000,
    spoolAlertDays: overrides.delivery?.spoolAlertDays ?? config.spoolAlertDays,
    leaseMs: overrides.delivery?.leaseMs,
    retryDelays: overrides.fastRetries ? { baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 } : undefined,
  });
}

/** The managed identity in Azure, the developer's sign-in elsewhere; which one is logged. */
function chosenCredential(config: JobConfig, log: Log | undefined): TokenCredential {
  const chosen = createCredential(config);
  log?.info(`Credential: ${chosen.description}`, { credential: chosen.kind });
  return chosen.credential;
}

/**
 * The Windows managed handler as MANAGED_HANDLER_PROCESS_NAMES and MANAGED_HANDLER_FOLDER_MARKER
 * describe it (unverified defaults: src/detection/corrected/paths.ts); the push-down and the
 * engine read the same patterns.
 */
function windowsManagedHandlerOf(
  config: Pick<JobConfig, 'managedHandlerProcessNames' | 'managedHandlerFolderMarker'>,
): WindowsManagedHandler {
  return {
    ...WINDOWS_MANAGED_HANDLER,
    processFileNames: config.managedHandlerProcessNames,
    folderMarker: config.managedHandlerFolderMarker,
  };
}
