/**
 * What one timer occurrence does: read and validate the settings, build the job's
 * collaborators from them, run the job, and fail the invocation (so it shows as
 * failed in Application Insights) when a window failed or days were skipped. The registration in
 * src/functions calls this and nothing else.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { ConfigError, loadConfig } from '../config/settings';
import { createJobPorts, type JobHostOverrides } from './createJobPorts';
import { invocationLog } from './invocationLog';
import { runDetectionJob, runFailure, type JobRunResult } from './runDetectionJob';

let overrides: JobHostOverrides = {};

/**
 * Replaces how the job reaches Azure: a credential, a CA to trust, a clock, retry
 * delays. For tests and local tooling only; the Functions host never calls it.
 */
export function configureJobHost(next: JobHostOverrides): void {
  overrides = { ...next };
}

/** The timer handler. Resolves when every due window was processed (or another invocation took over). */
export async function runTimerOccurrence(timer: Timer, context: InvocationContext): Promise<void> {
  await runOccurrence(timer, context);
}

/** The same, returning what the run did. */
export async function runOccurrence(timer: Timer, context: InvocationContext): Promise<JobRunResult> {
  const log = invocationLog(context);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) log.error(error.message, { problems: error.problems });
    throw error;
  }
  const job = await createJobPorts(config, overrides, log);
  const result = await runDetectionJob(job.ports, {
    now: overrides.now ?? (() => new Date()),
    ingestionDelayMinutes: config.ingestionDelayMinutes,
    maxCatchupDays: config.maxCatchupDays,
    checkpointName: job.checkpointName,
    isPastDue: timer.isPastDue,
    log,
  });
  const failure = runFailure(result);
  if (failure) throw failure;
  return result;
}
