/**
 * A stand-in for Azure Resource Manager: HTTPS on 127.0.0.1 (test/support/tls.ts),
 * answering `GET /<resource id>?api-version=...` for the virtual machines it holds,
 * the way ARM does (resource ids compare case-insensitively; unknown ids get 404
 * ResourceNotFound). Switches make chosen ids (or all) answer 403, 404, 429 or 500.
 * Records every request (path, api-version, bearer token) for assertions.
 */
import { createServer, type Server } from 'node:https';
import { testCertificate } from './tls';

export interface StandInVm {
  /** ARM resource id, `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}`. */
  id: string;
  location: string;
  tags?: Record<string, string>;
  vmId: string;
  osType: 'Windows' | 'Linux';
}

export interface ArmRequest {
  /** The request target's path as sent (not normalised). */
  rawPath: string;
  path: string;
  apiVersion: string | null;
  authorization: string | undefined;
}

export type ArmFailure = 403 | 404 | 429 | 500;

export interface ArmStandIn {
  /** Base URL, e.g. https://127.0.0.1:12345 (give it to the client as `endpoint`). */
  endpoint: string;
  /** The CA to trust (`tlsOptions: { ca }`). */
  ca: string;
  requests: ArmRequest[];
  /** Most requests seen in flight at once. */
  readonly maxInFlight: number;
  /** Delay before each answer (ms), so that concurrency is observable; default 5. */
  responseDelayMs: number;
  addVm(vm: StandInVm): void;
  /** Park every request from now on, unanswered, until `release()` (to order two invocations in a test). */
  hold(): void;
  /** Answer new requests again; those already parked stay parked until `release()`. */
  stopHolding(): void;
  /** Stop parking and answer the parked requests. */
  release(): void;
  /** Requests parked right now. */
  readonly parked: number;
  /** Make `resourceId` (or every id, with '*') answer `status`, `times` times (default: always). */
  fail(resourceId: string | '*', status: ArmFailure, times?: number): void;
  clearFailures(): void;
  stop(): Promise<void>;
}

const ERROR_BODIES: Record<ArmFailure, (id: string) => { code: string; message: string }> = {
  403: (id) => ({
    code: 'AuthorizationFailed',
    message: `The client 'aaaaaaaa-0000-0000-0000-000000000000' with object id 'aaaaaaaa-0000-0000-0000-000000000000' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read' over scope '${id}' or the scope is invalid.`,
  }),
  404: (id) => ({
    code: 'ResourceNotFound',
    message: `The Resource '${id.split('/providers/')[1] ?? id}' under resource group was not found.`,
  }),
  429: () => ({
    code: 'TooManyRequests',
    message: 'The request is being throttled as the limit has been reached for operation type - Read.',
  }),
  500: () => ({ code: 'InternalServerError', message: 'Encountered internal server error.' }),
};

export async function startArmStandIn(vms: StandInVm[] = []): Promise<ArmStandIn> {
  const { key, cert, ca } = testCertificate();
  const byId = new Map<string, StandInVm>();
  const failures = new Map<string, { status: ArmFailure; remaining: number }>();
  const requests: ArmRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const state = { responseDelayMs: 5, holding: false };
  const parked: Array<() => void> = [];
  const addVm = (vm: StandInVm) => byId.set(vm.id.toLowerCase(), vm);
  vms.forEach(addVm);

  const server: Server = createServer({ key, cert }, (req, res) => {
    // Parse path and query apart: a request target '//subscriptions/...' would read as a host in new URL().
    const [rawPath, query = ''] = (req.url ?? '/').split('?', 2);
    const path = decodeURIComponent(rawPath).replace(/^\/+/, '/');
    const apiVersion = new URLSearchParams(query).get('api-version');
    requests.push({ rawPath, path, apiVersion, authorization: req.headers.authorization });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const answer = () =>
        setTimeout(() => {
          inFlight--;
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
          res.end(JSON.stringify(body));
        }, state.responseDelayMs);
      if (state.holding) parked.push(answer);
      else answer();
    };
    if (req.method !== 'GET') return reply(405, { error: { code: 'MethodNotAllowed', message: req.method } });
    if (!req.headers.authorization?.startsWith('Bearer ')) {
      return reply(401, { error: { code: 'AuthenticationFailed', message: 'Authentication failed.' } });
    }
    if (!apiVersion) {
      return reply(400, {
        error: {
          code: 'MissingApiVersionParameter',
          message: 'The api-version query parameter (?api-version=) is required for all requests.',
        },
      });
    }
    const failure = failures.get(path.toLowerCase()) ?? failures.get('*');
    if (failure && failure.remaining > 0) {
      failure.remaining--;
      const headers: Record<string, string> = failure.status === 429 ? { 'retry-after': '0' } : {};
      return reply(failure.status, { error: ERROR_BODIES[failure.status](path) }, headers);
    }
    const vm = byId.get(path.toLowerCase());
    if (!vm) return reply(404, { error: ERROR_BODIES[404](path) });
    const name = vm.id.split('/').pop();
    reply(200, {
      id: vm.id,
      name,
      type: 'Microsoft.Compute/virtualMachines',
      location: vm.location,
      tags: vm.tags ?? {},
      properties: {
        vmId: vm.vmId,
        hardwareProfile: { vmSize: 'Standard_D2s_v5' },
        storageProfile: { osDisk: { osType: vm.osType, name: `${name}_OsDisk_1`, createOption: 'FromImage' } },
        provisioningState: 'Succeeded',
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    ca,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    get responseDelayMs() {
      return state.responseDelayMs;
    },
    set responseDelayMs(ms: number) {
      state.responseDelayMs = ms;
    },
    addVm,
    hold() {
      state.holding = true;
    },
    stopHolding() {
      state.holding = false;
    },
    release() {
      state.holding = false;
      parked.splice(0).forEach((answer) => answer());
    },
    get parked() {
      return parked.length;
    },
    fail(resourceId, status, times = Number.POSITIVE_INFINITY) {
      failures.set(resourceId === '*' ? '*' : resourceId.toLowerCase(), { status, remaining: times });
    },
    clearFailures() {
      failures.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
