/**
 * ARM enrichment: for each finding's `Scope` (the ARM resource id of the virtual
 * machine, from `Authorization_d.scope` in the rule), the VM's region, resource
 * group, tags, vmId and OS type, read from Azure Resource Manager with
 * `resources.getById`. Each VM is looked up once per run, a few at a time.
 *
 * Enrichment never drops a finding: when ARM refuses (403), does not know the VM
 * (404, e.g. deleted since), throttles (429 after the client's own retries) or fails
 * otherwise, the finding is written anyway and its EnrichmentStatus says why.
 *
 * Permission needed: Reader (Microsoft.Compute/virtualMachines/read) on the VMs'
 * subscriptions or resource groups for the function's managed identity.
 */
import { mapLimit } from '../shared/pool';
import { messageOf } from '../shared/errors';
import { ResourceManagementClient, type ResourceManagementClientOptionalParams } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';

/** The values of the EnrichmentStatus column (infra/findings-table.json). */
export type EnrichmentStatus = 'ok' | 'disabled' | 'forbidden' | 'notFound' | 'throttled' | 'error';

/** What the findings record's enrichment columns carry for one VM. */
export interface VmEnrichment {
  status: EnrichmentStatus;
  /** VmLocation: Azure region, e.g. westeurope. */
  location?: string;
  /** VmResourceGroup. */
  resourceGroup?: string;
  /** VmTags. */
  tags?: Record<string, string>;
  /** VmId: properties.vmId. */
  vmId?: string;
  /** VmOsType: properties.storageProfile.osDisk.osType (Windows or Linux). */
  osType?: string;
  /** Why the details are missing, in words (for logs; not a column). */
  detail?: string;
}

/** Microsoft.Compute API version used to read virtual machines (and scale-set VM instances). */
export const COMPUTE_API_VERSION = '2024-07-01';
export const DEFAULT_ENRICHMENT_CONCURRENCY = 4;

export interface VmEnricherOptions {
  credential: TokenCredential;
  /** ARM base URL (setting ARM_ENDPOINT); default https://management.azure.com. */
  endpoint?: string;
  /** Extra client options (tests: `tlsOptions: { ca }`, small `retryOptions`). */
  clientOptions?: ResourceManagementClientOptionalParams;
  /** Lookups in flight at once; default 4. */
  concurrency?: number;
  apiVersion?: string;
}

// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/...
const COMPUTE_RESOURCE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/.+[^/]$/i;

/**
 * Looks VMs up in ARM and remembers the answers: create one per run, so that each VM
 * is read at most once per run, however many findings and windows mention it.
 */
export class VmEnricher {
  private readonly client: ResourceManagementClient;
  private readonly cache = new Map<string, Promise<VmEnrichment>>();
  private readonly concurrency: number;
  private readonly apiVersion: string;

  constructor(options: VmEnricherOptions) {
    const endpoint = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    this.client = new ResourceManagementClient(options.credential, {
      ...options.clientOptions,
      endpoint,
      $host: endpoint,
      credentialScopes: `${endpoint}/.default`,
    });
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_ENRICHMENT_CONCURRENCY);
    this.apiVersion = options.apiVersion ?? COMPUTE_API_VERSION;
  }

  /** Enrichment for each distinct scope (keyed by the scope text as given). */
  async enrich(scopes: Iterable<string>): Promise<Map<string, VmEnrichment>> {
    const distinct = [...new Set(scopes)];
    const found = await mapLimit(distinct, this.concurrency, (scope) => this.lookup(scope));
    return new Map(distinct.map((scope, i) => [scope, found[i]!]));
  }

  /** The number of distinct VMs asked of ARM so far (cache size). */
  get lookups(): number {
    return this.cache.size;
  }

  private lookup(scope: string): Promise<VmEnrichment> {
    // ARM resource ids are case-insensitive: one lookup per VM whatever the casing.
    const key = scope.toLowerCase();
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.fetch(scope);
      this.cache.set(key, pending);
    }
    return pending;
  }

  private async fetch(scope: string): Promise<VmEnrichment> {
    if (!COMPUTE_RESOURCE_ID.test(scope)) {
      return { status: 'error', detail: `Scope '${scope}' is not the ARM resource id of a virtual machine` };
    }
    try {
      // The operation's path is '/{resourceId}': pass the id without its leading '/' so the
      // request goes to <endpoint>/subscriptions/... rather than <endpoint>//subscriptions/...
      const vm = await this.client.resources.getById(scope.replace(/^\/+/, ''), this.apiVersion);
      const properties = (vm.properties ?? {}) as {
        vmId?: unknown;
        storageProfile?: { osDisk?: { osType?: unknown } };
      };
      const osType = properties.storageProfile?.osDisk?.osType;
      return {
        status: 'ok',
        location: vm.location,
        resourceGroup: COMPUTE_RESOURCE_ID.exec(vm.id ?? scope)?.[1] ?? COMPUTE_RESOURCE_ID.exec(scope)?.[1],
        tags: vm.tags ?? {},
        vmId: typeof properties.vmId === 'string' ? properties.vmId : undefined,
        osType: typeof osType === 'string' ? osType : undefined,
      };
    } catch (err) {
      return failure(scope, err);
    }
  }
}

function failure(scope: string, err: unknown): VmEnrichment {
  const status = (err as { statusCode?: number }).statusCode;
  const message = messageOf(err);
  switch (status) {
    case 403:
      return {
        status: 'forbidden',
        detail: `ARM refused to read ${scope} (403): grant the function's managed identity the Reader role on the VM's resource group or subscription`,
      };
    case 404:
      return {
        status: 'notFound',
        detail: `ARM has no resource ${scope} (404): the VM may have been deleted or moved`,
      };
    case 429:
      return {
        status: 'throttled',
        detail: `ARM throttled the read of ${scope} (429) after retries; the next run's findings will be enriched again`,
      };
    default:
      return {
        status: 'error',
        detail: `ARM read of ${scope} failed${status ? ` (${status})` : ''}: ${message}`,
      };
  }
}
