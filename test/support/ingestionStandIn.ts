/**
 * A stand-in for the Azure Monitor Logs Ingestion API on https://127.0.0.1:<port>
 * (certificate from ./tls). It answers
 *   POST /dataCollectionRules/{dcrImmutableId}/streams/{stream}?api-version=2023-01-01
 * like the service: 204 on success; gunzips the body (the SDK sends gzip), checks the
 * bearer token, the DCR id, the stream and the api-version, and keeps every record it
 * accepted. Tests script failures per call: `failNext(...)` answers the next calls with
 * the given statuses (500, 429 with Retry-After, 400, 403, 413, …) with realistic
 * error bodies; `failWhen(predicate)` fails every call whose records match.
 *
 * Faults of the way back: `'accept-and-drop'` keeps the records and drops the
 * connection before answering (the service took the batch, the client never hears);
 * `{ acceptAndDelayMs }` keeps them and answers that much later (a call slower than the
 * client's timeout). What the service keeps becomes queryable `visibilityDelayMs` after
 * it arrived, on the stand-in's clock (`visibleRecords`, which the query stand-in serves
 * as the findings table).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { testCertificate } from './tls';

const HEALTH_STREAM = 'Custom-RunCommandDetectionHealth_CL';

export interface FailSpec {
  status: number;
  /** Seconds, sent as Retry-After (429/503). */
  retryAfterSeconds?: number;
  /** Replaces the realistic default error body. */
  body?: unknown;
}

/** `'ok'` in a failNext script lets that call through; the others accept the records and lose or delay the answer. */
export type ScriptedAnswer = FailSpec | 'ok' | 'accept-and-drop' | { acceptAndDelayMs: number };

export interface IngestionCall {
  dcrImmutableId: string;
  stream: string;
  apiVersion: string | null;
  authorization: string | undefined;
  contentEncoding: string | undefined;
  records: Record<string, unknown>[];
  status: number;
  /** The service kept the records (a 204, or a dropped/delayed answer after accepting). */
  accepted: boolean;
  /** When it kept them, on the stand-in's clock (ms). */
  acceptedAt?: number;
  /** The answer never left (the connection was dropped). */
  dropped?: boolean;
}

export interface IngestionStandInOptions {
  dcrImmutableId?: string;
  streamName?: string;
  /** The bearer token the stand-in accepts (test/support/credential.ts hands out 'fake-token'). */
  token?: string;
  /** The clock `acceptedAt` and `visibleRecords` use (ms); default Date.now. */
  clock?: () => number;
}

export class IngestionStandIn {
  readonly calls: IngestionCall[] = [];
  readonly ca: string;
  readonly dcrImmutableId: string;
  readonly streamName: string;
  private readonly token: string;
  /** How long after it was kept a record becomes queryable (ingestion latency). */
  visibilityDelayMs = 0;
  clock: () => number;
  private script: ScriptedAnswer[] = [];
  private predicate: ((records: Record<string, unknown>[]) => FailSpec | undefined) | undefined;
  private server!: Server;
  private port = 0;

  private constructor(options: IngestionStandInOptions) {
    this.dcrImmutableId = options.dcrImmutableId ?? 'dcr-00112233445566778899aabbccddeeff';
    this.streamName = options.streamName ?? 'Custom-RunCommandFindings_CL';
    this.token = options.token ?? 'fake-token';
    this.clock = options.clock ?? Date.now;
    this.ca = testCertificate().ca;
  }

  static async start(options: IngestionStandInOptions = {}): Promise<IngestionStandIn> {
    const s = new IngestionStandIn(options);
    const { key, cert } = testCertificate();
    s.server = createServer({ key, cert }, (req, res) => void s.handle(req, res));
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as { port: number }).port;
    return s;
  }

  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Health records received on the health stream (Custom-RunCommandDetectionHealth_CL), in arrival order. */
  readonly health: Record<string, unknown>[] = [];

  /** Every record the service kept (answered 204 or not), in arrival order. */
  get received(): Record<string, unknown>[] {
    return this.calls.filter((c) => c.accepted).flatMap((c) => c.records);
  }

  /** The records a query of the table sees now: kept at least `visibilityDelayMs` ago. */
  visibleRecords(): Record<string, unknown>[] {
    const now = this.clock();
    return this.calls
      .filter((c) => c.accepted && (c.acceptedAt ?? 0) + this.visibilityDelayMs <= now)
      .flatMap((c) => c.records);
  }

  /** Answers the next calls, one entry each, then goes back to normal. */
  failNext(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** Fails every call for which `predicate(records)` returns a spec (after the failNext script). */
  failWhen(predicate: ((records: Record<string, unknown>[]) => FailSpec | undefined) | undefined): void {
    this.predicate = predicate;
  }

  reset(): void {
    this.script = [];
    this.predicate = undefined;
    this.calls.length = 0;
    this.health.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', this.endpoint);
    const m = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/.exec(url.pathname);
    const call: IngestionCall = {
      dcrImmutableId: m ? decodeURIComponent(m[1]!) : '',
      stream: m ? decodeURIComponent(m[2]!) : '',
      apiVersion: url.searchParams.get('api-version'),
      authorization: req.headers.authorization,
      contentEncoding: req.headers['content-encoding'],
      records: [],
      status: 0,
      accepted: false,
    };
    this.calls.push(call);
    const answer = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      call.status = status;
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        ...headers,
        ...(text ? { 'content-type': 'application/json' } : {}),
        'x-ms-request-id': `standin-${this.calls.length}`,
      });
      res.end(text);
    };

    if (req.method !== 'POST' || !m)
      return answer(404, errorBody('NotFound', `No route for ${req.method} ${url.pathname}.`));
    if (call.authorization !== `Bearer ${this.token}`) {
      return answer(401, errorBody('InvalidToken', 'The provided authentication token is not valid.'));
    }
    if (call.apiVersion !== '2023-01-01') {
      return answer(400, errorBody('InvalidApiVersion', `The api-version '${call.apiVersion}' is not supported.`));
    }
    if (call.dcrImmutableId !== this.dcrImmutableId) {
      return answer(
        404,
        errorBody('NotFound', `Data collection rule with immutable Id '${call.dcrImmutableId}' not found.`),
      );
    }
    if (call.stream === HEALTH_STREAM && call.stream !== this.streamName) {
      // The job's health records, on the DCR's second stream: kept apart from the
      // findings calls (tests script and count those), always accepted.
      const raw = Buffer.concat(chunks);
      const text = (call.contentEncoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      this.health.push(...(JSON.parse(text) as Record<string, unknown>[]));
      this.calls.splice(this.calls.indexOf(call), 1);
      return answer(204);
    }
    if (call.stream !== this.streamName) {
      return answer(
        404,
        errorBody(
          'InvalidStream',
          `Stream '${call.stream}' is not declared in data collection rule '${call.dcrImmutableId}'.`,
        ),
      );
    }
    try {
      const raw = Buffer.concat(chunks);
      const text = (call.contentEncoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const parsed: unknown = JSON.parse(text);
      if (!Array.isArray(parsed)) throw new Error('body is not a JSON array');
      call.records = parsed as Record<string, unknown>[];
    } catch (e) {
      return answer(400, errorBody('InvalidPayload', `The request body could not be read: ${(e as Error).message}`));
    }

    const scripted = this.script.shift();
    if (scripted === 'accept-and-drop') {
      Object.assign(call, { accepted: true, acceptedAt: this.clock(), dropped: true, status: 204 });
      res.socket?.destroy();
      return;
    }
    if (typeof scripted === 'object' && 'acceptAndDelayMs' in scripted) {
      Object.assign(call, { accepted: true, acceptedAt: this.clock() });
      await new Promise((r) => setTimeout(r, scripted.acceptAndDelayMs));
      if (res.destroyed || res.socket?.destroyed) return;
      return answer(204);
    }
    const spec = scripted === 'ok' ? undefined : (scripted ?? this.predicate?.(call.records));
    if (spec) {
      const headers: Record<string, string> =
        spec.retryAfterSeconds !== undefined ? { 'retry-after': String(spec.retryAfterSeconds) } : {};
      return answer(spec.status, spec.body ?? this.defaultBody(spec.status), headers);
    }
    call.accepted = true;
    call.acceptedAt = this.clock();
    answer(204);
  }

  private defaultBody(status: number): unknown {
    switch (status) {
      case 400:
        return errorBody(
          'InvalidRequest',
          "Record 0: column 'PowershellFileSize' of type 'long' cannot be read from value 'abc'.",
        );
      case 401:
        return errorBody('InvalidToken', 'The provided authentication token is not valid.');
      case 403:
        return errorBody(
          'OperationFailed',
          `The authentication token provided does not have access to ingest data for the data collection rule ` +
            `with immutable Id '${this.dcrImmutableId}'. PipelineAccessResult: AccessGranted: False, ` +
            `IsRbacPresent: False, Message: Required authorization action was not found.`,
        );
      case 404:
        return errorBody('NotFound', `Data collection rule with immutable Id '${this.dcrImmutableId}' not found.`);
      case 413:
        return errorBody('ContentLengthLimitExceeded', 'The request body exceeds the 1 MB limit.');
      case 429:
        return errorBody('TooManyRequests', 'Rate limit exceeded for data collection rule. Retry later.');
      default:
        return errorBody('ServiceUnavailable', 'The service is temporarily unavailable. Please retry.');
    }
  }
}

const errorBody = (code: string, message: string): unknown => ({ error: { code, message } });
