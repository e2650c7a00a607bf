/**
 * The client-side cost of the job's pull path, for the bench: `LogAnalyticsSource`
 * (src/logAnalytics/source.ts) pulls one day through the real `LogsQueryClient`, whose
 * HTTP client here answers from memory instead of the network (the SDK's `httpClient`
 * option), with the bodies the query API stand-in (test/support/logAnalyticsStandIn.ts)
 * would send: the day's push-down rows (those the rule's `where`s keep,
 * `ParityDetection.isRelevant`), the rule's columns, datetimes and dynamics as text.
 * Each body is built once, on a first pull that is not timed; the timed pull is
 * then what our side of a daily run costs per row: the SDK's pipeline and JSON parse of
 * each answer, its row conversion, and our typing (`rawRowsOf`, `typedRow`).
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { join } from 'node:path';
import { coerceRow, ParityDetection } from '../../src/detection';
import { parseKqlDateTime, toUnixTicks } from '../../src/detection/datetime';
import { RULE_COLUMNS, TABLE_NAMES, type TableName } from '../../src/detection/schema';
import { readNdjsonFile } from '../../src/io/ndjson';
import { LogAnalyticsSource } from '../../src/logAnalytics/source';

const WORKSPACE_ID = '00000000-0000-4000-8000-000000000000';

interface PushDownRow {
  ticks: bigint;
  cells: unknown[];
}

/** A cell as the query API sends it for the rule's projection (see the stand-in's `toCells`). */
function wireCell(value: unknown, type: string): unknown {
  if (type === 'datetime') return value === null || value === undefined ? '' : (parseKqlDateTime(String(value)) ?? '');
  if (type === 'dynamic' || type === 'string')
    return value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return value ?? null;
}

/** The push-down rows of each table of the day in `dir`, as wire cells. */
function pushDownRows(dir: string): Record<TableName, PushDownRow[]> {
  const out = {} as Record<TableName, PushDownRow[]>;
  for (const table of TABLE_NAMES) {
    const rows: PushDownRow[] = [];
    readNdjsonFile(join(dir, `${table}.ndjson`), table, (raw) => {
      const row = coerceRow(table, raw).row;
      const time = typeof raw.TimeGenerated === 'string' ? parseKqlDateTime(raw.TimeGenerated) : null;
      if (time === null || !ParityDetection.isRelevant(table, row)) return;
      rows.push({ ticks: toUnixTicks(time), cells: RULE_COLUMNS[table].map(([n, t]) => wireCell(raw[n], t)) });
    });
    out[table] = rows;
  }
  return out;
}

const SLICE_BOUNDS = /^(\w+)\n\| where TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)/;

/** An HTTP client that answers the source's queries from `rows`, building each body once. */
function inMemoryQueryApi(rows: Record<TableName, PushDownRow[]>): HttpClient {
  const bodies = new Map<string, string>();
  const answer = (query: string): string => {
    const m = SLICE_BOUNDS.exec(query);
    const table = m?.[1] as TableName | undefined;
    const lo = m ? parseKqlDateTime(m[2]) : null;
    const hi = m ? parseKqlDateTime(m[3]) : null;
    if (!table || !(TABLE_NAMES as readonly string[]).includes(table) || !lo || !hi)
      throw new Error(`unexpected query: ${query}`);
    const [from, to] = [toUnixTicks(lo), toUnixTicks(hi)];
    const columns = RULE_COLUMNS[table].map(([name, type]) => ({
      name,
      type: type === 'datetime' || type === 'dynamic' ? 'string' : type,
    }));
    const sliceRows = rows[table].filter((r) => r.ticks >= from && r.ticks < to).map((r) => r.cells);
    return JSON.stringify({ tables: [{ name: 'PrimaryResult', columns, rows: sliceRows }] });
  };
  return {
    async sendRequest(request: PipelineRequest) {
      const { query } = JSON.parse(String(request.body)) as { query: string };
      let body = bodies.get(query);
      if (body === undefined) bodies.set(query, (body = answer(query)));
      return {
        request,
        status: 200,
        headers: createHttpHeaders({ 'content-type': 'application/json; charset=utf-8' }),
        bodyAsText: body,
      };
    },
  };
}

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'bench-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export interface PullDecodeResult {
  rows: number;
  responseBytes: number;
  seconds: number;
  cpuSeconds: number;
}

/** Pulls the day `[day, day + 1)` of `dir` twice from memory; the second pull is measured. */
export async function measurePullDecode(dir: string, day: string): Promise<PullDecodeResult> {
  const httpClient = inMemoryQueryApi(pushDownRows(dir));
  const source = new LogAnalyticsSource({
    workspaceId: WORKSPACE_ID,
    credential,
    endpoint: 'https://query-api.in-memory.invalid/v1',
    clientOptions: { httpClient },
  });
  const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const window = { start: `${day}T00:00:00.0000000Z`, end: `${next}T00:00:00.0000000Z` };
  await source.pullWindow(window); // builds the answers
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const pulled = await source.pullWindow(window);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    rows: TABLE_NAMES.reduce((n, t) => n + (pulled.stats[t]?.rows ?? 0), 0),
    responseBytes: TABLE_NAMES.reduce((n, t) => n + (pulled.stats[t]?.bytes ?? 0), 0),
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}
