/**
 * Errors a user can hit while handing table files to `detect`. Each one names the
 * file (and line, where there is one) and says what to do, so the CLI can print it as
 * one line `file:line: message` without a stack trace.
 */
import { AppError } from '../shared/errors';

export class InputError extends AppError {
  constructor(
    /** The file (or directory) at fault. */
    readonly file: string,
    /** 1-based line in `file`, when the fault has one. */
    readonly line: number | undefined,
    /** What is wrong and what to do, without the location prefix. */
    readonly detail: string,
  ) {
    super(line === undefined ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
  }
}

/** Shortens a cell or line for an error message. */
export function excerpt(text: string, max = 60): string {
  const flat = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? flat.slice(0, -1) + '…"' : flat;
}

/** Shortens JSON text for an error message, as it stands in the file. */
export function jsonExcerpt(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max) + '…' : text;
}
