/**
 * A Log Analytics query API stand-in for tests: HTTPS on 127.0.0.1 with the test
 * certificate, answering `POST /v1/workspaces/{id}/query` the way the real API does,
 * from NDJSON-shaped fixture rows.
 *
 * It is not a KQL engine: it recognises the queries of `src/logAnalytics/queries`
 * (table name, the `TimeGenerated >= datetime(…) and TimeGenerated < datetime(…)`
 * bounds, the `project` list), applies each table's row filters through the engine's
 * own `ParityDetection.isRelevant` (the same `where`s the query pushes down), and
 * answers the projected columns with their Log Analytics types on the wire
 * (`tostring(X)` → string). Any other query text gets the API's 400 `BadArgumentError`.
 *
 * Switches for the limits of the real API: a row cap per response (answered as a
 * `PartialError` with `E_QUERY_RESULT_SET_TOO_LARGE` and the truncated rows, or as a
 * silent truncation), queued faults (429 with `Retry-After`, 500, 504, `PartialError`),
 * and a persistent fault for chosen requests. Every request is recorded.
 *
 * The findings writer's read-back query (src/ingestion/readBack.ts readBackQuery) is
 * answered from `findingsTable()`, the rows the findings table holds now (tests hand it
 * the ingestion stand-in's `visibleRecords`); `readBackFaults` are consumed by it alone.
 * It also answers the source-health count (`<Table> | where TimeGenerated … | count`)
 * over every row of the table in the bounds, and `visible` hides rows that are not
 * queryable yet (late ingestion): a hidden row is in no answer, pull or count.
 *
 * The allowlist's watchlist query (src/logAnalytics/watchlist.ts buildWatchlistQuery,
 * `_GetWatchlist('<alias>') | project X = tostring(column_ifexists('Col', '')), …`) is
 * answered from `watchlists[alias]`, each item its watchlist columns: a column an item
 * lacks is '' (column_ifexists), an alias with no items answers no rows (as
 * `_GetWatchlist` does), an item with a TimeGenerated outside the timespan is not seen
 * (Sentinel refreshes items every 12 days). `watchlistFaults` are consumed by it alone.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coerceRow, CorrectedDetection, ParityDetection } from '../../src/detection';
import { parseKqlDateTime, toUnixTicks } from '../../src/detection/datetime';
import { CORRECTED_TABLE_NAMES, TABLE_NAMES, type RuleTableName, type TableName } from '../../src/detection/schema';
import { FINDING_COLUMNS, type RunCommandFinding } from '../../src/detection/schema';
import { buildServerRuleQuery } from '../../src/logAnalytics/ruleQuery';
import { referenceQuery } from '../reference/parityReference';
import { LOG_ANALYTICS_TABLES } from './kusto';
import { testCertificate } from './tls';

export type FixtureRow = Record<string, unknown>;
/** Rows per table: the rule's three, and DeviceProcessEvents when the fixture has any (absent: none). */
export type FixtureTables = Record<RuleTableName, FixtureRow[]> & { DeviceProcessEvents?: FixtureRow[] };

/** One injected failure, consumed by one request. */
export type Fault =
  | { kind: 'status'; status: 403 | 429 | 500 | 502 | 503 | 504; retryAfter?: string }
  | { kind: 'partial'; message?: string }
  | { kind: 'reset' };

export interface RecordedRequest {
  workspaceId: string;
  table?: TableName;
  start?: string;
  end?: string;
  timespan?: string;
  prefer?: string;
  authorization?: string;
  clientRequestId?: string;
  query: string;
  /** HTTP status answered, and rows returned. */
  status: number;
  rows: number;
  /** Response body bytes. */
  bytes?: number;
  outcome: 'rows' | 'tooLarge' | 'truncated' | 'fault' | 'refused';
  /** 'count': a source-health count query; 'watchlist': the allowlist's; absent: a pull. */
  kind?: 'count' | 'watchlist';
}

export interface StandInOptions {
  workspaceId: string;
  tables: FixtureTables;
  /** The bearer token the stand-in accepts (default 'fake-token', as FakeCredential). */
  token?: string;
}

/** Reads `<dir>/<Table>.ndjson` for the three tables. */
export function readFixtureDay(dir: string): FixtureTables {
  const out = {} as FixtureTables;
  for (const t of TABLE_NAMES) {
    out[t] = readFileSync(join(dir, `${t}.ndjson`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as FixtureRow);
  }
  return out;
}

/** The rule's own query, as `verify` sends it (the repository text plus the ticks-preserving step). */
const RULE_QUERY = buildServerRuleQuery();

const WATCHLIST_QUERY = /^_GetWatchlist\('([A-Za-z0-9_-]{1,64})'\)\n\| project (.+)$/;
const WATCHLIST_COLUMN = /^(\w+) = tostring\((?:column_ifexists\('(\w+)', ''\)|(\w+))\)$/;

/** One watchlist item: its columns as text (and, optionally, `_DTItemId` and `TimeGenerated`). */
export type WatchlistItem = Record<string, string>;

const READ_BACK =
  /^(\w+)\n\| where TimeGenerated >= datetime\(([^)]+)\)\n\| where FindingId in \(([^)]*)\)\n\| distinct FindingId$/;
const COUNT_QUERY =
  /^(\w+)\n\| where TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)(\n[\s\S]*?)?\n\| count$/;

const QUERY_HEAD =
  /^(\w+)\n\| where TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)(\n[\s\S]*?)?(?:\n\| project ([^\n]+))?$/;

/** A fixture row with its TimeGenerated in ticks and whether the rule's filters keep it. */
interface IndexedRow {
  ticks: bigint;
  raw: FixtureRow;
  /** Kept by the rule's row filters (parity push-down), and by corrected mode's. */
  relevant: boolean;
  relevantCorrected: boolean;
}

interface Projected {
  name: string;
  source: string;
  asText: boolean;
}

/** Marks a query without `project`: every column of the table. */
const wholeRow: Projected[] = [];

function parseProject(list: string): Projected[] | null {
  const out: Projected[] = [];
  for (const item of list.split(',').map((s) => s.trim())) {
    let m = /^(\w+)=tostring\((\w+)\)$/.exec(item);
    if (m) {
      out.push({ name: m[1]!, source: m[2]!, asText: true });
      continue;
    }
    m = /^(\w+)$/.exec(item);
    if (!m) return null;
    out.push({ name: m[1]!, source: m[1]!, asText: false });
  }
  return out;
}

/** KQL `tostring` of a stored cell of the given column type. */
function tostringCell(value: unknown, type: string): string {
  if (value === null || value === undefined) return '';
  if (type === 'datetime') return parseKqlDateTime(String(value)) ?? '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export class LogAnalyticsStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Faults consumed in order, one per request, before anything else is looked at. */
  readonly faults: Fault[] = [];
  /** A fault for every request this returns one for (e.g. a slice that keeps failing). */
  persistentFault?: (req: { table: TableName; start: string; end: string }) => Fault | undefined;
  /** Rows per response; above it the answer is too large. */
  rowCap?: number;
  /** How an answer over the cap looks: a PartialError (as Log Analytics does) or a silent cut. */
  capMode: 'partialError' | 'silentTruncation' = 'partialError';
  /** Hold each answer this long, so that concurrent requests overlap. */
  responseDelayMs = 0;
  /**
   * Perturbs the rule's answer (the `verify` query) before it is sent: e.g. drop a row,
   * or change a column of one, so that a difference with parity mode shows.
   */
  perturbRuleRows?: (rows: RunCommandFinding[]) => RunCommandFinding[];
  /** The findings table's rows, as a query sees them now (e.g. IngestionStandIn.visibleRecords). */
  findingsTable?: () => Record<string, unknown>[];
  /** Faults for read-back queries, one per query. */
  readonly readBackFaults: Fault[] = [];
  /** Sentinel watchlists by alias, answered to `_GetWatchlist('<alias>')`. */
  watchlists: Record<string, WatchlistItem[]> = {};
  /** Faults for watchlist queries, one per query. */
  readonly watchlistFaults: Fault[] = [];
  /** Whether a fixture row is queryable now (default: all are); late rows return false until they "arrive". */
  visible?: (table: TableName, row: FixtureRow) => boolean;
  /** Extra tables answered beside PrimaryResult (a malformed answer), for every pull. */
  extraTables = 0;
  /** Changes a pull's answer before it is sent (a malformed answer: a column twice, a row out of bounds). */
  transformAnswer?: (answer: {
    tables: Array<{ name: string; columns: Array<{ name: string; type: string }>; rows: unknown[][] }>;
  }) => void;
  /** Requests being answered now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    readonly ca: string,
    private readonly options: StandInOptions,
  ) {}

  static async start(options: StandInOptions): Promise<LogAnalyticsStandIn> {
    const { key, cert, ca } = testCertificate();
    const ref: { standIn?: LogAnalyticsStandIn } = {};
    const server = createServer({ key, cert }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const s = ref.standIn!;
        s.inFlight++;
        s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
        res.on('close', () => s.inFlight--);
        if (s.responseDelayMs > 0) setTimeout(() => s.handle(req, res, body), s.responseDelayMs);
        else s.handle(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    ref.standIn = new LogAnalyticsStandIn(server, `https://127.0.0.1:${port}/v1`, ca, options);
    return ref.standIn;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private readonly index = new Map<TableName, IndexedRow[]>();

  /** The fixture rows of `table`, parsed once: rows without a valid TimeGenerated never match (KQL null). */
  private indexed(table: TableName): IndexedRow[] {
    let rows = this.index.get(table);
    if (!rows) {
      rows = [];
      for (const raw of this.options.tables[table] ?? []) {
        const t = typeof raw.TimeGenerated === 'string' ? parseKqlDateTime(raw.TimeGenerated) : null;
        if (t === null) continue;
        const row = coerceRow(table, raw).row;
        rows.push({
          ticks: toUnixTicks(t),
          raw,
          relevant: ParityDetection.isRelevant(table, row),
          relevantCorrected: CorrectedDetection.isRelevant(table, row),
        });
      }
      this.index.set(table, rows);
    }
    return rows;
  }

  /** Requests that asked for rows of `table` (not the counts). */
  requestsFor(table: TableName): RecordedRequest[] {
    return this.requests.filter((r) => r.table === table && r.kind !== 'count');
  }

  /** The pulls: every request but the counts (and the watchlist's). */
  get pulls(): RecordedRequest[] {
    return this.requests.filter((r) => r.kind === undefined);
  }

  /** Answers a reset or status fault (recording it); false for a fault that is not one of those. */
  private answerFault(
    fault: Fault,
    record: RecordedRequest,
    req: IncomingMessage,
    res: ServerResponse,
    code: string,
  ): boolean {
    if (fault.kind === 'reset') {
      record.outcome = 'fault';
      req.socket.destroy();
      return true;
    }
    if (fault.kind !== 'status') return false;
    record.outcome = 'fault';
    record.status = fault.status;
    const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
    this.send(res, fault.status, { error: { code, message: `stand-in fault ${fault.status}` } }, headers);
    return true;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    const last = this.requests.at(-1);
    if (last) last.bytes = Buffer.byteLength(text);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const m = /^\/v1\/workspaces\/([^/]+)\/query$/.exec(req.url ?? '');
    const record: RecordedRequest = {
      workspaceId: m?.[1] ?? '',
      authorization: req.headers.authorization,
      prefer: req.headers.prefer as string | undefined,
      clientRequestId: req.headers['x-ms-client-request-id'] as string | undefined,
      query: '',
      status: 0,
      rows: 0,
      outcome: 'refused',
    };
    this.requests.push(record);
    const refuse = (status: number, code: string, message: string) => {
      record.status = status;
      this.send(res, status, { error: { code, message } });
    };
    if (req.method !== 'POST' || !m) return refuse(404, 'PathNotFoundError', `No route for ${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${this.options.token ?? 'fake-token'}`) {
      return refuse(401, 'AuthorizationRequiredError', 'Valid authentication was not provided');
    }
    if (m[1] !== this.options.workspaceId) {
      return refuse(404, 'WorkspaceNotFoundError', `The workspace could not be found: ${m[1]}`);
    }
    let parsed: { query?: string; timespan?: string };
    try {
      parsed = JSON.parse(body) as { query?: string; timespan?: string };
    } catch {
      return refuse(400, 'BadArgumentError', 'The request body is not JSON');
    }
    record.query = parsed.query ?? '';
    record.timespan = parsed.timespan;
    if (record.query === RULE_QUERY) return this.answerRuleQuery(record, parsed.timespan, res);
    const watchlist = WATCHLIST_QUERY.exec(record.query);
    if (watchlist) return this.answerWatchlist(record, watchlist, parsed.timespan, req, res);
    const readBack = READ_BACK.exec(record.query);
    if (readBack) return this.answerReadBack(record, readBack, parsed.timespan, req, res);
    const count = COUNT_QUERY.exec(record.query);
    if (count && CORRECTED_TABLE_NAMES.includes(count[1] as TableName)) {
      const table = count[1] as TableName;
      const start = parseKqlDateTime(count[2]!);
      const end = parseKqlDateTime(count[3]!);
      if (!start || !end) return refuse(400, 'BadArgumentError', `Bad bounds ${count[2]} ${count[3]}`);
      // Queued faults are for pulls; a persistent one (a failing table) hits the counts too.
      const fault = this.persistentFault?.({ table, start, end });
      if (fault?.kind === 'status') {
        record.status = fault.status;
        record.outcome = 'fault';
        return this.send(res, fault.status, { error: { code: 'InternalServerError', message: 'stand-in fault' } });
      }
      const lo = toUnixTicks(start);
      const hi = toUnixTicks(end);
      // With the push-down filters (the source sizing its slices), the rows the pull would return.
      const steps = count[4] ?? '';
      const filtered = steps.includes('| where ');
      // Only corrected mode queries DeviceProcessEvents.
      const corrected =
        table === 'DeviceProcessEvents' ||
        steps.includes('InitiatingProcessFileName =~ ') ||
        steps.includes('(?i)') ||
        steps.includes(' in~ (');
      const n = this.indexed(table).filter(
        (r) =>
          r.ticks >= lo &&
          r.ticks < hi &&
          (this.visible?.(table, r.raw) ?? true) &&
          (!filtered || (corrected ? r.relevantCorrected : r.relevant)),
      ).length;
      Object.assign(record, {
        table,
        start,
        end,
        kind: 'count',
        status: 200,
        rows: 1,
        outcome: 'rows',
        query: record.query,
      });
      return this.send(res, 200, {
        tables: [{ name: 'PrimaryResult', columns: [{ name: 'Count', type: 'long' }], rows: [[n]] }],
      });
    }
    const q = QUERY_HEAD.exec(record.query);
    const table = q?.[1] as TableName | undefined;
    const filterSteps = q?.[4] ?? '';
    const project = q ? (q[5] !== undefined ? parseProject(q[5]) : wholeRow) : null;
    if (!q || !table || !CORRECTED_TABLE_NAMES.includes(table) || project === null) {
      return refuse(400, 'BadArgumentError', 'The stand-in does not recognise this query: ' + record.query);
    }
    const start = parseKqlDateTime(q[2]!);
    const end = parseKqlDateTime(q[3]!);
    if (!start || !end || q[2] !== start || q[3] !== end) {
      return refuse(400, 'BadArgumentError', `Bounds are not 7-digit datetimes: ${q[2]} ${q[3]}`);
    }
    Object.assign(record, { table, start, end });
    // The API filters by its timespan as well: it must cover the slice.
    const [tsStart, tsEnd] = (parsed.timespan ?? '').split('/');
    const ts0 = tsStart ? parseKqlDateTime(tsStart) : null;
    const ts1 = tsEnd ? parseKqlDateTime(tsEnd) : null;
    if (!ts0 || !ts1) return refuse(400, 'BadArgumentError', `Bad timespan '${parsed.timespan}'`);

    const fault = this.faults.shift() ?? this.persistentFault?.({ table, start, end });
    if (fault && this.answerFault(fault, record, req, res, errorCodeOf(fault))) return;

    const lo = toUnixTicks(start);
    const hi = toUnixTicks(end);
    const tlo = toUnixTicks(ts0);
    const thi = toUnixTicks(ts1);
    const schema = new Map(LOG_ANALYTICS_TABLES[table]!.map(([n, t]) => [n, t as string]));
    // The rule's row filters when the query pushes them down; none for a whole-table query.
    // Corrected mode's push-down: `InitiatingProcessFileName =~ ...`, and a `(?i)` extract.
    const filtered = filterSteps.includes('| where ');
    const corrected =
      table === 'DeviceProcessEvents' ||
      filterSteps.includes('InitiatingProcessFileName =~ ') ||
      filterSteps.includes('(?i)') ||
      filterSteps.includes(' in~ (');
    const matching = this.indexed(table)
      .filter(
        (r) =>
          r.ticks >= lo &&
          r.ticks < hi &&
          r.ticks >= tlo &&
          r.ticks <= thi &&
          (this.visible?.(table, r.raw) ?? true) &&
          (!filtered || (corrected ? r.relevantCorrected : r.relevant)),
      )
      .map((r) => r.raw);
    const projected: Projected[] =
      project === wholeRow
        ? [...schema.keys()]
            .filter((n) => matching.some((r) => n in r))
            .map((n) => ({ name: n, source: n, asText: false }))
        : project;
    const columns = projected.map((p) => ({
      name: p.name,
      type: p.asText ? 'string' : (schema.get(p.source) ?? 'string'),
    }));
    const toCells = (raw: FixtureRow) =>
      projected.map((p) => {
        const type = schema.get(p.source) ?? 'string';
        const v = raw[p.source];
        if (p.asText) return tostringCell(v, type);
        if (type === 'string')
          return v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
        // A dynamic cell travels as JSON text, as the real API sends it.
        if (type === 'dynamic')
          return v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
        return v ?? null;
      });
    let rows = matching.map(toCells);
    let error: unknown;
    record.outcome = 'rows';
    if (fault?.kind === 'partial') {
      rows = rows.slice(0, Math.floor(rows.length / 2));
      record.outcome = 'fault';
      error = {
        code: 'PartialError',
        message: 'There were some errors when processing your query.',
        details: [
          {
            code: 'EngineError',
            message: fault.message ?? 'Something went wrong processing your query on the server.',
          },
        ],
      };
    } else if (this.rowCap !== undefined && rows.length > this.rowCap) {
      rows = rows.slice(0, this.rowCap);
      if (this.capMode === 'partialError') {
        record.outcome = 'tooLarge';
        error = {
          code: 'PartialError',
          message: 'There were some errors when processing your query.',
          details: [
            {
              code: 'EngineError',
              message: 'Something went wrong processing your query on the server.',
              innererror: {
                code: '-2133196797',
                message: `Query result set has exceeded the internal record count limit ${this.rowCap} (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)`,
                severity: 2,
                severityName: 'Error',
              },
            },
          ],
        };
      } else {
        record.outcome = 'truncated';
      }
    }
    record.status = 200;
    record.rows = rows.length;
    const extra = Array.from({ length: this.extraTables }, (_, i) => ({ name: `Table_${i + 1}`, columns, rows }));
    const answer = { tables: [{ name: 'PrimaryResult', columns, rows: rows as unknown[][] }, ...extra] };
    this.transformAnswer?.(answer);
    this.send(res, 200, { ...answer, ...(error ? { error } : {}) });
  }

  /**
   * `_GetWatchlist('<alias>') | project …`: the items of `watchlists[alias]` inside the
   * timespan, each projected column `tostring` of the item's cell ('' when it lacks it).
   */
  private answerWatchlist(
    record: RecordedRequest,
    m: RegExpExecArray,
    timespan: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    record.kind = 'watchlist';
    const refuse = (message: string) => {
      record.status = 400;
      this.send(res, 400, { error: { code: 'BadArgumentError', message } });
    };
    const columns = m[2]!.split(/, (?=\w+ = )/).map((item) => WATCHLIST_COLUMN.exec(item));
    if (columns.some((c) => c === null)) return refuse(`The stand-in does not recognise this project: ${m[2]}`);
    const fault = this.watchlistFaults.shift();
    if (fault && this.answerFault(fault, record, req, res, errorCodeOf(fault))) return;
    const [a, b] = (timespan ?? '').split('/');
    const lo = Date.parse(a ?? '');
    const hi = Date.parse(b ?? '');
    if (Number.isNaN(lo) || Number.isNaN(hi)) return refuse(`Bad timespan '${timespan}'`);
    const items = (this.watchlists[m[1]!] ?? [])
      .map((item, i): WatchlistItem => ({ _DTItemId: `item-${i + 1}`, ...item }))
      .filter(
        (item) =>
          item.TimeGenerated === undefined ||
          (Date.parse(item.TimeGenerated) >= lo && Date.parse(item.TimeGenerated) <= hi),
      );
    for (const c of columns) {
      const direct = c![3];
      if (direct && direct !== '_DTItemId' && direct !== 'SearchKey' && !items.every((item) => direct in item))
        return refuse(`'project' operator: Failed to resolve scalar expression named '${direct}'`);
    }
    const rows = items.map((item) => columns.map((c) => item[c![2] ?? c![3]!] ?? ''));
    Object.assign(record, { status: 200, rows: rows.length, outcome: 'rows' });
    this.send(res, 200, {
      tables: [{ name: 'PrimaryResult', columns: columns.map((c) => ({ name: c![1]!, type: 'string' })), rows }],
    });
  }

  /**
   * The read-back query: the distinct FindingIds of `findingsTable()` among the listed
   * ones, with TimeGenerated at or after the bound and inside the timespan.
   */
  private answerReadBack(
    record: RecordedRequest,
    m: RegExpExecArray,
    timespan: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const [table, since, list] = [m[1]!, m[2]!, m[3]!];
    if (table !== 'RunCommandFindings_CL' || !this.findingsTable) {
      record.status = 400;
      return this.send(res, 400, {
        error: { code: 'BadArgumentError', message: `'${table}' could not be resolved to a table` },
      });
    }
    const fault = this.readBackFaults.shift();
    if (fault && this.answerFault(fault, record, req, res, 'ServiceError')) return;
    const [a, b] = (timespan ?? '').split('/');
    const lo = Math.max(Date.parse(since), Date.parse(a ?? ''));
    const hi = Date.parse(b ?? '');
    if (Number.isNaN(lo) || Number.isNaN(hi)) {
      record.status = 400;
      return this.send(res, 400, { error: { code: 'BadArgumentError', message: `Bad timespan '${timespan}'` } });
    }
    const wanted = new Set([...list.matchAll(/"([^"]*)"/g)].map((x) => x[1]!));
    const ids = new Set<string>();
    for (const row of this.findingsTable()) {
      const t = Date.parse(String(row.TimeGenerated));
      if (wanted.has(String(row.FindingId)) && t >= lo && t <= hi) ids.add(String(row.FindingId));
    }
    const rows = [...ids].map((id) => [id]);
    Object.assign(record, { status: 200, rows: rows.length, outcome: 'rows' });
    this.send(res, 200, {
      tables: [{ name: 'PrimaryResult', columns: [{ name: 'FindingId', type: 'string' }], rows }],
    });
  }

  /**
   * The rule query, answered by running the reference implementation (test/reference)
   * over the fixture rows inside the timespan `[start, end)`, with the output types of
   * the query: the datetimes, the command list and Scope as text (the final `extend`).
   */
  private answerRuleQuery(record: RecordedRequest, timespan: string | undefined, res: ServerResponse): void {
    const [a, b] = (timespan ?? '').split('/');
    const t0 = a ? parseKqlDateTime(a) : null;
    const t1 = b ? parseKqlDateTime(b) : null;
    if (!t0 || !t1) {
      record.status = 400;
      return this.send(res, 400, { error: { code: 'BadArgumentError', message: `Bad timespan '${timespan}'` } });
    }
    const lo = toUnixTicks(t0);
    const hi = toUnixTicks(t1);
    const rowsOf = <T extends TableName>(table: T) =>
      this.indexed(table)
        .filter((r) => r.ticks >= lo && r.ticks < hi)
        .map((r) => coerceRow(table, r.raw).row);
    let findings = referenceQuery(rowsOf('AzureActivity'), rowsOf('DeviceFileEvents'), rowsOf('DeviceEvents')).findings;
    if (this.perturbRuleRows) findings = this.perturbRuleRows(findings.map((f) => ({ ...f })));
    const asText = new Set(['timestamp', 'StartTime', 'EndTime', 'PowershellScriptCommands', 'Scope']);
    const columns = FINDING_COLUMNS.map(([name, type]) => ({ name, type: asText.has(name) ? 'string' : type }));
    const rows = findings.map((f) =>
      FINDING_COLUMNS.map(([name]) => (name === 'PowershellScriptCommands' ? JSON.stringify(f[name]) : f[name])),
    );
    Object.assign(record, { status: 200, rows: rows.length, outcome: 'rows', start: t0, end: t1 });
    this.send(res, 200, { tables: [{ name: 'PrimaryResult', columns, rows }] });
  }
}

/** The error code Log Analytics answers a status fault with. */
function errorCodeOf(fault: Fault): string {
  if (fault.kind !== 'status') return 'InternalServerError';
  return fault.status === 429
    ? 'ThrottledError'
    : fault.status === 504
      ? 'GatewayTimeout'
      : fault.status === 403
        ? 'InsufficientAccessError'
        : 'InternalServerError';
}
