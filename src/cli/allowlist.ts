/**
 * `runcommand-detect allowlist`: what the allowlist would suppress over a past window.
 *
 *   allowlist --workspace ID --from DAY --to DAY [--watchlist ALIAS | --file FILE] [--mode M]
 *   allowlist --findings FILE (--file FILE | --watchlist ALIAS [--workspace ID])
 *
 * The findings are those the job finds over the UTC days [from, to) (its window loop
 * replayed in memory, as `replay` does, records built as the job builds them), or the
 * rows of a findings file. The entries are the watchlist's (`--watchlist`, default
 * ALLOWLIST_WATCHLIST) or those of the CSV file a SOC uploads as the watchlist. Each
 * finding an entry in force now matches is listed with the entry and its reason; the
 * refused rows and the expired entries (and what they would match) go to stderr, with
 * the counts. Writes nothing to Azure.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import {
  describeEntry,
  entriesAt,
  matchingEntry,
  type Allowlist,
  type AllowlistEntry,
  type FindingSubject,
} from '../allowlist/allowlist';
import { readAllowlistFile } from '../allowlist/file';
import { formatProblem, parseSetting } from '../config/settings';
import type { DetectionMode } from '../detection/schema';
import { InputError } from '../io/errors';
import { findingRecordOf, findingSubjectOf } from '../job/createJobPorts';
import { replay, ReplayWindowError } from '../job/replay';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { WatchlistAllowlist, WatchlistReadError } from '../logAnalytics/watchlist';
import { createCredential } from '../config/credential';
import { messageOf } from '../shared/errors';
import { parseBaselineDaysFlag, parseModeFlag, printUsageError, UsageError, walkArgs } from './args';
import type { CliIo } from './io';
import {
  CREDENTIAL_NOTE,
  QUERY_OPTIONS_HELP,
  parseCommandArgs,
  sourceOptions,
  windowOptionsHelp,
  writeOutput,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';

export const ALLOWLIST_USAGE = `Usage: runcommand-detect allowlist --workspace ID --from DAY --to DAY [--watchlist ALIAS | --file FILE]
                                   [--mode parity|corrected] [--baseline-days N] [--format ndjson|json|table]
                                   [--output FILE]
       runcommand-detect allowlist --findings FILE (--file FILE | --watchlist ALIAS) [--workspace ID]
                                   [--format ndjson|json|table] [--output FILE]

Lists what the allowlist would suppress: every finding an allowlist entry in force now
matches, with the entry and its reason. Writes nothing to Azure.

Findings (one of):
${windowOptionsHelp(true)}; whole UTC days (YYYY-MM-DD):
                    the job's window loop is replayed over them in memory (as
                    'runcommand-detect replay' does)
  --mode M          with --from/--to: parity (default) or corrected
  --baseline-days N with --from/--to, corrected mode: BASELINE_DAYS (default 14)
  --findings FILE   the findings of FILE instead: NDJSON (one object a line) or a JSON
                    array, with the findings-table columns (VirtualMachineName, Caller,
                    CallerIpAddress, ScriptFingerprintHash, ScriptSha256), e.g. the
                    output of detect, run or replay, or RunCommandFindings_CL exported

Entries (one of):
  --watchlist ALIAS the Sentinel watchlist (default: the environment variable
                    ALLOWLIST_WATCHLIST), read with _GetWatchlist from the workspace
  --file FILE       a CSV file with the columns Kind,Value,Reason,Expires (the file
                    uploaded as the watchlist; docs/operations.md, "Allowlist")

Output:
  --format F        ndjson (default): one suppressed finding a line, with the entry (Kind,
                    Value, Reason, Expires, Entry); json: one array; table: one line each,
                    for people
  --output FILE     write the list to FILE instead of standard output
${QUERY_OPTIONS_HELP}

On stderr: the counts, each refused row of the allowlist (and why), and each expired
entry with the findings it would still match.

Exit status: 0 listed (possibly nothing), 1 a file, Azure or watchlist error, 2 usage error.

${CREDENTIAL_NOTE}
`;

/** One finding the allowlist would suppress. */
export interface SuppressedFinding {
  WindowStart: string | null;
  timestamp: string;
  VirtualMachineName: string;
  Caller: string;
  CallerIpAddress: string;
  FindingId: string | null;
  Kind: string;
  Value: string;
  Reason: string;
  Expires: string;
  Entry: string;
}

/** A finding to check: its subject, and what to show of it. */
interface CandidateFinding {
  subject: FindingSubject;
  WindowStart: string | null;
  timestamp: string;
  FindingId: string | null;
}

type Format = 'table' | 'ndjson' | 'json';

interface AllowlistCommandOptions {
  watchlist?: string;
  file?: string;
  format: Format;
  output?: string;
}

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  const findingsFile = flagValue(argv, '--findings');
  try {
    const parsed = findingsFile !== undefined ? parseFileArgs(argv, io, deps) : parseReplayArgs(argv, io, deps);
    if (typeof parsed === 'number') return parsed;
    const { own, findings: loadFindings, entries: loadEntries } = parsed;
    const list = await loadEntries();
    const findings = await loadFindings();
    if (findings === undefined) return 1;
    const nowMs = (deps.now?.() ?? new Date()).getTime();
    const { text, summary } = report(list, findings, nowMs, own.format);
    if (!(await writeOutput('allowlist', io, text, own.output))) return 1;
    io.stderr.write(summary);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ReplayWindowError)
      return printUsageError(io, 'allowlist', err.message);
    if (err instanceof InputError || err instanceof WatchlistReadError || err instanceof LogAnalyticsError) {
      io.stderr.write(`runcommand-detect allowlist: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

interface ParsedCommand {
  own: AllowlistCommandOptions;
  findings: () => Promise<CandidateFinding[] | undefined>;
  entries: () => Promise<Allowlist>;
}

/** The command's own options (entries and output), shared by both forms; false for another flag. */
function ownFlag(own: AllowlistCommandOptions, flag: string, value: () => string): boolean {
  if (flag === '--watchlist') own.watchlist = value();
  else if (flag === '--file') own.file = value();
  else if (flag === '--output') own.output = value();
  else if (flag === '--format') {
    const f = value();
    if (f !== 'table' && f !== 'ndjson' && f !== 'json')
      throw new UsageError(`--format must be table, ndjson or json, not '${f}'`);
    own.format = f;
  } else return false;
  return true;
}

/** The alias to read, or undefined with --file; a usage error when neither (nor ALLOWLIST_WATCHLIST) is given. */
function checkEntrySource(own: AllowlistCommandOptions, env: NodeJS.ProcessEnv): void {
  if (own.watchlist !== undefined && own.file !== undefined)
    throw new UsageError('give --watchlist or --file, not both');
  if (own.file !== undefined) return;
  const text = own.watchlist ?? env.ALLOWLIST_WATCHLIST;
  if (text === undefined || text.trim() === '')
    throw new UsageError('give --watchlist ALIAS or --file FILE (or set ALLOWLIST_WATCHLIST)');
  const r = parseSetting('ALLOWLIST_WATCHLIST', text);
  if (!r.ok) {
    const origin = own.watchlist === undefined ? 'environment variable, the default of --watchlist' : undefined;
    throw new UsageError(
      own.watchlist === undefined
        ? formatProblem(r.problem, origin)
        : formatProblem({ ...r.problem, setting: '--watchlist' }),
    );
  }
  own.watchlist = r.value;
}

/** `--workspace --from --to`: findings of the job's loop replayed over the days. */
function parseReplayArgs(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps): ParsedCommand | number {
  const own: AllowlistCommandOptions = { format: 'ndjson' };
  let mode: DetectionMode = 'parity';
  let baselineDays = 14;
  const options = parseCommandArgs(
    'allowlist',
    ALLOWLIST_USAGE,
    argv,
    io,
    deps,
    (flag, value) => {
      if (ownFlag(own, flag, value)) return true;
      if (flag === '--mode') mode = parseModeFlag(value());
      else if (flag === '--baseline-days') baselineDays = parseBaselineDaysFlag(value());
      else return false;
      return true;
    },
    true,
    () => {
      checkEntrySource(own, io.env);
      return own.output === undefined ? undefined : { file: own.output };
    },
  );
  if (typeof options === 'number') return options;
  const credential = deps.credential ?? options.credential!;
  return {
    own,
    entries: () => readEntries(own, { workspaceId: options.workspaceId, endpoint: options.endpoint }, credential, deps),
    findings: async () => {
      const source = new LogAnalyticsSource({ ...sourceOptions(options, deps), mode });
      const result = await replay({ from: options.window.start, to: options.window.end, mode, baselineDays, source });
      if (result.failed) {
        io.stderr.write(
          `runcommand-detect allowlist: day ${result.failed.window.start.slice(0, 10)} failed while ` +
            `${result.failed.phase}: ${messageOf(result.failed.error)}\n`,
        );
        return undefined;
      }
      return result.findings.map((f) => {
        const record = findingRecordOf(f, {
          window: f.window,
          mode,
          timeGenerated: f.window.end,
          enrichment: undefined,
        });
        return {
          subject: findingSubjectOf(record.record),
          WindowStart: f.window.start,
          timestamp: f.finding.timestamp,
          FindingId: record.record.FindingId,
        };
      });
    },
  };
}

/** `--findings FILE`: the rows of a findings file. */
function parseFileArgs(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps): ParsedCommand | number {
  const own: AllowlistCommandOptions = { format: 'ndjson' };
  let findings = '';
  let workspace: string | undefined;
  let endpoint: string | undefined;
  const help = walkArgs(argv, (flag, value) => {
    if (ownFlag(own, flag, value)) return true;
    if (flag === '--findings') findings = value();
    else if (flag === '--workspace') workspace = value();
    else if (flag === '--endpoint') endpoint = value();
    else return false;
    return true;
  });
  if (help) {
    io.stdout.write(ALLOWLIST_USAGE);
    return 0;
  }
  checkEntrySource(own, io.env);
  const where = own.file === undefined ? workspaceOf(workspace, endpoint, io.env) : undefined;
  const credential = where
    ? (deps.credential ??
      createCredential({ azureClientId: io.env.AZURE_CLIENT_ID?.trim() || undefined }, io.env).credential)
    : undefined;
  return {
    own,
    entries: () => readEntries(own, where, credential, deps),
    findings: async () => readFindingsFile(findings),
  };
}

function workspaceOf(
  workspace: string | undefined,
  endpoint: string | undefined,
  env: NodeJS.ProcessEnv,
): { workspaceId: string; endpoint: string } {
  const value = <N extends 'LOG_ANALYTICS_WORKSPACE_ID' | 'LOG_ANALYTICS_ENDPOINT'>(
    name: N,
    flag: string,
    given: string | undefined,
  ) => {
    const r = parseSetting(name, given ?? env[name]);
    if (r.ok) return r.value as string;
    if (given === undefined && name === 'LOG_ANALYTICS_WORKSPACE_ID')
      throw new UsageError('--watchlist needs --workspace ID (or LOG_ANALYTICS_WORKSPACE_ID)');
    throw new UsageError(formatProblem({ ...r.problem, setting: given === undefined ? name : flag }));
  };
  return {
    workspaceId: value('LOG_ANALYTICS_WORKSPACE_ID', '--workspace', workspace),
    endpoint: value('LOG_ANALYTICS_ENDPOINT', '--endpoint', endpoint),
  };
}

async function readEntries(
  own: AllowlistCommandOptions,
  where: { workspaceId: string; endpoint: string } | undefined,
  credential: TokenCredential | undefined,
  deps: LogAnalyticsCliDeps,
): Promise<Allowlist> {
  if (own.file !== undefined) return readAllowlistFile(own.file);
  return new WatchlistAllowlist({
    workspaceId: where!.workspaceId,
    alias: own.watchlist!,
    credential: credential!,
    endpoint: where!.endpoint,
    clientOptions: deps.clientOptions,
    now: deps.now ? () => deps.now!().getTime() : undefined,
  }).read();
}

/** The rows of a findings file: NDJSON or a JSON array of objects with the findings-table columns. */
export function readFindingsFile(file: string): CandidateFinding[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file, undefined, `cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const rows: Array<{ row: unknown; line: number }> = [];
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InputError(file, undefined, `not a JSON array: ${messageOf(err)}`);
    }
    (parsed as unknown[]).forEach((row, i) => rows.push({ row, line: i + 1 }));
  } else {
    text.split('\n').forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        rows.push({ row: JSON.parse(l), line: i + 1 });
      } catch {
        throw new InputError(file, i + 1, 'not a JSON object; give NDJSON (one finding a line) or a JSON array');
      }
    });
  }
  return rows.map(({ row, line }) => candidateOf(file, row, line));
}

function candidateOf(file: string, row: unknown, line: number): CandidateFinding {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    throw new InputError(file, line, 'a finding must be a JSON object with the findings-table columns');
  const r = row as Record<string, unknown>;
  const text = (name: string) => (typeof r[name] === 'string' ? (r[name] as string) : '');
  if (text('VirtualMachineName') === '' && text('Caller') === '')
    throw new InputError(file, line, 'no VirtualMachineName or Caller: is this a findings file?');
  return {
    subject: {
      ScriptSha256: text('ScriptSha256') || null,
      ScriptFingerprintHash: text('ScriptFingerprintHash'),
      Caller: text('Caller'),
      VirtualMachineName: text('VirtualMachineName'),
      CallerIpAddress: text('CallerIpAddress'),
    },
    WindowStart: text('WindowStart') || null,
    timestamp: text('timestamp'),
    FindingId: text('FindingId') || null,
  };
}

/** The list (stdout) and the counts, refused rows and expired entries (stderr). */
export function report(
  list: Allowlist,
  findings: readonly CandidateFinding[],
  nowMs: number,
  format: Format,
): { text: string; summary: string } {
  const { inForce, expired } = entriesAt(list.entries, nowMs);
  const suppressed: SuppressedFinding[] = [];
  for (const f of findings) {
    const entry = matchingEntry(inForce, f.subject);
    if (entry) suppressed.push(suppressedOf(f, entry));
  }
  const lines = [
    `runcommand-detect allowlist: ${suppressed.length} of ${findings.length} finding(s) would be suppressed by ` +
      `${list.source} (${inForce.length} entr${inForce.length === 1 ? 'y' : 'ies'} in force, ${expired.length} ` +
      `expired, ${list.refused.length} row(s) refused)`,
    ...list.refused.map((r) => `  refused: ${r.where}: ${r.problem}`),
    ...expired.map((e) => {
      const would = findings.filter((f) => matchingEntry([e], f.subject)).length;
      return `  expired: ${describeEntry(e)}: suppresses nothing (it would match ${would} finding(s))`;
    }),
  ];
  return { text: formatSuppressed(suppressed, format), summary: lines.join('\n') + '\n' };
}

function suppressedOf(f: CandidateFinding, entry: AllowlistEntry): SuppressedFinding {
  return {
    WindowStart: f.WindowStart,
    timestamp: f.timestamp,
    VirtualMachineName: f.subject.VirtualMachineName,
    Caller: f.subject.Caller,
    CallerIpAddress: f.subject.CallerIpAddress,
    FindingId: f.FindingId,
    Kind: entry.kind,
    Value: entry.value,
    Reason: entry.reason,
    Expires: entry.expires,
    Entry: entry.where,
  };
}

const TABLE_COLUMNS: Array<keyof SuppressedFinding> = [
  'timestamp',
  'VirtualMachineName',
  'Caller',
  'Kind',
  'Value',
  'Reason',
  'Expires',
  'Entry',
];

function formatSuppressed(rows: readonly SuppressedFinding[], format: Format): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  if (format === 'ndjson') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  if (rows.length === 0) return 'No finding would be suppressed.\n';
  const cells = [TABLE_COLUMNS as string[], ...rows.map((r) => TABLE_COLUMNS.map((c) => String(r[c] ?? '')))];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map(
      (row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

/** The value of `flag` in argv (`--flag v` or `--flag=v`), or undefined. */
function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1] ?? '';
    if (argv[i]!.startsWith(flag + '=')) return argv[i]!.slice(flag.length + 1);
  }
  return undefined;
}
