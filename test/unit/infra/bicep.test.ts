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
  type KustoType,
  type TableSchemas,
} from '../../support/kusto';

interface FindingsTableFile {
  tableName: string;
  streamName: string;
  columns: Array<{ name: string; type: string; description: string }>;
}
const findingsTable = JSON.parse(readFileSync(join(REPO, 'infra', 'findings-table.json'), 'utf8')) as FindingsTableFile;
const asSchema = (cols: FindingsTableFile['columns']) => cols.map((c) => [c.name, c.type as KustoType] as const);
const FINDINGS_SCHEMA: TableSchemas = { [findingsTable.tableName]: asSchema(findingsTable.columns) };
/** Names of the result columns of a query. */
const resultColumns = (query: string, schemas: TableSchemas) => kqlResultColumns(query, schemas).map(([name]) => name);

const ROLE = {
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
};
/** A narrower custom role the deployer may name instead of Log Analytics Reader. */
const CUSTOM_QUERY_ROLE = '99999999-aaaa-4bbb-8ccc-dddddddddddd';
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
    });
    minimal = snapshot(bin, {
      workspaceName: "'ws-test'",
      workspaceResourceGroupName: "'rg-ws'",
      deploySentinelRule: 'false',
      deployWorkbook: 'false',
      enrichmentEnabled: 'false',
      detectionMode: "'corrected'",
      workspaceQueryRoleId: `'${CUSTOM_QUERY_ROLE}'`,
    });
    identityId = only(full.predictedResources, 'Microsoft.ManagedIdentity/userAssignedIdentities').id;
    storageId = only(full.predictedResources, 'Microsoft.Storage/storageAccounts').id;
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
      expect(params.baseName.value).toBe('rcd-prod');

      const { LOG_ANALYTICS_WORKSPACE_NAME: _unset, ...missing } = env;
      const failed = runBicep(bin, ['build-params', MAIN_BICEPPARAM, '--outfile', out], missing);
      expect(failed.status).not.toBe(0);
      expect(failed.output).toContain('LOG_ANALYTICS_WORKSPACE_NAME');
      rmSync(out, { force: true });
    });
  });

  describe('security settings', () => {
    it('storage: no shared keys, no public blobs, TLS 1.2, HTTPS only', () => {
      const p = only(full.predictedResources, 'Microsoft.Storage/storageAccounts').properties;
      expect(p).toMatchObject({
        allowSharedKeyAccess: false,
        allowBlobPublicAccess: false,
        minimumTlsVersion: 'TLS1_2',
        supportsHttpsTrafficOnly: true,
        defaultToOAuthAuthentication: true,
      });
      const container = only(full.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      expect(container.properties.publicAccess).toBe('None');
    });

    it('function app: HTTPS only, TLS 1.2, FTPS off, no basic publishing credentials', () => {
      const site = only(full.predictedResources, 'Microsoft.Web/sites');
      expect(site.properties.httpsOnly).toBe(true);
      expect(site.properties.siteConfig).toMatchObject({ minTlsVersion: '1.2', ftpsState: 'Disabled' });
      const policies = full.predictedResources.filter(
        (r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
      );
      expect(policies.map((p) => [p.name, p.properties.allow]).sort()).toEqual([
        [`${site.name}/ftp`, false],
        [`${site.name}/scm`, false],
      ]);
    });

    it('function app: Flex Consumption, Node.js 20, the user-assigned identity, identity-based deployment storage', () => {
      const plan = only(full.predictedResources, 'Microsoft.Web/serverfarms');
      expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(plan.properties.reserved).toBe(true);
      const site = only(full.predictedResources, 'Microsoft.Web/sites');
      expect(site.properties.serverFarmId).toBe(plan.id);
      expect(site.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identityId]: {} } });
      const config = site.properties.functionAppConfig;
      expect(config.runtime).toEqual({ name: 'node', version: '20' });
      expect(config.scaleAndConcurrency.maximumInstanceCount).toBeGreaterThanOrEqual(1);
      const container = only(full.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
      const containerName = container.name.split('/').pop() as string;
      expect(config.deployment.storage.type).toBe('blobContainer');
      expect(config.deployment.storage.value).toContain(`'${storageId}'`);
      expect(config.deployment.storage.value).toContain(`'${containerName}'`);
      expect(config.deployment.storage.authentication).toEqual({
        type: 'UserAssignedIdentity',
        userAssignedIdentityResourceId: identityId,
      });
      expect(site.tags?.['azd-service-name']).toBe('detector');
    });

    it('Application Insights: local auth off, stored in the workspace', () => {
      const ai = only(full.predictedResources, 'Microsoft.Insights/components');
      expect(ai.properties).toMatchObject({ DisableLocalAuth: true, WorkspaceResourceId: WORKSPACE_ID });
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
          'AzureWebJobsStorage__accountName',
          'AzureWebJobsStorage__credential',
          'AzureWebJobsStorage__clientId',
          'APPLICATIONINSIGHTS_CONNECTION_STRING',
          'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
        ].sort(),
      );
    });

    it('sets every setting the job reads, except the public-cloud endpoints, with the job defaults', () => {
      const s = settings(full);
      const cloudEndpoints = ['LOG_ANALYTICS_ENDPOINT', 'ARM_ENDPOINT'];
      for (const [name, value] of Object.entries(SETTING_DEFAULTS)) {
        if (cloudEndpoints.includes(name)) expect(s[name]).toBeUndefined();
        else expect([name, s[name]]).toEqual([name, value]);
      }
    });

    it('passes parameters through as the job spells them', () => {
      const s = settings(minimal);
      expect(s.ENRICHMENT_ENABLED).toBe('false');
      expect(s.DETECTION_MODE).toBe('corrected');
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
    const scopeOf = (r: PredictedResource) => r.id.split('/providers/Microsoft.Authorization/roleAssignments/')[0];
    const roleOf = (r: PredictedResource) => (r.properties.roleDefinitionId as string).split('/').pop();

    it('grants exactly these roles, each on the narrowest scope that works', () => {
      const dcrId = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules').id;
      const aiId = only(full.predictedResources, 'Microsoft.Insights/components').id;
      const got = assignments(full)
        .map((r) => `${roleOf(r)} on ${scopeOf(r)}`)
        .sort();
      expect(got).toEqual(
        [
          `${ROLE.storageBlobDataOwner} on ${storageId}`,
          `${ROLE.storageTableDataContributor} on ${storageId}`,
          `${ROLE.logAnalyticsReader} on ${WORKSPACE_ID}`,
          `${ROLE.monitoringMetricsPublisher} on ${dcrId}`,
          `${ROLE.monitoringMetricsPublisher} on ${aiId}`,
          ...VM_SUBSCRIPTIONS.map((s) => `${ROLE.reader} on /subscriptions/${s}`),
        ].sort(),
      );
    });

    it('no VM subscription, no subscription-wide role; workspaceQueryRoleId replaces Log Analytics Reader', () => {
      expect(assignments(minimal).filter((r) => roleOf(r) === ROLE.reader)).toEqual([]);
      expect(assignments(minimal)).toHaveLength(5);
      const onWorkspace = assignments(minimal).filter((r) => scopeOf(r) === WORKSPACE_ID);
      expect(onWorkspace.map(roleOf)).toEqual([CUSTOM_QUERY_ROLE]);
    });

    it('every assignment is to the managed identity, as a service principal, with a built-in role id', () => {
      for (const r of assignments(full)) {
        expect(r.properties.principalId).toBe(`[reference('${identityId}', '2023-01-31').principalId]`);
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
      // The minimal deployment shares four assignments: same scope, identity, role → same name;
      // the fifth has another role (CUSTOM_QUERY_ROLE), hence another name.
      const again = assignments(minimal).map((r) => r.name);
      expect(again.filter((n) => names.includes(n))).toHaveLength(4);
    });

    it('names are guid(scope, identity, role) in the template', () => {
      interface ArmResource {
        type: string;
        name: string;
        scope?: string;
        properties: { template: { resources: Record<string, unknown> | unknown[] } };
      }
      // Every module's role assignment, found in the compiled ARM JSON.
      const roleAssignments: Array<{ name: string; scope?: string }> = [];
      const walk = (resources: Record<string, unknown> | unknown[]) => {
        for (const r of Object.values(resources) as ArmResource[]) {
          if (r.type === 'Microsoft.Authorization/roleAssignments') roleAssignments.push(r as { name: string });
          if (r.type === 'Microsoft.Resources/deployments') walk(r.properties.template.resources);
        }
      };
      walk(template.resources);
      expect(roleAssignments).toHaveLength(6);
      for (const r of roleAssignments) {
        const scope = r.scope ? r.scope.replace(/^\[(.*)\]$/, '$1') : 'subscription().id';
        expect(r.name).toMatch(/^\[guid\(/);
        const prefix = `[guid(${scope}, parameters('identityResourceId'), `;
        expect(r.name.startsWith(prefix)).toBe(true);
        expect(r.name.slice(prefix.length)).toMatch(/^(variables|parameters)\('\w+'\)\)\]$/);
      }
    });
  });

  describe('findings table and data collection rule', () => {
    const tableType: Record<string, string> = { datetime: 'dateTime', bool: 'boolean' };

    it('the custom table has the data file columns, Analytics plan', () => {
      const table = only(full.predictedResources, 'Microsoft.OperationalInsights/workspaces/tables');
      expect(table.id).toBe(`${WORKSPACE_ID}/tables/${findingsTable.tableName}`);
      expect(table.properties.plan).toBe('Analytics');
      expect(table.properties.schema.name).toBe(findingsTable.tableName);
      expect(table.properties.schema.columns).toEqual(
        findingsTable.columns.map((c) => ({
          name: c.name,
          type: tableType[c.type] ?? c.type,
          description: c.description,
        })),
      );
    });

    it('the DCR is Direct, in the workspace resource group and region, and declares the data file stream', () => {
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      expect(dcr.kind).toBe('Direct');
      expect(dcr.id.startsWith(`${WS_RG}/providers/`)).toBe(true);
      expect(runtimeReference(dcr.location as string)).toEqual({ id: WORKSPACE_ID, path: 'location' });
      expect(Object.keys(dcr.properties.streamDeclarations)).toEqual([findingsTable.streamName]);
      expect(dcr.properties.streamDeclarations[findingsTable.streamName].columns).toEqual(
        findingsTable.columns.map((c) => ({ name: c.name, type: c.type })),
      );
      expect(dcr.properties.destinations.logAnalytics).toEqual([
        { name: 'findingsWorkspace', workspaceResourceId: WORKSPACE_ID },
      ]);
      expect(dcr.properties.dataFlows).toHaveLength(1);
      expect(dcr.properties.dataFlows[0]).toMatchObject({
        streams: [findingsTable.streamName],
        destinations: ['findingsWorkspace'],
        outputStream: `Custom-${findingsTable.tableName}`,
      });
    });

    it('the DCR is created after the table it writes to', () => {
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
      expect(
        dcr.dependsOn?.some((d) => d.startsWith("[resourceId('Microsoft.OperationalInsights/workspaces/tables'")),
      ).toBe(true);
    });

    it('the DCR transform is valid KQL over the stream and outputs exactly the table columns', () => {
      const dcr = only(full.predictedResources, 'Microsoft.Insights/dataCollectionRules');
      const transform = dcr.properties.dataFlows[0].transformKql as string;
      const source: TableSchemas = { source: asSchema(findingsTable.columns) };
      expect(diagnostics(transform, source)).toEqual([]);
      expect(resultColumns(transform, source)).toEqual(findingsTable.columns.map((c) => c.name));
    });
  });

  describe('Sentinel analytics rule', () => {
    const ruleQuery = readFileSync(join(REPO, 'infra', 'bicep', 'sentinel', 'findings-alert-rule.kql'), 'utf8');

    it('is a Scheduled rule on the workspace, running the .kql file', () => {
      const rule = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules');
      expect(rule.kind).toBe('Scheduled');
      expect(rule.id.startsWith(`${WORKSPACE_ID}/providers/Microsoft.SecurityInsights/alertRules/`)).toBe(true);
      expect(rule.name).toMatch(GUID);
      expect(rule.properties.query).toBe(ruleQuery);
      expect(rule.properties.enabled).toBe(true);
      expect(rule.properties.incidentConfiguration).toMatchObject({
        createIncident: true,
        groupingConfiguration: { enabled: true, lookbackDuration: 'P1D', matchingMethod: 'AllEntities' },
      });
    });

    it('its query is valid KQL over the findings table', () => {
      expect(diagnostics(ruleQuery, FINDINGS_SCHEMA)).toEqual([]);
    });

    it('maps Account, IP and Host entities, custom details and the alert details from columns the query returns', () => {
      const p = only(full.predictedResources, 'Microsoft.SecurityInsights/alertRules').properties;
      const columns = resultColumns(ruleQuery, FINDINGS_SCHEMA);
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
      });
      const used = [
        ...Object.values(mapped).flatMap((m) => Object.values(m)),
        ...(Object.values(p.customDetails) as string[]),
        p.alertDetailsOverride.alertSeverityColumnName as string,
        ...[p.alertDetailsOverride.alertDisplayNameFormat, p.alertDetailsOverride.alertDescriptionFormat].flatMap(
          (f: string) => [...f.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]),
        ),
      ];
      expect(used.length).toBeGreaterThan(10);
      // Sentinel's limits: at most 3 {{column}} parameters per format, 20 custom details with plain keys.
      for (const f of [p.alertDetailsOverride.alertDisplayNameFormat, p.alertDetailsOverride.alertDescriptionFormat])
        expect((f as string).match(/\{\{\w+\}\}/g)?.length ?? 0).toBeLessThanOrEqual(3);
      expect(Object.keys(p.customDetails).length).toBeLessThanOrEqual(20);
      for (const k of Object.keys(p.customDetails)) expect(k).toMatch(/^\w+$/);
      for (const c of used) expect([c, columns.includes(c)]).toEqual([c, true]);
    });

    it('catches a query error (the check is not vacuous)', () => {
      const broken = ruleQuery.replace('CallerIpAddress,', 'CallerIPAddress,');
      expect(broken).not.toBe(ruleQuery);
      expect(diagnostics(broken, FINDINGS_SCHEMA).length).toBeGreaterThan(0);
    });

    it('is left out when deploySentinelRule is false', () => {
      expect(minimal.predictedResources.filter((r) => r.type === 'Microsoft.SecurityInsights/alertRules')).toEqual([]);
    });
  });

  describe('workbook', () => {
    interface WorkbookItem {
      type: number;
      name: string;
      content: { query?: string; timeContextFromParameter?: string; resourceType?: string };
    }

    it('is a Sentinel workbook on the workspace whose every query is valid KQL over the findings table', () => {
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
        expect([q.name, diagnostics(q.content.query as string, FINDINGS_SCHEMA)]).toEqual([q.name, []]);
        expect(q.content.resourceType).toBe('microsoft.operationalinsights/workspaces');
        expect(q.content.timeContextFromParameter).toBe('TimeRange');
      }
      const parameters = data.items.find((i) => i.type === 9) as unknown as {
        content: { parameters: Array<{ name: string }> };
      };
      expect(parameters.content.parameters.map((p) => p.name)).toContain('TimeRange');
    });

    it('shows each fingerprint with its prevalence', () => {
      const wb = only(full.predictedResources, 'Microsoft.Insights/workbooks');
      const data = JSON.parse(wb.properties.serializedData as string) as { items: WorkbookItem[] };
      const q = data.items.find((i) => i.name === 'fingerprints')?.content.query as string;
      const cols = resultColumns(q, FINDINGS_SCHEMA);
      expect(cols).toEqual(expect.arrayContaining(['ScriptFingerprintHash', 'MinPrevalence', 'MaxPrevalence']));
    });

    it('is left out when deployWorkbook is false', () => {
      expect(minimal.predictedResources.filter((r) => r.type === 'Microsoft.Insights/workbooks')).toEqual([]);
    });
  });
});
