/**
 * infra/bicep: builds main.bicep with the real Bicep CLI, evaluates it offline
 * (`bicep snapshot`, the ARM engine's prediction for given parameters) and checks
 * what a SOC engineer checks before granting the identity anything: security
 * settings, identity-only access, app settings the job actually accepts, every
 * role assignment (role, scope, name), and that the table, DCR, Sentinel rule
 * and workbook agree with infra/findings-table.json.
 *
 * Needs the Bicep CLI (.ci/run installs it with scripts/install-bicep.sh); without
 * it the suite is skipped with the reason printed.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, SETTING_DEFAULTS } from '../../../src/config/settings';
import {
  buildMain,
  findBicep,
  MAIN_BICEPPARAM,
  REPO,
  runBicep,
  snapshot,
  SNAPSHOT_TARGET,
  type ArmTemplate,
  type PredictedResource,
  type Snapshot,
} from './bicepTool';
import {
  kqlDiagnostics as diagnostics,
  kqlResultColumns,
  LOG_ANALYTICS_TABLES,
  type KustoType,
  type TableSchemas,
} from '../../support/kusto';

interface FindingsTableFile {
  tableName: string;
  streamName: string;
  columns: Array<{ name: string; type: string; description: string }>;
}
const findingsTable = JSON.parse(readFileSync(join(REPO, 'infra', 'findings-table.json'), 'utf8')) as FindingsTableFile;
const healthTable = JSON.parse(readFileSync(join(REPO, 'infra', 'health-table.json'), 'utf8')) as FindingsTableFile;
const asSchema = (cols: FindingsTableFile['columns']) => cols.map((c) => [c.name, c.type as KustoType] as const);
const FINDINGS_SCHEMA: TableSchemas = { [findingsTable.tableName]: asSchema(findingsTable.columns) };
const WORKBOOK_SCHEMA: TableSchemas = { ...FINDINGS_SCHEMA, [healthTable.tableName]: asSchema(healthTable.columns) };
/** SecurityAlert, as the Azure Monitor table reference lists the columns the rule reads. */
const SECURITY_ALERT: TableSchemas = {
  SecurityAlert: [
    ['TimeGenerated', 'datetime'],
    ['AlertName', 'string'],
    ['AlertType', 'string'],
    ['ProductName', 'string'],
    ['ExtendedProperties', 'string'],
    ['Entities', 'string'],
    ['SystemAlertId', 'string'],
  ],
};
const RULE_SCHEMA: TableSchemas = { ...FINDINGS_SCHEMA, ...SECURITY_ALERT };
/** Names of the result columns of a query. */
const resultColumns = (query: string, schemas: TableSchemas) => kqlResultColumns(query, schemas).map(([name]) => name);

const ROLE = {
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
};
/** The tables the identity may read, and only these: Watchlist only with an allowlist (allowlistWatchlist). */
const READ_TABLES = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents', 'RunCommandFindings_CL', 'Watchlist'];
const ALLOWLIST_ALIAS = 'RunCommandAllowlist';
const VM_SUBSCRIPTIONS = ['11111111-1111-1111-1111-111111111111', '44444444-4444-4444-4444-444444444444'];
const SUB = SNAPSHOT_TARGET.subscriptionId;
const WS_RG = `/subscriptions/${SUB}/resourceGroups/rg-ws`;
const WORKSPACE_ID = `${WS_RG}/providers/Microsoft.OperationalInsights/workspaces/ws-test`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bicep = findBicep();
if (!('bin' in bicep)) {
  console.log(`infra/bicep tests skipped: no Bicep CLI (${bicep.reason}). Run scripts/install-bicep.sh.`);
}
const describeWithBicep = 'bin' in bicep ? describe : describe.skip;

function only(resources: PredictedResource[], type: string): PredictedResource {
  const found = resources.filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

/** The host ('st…') or package ('stpkg…') storage account. */
function storageAccount(s: Snapshot, prefix: 'st' | 'stpkg'): PredictedResource {
  const all = s.predictedResources.filter((r) => r.type === 'Microsoft.Storage/storageAccounts');
  const found = all.filter((r) => (prefix === 'stpkg' ? r.name.startsWith('stpkg') : !r.name.startsWith('stpkg')));
  if (found.length !== 1) throw new Error(`expected one ${prefix} storage account, found ${found.length}`);
  return found[0];
}

/** `[reference('<id>', '<api>'[, 'full']).<path>]` → { id, path }: a value ARM fills in at deployment. */
function runtimeReference(value: string): { id: string; path: string } | undefined {
  const m = /^\[reference\('([^']+)', '[^']+'(?:, 'full')?\)\.([A-Za-z.]+)\]$/.exec(value);
  return m ? { id: m[1], path: m[2] } : undefined;
}

describeWithBicep('infra/bicep/main.bicep', () => {
  const bin = (bicep as { bin: string }).bin;
  let template: ArmTemplate;
  let buildOutput: string;
  let full: Snapshot;
  let minimal: Snapshot;
  let identityId: string;
  let storageId: string;

  beforeAll(() => {
    ({ template, output: buildOutput } = buildMain(bin));
    full = snapshot(bin, {
      workspaceName: "'ws-test'",
      workspaceResourceGroupName: "'rg-ws'",
      vmSubscriptionIds: `[${VM_SUBSCRIPTIONS.map((s) => `'${s}'`).join(', ')}]`,
      allowlistWatchlist: `'${ALLOWLIST_ALIAS}'`,
    });
    minimal = snapshot(bin, {
      workspaceName: "'ws-test'",
      workspaceResourceGroupName: "'rg-ws'",
      deploySentinelRule: 'false',
      deployWorkbook: 'false',
      enrichmentEnabled: 'false',
      blobSoftDeleteDays: '0',
      detectionMode: "'corrected'",
    });
    // The runtime identity (the other one, '-deploy-', only writes the package).
    identityId = full.predictedResources.filter(
      (r) => r.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && !r.name.includes('-deploy-'),
    )[0].id;
    storageId = storageAccount(full, 'st').id;
  });

  describe('build and lint', () => {
    it('builds with no warning or error', () => {
      expect(buildOutput).toBe('');
    });

    it('lints with no diagnostic', () => {
      const r = runBicep(bin, ['lint', join(REPO, 'infra', 'bicep', 'main.bicep')]);
      expect(r).toEqual({ status: 0, output: '' });
    });

    it('uses only local modules (no registry module that needs a restore)', () => {
      const source = readFileSync(join(REPO, 'infra', 'bicep', 'main.bicep'), 'utf8');
      const modules = [...source.matchAll(/^module \w+ '([^']+)'/gm)].map((m) => m[1]);
      expect(modules.length).toBeGreaterThan(0);
      for (const m of modules) expect(m).toMatch(/^modules\/[a-z-]+\.bicep$/);
    });

    it('main.bicepparam builds from the environment and names a missing workspace variable', () => {
      const env = {
        ...process.env,
        LOG_ANALYTICS_WORKSPACE_NAME: 'ws-prod',
        LOG_ANALYTICS_WORKSPACE_RESOURCE_GROUP: 'rg-sentinel',
        VM_SUBSCRIPTION_IDS: `${VM_SUBSCRIPTIONS[0]},${VM_SUBSCRIPTIONS[1]}`,
        AZURE_ENV_NAME: 'rcd-prod',
      };
      const out = join(tmpdir(), `rcd-params-${process.pid}.json`);
      const ok = runBicep(bin, ['build-params', MAIN_BICEPPARAM, '--outfile', out], env);
      expect(ok).toEqual({ status: 0, output: '' });
      const params = JSON.parse(readFileSync(out, 'utf8')).parameters;
      expect(params.workspaceName.value).toBe('ws-prod');
      expect(params.workspaceResourceGroupName.value).toBe('rg-sentinel');
      expect(params.vmSubscriptionIds.value).toEqual(VM_SUBSCRIPTIONS);
      expect(params.environmentName.value).toBe('rcd-prod');

      const { LOG_ANALYTICS_WORKSPACE_NAME: _unset, ...missing } = env;
      const failed = runBicep(bin, ['build-params', MAIN_BICEPPARAM, '--outfile', out], missing);
      expect(failed.status).not.toBe(0);
      expect(failed.output).toContain('LOG_ANALYTICS_WORKSPACE_NAME');
      rmSync(out, { force: true });
    });
  });

  describe('security settings', () => {
    it('storage: no shared keys, no public blobs, TLS 1.2, HTTPS only, blob soft delete, on both accounts', () => {
      for (const prefix of ['st', 'stpkg'] as const) {
        const p = storageAccount(full, prefix).properties;
        expect([prefix, p]).toMatchObject([
          prefix,
          {
            allowSharedKeyAccess: false,
            allowBlobPublicAccess: false,
            minimumTlsVersion: 'TLS1_2',
            supportsHttpsTrafficOnly: true,
            defaultToOAuthAuthentication: true,
            publicNetworkAccess: 'Enabled',
          },
        ]);
      }
      const blobServices = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.Storage/storageAccounts/blobServices',
      );
      expect(blobServices).toHaveLength(2);
      for (const b of blobServices) {
        expect(b.properties.deleteRetentionPolicy).toEqual({ enabled: true, days: 7 });
        expect(b.properties.containerDeleteRetentionPolicy).toEqual({ enabled: true, days: 7 });
      }
      const container = only(full.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      expect(container.properties.publicAccess).toBe('None');
      expect(container.id.startsWith(`${storageAccount(full, 'stpkg').id}/`)).toBe(true);
    });

    it('blobSoftDeleteDays 0 turns soft delete off', () => {
      for (const b of minimal.predictedResources.filter(
        (r) => r.type === 'Microsoft.Storage/storageAccounts/blobServices',
      ))
        expect(b.properties.deleteRetentionPolicy).toEqual({ enabled: false });
    });

    it('function app: HTTPS only, TLS 1.2, no ftpsState (unsupported on Flex Consumption), no basic publishing credentials', () => {
      const site = only(full.predictedResources, 'Microsoft.Web/sites');
      expect(site.properties.httpsOnly).toBe(true);
      expect(site.properties.siteConfig).toMatchObject({ minTlsVersion: '1.2' });
      expect(site.properties.siteConfig).not.toHaveProperty('ftpsState');
      expect(site.properties.virtualNetworkSubnetId ?? null).toBeNull();
      const policies = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
      );
      expect(policies.map((p) => [p.name, p.properties.allow]).sort()).toEqual([
        [`${site.name}/ftp`, false],
        [`${site.name}/scm`, false],
      ]);
    });

    it('function app: Flex Consumption, Node.js 22, two identities, the package read and written by the deployment identity only', () => {
      const plan = only(full.predictedResources, 'Microsoft.Web/serverfarms');
      expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(plan.properties.reserved).toBe(true);
      const site = only(full.predictedResources, 'Microsoft.Web/sites');
      expect(site.properties.serverFarmId).toBe(plan.id);
      const identities = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.ManagedIdentity/userAssignedIdentities',
      );
      expect(identities).toHaveLength(2);
      const deployId = identities.find((r) => r.id !== identityId)?.id as string;
      expect(deployId).toMatch(/\/id-[a-z0-9-]+-deploy-[a-z0-9]+$/);
      expect(site.identity).toEqual({
        type: 'UserAssigned',
        userAssignedIdentities: { [identityId]: {}, [deployId]: {} },
      });
      const config = site.properties.functionAppConfig;
      expect(config.runtime).toEqual({ name: 'node', version: '22' });
      expect(config.scaleAndConcurrency.maximumInstanceCount).toBeGreaterThanOrEqual(1);
      const container = only(full.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      const containerName = container.name.split('/').pop() as string;
      expect(config.deployment.storage.type).toBe('blobContainer');
      expect(config.deployment.storage.value).toContain(`'${storageAccount(full, 'stpkg').id}'`);
      expect(config.deployment.storage.value).toContain(containerName);
      expect(config.deployment.storage.authentication).toEqual({
        type: 'UserAssignedIdentity',
        userAssignedIdentityResourceId: deployId,
      });
      expect(site.tags?.['azd-service-name']).toBe('detector');
    });

    it('Application Insights: local auth off, stored in the workspace', () => {
      const ai = only(full.predictedResources, 'Microsoft.Insights/components');
      expect(ai.properties).toMatchObject({ DisableLocalAuth: true, WorkspaceResourceId: WORKSPACE_ID });
    });

    it('diagnostic settings send the DCR errors and the Function app logs to the workspace', () => {
      const settings = full.predictedResources.filter((r) => r.type === 'Microsoft.Insights/diagnosticSettings');
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      const site = only(full.predictedResources, 'Microsoft.Web/sites');
      const byTarget = Object.fromEntries(
        settings.map((d) => [
          d.id.split('/providers/Microsoft.Insights/diagnosticSettings/')[0],
          { workspaceId: d.properties.workspaceId, logs: d.properties.logs },
        ]),
      );
      expect(byTarget).toEqual({
        [dcr.id]: { workspaceId: WORKSPACE_ID, logs: [{ category: 'LogErrors', enabled: true }] },
        [site.id]: { workspaceId: WORKSPACE_ID, logs: [{ category: 'FunctionAppLogs', enabled: true }] },
      });
    });

    it('host.json samples no trace, event, request or exception (what the alerts and a reader count)', () => {
      const host = JSON.parse(readFileSync(join(REPO, 'host.json'), 'utf8'));
      const sampling = host.logging.applicationInsights.samplingSettings;
      if (sampling.isEnabled !== false) {
        const excluded = String(sampling.excludedTypes).split(';');
        expect(excluded).toEqual(expect.arrayContaining(['Trace', 'Event', 'Request', 'Exception']));
      }
    });
  });

  describe('names and regions', () => {
    const names = (s: Snapshot) => s.predictedResources.map((r) => r.name);

    it('any valid azd environment name deploys: cleaned and cut into valid resource names', () => {
      const odd = snapshot(bin, {
        workspaceName: "'ws-test'",
        workspaceResourceGroupName: "'rg-ws'",
        environmentName: `'${'My_Env.(Prod)'.padEnd(64, 'x')}'`,
      });
      const st = storageAccount(odd, 'st').name;
      const pkg = storageAccount(odd, 'stpkg').name;
      for (const n of [st, pkg]) expect(n).toMatch(/^[a-z0-9]{3,24}$/);
      const site = only(odd.predictedResources, 'Microsoft.Web/sites').name;
      expect(site).toMatch(/^func-my-env--prod-[a-z0-9]{13}$/);
      expect(site.length).toBeLessThanOrEqual(32);
      const dcr = only(odd.predictedResources, 'Microsoft.Insights/dataCollectionRules').name;
      expect(dcr).toMatch(/^[a-z0-9-]{3,64}$/);
      // Another environment name: other names (two installations never collide).
      expect(names(odd).filter((n) => names(full).includes(n) && /[a-z0-9]{13}/.test(n))).toEqual([]);
    });

    it('subscription-scope deployment names carry the installation suffix', () => {
      interface Deployment {
        type: string;
        name: string;
        subscriptionId?: string;
        properties: { template: { resources: unknown } };
      }
      const deployments = Object.values(template.resources as Record<string, Deployment>).filter(
        (r) => r.type === 'Microsoft.Resources/deployments',
      );
      const subscriptionScoped = deployments.filter((d) => d.subscriptionId !== undefined);
      expect(subscriptionScoped.length).toBe(1);
      expect(subscriptionScoped[0].name).toContain("variables('suffix')");
      for (const d of deployments) expect([d.name, /variables\('suffix'\)/.test(d.name)]).toEqual([d.name, true]);
    });

    it('the app region must offer Flex Consumption: another one gives every app resource a location that says so', () => {
      const elsewhere = snapshot(bin, {
        workspaceName: "'ws-test'",
        workspaceResourceGroupName: "'rg-ws'",
        location: "'antarctica'",
      });
      const site = only(elsewhere.predictedResources, 'Microsoft.Web/sites');
      expect(site.location).toMatch(/^location-antarctica-has-no-Flex-Consumption-choose-one-of-.*westeurope/);
      expect(only(full.predictedResources, 'Microsoft.Web/sites').location).toBe('westeurope');
    });
  });

  describe('private networking (vnetEnabled)', () => {
    let vnet: Snapshot;
    beforeAll(() => {
      vnet = snapshot(bin, { workspaceName: "'ws-test'", workspaceResourceGroupName: "'rg-ws'", vnetEnabled: 'true' });
    });

    it('storage is reachable only through private endpoints, and the app sends its traffic through the VNet', () => {
      for (const prefix of ['st', 'stpkg'] as const)
        expect(storageAccount(vnet, prefix).properties).toMatchObject({
          publicNetworkAccess: 'Disabled',
          networkAcls: { defaultAction: 'Deny' },
        });
      const endpoints = vnet.predictedResources.filter((r) => r.type === 'Microsoft.Network/privateEndpoints');
      const targets = endpoints.map((e) => {
        const c = e.properties.privateLinkServiceConnections[0].properties;
        return `${c.privateLinkServiceId.split('/').pop()}:${c.groupIds.join()}`;
      });
      const st = storageAccount(vnet, 'st').name;
      const pkg = storageAccount(vnet, 'stpkg').name;
      expect(targets.sort()).toEqual([`${pkg}:blob`, `${st}:blob`, `${st}:table`].sort());
      const site = only(vnet.predictedResources, 'Microsoft.Web/sites');
      // ARM fills the subnet id in at deployment: the app subnet (subnets[0]) of this VNet.
      expect(site.properties.virtualNetworkSubnetId).toMatch(
        /virtualNetworks\/vnet-[^']+', '[\d-]+'\)\.subnets\[0\]\.id/,
      );
      const net = only(vnet.predictedResources, 'Microsoft.Network/virtualNetworks');
      expect(net.properties.subnets[0].properties.delegations[0].properties.serviceName).toBe(
        'Microsoft.App/environments',
      );
      expect(vnet.predictedResources.filter((r) => r.type === 'Microsoft.Network/privateDnsZones')).toHaveLength(2);
    });

    it('is off by default', () => {
      expect(full.predictedResources.filter((r) => r.type.startsWith('Microsoft.Network/'))).toEqual([]);
    });
  });

  describe('app settings', () => {
    const settings = (s: Snapshot): Record<string, string> =>
      Object.fromEntries(
        only(s.predictedResources, 'Microsoft.Web/sites').properties.siteConfig.appSettings.map(
          (a: { name: string; value: string }) => [a.name, a.value],
        ),
      );

    it('has exactly the job settings and the identity-based host settings', () => {
      expect(Object.keys(settings(full)).sort()).toEqual(
        [
          'LOG_ANALYTICS_WORKSPACE_ID',
          'LOGS_INGESTION_ENDPOINT',
          'DCR_IMMUTABLE_ID',
          'DCR_STREAM_NAME',
          'STATE_STORE_ENDPOINT',
          'STATE_STORE_TABLE_NAME',
          'AZURE_CLIENT_ID',
          'DETECTION_SCHEDULE',
          'INGESTION_DELAY_MINUTES',
          'MAX_CATCHUP_DAYS',
          'DETECTION_MODE',
          'ENRICHMENT_ENABLED',
          'BASELINE_DAYS',
          'ALLOWLIST_WATCHLIST',
          'AzureWebJobsStorage__accountName',
          'AzureWebJobsStorage__credential',
          'AzureWebJobsStorage__clientId',
          'APPLICATIONINSIGHTS_CONNECTION_STRING',
          'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
        ].sort(),
      );
    });

    it('writes the defaulted settings it sets with the job defaults; the public-cloud endpoints are left to the job', () => {
      const s = settings(full);
      const cloudEndpoints = ['LOG_ANALYTICS_ENDPOINT', 'ARM_ENDPOINT'];
      // Bicep need not write a defaulted setting (the job applies its default); what it
      // does write must be the job's default, so a deployment and a local run agree.
      const written = Object.entries(SETTING_DEFAULTS).filter(([name]) => name in s);
      expect(written.length).toBeGreaterThanOrEqual(8);
      for (const [name, value] of written) expect([name, s[name]]).toEqual([name, value]);
      for (const name of cloudEndpoints) expect(s[name]).toBeUndefined();
    });

    it('passes parameters through as the job spells them', () => {
      const s = settings(minimal);
      expect(s.ENRICHMENT_ENABLED).toBe('false');
      expect(s.DETECTION_MODE).toBe('corrected');
      expect(settings(full).ALLOWLIST_WATCHLIST).toBe(ALLOWLIST_ALIAS);
      // No allowlist: the setting is blank, which the job reads as unset (no watchlist is read).
      expect(s.ALLOWLIST_WATCHLIST).toBe('');
    });

    it('takes identities, endpoints and ids from the deployed resources', () => {
      const s = settings(full);
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      const ai = only(full.predictedResources, 'Microsoft.Insights/components');
      const expected: Record<string, { id: string; path: string }> = {
        AZURE_CLIENT_ID: { id: identityId, path: 'clientId' },
        AzureWebJobsStorage__clientId: { id: identityId, path: 'clientId' },
        LOG_ANALYTICS_WORKSPACE_ID: { id: WORKSPACE_ID, path: 'customerId' },
        LOGS_INGESTION_ENDPOINT: { id: dcr.id, path: 'endpoints.logsIngestion' },
        DCR_IMMUTABLE_ID: { id: dcr.id, path: 'immutableId' },
        STATE_STORE_ENDPOINT: { id: storageId, path: 'primaryEndpoints.table' },
        APPLICATIONINSIGHTS_CONNECTION_STRING: { id: ai.id, path: 'ConnectionString' },
      };
      for (const [name, ref] of Object.entries(expected))
        expect([name, runtimeReference(s[name])]).toEqual([name, ref]);
      expect(s.AzureWebJobsStorage__accountName).toBe(storageId.split('/').pop());
      expect(s.AzureWebJobsStorage__credential).toBe('managedidentity');
      expect(s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toMatch(/^\[format\('Authorization=AAD;ClientId=\{0\}', /);
      expect(s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toContain(`reference('${identityId}'`);
      // Nothing carries a key or a connection string with a secret.
      for (const [name, value] of Object.entries(s))
        expect([name, /AccountKey|SharedAccessSignature/i.test(value)]).toEqual([name, false]);
    });

    it('is accepted by the job configuration once ARM fills in the deployed values', () => {
      const s = settings(full);
      const account = storageId.split('/').pop();
      const filled: Record<string, string> = {
        clientId: '5d1a5c3e-0f0e-4b8a-9a57-0c2d6f2b9e11',
        customerId: '8b7c6d5e-4f3a-4b2c-9d1e-0f9e8d7c6b5a',
        'endpoints.logsIngestion': 'https://dcr-runcmd-detect-abcd.westeurope-1.ingest.monitor.azure.com',
        immutableId: 'dcr-0123456789abcdef0123456789abcdef',
        'primaryEndpoints.table': `https://${account}.table.core.windows.net/`,
        ConnectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000',
      };
      const env: NodeJS.ProcessEnv = {};
      for (const [name, value] of Object.entries(s)) {
        const ref = runtimeReference(value);
        env[name] = ref ? filled[ref.path] : value;
      }
      const config = loadConfig(env);
      expect(config).toMatchObject({
        logAnalyticsWorkspaceId: filled.customerId,
        logsIngestionEndpoint: filled['endpoints.logsIngestion'],
        dcrImmutableId: filled.immutableId,
        dcrStreamName: findingsTable.streamName,
        stateStore: { kind: 'endpoint', endpoint: `https://${account}.table.core.windows.net` },
        azureClientId: filled.clientId,
        detectionSchedule: '0 15 0 * * *',
        enrichmentEnabled: true,
        detectionMode: 'parity',
      });
    });
  });

  describe('role assignments', () => {
    const assignments = (s: Snapshot) =>
      s.predictedResources.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');
    const definitions = (s: Snapshot) =>
      s.predictedResources.filter((r) => r.type === 'Microsoft.Authorization/roleDefinitions');
    const scopeOf = (r: PredictedResource) => r.id.split('/providers/Microsoft.Authorization/roleAssignments/')[0];
    const roleOf = (r: PredictedResource) => (r.properties.roleDefinitionId as string).split('/').pop() as string;
    const principalOf = (r: PredictedResource) => r.properties.principalId as string;
    const principal = (id: string) => `[reference('${id}', '2023-01-31').principalId]`;
    let deployId: string;
    let tableRead: PredictedResource;
    let vmReads: PredictedResource[];
    beforeAll(() => {
      deployId = full.predictedResources.find(
        (r) => r.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && r.id !== identityId,
      )?.id as string;
      tableRead = definitions(full).find((d) => d.id.startsWith(`${WS_RG}/`)) as PredictedResource;
      vmReads = definitions(full).filter((d) => /^\/subscriptions\/[^/]+\/providers\//.test(d.id));
    });

    it('grants exactly these roles, each on the narrowest scope that works', () => {
      const dcrId = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules').id;
      const aiId = only(full.predictedResources, 'Microsoft.Insights/components').id;
      const container = only(full.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      const who = (r: PredictedResource) =>
        principalOf(r) === principal(identityId)
          ? 'runtime'
          : principalOf(r) === principal(deployId)
            ? 'deploy'
            : principalOf(r);
      const got = assignments(full)
        .map((r) => `${who(r)}: ${roleOf(r)} on ${scopeOf(r)}`)
        .sort();
      const vmRole = (sub: string) => vmReads.find((d) => d.id.startsWith(`/subscriptions/${sub}/`))?.name;
      expect(got).toEqual(
        [
          `runtime: ${ROLE.storageBlobDataOwner} on ${storageId}`,
          `runtime: ${ROLE.storageTableDataContributor} on ${storageId}`,
          `runtime: ${tableRead.name} on ${WORKSPACE_ID}`,
          `runtime: ${ROLE.monitoringMetricsPublisher} on ${dcrId}`,
          `runtime: ${ROLE.monitoringMetricsPublisher} on ${aiId}`,
          `deploy: ${ROLE.storageBlobDataContributor} on ${container.id}`,
          ...VM_SUBSCRIPTIONS.map((s) => `runtime: ${vmRole(s)} on /subscriptions/${s}`),
        ].sort(),
      );
    });

    it('no Log Analytics Reader, Reader, Contributor or Owner anywhere in the compiled template', () => {
      const compiled = JSON.stringify(template);
      for (const id of [ROLE.logAnalyticsReader, ROLE.reader, ROLE.contributor, ROLE.owner])
        expect([id, compiled.includes(id)]).toEqual([id, false]);
      for (const s of [full, minimal])
        for (const r of assignments(s))
          expect([ROLE.logAnalyticsReader, ROLE.reader, ROLE.contributor, ROLE.owner]).not.toContain(roleOf(r));
    });

    it('the runtime identity has no role on the package account: it cannot rewrite its own code', () => {
      const pkg = storageAccount(full, 'stpkg').id;
      const onPackage = assignments(full).filter((r) => scopeOf(r).startsWith(pkg));
      expect(onPackage.map(principalOf)).toEqual([principal(deployId)]);
      // ... and the deployment identity has no role anywhere else.
      expect(assignments(full).filter((r) => principalOf(r) === principal(deployId))).toHaveLength(1);
    });

    it('workspace read: a custom role that can query and read table data, limited by its condition to exactly the five tables', () => {
      const p = tableRead.properties;
      expect(p.type).toBe('CustomRole');
      expect(p.assignableScopes).toEqual([WS_RG]);
      expect(p.permissions).toEqual([
        {
          actions: [
            'Microsoft.OperationalInsights/workspaces/read',
            'Microsoft.OperationalInsights/workspaces/query/read',
          ],
          notActions: [],
          dataActions: ['Microsoft.OperationalInsights/workspaces/tables/data/read'],
          notDataActions: [],
        },
      ]);
      expect(conditionTables(full)).toEqual(READ_TABLES);
    });

    it('without an allowlist (allowlistWatchlist empty), the Watchlist table is not readable', () => {
      // minimal is a corrected-mode deployment: DeviceProcessEvents (the Linux Run Command paths) is readable
      // there, and only there (full is parity).
      expect(conditionTables(minimal)).toEqual([
        'AzureActivity',
        'DeviceFileEvents',
        'DeviceEvents',
        'DeviceProcessEvents',
        'RunCommandFindings_CL',
      ]);
      expect(conditionTables(full)).not.toContain('DeviceProcessEvents');
      // The job queries the watchlist only when ALLOWLIST_WATCHLIST is set (src/job/createJobPorts.ts).
      const wiring = readFileSync(join(REPO, 'src', 'job', 'createJobPorts.ts'), 'utf8');
      expect(wiring).toMatch(/if \(!config\.allowlistWatchlist\) return undefined;/);
    });

    /** The tables the workspace read assignment's condition allows, as the documented shape spells them. */
    function conditionTables(s: Snapshot): Array<string | undefined> {
      const onWorkspace = assignments(s).filter((r) => scopeOf(r) === WORKSPACE_ID);
      expect(onWorkspace).toHaveLength(1);
      const a = onWorkspace[0].properties;
      expect(a.roleDefinitionId).toBe(
        `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${tableRead.name}`,
      );
      expect(a.conditionVersion).toBe('2.0');
      // The documented shape: (!(ActionMatches{read data})) OR (table name is one of ...).
      const m =
        /^\(\(!\(ActionMatches\{'Microsoft\.OperationalInsights\/workspaces\/tables\/data\/read'\}\)\) OR \((.*)\)\)$/.exec(
          a.condition as string,
        );
      expect(m).not.toBeNull();
      return (m as RegExpExecArray)[1]
        .split(' OR ')
        .map(
          (t) =>
            /^@Resource\[Microsoft\.OperationalInsights\/workspaces\/tables:name\] StringEquals '(\w+)'$/.exec(t)?.[1],
        );
    }

    it('VM read: a custom role per VM subscription with only the reads enrichment makes', () => {
      expect(vmReads).toHaveLength(VM_SUBSCRIPTIONS.length);
      for (const sub of VM_SUBSCRIPTIONS) {
        const d = vmReads.find((r) => r.id.startsWith(`/subscriptions/${sub}/`)) as PredictedResource;
        expect(d.properties.assignableScopes).toEqual([`/subscriptions/${sub}`]);
        expect(d.properties.permissions).toEqual([
          {
            actions: [
              'Microsoft.Compute/virtualMachines/read',
              'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read',
            ],
            notActions: [],
            dataActions: [],
            notDataActions: [],
          },
        ]);
      }
      // vmEnrichment reads a VM by its resource id, nothing else (resources.getById).
      const enrichment = readFileSync(join(REPO, 'src', 'arm', 'vmEnrichment.ts'), 'utf8');
      expect(enrichment.match(/this\.client\.\w+\.\w+\(/g)).toEqual(['this.client.resources.getById(']);
      // Role names are unique in a tenant: one per subscription and identity.
      expect(new Set(vmReads.map((d) => d.properties.roleName)).size).toBe(vmReads.length);
    });

    it('no VM subscription, no subscription-wide role', () => {
      expect(assignments(minimal).filter((r) => scopeOf(r).split('/').length === 3)).toEqual([]);
      expect(assignments(minimal)).toHaveLength(6);
    });

    it('every assignment is to a managed identity of this deployment, as a service principal', () => {
      for (const r of assignments(full)) {
        expect([principal(identityId), principal(deployId)]).toContain(principalOf(r));
        expect(r.properties.principalType).toBe('ServicePrincipal');
        expect(r.properties.roleDefinitionId).toMatch(
          /^\/subscriptions\/[0-9a-f-]{36}\/providers\/Microsoft\.Authorization\/roleDefinitions\/[0-9a-f-]{36}$/,
        );
      }
    });

    it('names are GUIDs, unique, and the same on every deployment', () => {
      const names = assignments(full).map((r) => r.name);
      for (const n of names) expect(n).toMatch(GUID);
      expect(new Set(names).size).toBe(names.length);
      // The minimal deployment has the same six non-VM assignments: same scope, identity, role → same name.
      const again = assignments(minimal).map((r) => r.name);
      expect(again.filter((n) => names.includes(n))).toHaveLength(6);
    });

    it('names are guid(scope, identity, role) in the template', () => {
      interface ArmResource {
        type: string;
        name: string;
        scope?: string;
        properties: { template: { resources: Record<string, unknown> | unknown[] } };
      }
      const roleAssignments: Array<{ name: string }> = [];
      const walk = (resources: Record<string, unknown> | unknown[]) => {
        for (const r of Object.values(resources) as ArmResource[]) {
          if (r.type === 'Microsoft.Authorization/roleAssignments') roleAssignments.push(r as { name: string });
          if (r.type === 'Microsoft.Resources/deployments') walk(r.properties.template.resources);
        }
      };
      walk(template.resources);
      // host and package storage (account and container roles each), workspace, DCR, App Insights, VM read
      expect(roleAssignments).toHaveLength(8);
      for (const r of roleAssignments) {
        expect(r.name).toMatch(/^\[guid\(/);
        // three parts: the scope's id, the identity's resource id, the role
        expect(r.name).toMatch(/identityResourceId/);
      }
    });
  });

  describe('findings and health tables and the data collection rule', () => {
    const tableType: Record<string, string> = { datetime: 'dateTime', bool: 'boolean' };
    const files = [findingsTable, healthTable];

    it('each custom table has its data file columns, Analytics plan', () => {
      const tables = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables',
      );
      expect(tables.map((t) => t.id).sort()).toEqual(files.map((f) => `${WORKSPACE_ID}/tables/${f.tableName}`).sort());
      for (const f of files) {
        const table = tables.find((t) => t.id.endsWith(`/${f.tableName}`)) as PredictedResource;
        expect(table.properties.plan).toBe('Analytics');
        expect(table.properties.schema.name).toBe(f.tableName);
        expect(table.properties.schema.columns).toEqual(
          f.columns.map((c) => ({ name: c.name, type: tableType[c.type] ?? c.type, description: c.description })),
        );
      }
    });

    it('the health table has the columns agreed with src/ (names and types)', () => {
      expect(healthTable.tableName).toBe('RunCommandDetectionHealth_CL');
      expect(healthTable.streamName).toBe('Custom-RunCommandDetectionHealth_CL');
      expect(healthTable.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
        'TimeGenerated:datetime',
        'RecordKind:string',
        'RunId:string',
        'Outcome:string',
        'EventKind:string',
        'Severity:string',
        'WindowStart:datetime',
        'WindowEnd:datetime',
        'Phase:string',
        'TableName:string',
        'Message:string',
        'RowsAll:dynamic',
        'RowsKept:dynamic',
        'Findings:int',
        'FindingsSent:int',
        'FindingsAlreadySent:int',
        'FindingsSpooled:int',
        'AllowlistedFindings:int',
        'SpoolSize:int',
        'SpoolOldestAgeHours:real',
        'DurationsMs:dynamic',
        'Version:string',
        'DetectionMode:string',
        'Details:dynamic',
      ]);
    });

    it("the findings table has the analyst columns beside the rule's", () => {
      const cols = Object.fromEntries(findingsTable.columns.map((c) => [c.name, c.type]));
      expect(cols).toMatchObject({
        CorrelationIds: 'dynamic',
        ScriptFolderPath: 'string',
        ScriptSha256: 'string',
        FindingKind: 'string',
      });
    });

    it('the DCR is Direct, in the workspace resource group and region, and declares one stream per table', () => {
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      expect(dcr.kind).toBe('Direct');
      expect(dcr.id.startsWith(`${WS_RG}/providers/`)).toBe(true);
      expect(runtimeReference(dcr.location as string)).toEqual({ id: WORKSPACE_ID, path: 'location' });
      expect(Object.keys(dcr.properties.streamDeclarations).sort()).toEqual(files.map((f) => f.streamName).sort());
      for (const f of files)
        expect(dcr.properties.streamDeclarations[f.streamName].columns).toEqual(
          f.columns.map((c) => ({ name: c.name, type: c.type })),
        );
      expect(dcr.properties.destinations.logAnalytics).toEqual([
        { name: 'findingsWorkspace', workspaceResourceId: WORKSPACE_ID },
      ]);
      expect(dcr.properties.dataFlows).toHaveLength(2);
      for (const [i, f] of files.entries())
        expect(dcr.properties.dataFlows[i]).toMatchObject({
          streams: [f.streamName],
          destinations: ['findingsWorkspace'],
          outputStream: `Custom-${f.tableName}`,
        });
    });

    it('the DCR is created after both tables it writes to (no InvalidOutputTable race)', () => {
      interface ArmResource {
        type: string;
        dependsOn?: string[];
        properties: { template: { resources: Record<string, ArmResource> } };
      }
      const modules = Object.values(template.resources as Record<string, ArmResource>);
      const ingestion = modules.find((m) =>
        Object.values(m.properties?.template?.resources ?? {}).some(
          (r) => r.type === 'Microsoft.Insights/dataCollectionRules',
        ),
      ) as ArmResource;
      const dcr = Object.values(ingestion.properties.template.resources).find(
        (r) => r.type === 'Microsoft.Insights/dataCollectionRules',
      ) as ArmResource;
      const onTables = (dcr.dependsOn ?? []).filter((d) =>
        d.startsWith("[resourceId('Microsoft.OperationalInsights/workspaces/tables'"),
      );
      expect(onTables).toHaveLength(2);
      expect(onTables.some((d) => d.includes('findingsTable'))).toBe(true);
      expect(onTables.some((d) => d.includes('healthTable'))).toBe(true);
    });

    it('each DCR transform is valid KQL over its stream and outputs exactly its table columns', () => {
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      for (const [i, f] of files.entries()) {
        const transform = dcr.properties.dataFlows[i].transformKql as string;
        const source: TableSchemas = { source: asSchema(f.columns) };
        expect(diagnostics(transform, source)).toEqual([]);
        expect(resultColumns(transform, source)).toEqual(f.columns.map((c) => c.name));
      }
    });

    it('one Monitoring Metrics Publisher on the DCR covers both streams', () => {
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      const onDcr = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.Authorization/roleAssignments' && r.id.startsWith(`${dcr.id}/providers/`),
      );
      expect(onDcr.map((r) => (r.properties.roleDefinitionId as string).split('/').pop())).toEqual([
        ROLE.monitoringMetricsPublisher,
      ]);
    });
  });

  describe('Sentinel analytics rule', () => {
    const ruleQuery = readFileSync(join(REPO, 'infra', 'bicep', 'sentinel', 'findings-alert-rule.kql'), 'utf8');

    it('is a Scheduled rule on the workspace, hourly over 14 days, running the .kql file', () => {
      const rule = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules');
      expect(rule.kind).toBe('Scheduled');
      expect(rule.id.startsWith(`${WORKSPACE_ID}/providers/Microsoft.SecurityInsights/alertRules/`)).toBe(true);
      expect(rule.name).toMatch(GUID);
      expect(rule.properties.query).toBe(ruleQuery);
      expect(rule.properties).toMatchObject({ queryFrequency: 'PT1H', queryPeriod: 'P14D', suppressionEnabled: false });
      expect(rule.properties.eventGroupingSettings).toEqual({ aggregationKind: 'AlertPerResult' });
      expect(rule.properties.incidentConfiguration).toEqual({
        createIncident: true,
        groupingConfiguration: {
          enabled: true,
          reopenClosedIncident: false,
          lookbackDuration: 'P7D',
          matchingMethod: 'Selected',
          groupByEntities: [],
          groupByAlertDetails: [],
          groupByCustomDetails: ['FindingId'],
        },
      });
    });

    it('its query is valid KQL over the findings table and SecurityAlert', () => {
      expect(diagnostics(ruleQuery, RULE_SCHEMA)).toEqual([]);
    });

    it('maps Account, IP, Host, File and FileHash entities, custom details and the alert details from columns the query returns', () => {
      const p = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules').properties;
      const columns = resultColumns(ruleQuery, RULE_SCHEMA);
      const mapped = Object.fromEntries(
        (
          p.entityMappings as Array<{
            entityType: string;
            fieldMappings: Array<{ identifier: string; columnName: string }>;
          }>
        ).map((e) => [e.entityType, Object.fromEntries(e.fieldMappings.map((f) => [f.identifier, f.columnName]))]),
      );
      expect(mapped).toEqual({
        Account: { FullName: 'Caller', Name: 'CallerName', UPNSuffix: 'CallerUPNSuffix' },
        IP: { Address: 'CallerIpAddress' },
        Host: { HostName: 'VirtualMachineName', AzureID: 'Scope' },
        File: { Name: 'PowershellFileName', Directory: 'ScriptFolderPath' },
        FileHash: { Algorithm: 'FileHashAlgorithm', Value: 'FileHashValue' },
      });
      expect(p.customDetails).toMatchObject({ FindingId: 'FindingId', CorrelationIds: 'CorrelationIdList' });
      const dynamic = p.alertDetailsOverride.alertDynamicProperties as Array<{ alertProperty: string; value: string }>;
      expect(dynamic).toEqual([{ alertProperty: 'RemediationSteps', value: 'RemediationSteps' }]);
      const used = [
        ...Object.values(mapped).flatMap((m) => Object.values(m)),
        ...(Object.values(p.customDetails) as string[]),
        ...dynamic.map((d) => d.value),
        p.alertDetailsOverride.alertSeverityColumnName as string,
        ...[p.alertDetailsOverride.alertDisplayNameFormat, p.alertDetailsOverride.alertDescriptionFormat].flatMap(
          (f: string) => [...f.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]),
        ),
      ];
      expect(used.length).toBeGreaterThan(20);
      // Sentinel's limits: at most 3 {{column}} parameters per format, 20 custom details with plain keys.
      for (const f of [p.alertDetailsOverride.alertDisplayNameFormat, p.alertDetailsOverride.alertDescriptionFormat])
        expect((f as string).match(/\{\{\w+\}\}/g)?.length ?? 0).toBeLessThanOrEqual(3);
      expect(Object.keys(p.customDetails).length).toBeLessThanOrEqual(20);
      for (const k of Object.keys(p.customDetails)) expect(k).toMatch(/^\w+$/);
      for (const c of used) expect([c, columns.includes(c)]).toEqual([c, true]);
    });

    it('the alert tells the analyst what happened and what to check', () => {
      const p = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules').properties;
      expect(p.alertDetailsOverride.alertDescriptionFormat).toMatch(/Run Command.*Check whether the run was expected/);
      // The remediation steps name the pivots: CorrelationId in AzureActivity, DeviceEvents, the hunting query.
      expect(ruleQuery).toMatch(/RemediationSteps = tostring\(pack_array\(/);
      for (const pivot of ['AzureActivity: CorrelationId in', 'DeviceEvents', 'saved hunting query'])
        expect([pivot, ruleQuery.includes(pivot)]).toEqual([pivot, true]);
    });

    it("says what the finding's mode tested: parity unique that day, corrected not seen in the baseline period", () => {
      const p = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules').properties;
      expect(p.alertDetailsOverride.alertDescriptionFormat).toContain('{{FindingSummary}}');
      expect(p.alertDetailsOverride.alertDisplayNameFormat).toContain('{{AlertSubject}}');
      // The arms of `FindingSummary = case(...)`, in order: control-plane, corrected, parity (the else).
      const summary = /\| extend FindingSummary = case\(\n([\s\S]*?)\)\n\| /.exec(ruleQuery)?.[1] ?? '';
      const arms = summary.split(/,\n/).map((a) => a.trim());
      expect(arms).toHaveLength(3);
      expect(arms[0]).toMatch(
        /^FindingKind == "control-plane", strcat\(.*no script file or PowerShell command.*baseline period/,
      );
      expect(arms[1]).toMatch(/^DetectionMode == "corrected", strcat\(.*was not seen in the baseline period/);
      expect(arms[2]).toMatch(/^strcat\(.*no other script had that day/);
      // Only parity says "that day", and no arm says "seen only once in the day".
      expect(arms.filter((a) => a.includes('that day'))).toEqual([arms[2]]);
      expect(ruleQuery).not.toMatch(/seen only once/);
      // Corrected mode says which fingerprint it used: the file's SHA256 where it was the fingerprint.
      expect(ruleQuery).toMatch(
        /FingerprintBasis = iff\(isnotempty\(ScriptSha256\) and ScriptFingerprintHash == ScriptSha256, "the script file's SHA256", "its PowerShell commands and file size"\)/,
      );
      // The rule's Prevalence (100 / totals on every finding, trap 6) is in no alert field.
      expect(resultColumns(ruleQuery, RULE_SCHEMA)).not.toContain('Prevalence');
      expect(JSON.stringify({ ...p, query: undefined })).not.toContain('Prevalence');
      // Remediation steps start from the same summary.
      expect(ruleQuery).toMatch(/strcat\("What happened: ".*FindingSummary\)/);
    });

    it('maps the File entity to the folder (not the full path) and FileHash only where a SHA256 was recorded', () => {
      // ScriptFolderPath holds the folder without the file name (src/detection/evidence.ts scriptFolderOf).
      expect(ruleQuery).toContain(
        '| extend FileHashValue = iff(isempty(ScriptSha256), "", ScriptSha256), FileHashAlgorithm = iff(isempty(ScriptSha256), "", "SHA256")',
      );
      const columns = findingsTable.columns.map((c) => c.name);
      expect(columns).toEqual(expect.arrayContaining(['PowershellFileName', 'ScriptFolderPath', 'ScriptSha256']));
      const folder = findingsTable.columns.find((c) => c.name === 'ScriptFolderPath')!.description;
      expect(folder).toMatch(/without the file name/);
    });

    it('a saved hunting query goes from a finding to its AzureActivity events and its DeviceEvents', () => {
      const saved = only(full.predictedResources, 'Microsoft.OperationalInsights/workspaces/savedSearches');
      expect(saved.properties.category).toBe('Hunting Queries');
      const q = saved.properties.query as string;
      const schemas: TableSchemas = {
        ...FINDINGS_SCHEMA,
        AzureActivity: LOG_ANALYTICS_TABLES.AzureActivity,
        DeviceEvents: LOG_ANALYTICS_TABLES.DeviceEvents,
      };
      expect(diagnostics(q, schemas)).toEqual([]);
      expect(q).toMatch(/where CorrelationId in \(correlationIds\)/);
      expect(q).toMatch(/DeviceEvents[\s\S]*DeviceName[\s\S]*script/);
    });

    it('catches a query error (the check is not vacuous)', () => {
      const broken = ruleQuery.replace('CallerIpAddress,', 'CallerIPAddress,');
      expect(broken).not.toBe(ruleQuery);
      expect(diagnostics(broken, RULE_SCHEMA).length).toBeGreaterThan(0);
    });

    it('checks that the workspace has Sentinel before creating the rule', () => {
      const source = readFileSync(join(REPO, 'infra', 'bicep', 'modules', 'sentinel-rule.bicep'), 'utf8');
      expect(source).toMatch(
        /resource sentinelOnboarding 'Microsoft\.SecurityInsights\/onboardingStates@[\d-]+' existing/,
      );
      // The rule's properties read it, so ARM GETs it (and fails naming it) before the rule.
      const rule = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules');
      expect(rule.properties.enabled).toMatch(
        /reference\('[^']*\/providers\/Microsoft\.SecurityInsights\/onboardingStates\/default', '2024-09-01'\)/,
      );
      expect(source).toMatch(/enabled: enabled && sentinelOnboarded/);
    });

    it('is left out when deploySentinelRule is false', () => {
      expect(minimal.predictedResources.filter((r) => r.type === 'Microsoft.SecurityInsights/alertRules')).toEqual([]);
      expect(
        minimal.predictedResources.filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/savedSearches'),
      ).toEqual([]);
    });
  });

  describe('workbook', () => {
    interface WorkbookItem {
      type: number;
      name: string;
      content: { query?: string; timeContextFromParameter?: string; resourceType?: string };
    }

    it('is a Sentinel workbook on the workspace whose every query is valid KQL over the findings and health tables', () => {
      const wb = only(full.predictedResources, 'Microsoft.Insights/workbooks');
      expect(wb.properties.category).toBe('sentinel');
      expect(wb.properties.sourceId).toBe(WORKSPACE_ID.toLowerCase());
      const data = JSON.parse(wb.properties.serializedData as string) as { version: string; items: WorkbookItem[] };
      expect(data.version).toBe('Notebook/1.0');
      const queries = data.items.filter((i) => i.type === 3);
      expect(queries.map((q) => q.name)).toEqual(
        expect.arrayContaining(['findings-per-day', 'top-callers', 'virtual-machines', 'fingerprints']),
      );
      for (const q of queries) {
        expect([q.name, diagnostics(q.content.query as string, WORKBOOK_SCHEMA)]).toEqual([q.name, []]);
        expect(q.content.resourceType).toBe('microsoft.operationalinsights/workspaces');
        expect(q.content.timeContextFromParameter).toBe('TimeRange');
      }
      const parameters = data.items.find((i) => i.type === 9) as unknown as {
        content: { parameters: Array<{ name: string }> };
      };
      expect(parameters.content.parameters.map((p) => p.name)).toContain('TimeRange');
    });

    it('has a health panel over the health table: windows by outcome, runs, warnings and failures, rows per table', () => {
      const wb = only(full.predictedResources, 'Microsoft.Insights/workbooks');
      const data = JSON.parse(wb.properties.serializedData as string) as { items: WorkbookItem[] };
      const health = data.items.filter((i) => i.name.startsWith('health-') && i.type === 3);
      expect(health.map((h) => h.name)).toEqual(['health-windows', 'health-runs', 'health-events', 'health-rows']);
      for (const h of health) expect(h.content.query).toMatch(/^RunCommandDetectionHealth_CL\n/);
      expect(resultColumns(health[0].content.query as string, WORKBOOK_SCHEMA)).toEqual([
        'WindowStart',
        'Outcome',
        'Windows',
      ]);
    });

    it('shows each fingerprint with its script hash, and no Prevalence (the rule’s 100 / totals, trap 6)', () => {
      const wb = only(full.predictedResources, 'Microsoft.Insights/workbooks');
      const data = JSON.parse(wb.properties.serializedData as string) as { items: WorkbookItem[] };
      const q = data.items.find((i) => i.name === 'fingerprints')?.content.query as string;
      const cols = resultColumns(q, FINDINGS_SCHEMA);
      expect(cols).toEqual(expect.arrayContaining(['ScriptFingerprintHash', 'Findings', 'ScriptSha256', 'Modes']));
      expect(wb.properties.serializedData as string).not.toContain('Prevalence');
    });

    it('needs no Sentinel: without the rule it is an Azure Monitor workbook', () => {
      const noRule = snapshot(bin, {
        workspaceName: "'ws-test'",
        workspaceResourceGroupName: "'rg-ws'",
        deploySentinelRule: 'false',
      });
      expect(only(noRule.predictedResources, 'Microsoft.Insights/workbooks').properties.category).toBe('workbook');
    });

    it('is left out when deployWorkbook is false', () => {
      expect(minimal.predictedResources.filter((r) => r.type === 'Microsoft.Insights/workbooks')).toEqual([]);
    });
  });
});
