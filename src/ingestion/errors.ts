/**
 * Why a batch of findings did not reach the findings table, in words a SOC engineer can
 * act on. One class per cause; `retriable` says whether the next run may succeed
 * unchanged (throttling, outages, a role assignment still propagating).
 */
import { AppError, type AppErrorOptions, messageOf } from '../shared/errors';

export interface IngestionTarget {
  /** Logs Ingestion endpoint (DCE or the DCR's own endpoint). */
  endpoint: string;
  /** Data collection rule immutable id, `dcr-…`. */
  dcrImmutableId: string;
  /** Stream declared in the DCR, e.g. Custom-RunCommandFindings_CL. */
  streamName: string;
}

export interface IngestionErrorOptions extends AppErrorOptions {
  target: IngestionTarget;
  retriable: boolean;
  /** HTTP status of the service's answer, when there was one. */
  statusCode?: number;
  /** What the service said (its error code and message), verbatim. */
  serviceMessage?: string;
}

export class IngestionError extends AppError {
  readonly target: IngestionTarget;
  readonly statusCode: number | undefined;
  readonly serviceMessage: string | undefined;

  constructor(message: string, options: IngestionErrorOptions) {
    super(message, options);
    this.target = options.target;
    this.statusCode = options.statusCode;
    this.serviceMessage = options.serviceMessage;
  }
}

/** 401/403: the identity may not ingest through this DCR. */
export class IngestionForbiddenError extends IngestionError {}
/** No token could be had for the Logs Ingestion audience (managed identity missing or misconfigured). */
export class IngestionAuthenticationError extends IngestionError {}
/** 400: the service refused the records (schema/column mismatch, bad values). */
export class IngestionBadRequestError extends IngestionError {}
/** 404: no such DCR or stream at this endpoint. */
export class IngestionNotFoundError extends IngestionError {}
/** 413: the call was over the 1 MB limit. */
export class IngestionPayloadTooLargeError extends IngestionError {}
/** 429 after the client's retries. */
export class IngestionThrottledError extends IngestionError {}
/** 5xx, timeouts, connection failures after the client's retries. */
export class IngestionUnavailableError extends IngestionError {}

interface RestLike {
  statusCode?: number;
  code?: string;
  message?: string;
  response?: { bodyAsText?: string | null };
}

/** Turns whatever the SDK threw for one batch into the matching IngestionError. */
export function describeUploadFailure(cause: unknown, target: IngestionTarget): IngestionError {
  if (cause instanceof IngestionError) return cause;
  const e = (typeof cause === 'object' && cause !== null ? cause : {}) as RestLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const said = serviceSaid(e, cause);
  const dcr = target.dcrImmutableId;
  const stream = target.streamName;
  const name = cause instanceof Error ? cause.name : '';
  if (status === undefined && (name === 'CredentialUnavailableError' || name === 'AuthenticationError')) {
    return new IngestionAuthenticationError(
      `Could not get a Microsoft Entra token to write findings to data collection rule ${dcr} (${name}): ${said}. ` +
        `Check that the Function App has a managed identity (and AZURE_CLIENT_ID names it, for a user-assigned one), ` +
        `or sign in with 'az login' when running locally. The findings are kept in the spool.`,
      { target, retriable: true, serviceMessage: said, cause },
    );
  }
  switch (true) {
    case status === 401 || status === 403:
      return new IngestionForbiddenError(
        `Logs Ingestion refused the findings (HTTP ${status}): grant the function's identity the ` +
          `'Monitoring Metrics Publisher' role on data collection rule ${dcr}; role changes take up to 30 minutes ` +
          `to apply. The findings are kept in the spool and sent at the next run. Service said: ${said}`,
        { target, retriable: true, statusCode: status, serviceMessage: said, cause },
      );
    case status === 400:
      return new IngestionBadRequestError(
        `Logs Ingestion rejected the findings as invalid (HTTP 400) for stream ${stream} of data collection rule ` +
          `${dcr}: ${said}. Check that the DCR's stream declaration has the columns and types of ` +
          `infra/findings-table.json (redeploy infra/bicep). The findings are kept in the spool.`,
        { target, retriable: false, statusCode: status, serviceMessage: said, cause },
      );
    case status === 404:
      return new IngestionNotFoundError(
        `Logs Ingestion found no data collection rule ${dcr} with stream ${stream} at ${target.endpoint} (HTTP 404): ` +
          `check DCR_IMMUTABLE_ID (the DCR's immutableId, 'dcr-' + 32 hex digits, on its JSON view), ` +
          `DCR_STREAM_NAME and LOGS_INGESTION_ENDPOINT. The findings are kept in the spool. Service said: ${said}`,
        { target, retriable: false, statusCode: status, serviceMessage: said, cause },
      );
    case status === 413:
      return new IngestionPayloadTooLargeError(
        `Logs Ingestion refused a call over its 1 MB limit (HTTP 413) for data collection rule ${dcr}: ${said}.`,
        { target, retriable: false, statusCode: status, serviceMessage: said, cause },
      );
    case status === 429:
      return new IngestionThrottledError(
        `Logs Ingestion kept throttling (HTTP 429) after retries for data collection rule ${dcr}: ${said}. ` +
          `The findings are kept in the spool and sent at the next run.`,
        { target, retriable: true, statusCode: status, serviceMessage: said, cause },
      );
    default:
      return new IngestionUnavailableError(
        `Logs Ingestion at ${target.endpoint} failed${status ? ` (HTTP ${status})` : ''} after retries: ${said}. ` +
          `The findings are kept in the spool and sent at the next run; if this persists check ` +
          `LOGS_INGESTION_ENDPOINT and the service health of Azure Monitor.`,
        { target, retriable: true, statusCode: status, serviceMessage: said, cause },
      );
  }
}

function serviceSaid(e: RestLike, cause: unknown): string {
  const body = e.response?.bodyAsText;
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) {
        return `${parsed.error.code ? parsed.error.code + ': ' : ''}${parsed.error.message}`;
      }
    } catch {
      /* not JSON: fall through */
    }
  }
  const message = e.message ?? messageOf(cause);
  return `${e.code ? e.code + ': ' : ''}${message}`.split('\n', 1)[0]!.slice(0, 1000);
}
