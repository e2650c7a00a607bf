/**
 * `runcommand-detect run --workspace ID [--from T --to T] [--output FILE] [--format F]`
 *
 * Pulls the window from Log Analytics (default: the last complete UTC day) and runs the
 * rule (parity mode) over it, printing the findings exactly as `detect` prints them for
 * the same rows. Writes nothing to Azure: no findings table, no checkpoint.
 */
import { writeFileSync } from 'node:fs';
import {
  LOG_ANALYTICS_OPTIONS_HELP,
  parseCommandArgs,
  parityFindings,
  pullForCommand,
  pullSummary,
  type LogAnalyticsCliDeps,
} from '../logAnalytics/cli';
import { FINDINGS_FORMATS, formatFindings, type FindingsFormat } from './format';
import { UsageError } from './args';
import type { CliIo } from './io';

export const RUN_USAGE = `Usage: runcommand-detect run --workspace ID [--from T --to T] [--output FILE] [--format ndjson|json|table]

Pulls AzureActivity, DeviceFileEvents and DeviceEvents for the window from a Log
Analytics workspace and runs the Sentinel rule "Azure VM Run Command operations
executing a unique PowerShell script" over them, client-side. Prints the findings;
writes nothing to Azure. Without --from/--to: the last complete UTC day.

Options:
${LOG_ANALYTICS_OPTIONS_HELP}
  --output FILE     write the findings to FILE instead of standard output
  --format F        ndjson (default), json or table, as for 'detect'
  -h, --help        show this help

Exit status: 0 findings written (possibly none), 1 Azure or file error (no findings
written), 2 usage error.
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
      else if (flag === '--format') {
        const f = value();
        if (!(FINDINGS_FORMATS as readonly string[]).includes(f))
          throw new UsageError(`--format must be one of ${FINDINGS_FORMATS.join(', ')}, not '${f}'`);
        format = f as FindingsFormat;
      } else return false;
      return true;
    },
    false,
  );
  if (typeof options === 'number') return options;
  const pulled = await pullForCommand('run', options, io, deps);
  if (pulled === undefined) return 1;
  const findings = parityFindings(pulled);
  const text = formatFindings(findings, format);
  if (output !== undefined) {
    try {
      writeFileSync(output, text);
    } catch (err) {
      const why = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : String(err);
      io.stderr.write(`${output}: cannot write the findings (${why}); check the path and its permissions\n`);
      return 1;
    }
  } else {
    await new Promise<void>((resolve, reject) => io.stdout.write(text, (e) => (e ? reject(e) : resolve())));
  }
  io.stderr.write(
    `runcommand-detect run: [${options.window.start}, ${options.window.end}): ${pullSummary(pulled)}; ` +
      `${findings.length} finding${findings.length === 1 ? '' : 's'}\n`,
  );
  return 0;
}
