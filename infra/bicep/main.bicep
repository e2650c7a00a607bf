// runcommand-detection: the whole rollout into one resource group, plus the
// findings table, DCR, optional Sentinel rule and workbook in the resource group
// of an EXISTING Log Analytics workspace, plus optional Reader on the
// subscriptions that hold the VMs (for enrichment).
//
//   az deployment group create -g <app-rg> -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
//
// Local modules only (no registry modules), so it builds offline.
targetScope = 'resourceGroup'

metadata description = 'Azure Functions (Flex Consumption) job that runs the Sentinel rule "Azure VM Run Command operations executing a unique PowerShell script" daily and writes findings to RunCommandFindings_CL.'

@description('Short name used to derive resource names (letters, digits and hyphens).')
@minLength(3)
@maxLength(20)
param baseName string = 'runcmd-detect'

@description('Region of the app resources. The DCR always goes to the workspace region.')
param location string = resourceGroup().location

@description('Name of the existing Log Analytics workspace (Microsoft Sentinel workspace) to read from and write findings to.')
param workspaceName string

@description('Resource group of that workspace, in this subscription (default: this resource group).')
param workspaceResourceGroupName string = resourceGroup().name

@description('Role definition id (GUID) the identity gets on the workspace to run queries. Default: Log Analytics Reader. A custom role with Microsoft.OperationalInsights/workspaces/read, workspaces/query/read and workspaces/query/{AzureActivity,DeviceFileEvents,DeviceEvents}/read is narrower.')
param workspaceQueryRoleId string = '73c42c96-874c-492b-b04d-ab87d138a893'

@description('Subscription ids that hold the VMs; the identity gets Reader on each to enrich findings. Empty: no subscription role (set enrichmentEnabled to false then).')
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

@description('Deploy the companion Microsoft Sentinel analytics rule (the workspace must have Sentinel enabled).')
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

@description('Tags on every resource (azd adds azd-env-name).')
param tags object = {}

// Names: unique per resource group, stable across redeployments.
var suffix = uniqueString(subscription().id, resourceGroup().id, baseName)
var names = {
  identity: 'id-${baseName}-${suffix}'
  storage: take('st${replace(toLower(baseName), '-', '')}${suffix}', 24)
  appInsights: 'appi-${baseName}-${suffix}'
  plan: 'plan-${baseName}-${suffix}'
  functionApp: 'func-${baseName}-${suffix}'
  dcr: 'dcr-${baseName}-${suffix}'
  deploymentContainer: 'app-package-${take(suffix, 7)}'
}
var findingsTable = loadJsonContent('../findings-table.json')

resource workspaceGroup 'Microsoft.Resources/resourceGroups@2024-03-01' existing = {
  scope: subscription()
  name: workspaceResourceGroupName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  scope: workspaceGroup
  name: workspaceName
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    deploymentContainerName: names.deploymentContainer
    stateTableName: stateTableName
    principalId: identity.properties.principalId
    identityResourceId: identity.id
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
    workspaceQueryRoleId: workspaceQueryRoleId
    findingsRetentionInDays: findingsRetentionInDays
    findingsTotalRetentionInDays: findingsTotalRetentionInDays
    principalId: identity.properties.principalId
    identityResourceId: identity.id
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    name: names.appInsights
    location: location
    tags: tags
    workspaceResourceId: findingsIngestion.outputs.workspaceResourceId
    principalId: identity.properties.principalId
    identityResourceId: identity.id
  }
}

module vmReaders 'modules/subscription-reader.bicep' = [
  for subscriptionId in vmSubscriptionIds: {
    name: 'vm-reader-${take(uniqueString(subscriptionId), 8)}'
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
  STATE_STORE_TABLE_NAME: storage.outputs.stateTableName
  DETECTION_SCHEDULE: detectionSchedule
  INGESTION_DELAY_MINUTES: string(ingestionDelayMinutes)
  MAX_CATCHUP_DAYS: string(maxCatchupDays)
  DETECTION_MODE: detectionMode
  ENRICHMENT_ENABLED: enrichmentEnabled ? 'true' : 'false'
  BASELINE_DAYS: string(baselineDays)
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    // azd deploy finds the app by this tag (service "detector" in azure.yaml).
    tags: union(tags, { 'azd-service-name': 'detector' })
    identityResourceId: identity.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
  }
}

module sentinelRule 'modules/sentinel-rule.bicep' = if (deploySentinelRule) {
  name: 'sentinel-rule-${suffix}'
  scope: workspaceGroup
  // The rule's query needs the findings table to exist.
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
    location: location
    tags: tags
    displayName: 'Azure VM Run Command: unique PowerShell scripts'
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppId string = functionApp.outputs.id
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output storageAccountName string = storage.outputs.name
output deploymentContainerUrl string = storage.outputs.deploymentContainerUrl
output logAnalyticsWorkspaceId string = findingsIngestion.outputs.workspaceCustomerId
output dataCollectionRuleId string = findingsIngestion.outputs.dataCollectionRuleId
output dcrImmutableId string = findingsIngestion.outputs.dcrImmutableId
output logsIngestionEndpoint string = findingsIngestion.outputs.logsIngestionEndpoint
output dcrStreamName string = findingsIngestion.outputs.streamName
output findingsTableName string = findingsTable.tableName
output vmReaderScopes string[] = [for (s, i) in vmSubscriptionIds: vmReaders[i].outputs.scope]
