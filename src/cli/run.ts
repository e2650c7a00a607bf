/**
 * `runcommand-detect run --workspace ID [--from T --to T] [--output FILE] [--format F]`
 *
 * Pulls the window from Log Analytics (default: the last complete UTC day, as the job
 * counts it: INGESTION_DELAY_MINUTES after midnight) and runs the rule (parity mode)
 * over it, printing the findings exactly as `detect` prints them for the same rows.
 * Writes nothing to Azure: no findings table, no checkpoint.
 */
import {
  CREDENTIAL_NOTE,
  QUERY_OPTIONS_HELP,
  parseCommandArgs,
  parityFindings,
  pullForCommand,
  pullSummary,
  WORKSPACE_OPTION_HELP,
  windowOptionHelp,
  writeOutput,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';
import { formatFindings, parseFormat, type FindingsFormat } from './format';
import type { CliIo } from './io';

export const RUN_USAGE = `Usage: runcommand-detect run --workspace ID [--from T --to T] [--output FILE]
                             [--format ndjson|json|table]

Pulls AzureActivity, DeviceFileEvents and DeviceEvents for the window from a Log
Analytics workspace and runs the Sentinel rule "Azure VM Run Command operations
executing a unique PowerShell script" over them, client-side (parity mode). Prints
the findings; writes nothing to Azure.

Required:
${WORKSPACE_OPTION_HELP}

Options:
${windowOptionHelp(false)}
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default): one finding a line, the rule's 14 columns;
                    json: one array; table: a fixed-width table for people
${QUERY_OPTIONS_HELP}

Exit status: 0 findings written (possibly none), 1 Azure or file error (no findings
written), 2 usage error.

${CREDENTIAL_NOTE}
`;

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  let output: string | undefined;
  let format: FindingsFormat = 'ndjson';
  const options = parseCommandArgs(
    'run',
    RUN_USAGE,
    argv,
    io,
    deps,
    (flag, value) => {
      if (flag === '--output') output = value();
      else if (flag === '--format') format = parseFormat(value());
      else return false;
      return true;
    },
    false,
    () => (output === undefined ? undefined : { file: output }),
  );
  if (typeof options === 'number') return options;
  const pulled = await pullForCommand('run', options, io, deps);
  if (pulled === undefined) return 1;
  const findings = parityFindings(pulled);
  if (!(await writeOutput('run', io, formatFindings(findings, format), output))) return 1;
  io.stderr.write(
    `runcommand-detect run: [${options.window.start}, ${options.window.end}): ${pullSummary(pulled)}; ` +
      `${findings.length} finding${findings.length === 1 ? '' : 's'}\n`,
  );
  return 0;
}
