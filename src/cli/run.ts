/**
 * `runcommand-detect run --workspace ID [--from T --to T] [--output FILE] [--format F]`
 *
 * Pulls the window from Log Analytics (default: the last complete UTC day) and runs the
 * rule (parity mode) over it, printing the findings exactly as `detect` prints them for
 * the same rows. Writes nothing to Azure: no findings table, no checkpoint.
 */
import { writeFileSync } from 'node:fs';
import { ParityDetection } from '../detection';
import { TABLE_NAMES, type TableName, type TableRows } from '../detection/schema';
import {
  LOG_ANALYTICS_OPTIONS_HELP,
  parseLogAnalyticsArgs,
  progressReporter,
  pullSummary,
  sourceOptions,
  UsageError,
  type LogAnalyticsCliDeps,
} from '../logAnalytics/cli';
import { LogAnalyticsError } from '../logAnalytics/errors';
import { InvalidWindowError } from '../logAnalytics/slices';
import { LogAnalyticsSource } from '../logAnalytics/source';
import { FINDINGS_FORMATS, formatFindings, type FindingsFormat } from './format';
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
  let options: ReturnType<typeof parseLogAnalyticsArgs>;
  try {
    options = parseLogAnalyticsArgs(
      argv,
      io.env,
      deps.now?.() ?? new Date(),
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
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof InvalidWindowError)) throw err;
    io.stderr.write(`runcommand-detect run: ${err.message}\n\n${RUN_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    io.stdout.write(RUN_USAGE);
    return 0;
  }
  const progress = progressReporter(io, 'run');
  let pulled;
  try {
    const source = new LogAnalyticsSource(sourceOptions(options, io.env, deps));
    pulled = await source.pullWindow(options.window, progress.onProgress);
  } catch (err) {
    progress.done();
    if (!(err instanceof LogAnalyticsError)) throw err;
    io.stderr.write(`runcommand-detect run: ${err.message}\n`);
    return 1;
  }
  progress.done();
  // The same engine, fed the same typed rows, as `detect` feeds it from files.
  const detection = new ParityDetection();
  for (const table of TABLE_NAMES) {
    for (const row of pulled.tables[table] as TableRows[TableName][]) detection.add(table, row);
  }
  const { findings } = detection.finish();
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
