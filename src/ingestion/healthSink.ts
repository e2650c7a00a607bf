/**
 * Health records to RunCommandDetectionHealth_CL through the same data collection rule
 * as the findings (its second stream, Custom-RunCommandDetectionHealth_CL). A health
 * record is sent once, best effort: if it cannot be sent, the run logs an error and the
 * "no processed window in 26 hours" alert still fires, since it counts what arrived.
 */
import type { TokenCredential } from '@azure/core-auth';
import { LogsIngestionClient, type LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { describeUploadFailure, type IngestionError } from './errors';

export const HEALTH_STREAM_NAME = 'Custom-RunCommandDetectionHealth_CL';

export interface HealthSinkOptions {
  endpoint: string;
  dcrImmutableId: string;
  streamName?: string;
  credential: TokenCredential;
  clientOptions?: LogsIngestionClientOptions;
}

export class HealthSink {
  private readonly client: LogsIngestionClient;
  private readonly target: { endpoint: string; dcrImmutableId: string; streamName: string };

  constructor(options: HealthSinkOptions) {
    this.target = {
      endpoint: options.endpoint,
      dcrImmutableId: options.dcrImmutableId,
      streamName: options.streamName ?? HEALTH_STREAM_NAME,
    };
    this.client = new LogsIngestionClient(options.endpoint, options.credential, options.clientOptions);
  }

  /** Sends the records; resolves to the error (in words a SOC engineer can act on) if they did not arrive. */
  async send(records: readonly object[]): Promise<IngestionError | undefined> {
    if (records.length === 0) return undefined;
    try {
      await this.client.upload(this.target.dcrImmutableId, this.target.streamName, [...records] as Record<
        string,
        unknown
      >[]);
      return undefined;
    } catch (error) {
      return describeUploadFailure(error, this.target);
    }
  }
}
