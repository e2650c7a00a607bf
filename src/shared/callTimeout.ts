/**
 * A client-side time limit for every Azure SDK call, so that nothing the job awaits can
 * hang past the ingestion ledger's lease (src/ingestion/ledger.ts): a pipeline policy
 * that sets `PipelineRequest.timeout` on each HTTP attempt (the SDK's HTTP client aborts
 * a request that has not answered by then and the call fails with an AbortError, which
 * the caller handles like any failed call). Added per retry, so a retried call gets a
 * fresh limit for each attempt; a limit the caller set lower is kept.
 *
 * Every client takes it the same way, through its options' `additionalPolicies`
 * (`withCallTimeout(options, ms)`): LogsQueryClient, LogsIngestionClient, TableClient,
 * ResourceManagementClient.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/** The shape of `CommonClientOptions.additionalPolicies` entries (@azure/core-client). */
export interface AddedPolicy {
  policy: PipelinePolicy;
  position: 'perCall' | 'perRetry';
}

/** AZURE_CALL_TIMEOUT_SECONDS' default: 120 s, far under the ledger lease. */
export const DEFAULT_AZURE_CALL_TIMEOUT_MS = 120_000;

export const CALL_TIMEOUT_POLICY_NAME = 'runcommandCallTimeoutPolicy';

export function callTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`The Azure call timeout must be a positive number of milliseconds, got ${timeoutMs}.`);
  }
  return {
    name: CALL_TIMEOUT_POLICY_NAME,
    sendRequest(request, next) {
      if (!(request.timeout > 0) || request.timeout > timeoutMs) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

/** `options` with the call timeout policy added to its `additionalPolicies` (per retry). */
export function withCallTimeout<T extends { additionalPolicies?: AddedPolicy[] }>(options: T, timeoutMs: number): T {
  const added: AddedPolicy = { policy: callTimeoutPolicy(timeoutMs), position: 'perRetry' };
  return { ...options, additionalPolicies: [...(options.additionalPolicies ?? []), added] };
}
