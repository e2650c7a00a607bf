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
import { describeUploadFailure, type IngestionTarget } from './errors';
import { FINDINGS_TABLE, type FindingRecord } from './record';

export interface SendFailure {
  records: FindingRecord[];
  /** An IngestionError subclass for Logs Ingestion; a plain Error naming the file for the file sink. */
  error: Error;
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
  /** Passed to LogsIngestionClient: retryOptions, tlsOptions (tests), audience (sovereign clouds). */
  clientOptions?: LogsIngestionClientOptions;
  /** Concurrent upload calls (the SDK's default is 5). */
  maxConcurrency?: number;
}

/**
 * The findings table through `LogsIngestionClient.upload`: the SDK cuts the records into
 * calls under 1 MB, gzips them and retries 429 (honouring Retry-After) and 5xx per its
 * retryOptions. Calls that still fail come back in `failed` with the records they carried.
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
    this.client = new LogsIngestionClient(options.endpoint, options.credential, options.clientOptions);
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
        return { sent: [], failed: [{ records, error: describeUploadFailure(e, this.target) }] };
      }
    }
    // The SDK hands back the very record objects it could not send.
    const failedRecords = new Set<unknown>();
    const failed: SendFailure[] = failures.map((f) => {
      f.failedLogs.forEach((r) => failedRecords.add(r));
      return { records: f.failedLogs as FindingRecord[], error: describeUploadFailure(f.cause, this.target) };
    });
    return { sent: records.filter((r) => !failedRecords.has(r)), failed };
  }
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
        failed: [{ records, error: new Error(`Could not write findings to ${this.path}: ${why}`, { cause: e }) }],
      };
    }
  }
}
