/**
 * What one timer occurrence does: read and validate the settings, build the job's
 * collaborators from them, run the job, and fail the invocation (so it shows as
 * failed in Application Insights) when a window failed or days were skipped. The registration in
 * src/functions calls this and nothing else.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { ConfigError, loadConfig } from '../config/settings';
import type { JobHostOverrides } from './createJobPorts';
import { runOccurrence } from './occurrence';
import { invocationLog } from './invocationLog';
import { runFailure, type JobRunResult } from './runDetectionJob';

let overrides: JobHostOverrides = {};

/**
 * Replaces how the job reaches Azure: a credential, a CA to trust, a clock, retry
 * delays. The one test seam of the timer handler: the end-to-end test calls the real
 * registered handler, which has no other way to be given a stand-in's certificate or a
 * clock. The Functions host never calls it (nothing in src/ does).
 * @internal
 */
export function configureJobHost(next: JobHostOverrides): void {
  overrides = { ...next };
}

/** The timer handler. Resolves when every due window was processed (or another invocation took over). */
export async function runTimerOccurrence(timer: Timer, context: InvocationContext): Promise<void> {
  await runScheduledOccurrence(timer, context);
}

/** The same, returning what the run did. */
export async function runScheduledOccurrence(timer: Timer, context: InvocationContext): Promise<JobRunResult> {
  const log = invocationLog(context);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) log.error(error.message, { problems: error.problems });
    throw error;
  }
  const { run } = await runOccurrence(
    config,
    {
      isPastDue: timer.isPastDue,
    },
    log,
    overrides,
  );
  const failure = runFailure(run);
  if (failure) throw failure;
  return run;
}
