/** Command-line arguments, the same way for every subcommand. */
import type { DetectionMode } from '../detection/schema';
import { AppError } from '../shared/errors';

/** A wrong command line: the subcommand prints the message with its usage and exits 2. */
export class UsageError extends AppError {}

/**
 * Walks `argv`, `--flag value` or `--flag=value`, calling `onFlag(flag, value)` for each
 * flag; `value()` takes the flag's value (a missing or empty one is a UsageError).
 * Returns 'help' at `-h`/`--help`. An argument `onFlag` does not take (it returns
 * false) is a UsageError naming it.
 */
export function walkArgs(
  argv: readonly string[],
  onFlag: (flag: string, value: () => string) => boolean,
): 'help' | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '-h' || flag === '--help') return 'help';
    const value = (): string => {
      const given = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (given === undefined || given === '') throw new UsageError(`${flag} needs a value`);
      return given;
    };
    if (!onFlag(flag, value))
      throw new UsageError(flag.startsWith('-') ? `unknown option '${flag}'` : `unexpected argument '${arg}'`);
  }
  return undefined;
}

/**
 * A usage error as every subcommand prints it: one line, then where its options are.
 * Returns 2, the exit code of a usage error.
 */
export function printUsageError(io: { stderr: NodeJS.WritableStream }, command: string, message: string): 2 {
  io.stderr.write(
    `runcommand-detect ${command}: ${message}\nRun 'runcommand-detect ${command} --help' for its options.\n`,
  );
  return 2;
}

/** `--mode parity|corrected`. */
export function parseModeFlag(text: string): DetectionMode {
  if (text !== 'parity' && text !== 'corrected')
    throw new UsageError(`--mode must be parity or corrected, not '${text}'`);
  return text;
}

/** `--baseline-days N`: a whole number from 1 to 90. */
export function parseBaselineDaysFlag(text: string): number {
  const days = Number(text);
  if (!/^\d+$/.test(text) || days < 1 || days > 90)
    throw new UsageError(`--baseline-days must be a whole number from 1 to 90, not '${text}'`);
  return days;
}
