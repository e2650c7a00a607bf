/**
 * `runcommand-detect verify --workspace ID --from T --to T`
 *
 * The live parity check: runs the published rule's own KQL in the workspace for the
 * window (server-side, src/logAnalytics/ruleQuery), pulls the same window and runs
 * parity mode client-side (as `run` does), and compares the two sets of rows column by
 * column. Prints the differences as a table (to --output FILE if given); exit 1 on any
 * difference.
 */
import { FINDING_COLUMNS, type RunCommandFinding } from '../detection/schema';
import {
  CREDENTIAL_NOTE,
  QUERY_OPTIONS_HELP,
  parseCommandArgs,
  parityFindings,
  pullSummary,
  sourceOptions,
  windowOptionsHelp,
  writeOutput,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { runRuleQuery } from '../logAnalytics/ruleQuery';
import { describeSlice } from '../logAnalytics/slices';
import { LogAnalyticsSource } from '../logAnalytics/source';
import type { CliIo } from './io';

export const VERIFY_USAGE = `Usage: runcommand-detect verify --workspace ID --from T --to T [--output FILE]

Checks that parity mode matches the rule in your own workspace: runs the rule's KQL
(src/detection/rule/query.kql) in Log Analytics for the window, runs parity mode
client-side on the rows pulled for the same window, and compares every column of
every row. Prints the differing rows as a table. Writes nothing to Azure.

Required:
${windowOptionsHelp(true)}

Options:
  --output FILE     write the report to FILE instead of standard output
${QUERY_OPTIONS_HELP}

Exit status: 0 no difference, 1 differences (or an Azure or file error), 2 usage error.

${CREDENTIAL_NOTE}
`;

/** The difference between the rule's rows (server) and parity mode's (client). */
export interface FindingsDiff {
  onlyServer: RunCommandFinding[];
  onlyClient: RunCommandFinding[];
  /** Same row except Prevalence. */
  prevalenceDiffers: Array<{ server: RunCommandFinding; client: RunCommandFinding }>;
}

/** Every column but Prevalence, as canonical JSON: rows with equal keys are the same row. */
function rowKey(f: RunCommandFinding): string {
  return JSON.stringify(FINDING_COLUMNS.filter(([n]) => n !== 'Prevalence').map(([n]) => f[n]));
}

/** Multiset difference of two row sets (the rule's result has no order). */
export function diffFindings(server: readonly RunCommandFinding[], client: readonly RunCommandFinding[]): FindingsDiff {
  const pending = new Map<string, RunCommandFinding[]>();
  for (const f of client) {
    const k = rowKey(f);
    const list = pending.get(k);
    if (list) list.push(f);
    else pending.set(k, [f]);
  }
  const diff: FindingsDiff = { onlyServer: [], onlyClient: [], prevalenceDiffers: [] };
  for (const s of server) {
    const list = pending.get(rowKey(s));
    const c = list?.shift();
    if (!c) diff.onlyServer.push(s);
    else if (c.Prevalence !== s.Prevalence) diff.prevalenceDiffers.push({ server: s, client: c });
  }
  for (const list of pending.values()) diff.onlyClient.push(...list);
  return diff;
}

export function differenceCount(d: FindingsDiff): number {
  return d.onlyServer.length + d.onlyClient.length + d.prevalenceDiffers.length;
}

const COLUMNS: ReadonlyArray<readonly [string, number]> = [
  ['Difference', 22],
  ['StartTime', 28],
  ['VirtualMachineName', 18],
  ['PowershellFileName', 18],
  ['Caller', 26],
  ['Hash', 12],
  ['Prevalence', 17],
  ['PowershellScriptCommands', 40],
];

function pad(text: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  const chars = Array.from(flat);
  return chars.length > width ? chars.slice(0, width - 1).join('') + '…' : flat + ' '.repeat(width - chars.length);
}

/** The differences as a fixed-width table. */
export function formatDiff(d: FindingsDiff): string {
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, COLUMNS[i]![1]))
      .join('  ')
      .trimEnd();
  const row = (what: string, f: RunCommandFinding, prevalence = String(f.Prevalence)) =>
    line([
      what,
      f.StartTime,
      f.VirtualMachineName,
      f.PowershellFileName,
      f.Caller,
      f.ScriptFingerprintHash.slice(0, 12),
      prevalence,
      f.PowershellScriptCommands.join(', '),
    ]);
  const out = [line(COLUMNS.map(([n]) => n)), line(COLUMNS.map(([, w]) => '-'.repeat(w)))];
  for (const f of d.onlyServer) out.push(row('only in Log Analytics', f));
  for (const f of d.onlyClient) out.push(row('only client-side', f));
  for (const p of d.prevalenceDiffers)
    out.push(row('Prevalence differs', p.server, `${p.server.Prevalence} / ${p.client.Prevalence}`));
  return out.join('\n') + '\n';
}

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  let output: string | undefined;
  const options = parseCommandArgs(
    'verify',
    VERIFY_USAGE,
    argv,
    io,
    deps,
    (flag, value) => {
      if (flag !== '--output') return false;
      output = value();
      return true;
    },
    true,
    () => (output === undefined ? undefined : { file: output }),
  );
  if (typeof options === 'number') return options;
  const sourceOpts = sourceOptions(options, deps);
  let server: RunCommandFinding[];
  let client: RunCommandFinding[];
  let summary: string;
  try {
    const source = new LogAnalyticsSource(sourceOpts);
    const [serverRows, pulled] = await Promise.all([
      runRuleQuery(
        {
          workspaceId: options.workspaceId,
          credential: sourceOpts.credential,
          endpoint: options.endpoint,
          clientOptions: deps.clientOptions,
        },
        options.window,
      ),
      source.pullWindow(options.window),
    ]);
    server = serverRows;
    client = parityFindings(pulled);
    summary = pullSummary(pulled);
  } catch (err) {
    if (!(err instanceof LogAnalyticsError)) throw err;
    io.stderr.write(`runcommand-detect verify: ${err.message}\n`);
    return 1;
  }
  const diff = diffFindings(server, client);
  const n = differenceCount(diff);
  const head =
    `verify ${describeSlice(options.window)}: the rule in Log Analytics returned ${server.length} row(s), ` +
    `parity mode ${client.length}; ${n} difference(s).\n`;
  if (!(await writeOutput('verify', io, head + (n > 0 ? formatDiff(diff) : ''), output))) return 1;
  io.stderr.write(`runcommand-detect verify: pulled ${summary}\n`);
  return n > 0 ? 1 : 0;
}
