/**
 * The one log interface every part writes to: the job, the Log Analytics source, the
 * CLI. The Functions handler passes the InvocationContext's (src/job/invocationLog.ts);
 * the CLI writes to stderr; tests collect.
 */
export interface Log {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** A log that drops everything (replay, benchmarks). */
export const SILENT_LOG: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };
