/**
 * `runcommand-detect export --workspace ID --from T --to T --out DIR`
 *
 * Pulls the rows of AzureActivity, DeviceFileEvents and DeviceEvents that the rule can
 * use (its own per-table filters, pushed down to Log Analytics) for the window
 * [from, to) and writes them as `DIR/<Table>.ndjson`, in the shape `detect --input DIR`
 * reads: the same column names, datetimes as 7-digit KQL text. Nothing is written
 * unless every slice of every table arrived.
 *
 * A table with no rows in the window is written as `DIR/<Table>.json` holding `[]`:
 * `detect` reads an empty file as a failed export (and refuses it without
 * --allow-empty), but an empty JSON array as a table that had no rows.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_NAMES } from '../detection/schema';
import {
  CREDENTIAL_NOTE,
  QUERY_OPTIONS_HELP,
  windowOptionsHelp,
  parseCommandArgs,
  pullForCommand,
  pullSummary,
  type LogAnalyticsCliDeps,
} from './logAnalyticsCommand';
import { UsageError } from './args';
import type { CliIo } from './io';

export const EXPORT_USAGE = `Usage: runcommand-detect export --workspace ID --from T --to T --out DIR

Exports, from a Log Analytics workspace, the rows of AzureActivity, DeviceFileEvents
and DeviceEvents that the rule can use in the window [from, to), as
DIR/AzureActivity.ndjson, DIR/DeviceFileEvents.ndjson and DIR/DeviceEvents.ndjson,
ready for 'runcommand-detect detect --input DIR'. Writes nothing to Azure.

Required:
${windowOptionsHelp(true)}
  --out DIR         folder to write the three files to (created if missing;
                    existing files of these names are replaced). A table with no
                    rows in the window is written as <Table>.json holding []

Options:
${QUERY_OPTIONS_HELP}

Exit status: 0 exported, 1 Azure or file error (nothing written), 2 usage error.

${CREDENTIAL_NOTE}
`;

export async function run(argv: string[], io: CliIo, deps: LogAnalyticsCliDeps = {}): Promise<number> {
  let out: string | undefined;
  const options = parseCommandArgs(
    'export',
    EXPORT_USAGE,
    argv,
    io,
    deps,
    (flag, value) => {
      if (flag !== '--out') return false;
      out = value();
      return true;
    },
    true,
    () => {
      if (out === undefined) throw new UsageError('--out DIR is required');
      return { dir: out };
    },
  );
  if (typeof options === 'number') return options;
  const pulled = await pullForCommand('export', options, io, deps);
  if (pulled === undefined) return 1;
  const dir = out!;
  try {
    mkdirSync(dir, { recursive: true });
    for (const table of TABLE_NAMES) {
      const rows = pulled.tables[table] as unknown[];
      const [file, stale] =
        rows.length > 0 ? [`${table}.ndjson`, `${table}.json`] : [`${table}.json`, `${table}.ndjson`];
      const text = rows.length > 0 ? rows.map((r) => JSON.stringify(r) + '\n').join('') : '[]\n';
      // Written beside, then renamed: a reader never sees half a file.
      writeFileSync(join(dir, `${file}.partial`), text);
      renameSync(join(dir, `${file}.partial`), join(dir, file));
      rmSync(join(dir, stale), { force: true }); // from an earlier export: detect takes one file per table
    }
  } catch (err) {
    const why = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : String(err);
    io.stderr.write(
      `runcommand-detect export: ${dir}: cannot write the table files (${why}); check the path and its permissions\n`,
    );
    return 1;
  }
  io.stderr.write(
    `runcommand-detect export: [${options.window.start}, ${options.window.end}) → ${dir}: ${pullSummary(pulled)}\n`,
  );
  return 0;
}
