import { writeFileSync } from 'node:fs';

/** The streams a subcommand writes to; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Writes `text` to `file`, or to standard output; a write error is printed (exit 1). */
export async function writeOutput(
  command: string,
  io: CliIo,
  text: string,
  file: string | undefined,
): Promise<boolean> {
  if (file === undefined) {
    await new Promise<void>((res, rej) => io.stdout.write(text, (e) => (e ? rej(e) : res())));
    return true;
  }
  try {
    writeFileSync(file, text);
    return true;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    io.stderr.write(
      `runcommand-detect ${command}: ${file}: cannot write it (${why}); check the path and its permissions\n`,
    );
    return false;
  }
}
