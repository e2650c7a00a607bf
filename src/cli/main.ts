#!/usr/bin/env node
/**
 * `runcommand-detect <subcommand>`: dispatches to one module per subcommand.
 * Each subcommand module exports `run(argv, io): Promise<number>` (the exit code)
 * and its own `--help`. Exit codes: 0 success, 1 input or runtime error, 2 usage error.
 * `--version` prints the package version.
 */
import { messageOf } from '../shared/errors';
import { packageVersion } from '../shared/version';
import type { CliIo } from './io';
import { defaultIo } from './io';

type Subcommand = { summary: string; load: () => Promise<{ run(argv: string[], io: CliIo): Promise<number> }> };

const SUBCOMMANDS: Record<string, Subcommand> = {
  job: {
    summary: 'run one occurrence of the daily job (as the timer does), a dry run or a backfill',
    load: () => import('./job'),
  },
  detect: { summary: 'run the rule over exported table files', load: () => import('./detect') },
  export: { summary: 'export the rows the rule reads from Log Analytics (NDJSON)', load: () => import('./export') },
  run: { summary: 'pull a window from Log Analytics and run the rule (writes nothing)', load: () => import('./run') },
  verify: { summary: "compare parity mode with the rule's KQL run in Log Analytics", load: () => import('./verify') },
  replay: {
    summary: 'run the job over past days in memory (no checkpoint, no writes)',
    load: () => import('./replay'),
  },
  allowlist: {
    summary: 'list what the allowlist (a Sentinel watchlist, or its CSV) would suppress over past days',
    load: () => import('./allowlist'),
  },
};

export function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(8)} ${s.summary}`);
  return [
    'Usage: runcommand-detect <command> [options]',
    '       runcommand-detect --version',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'runcommand-detect <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(packageVersion() + '\n');
    return 0;
  }
  if (!name) {
    io.stderr.write(
      `runcommand-detect: a command is required (${Object.keys(SUBCOMMANDS).join(', ')}).\n` +
        "Run 'runcommand-detect --help' for what each does.\n",
    );
    return 2;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    io.stderr.write(
      `runcommand-detect: unknown command '${name}' (commands: ${Object.keys(SUBCOMMANDS).join(', ')}).\n` +
        "Run 'runcommand-detect --help' for what each does.\n",
    );
    return 2;
  }
  const mod = await sub.load();
  return mod.run(rest, io);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`runcommand-detect: ${messageOf(err)}\n`);
      process.exitCode = 1;
    },
  );
}
