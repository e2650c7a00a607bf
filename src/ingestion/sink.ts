/**
 * Where finding records go: the findings table through the Logs Ingestion API, or an
 * NDJSON file for local runs (`--output`). Both report, per record, whether it arrived.
 */
import { messageOf } from '../shared/errors';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import {
  LogsIngestionClient,
  isAggregateLogsUploadError,
  type LogsIngestionClientOptions,
  type LogsUploadFailure,
} from '@azure/monitor-ingestion';
import { IngestionAuthenticationError, describeUploadFailure, type IngestionTarget } from './errors';
import { FINDINGS_TABLE, type FindingRecord } from './record';

export interface SendFailure {
  records: FindingRecord[];
  /** An IngestionError subclass for Logs Ingestion; a plain Error naming the file for the file sink. */
  error: Error;
  /**
   * The records may have reached the table all the same: no answer came (connection
   * dropped, client timeout) or an answer that does not say they were refused (500,
   * 502, 504, …). False only when the service answered with a refusal.
   */
  maybeDelivered: boolean;
  /** A refusal worth retrying in the same run (429, 503), and how long the service asked to wait. */
  retryNow?: { afterMs: number | undefined };
}

export interface SendResult {
  sent: FindingRecord[];
  failed: SendFailure[];
}

export interface FindingsSink {
  /** Where the records go, for messages: "data collection rule dcr-… stream …", "file …". */
  readonly description: string;
  /** Sends the records. Never throws for a refused batch: it is reported in `failed`. */
  send(records: FindingRecord[]): Promise<SendResult>;
}

export interface LogsIngestionSinkOptions {
  /** LOGS_INGESTION_ENDPOINT: the DCE or the DCR's logs ingestion endpoint (https). */
  endpoint: string;
  /** DCR_IMMUTABLE_ID: `dcr-` + 32 hex digits. */
  dcrImmutableId: string;
  /** DCR_STREAM_NAME; default the stream of infra/findings-table.json. */
  streamName?: string;
  credential: TokenCredential;
  /**
   * Passed to LogsIngestionClient: tlsOptions (tests), audience (sovereign clouds),
   * additionalPolicies (call timeout). Its retryOptions are overridden: the SDK does not
   * retry uploads, so that the writer records each attempt in the ledger before it is made.
   */
  clientOptions?: LogsIngestionClientOptions;
  /** Concurrent upload calls (the SDK's default is 5). */
  maxConcurrency?: number;
}

/**
 * The findings table through `LogsIngestionClient.upload`: the SDK cuts the records into
 * calls under 1 MB and gzips them; each call is made once (SDK retries off: the writer
 * retries, counting and recording each attempt). Calls that fail come back in `failed`
 * with the records they carried and whether they may have arrived anyway.
 */
export class LogsIngestionSink implements FindingsSink {
  readonly description: string;
  readonly target: IngestionTarget;
  private readonly client: LogsIngestionClient;

  constructor(private readonly options: LogsIngestionSinkOptions) {
    this.target = {
      endpoint: options.endpoint,
      dcrImmutableId: options.dcrImmutableId,
      streamName: options.streamName ?? FINDINGS_TABLE.streamName,
    };
    this.description = `data collection rule ${this.target.dcrImmutableId} stream ${this.target.streamName}`;
    this.client = new LogsIngestionClient(options.endpoint, options.credential, {
      ...options.clientOptions,
      retryOptions: { maxRetries: 0 },
    });
  }

  async send(records: FindingRecord[]): Promise<SendResult> {
    if (records.length === 0) return { sent: [], failed: [] };
    const failures: LogsUploadFailure[] = [];
    try {
      await this.client.upload(this.target.dcrImmutableId, this.target.streamName, records, {
        maxConcurrency: this.options.maxConcurrency,
        onError: (failure) => failures.push(failure),
      });
    } catch (e) {
      if (!isAggregateLogsUploadError(e)) {
        // Nothing was reported per batch: count every record as not sent.
        return { sent: [], failed: [{ records, ...classifyUploadFailure(e, this.target) }] };
      }
    }
    // The SDK hands back the very record objects it could not send.
    const failedRecords = new Set<unknown>();
    const failed: SendFailure[] = failures.map((f) => {
      f.failedLogs.forEach((r) => failedRecords.add(r));
      return { records: f.failedLogs as FindingRecord[], ...classifyUploadFailure(f.cause, this.target) };
    });
    return { sent: records.filter((r) => !failedRecords.has(r)), failed };
  }
}

/** Statuses with which the Logs Ingestion API says it did not take the records. */
const REFUSALS = new Set([400, 401, 403, 404, 413, 429, 503]);
const RETRY_NOW = new Set([429, 503]);

/** What one failed upload call means for its records (see SendFailure). */
export function classifyUploadFailure(
  cause: unknown,
  target: IngestionTarget,
): Pick<SendFailure, 'error' | 'maybeDelivered' | 'retryNow'> {
  const error = describeUploadFailure(cause, target);
  const status = error.statusCode;
  // No token: nothing was sent. Connection refused: nothing reached the service.
  const neverSent =
    error instanceof IngestionAuthenticationError || (cause as { code?: string } | null)?.code === 'ECONNREFUSED';
  const maybeDelivered = !neverSent && !(status !== undefined && REFUSALS.has(status));
  const retryNow = status !== undefined && RETRY_NOW.has(status) ? { afterMs: retryAfterMs(cause) } : undefined;
  return { error, maybeDelivered, ...(retryNow ? { retryNow } : {}) };
}

function retryAfterMs(cause: unknown): number | undefined {
  const headers = (cause as { response?: { headers?: { get?: (name: string) => string | undefined } } } | null)
    ?.response?.headers;
  const value = typeof headers?.get === 'function' ? headers.get('retry-after') : undefined;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** One JSON record per line, appended to `path` (created with its folder if needed). */
export class NdjsonFileSink implements FindingsSink {
  readonly description: string;

  constructor(readonly path: string) {
    this.description = `file ${path}`;
  }

  async send(records: FindingRecord[]): Promise<SendResult> {
    if (records.length === 0) return { sent: [], failed: [] };
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, records.map((r) => JSON.stringify(r) + '\n').join(''), 'utf8');
      return { sent: records, failed: [] };
    } catch (e) {
      const why = messageOf(e);
      return {
        sent: [],
        failed: [
          {
            records,
            error: new Error(`Could not write findings to ${this.path}: ${why}`, { cause: e }),
            maybeDelivered: false,
          },
        ],
      };
    }
  }
}
