/**
 * The job's log, written through the Functions InvocationContext so every line lands
 * in Application Insights with the invocation id. Each line is one JSON object
 * (`{"message": …, …data}`), so it can be queried with
 * `traces | where message startswith '{"message":"Window processed"' | extend d = parse_json(message)`.
 */
import type { InvocationContext } from '@azure/functions';
import type { Log } from '../shared/log';

export function invocationLog(context: Pick<InvocationContext, 'info' | 'warn' | 'error'>): Log {
  const line = (message: string, data?: Record<string, unknown>) => JSON.stringify({ message, ...data });
  return {
    info: (message, data) => context.info(line(message, data)),
    warn: (message, data) => context.warn(line(message, data)),
    error: (message, data) => context.error(line(message, data)),
  };
}
