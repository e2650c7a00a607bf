// runcommand-detection: the whole rollout into one resource group, plus the
// findings and health tables, the DCR, the table-read role, optional Sentinel
// rule and workbook in the resource group of an EXISTING Log Analytics
// workspace, plus an optional VM-read role on the subscriptions that hold the
// VMs (for enrichment). docs/deploy.md says what the deployer needs, and
// scripts/uninstall.sh removes what lives outside the app's resource group.
//
//   az deployment group create -g <app-rg> -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
//
// Local modules only (no registry modules), so it builds offline.
targetScope = 'resourceGroup'

metadata description = 'Azure Functions (Flex Consumption) job that runs the Sentinel rule "Azure VM Run Command operations executing a unique PowerShell script" daily and writes findings to RunCommandFindings_CL.'

@description('Name of the installation, e.g. the azd environment name (any valid one: up to 64 letters, digits, and - _ . ( )). Cleaned and cut to 12 characters for resource names (see baseName below).')
@minLength(1)
@maxLength(64)
param environmentName string = 'runcmd-detect'

@description('Region of the app resources: a Flex Consumption region (flexConsumptionRegions below). The DCR always goes to the workspace region.')
param location string = resourceGroup().location

@description('Name of the existing Log Analytics workspace (Microsoft Sentinel workspace) to read from and write findings to.')
param workspaceName string

@description('Resource group of that workspace, in this subscription (default: this resource group).')
param workspaceResourceGroupName string = resourceGroup().name

@description('Subscription ids that hold the VMs; the identity gets a custom VM-read role on each to enrich findings. Empty: no subscription role (set enrichmentEnabled to false then).')
param vmSubscriptionIds string[] = []

@description('DETECTION_MODE: parity reproduces the published rule exactly; corrected fixes its known flaws.')
@allowed(['parity', 'corrected'])
param detectionMode string = 'parity'

@description('ENRICHMENT_ENABLED: look up each finding\'s VM in Azure Resource Manager.')
param enrichmentEnabled bool = true

@description('DETECTION_SCHEDULE: NCRONTAB (6 fields, UTC) of the daily run.')
param detectionSchedule string = '0 15 0 * * *'

@description('INGESTION_DELAY_MINUTES: a day is processed only this long after it ended.')
@minValue(0)
@maxValue(1440)
param ingestionDelayMinutes int = 15

@description('MAX_CATCHUP_DAYS: most missed days one run catches up.')
@minValue(1)
@maxValue(90)
param maxCatchupDays int = 14

@description('BASELINE_DAYS: history used by the corrected mode\'s baseline.')
@minValue(1)
@maxValue(90)
param baselineDays int = 14

@description('ALLOWLIST_WATCHLIST: alias of the Sentinel watchlist used as the allowlist (docs/operations.md, "Allowlist"). Empty: no allowlist, and the identity gets no read access to the Watchlist table.')
@maxLength(64)
param allowlistWatchlist string = ''

@description('STATE_STORE_TABLE_NAME: the state store table.')
param stateTableName string = 'runcommanddetection'

@description('Interactive retention of RunCommandFindings_CL, in days.')
@minValue(4)
@maxValue(730)
param findingsRetentionInDays int = 90

@description('Total retention of RunCommandFindings_CL (interactive + long-term), in days.')
@minValue(4)
@maxValue(4383)
param findingsTotalRetentionInDays int = 365

@description('Interactive and total retention of RunCommandDetectionHealth_CL, in days.')
@minValue(4)
@maxValue(730)
param healthRetentionInDays int = 90

@description('Deploy the companion Microsoft Sentinel analytics rule. The workspace must have Microsoft Sentinel enabled: the deployment then checks it first and stops with "onboardingStates/default not found" when it is not (enable Sentinel, or set this to false).')
param deploySentinelRule bool = true

@description('Create that rule enabled.')
param sentinelRuleEnabled bool = true

@description('Deploy the findings workbook.')
param deployWorkbook bool = true

@description('Flex Consumption: most instances, and memory per instance in MB.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Email addresses the health alert rules notify (an action group is created). Empty: the rules only show in Azure Monitor.')
param alertEmailAddresses string[] = []

@description('Resource id of an existing action group the health alert rules notify as well (optional).')
param alertActionGroupId string = ''

@description('Private networking (the Flex Consumption quickstart\'s vnetEnabled): the app\'s outbound traffic through a virtual network, its storage reachable only through private endpoints.')
param vnetEnabled bool = false

@description('Address space of that virtual network (two /24 subnets are taken from it).')
param vnetAddressPrefix string = '10.80.0.0/16'

@description('Days deleted blobs and containers of the app\'s storage are kept (soft delete); 0 turns it off.')
@minValue(0)
@maxValue(365)
param blobSoftDeleteDays int = 7

@description('Tags on every resource (azd adds azd-env-name).')
param tags object = {}

// Flex Consumption is offered in these regions only
// (https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to#view-currently-supported-regions;
// refresh with `az functionapp list-flexconsumption-locations --query "[].name" -o tsv`).
// Another region makes ARM refuse the first app resource it creates (the
// identities), with a "location" that says why: every app resource takes appLocation.
var flexConsumptionRegions = [
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'japanwest'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
]
var appLocation = contains(flexConsumptionRegions, toLower(replace(location, ' ', '')))
  ? location
  : 'location-${location}-has-no-Flex-Consumption-choose-one-of-${join(flexConsumptionRegions, '-')}'

// baseName: the environment name in lower case, with `_ . ( )` and spaces turned
// into hyphens, cut to 12 characters, so that every resource name stays valid
// (storage: 3-24 letters and digits; Function app and DCR names, ...).
var baseName = take(
  toLower(replace(replace(replace(replace(replace(environmentName, '_', '-'), '.', '-'), '(', '-'), ')', '-'), ' ', '-')),
  12
)
// Names: unique per resource group and environment, stable across redeployments.
var suffix = uniqueString(subscription().id, resourceGroup().id, environmentName)
var names = {
  identity: 'id-${baseName}-${suffix}'
  deploymentIdentity: 'id-${baseName}-deploy-${suffix}'
  storage: 'st${take(replace(baseName, '-', ''), 9)}${suffix}'
  packageStorage: 'stpkg${take(replace(baseName, '-', ''), 6)}${suffix}'
  appInsights: 'appi-${baseName}-${suffix}'
  plan: 'plan-${baseName}-${suffix}'
  functionApp: 'func-${baseName}-${suffix}'
  dcr: 'dcr-${baseName}-${suffix}'
  vnet: 'vnet-${baseName}-${suffix}'
  alerts: 'alert-${baseName}-${suffix}'
  deploymentContainer: 'app-package'
}
var findingsTable = loadJsonContent('../findings-table.json')
var healthTable = loadJsonContent('../health-table.json')

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource workspaceGroup 'Microsoft.Resources/resourceGroups@2024-03-01' existing = {
  scope: subscription()
  name: workspaceResourceGroupName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  scope: workspaceGroup
  name: workspaceName
}

// The runtime identity: the job and the Functions host run as it.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: appLocation
  tags: tags
}

// The deployment identity: the platform reads and writes the deployment package
// with it, and it has no other role. The runtime identity has none on the package.
resource deploymentIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.deploymentIdentity
  location: appLocation
  tags: tags
}

// Host storage (AzureWebJobsStorage) and the state store. The Flex host keeps its
// leases and timer schedule status in blobs: Storage Blob Data Owner is what the
// host documents for identity-based AzureWebJobsStorage. No queue role: a
// timer-only app uses none. The state store creates its table if missing (POST
// /Tables is an account-level call), so the table role is on the account, which
// holds nothing but this app's host data and state.
module storage 'modules/storage.bicep' = {
  name: 'storage-${suffix}'
  params: {
    name: names.storage
    location: appLocation
    tags: tags
    containerNames: []
    tableNames: [stateTableName]
    softDeleteDays: blobSoftDeleteDays
    privateOnly: vnetEnabled
    roles: [
      {
        principalId: identity.properties.principalId
        identityResourceId: identity.id
        roleId: storageBlobDataOwner
        container: ''
      }
      {
        principalId: identity.properties.principalId
        identityResourceId: identity.id
        roleId: storageTableDataContributor
        container: ''
      }
    ]
  }
}

// The deployment package, in an account of its own: only the deployment identity
// can write it (Storage Blob Data Contributor on its container).
module packageStorage 'modules/storage.bicep' = {
  name: 'package-storage-${suffix}'
  params: {
    name: names.packageStorage
    location: appLocation
    tags: tags
    containerNames: [names.deploymentContainer]
    tableNames: []
    softDeleteDays: blobSoftDeleteDays
    privateOnly: vnetEnabled
    roles: [
      {
        principalId: deploymentIdentity.properties.principalId
        identityResourceId: deploymentIdentity.id
        roleId: storageBlobDataContributor
        container: names.deploymentContainer
      }
    ]
  }
}

module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network-${suffix}'
  params: {
    name: names.vnet
    location: appLocation
    tags: tags
    addressPrefix: vnetAddressPrefix
    endpoints: [
      { name: 'pe-${names.storage}-blob', storageAccountId: storage.outputs.id, subResource: 'blob' }
      { name: 'pe-${names.storage}-table', storageAccountId: storage.outputs.id, subResource: 'table' }
      { name: 'pe-${names.packageStorage}-blob', storageAccountId: packageStorage.outputs.id, subResource: 'blob' }
    ]
  }
}

// Deployments into the workspace resource group carry the suffix: several
// installations (app resource groups) may share one workspace.
module findingsIngestion 'modules/findings-ingestion.bicep' = {
  name: 'findings-ingestion-${suffix}'
  scope: workspaceGroup
  params: {
    workspaceName: workspaceName
    workspaceLocation: workspace.location
    dataCollectionRuleName: names.dcr
    findingsRetentionInDays: findingsRetentionInDays
    findingsTotalRetentionInDays: findingsTotalRetentionInDays
    healthRetentionInDays: healthRetentionInDays
    principalId: identity.properties.principalId
    identityResourceId: identity.id
    readWatchlist: !empty(allowlistWatchlist)
    tags: tags
    detectionMode: detectionMode
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring-${suffix}'
  params: {
    name: names.appInsights
    location: appLocation
    tags: tags
    workspaceResourceId: findingsIngestion.outputs.workspaceResourceId
    principalId: identity.properties.principalId
    identityResourceId: identity.id
  }
}

// Subscription-scope deployment names are per subscription, shared by every
// installation there: the suffix (this installation) keeps them apart.
module vmReaders 'modules/vm-reader.bicep' = [
  for subscriptionId in vmSubscriptionIds: {
    name: 'vm-reader-${suffix}-${take(uniqueString(subscriptionId), 8)}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.properties.principalId
      identityResourceId: identity.id
    }
  }
]

// Every setting the job reads (src/config/settings.ts) plus the host's own.
var appSettings = {
  // Functions host storage through the managed identity (no connection string).
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  // Application Insights with Entra ID auth (its local auth is off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
  // The job.
  AZURE_CLIENT_ID: identity.properties.clientId
  LOG_ANALYTICS_WORKSPACE_ID: findingsIngestion.outputs.workspaceCustomerId
  LOGS_INGESTION_ENDPOINT: findingsIngestion.outputs.logsIngestionEndpoint
  DCR_IMMUTABLE_ID: findingsIngestion.outputs.dcrImmutableId
  DCR_STREAM_NAME: findingsIngestion.outputs.streamName
  STATE_STORE_ENDPOINT: storage.outputs.tableEndpoint
  STATE_STORE_TABLE_NAME: stateTableName
  DETECTION_SCHEDULE: detectionSchedule
  INGESTION_DELAY_MINUTES: string(ingestionDelayMinutes)
  MAX_CATCHUP_DAYS: string(maxCatchupDays)
  DETECTION_MODE: detectionMode
  ENRICHMENT_ENABLED: enrichmentEnabled ? 'true' : 'false'
  BASELINE_DAYS: string(baselineDays)
  // Empty: no allowlist (the job treats a blank setting as unset).
  ALLOWLIST_WATCHLIST: allowlistWatchlist
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app-${suffix}'
  params: {
    name: names.functionApp
    planName: names.plan
    location: appLocation
    // azd deploy finds the app by this tag (service "detector" in azure.yaml).
    tags: union(tags, { 'azd-service-name': 'detector' })
    identityResourceId: identity.id
    deploymentIdentityResourceId: deploymentIdentity.id
    deploymentContainerUrl: packageStorage.outputs.containerUrls[0]
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
    workspaceResourceId: findingsIngestion.outputs.workspaceResourceId
    virtualNetworkSubnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
  }
}

module healthAlerts 'modules/health-alerts.bicep' = {
  name: 'health-alerts-${suffix}'
  params: {
    location: workspace.location
    tags: tags
    namePrefix: names.alerts
    workspaceResourceId: findingsIngestion.outputs.workspaceResourceId
    dataCollectionRuleId: findingsIngestion.outputs.dataCollectionRuleId
    alertEmailAddresses: alertEmailAddresses
    actionGroupId: alertActionGroupId
  }
}

module sentinelRule 'modules/sentinel-rule.bicep' = if (deploySentinelRule) {
  name: 'sentinel-rule-${suffix}'
  scope: workspaceGroup
  // The rule's query needs the findings table to exist. A table created seconds
  // before may not be queryable yet ("table does not exist"): re-run the same
  // deployment (docs/deploy.md).
  dependsOn: [findingsIngestion]
  params: {
    workspaceName: workspaceName
    enabled: sentinelRuleEnabled
  }
}

module workbook 'modules/workbook.bicep' = if (deployWorkbook) {
  name: 'workbook-${suffix}'
  scope: workspaceGroup
  dependsOn: [findingsIngestion]
  params: {
    workspaceName: workspaceName
    location: appLocation
    tags: tags
    displayName: 'Azure VM Run Command: unique PowerShell scripts'
    sentinel: deploySentinelRule
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppId string = functionApp.outputs.id
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output storageAccountName string = storage.outputs.name
output packageStorageAccountName string = packageStorage.outputs.name
output deploymentContainerUrl string = packageStorage.outputs.containerUrls[0]
output deploymentIdentityPrincipalId string = deploymentIdentity.properties.principalId
output logAnalyticsWorkspaceId string = findingsIngestion.outputs.workspaceCustomerId
output dataCollectionRuleId string = findingsIngestion.outputs.dataCollectionRuleId
output dcrImmutableId string = findingsIngestion.outputs.dcrImmutableId
output logsIngestionEndpoint string = findingsIngestion.outputs.logsIngestionEndpoint
output dcrStreamName string = findingsIngestion.outputs.streamName
output findingsTableName string = findingsTable.tableName
output healthTableName string = healthTable.tableName
output healthStreamName string = findingsIngestion.outputs.healthStreamName
output workspaceQueryRoleDefinitionId string = findingsIngestion.outputs.queryRoleDefinitionId
output healthAlertRuleIds string[] = healthAlerts.outputs.ruleIds
output workspaceResourceGroupName string = workspaceResourceGroupName
output vmReaderScopes string[] = [for (s, i) in vmSubscriptionIds: vmReaders[i].outputs.scope]
