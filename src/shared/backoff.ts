/**
 * Retrying an idempotent call with exponential backoff: `attempts` tries in all, the
 * delay doubling from `baseDelayMs` up to `maxDelayMs`. Only errors `isRetriable` says
 * yes to are retried (default: every error); the last error is thrown.
 */
export interface BackoffOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  isRetriable?: (error: unknown) => boolean;
  /** Called before each wait (logging). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withBackoff<T>(work: (attempt: number) => Promise<T>, options: BackoffOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !(options.isRetriable?.(error) ?? true)) throw error;
      const delayMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}
