/**
 * The one error base of the project. Every error we throw on purpose is an `AppError`:
 *
 * - `name` is the class's own name (`new.target.name`), so logs and `errorType` fields
 *   say `SliceFailedError`, not `Error`, without each class repeating it;
 * - options come as an object (`cause`, `retriable`), never as positional parameters;
 * - `retriable` says whether the same call may succeed if tried again (a 503, a
 *   throttled request, a concurrency conflict): the caller decides, the error informs.
 *
 * `messageOf` is the one way to turn anything thrown into text for a message or a log.
 */
export interface AppErrorOptions {
  cause?: unknown;
  /** The same operation may succeed when tried again (default false). */
  retriable?: boolean;
}

export class AppError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** The message of anything thrown: an Error's `message`, otherwise its text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `error` as an Error (a thrown string or object is wrapped, keeping its text). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The class name of anything thrown, for structured logs (`errorType`). */
export function errorTypeOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
