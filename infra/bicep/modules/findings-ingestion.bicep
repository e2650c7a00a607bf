// Everything that lives with the EXISTING Log Analytics workspace (deployed into
// the workspace's resource group, which may differ from the app's):
//   - the custom tables RunCommandFindings_CL and RunCommandDetectionHealth_CL,
//   - one Direct data collection rule (Logs Ingestion API, no DCE) with a stream,
//     columns and transform per table, from infra/findings-table.json and
//     infra/health-table.json,
//   - the DCR's diagnostic setting: its ingestion and transformation errors go to
//     the workspace (DCRLogErrors), where an alert rule counts them,
//   - the identity's table-level read access to the workspace and send access to
//     the DCR.
// Tables, stream declarations and transforms are all derived from the data files,
// so they cannot drift from what src/ sends.

param workspaceName string

@description('Name of the data collection rule.')
param dataCollectionRuleName string

@description('Interactive (Analytics plan) retention of the findings table, in days.')
@minValue(4)
@maxValue(730)
param findingsRetentionInDays int

@description('Total retention (interactive + long-term) of the findings table, in days.')
@minValue(4)
@maxValue(4383)
param findingsTotalRetentionInDays int

@description('Interactive retention of the health table, in days (total retention is the same).')
@minValue(4)
@maxValue(730)
param healthRetentionInDays int

@description('Principal (object) id of the managed identity that queries and ingests.')
param principalId string

@description('Resource id of that identity: names the role assignments and the custom role.')
param identityResourceId string

@description('Whether the job reads an allowlist watchlist (ALLOWLIST_WATCHLIST set): only then may it read the Watchlist table.')
param readWatchlist bool = false

@description('Region of the workspace: a DCR must be in the region of its Log Analytics destination.')
param workspaceLocation string

param tags object

@description('DETECTION_MODE of the job: corrected mode also reads DeviceProcessEvents (the Linux Run Command paths).')
@allowed([
  'parity'
  'corrected'
])
param detectionMode string = 'parity'

var findingsTable = loadJsonContent('../../findings-table.json')
var healthTable = loadJsonContent('../../health-table.json')

// The data files spell types as the DCR stream declaration does; the table API
// spells datetime as dateTime and bool as boolean.
var tableColumnType = {
  string: 'string'
  datetime: 'dateTime'
  long: 'long'
  int: 'int'
  real: 'real'
  dynamic: 'dynamic'
  boolean: 'boolean'
  bool: 'boolean'
  guid: 'guid'
}
var streamColumnType = {
  string: 'string'
  datetime: 'datetime'
  long: 'long'
  int: 'int'
  real: 'real'
  dynamic: 'dynamic'
  boolean: 'boolean'
  bool: 'boolean'
  guid: 'string'
}

// The tables the job reads, and nothing else (issue: least privilege):
//   AzureActivity, DeviceFileEvents, DeviceEvents   the rule's three tables,
//   DeviceProcessEvents                             corrected mode only: the Linux Run Command paths
//                                                   (a script's commands are the processes it starts),
//   RunCommandFindings_CL                           its own findings, read back before a resend,
//   Watchlist                                       only with an allowlist (readWatchlist): the query
//                                                   _GetWatchlist('<ALLOWLIST_WATCHLIST>') reads this table
//                                                   (https://learn.microsoft.com/azure/sentinel/watchlists-queries).
//                                                   It holds every watchlist of the workspace: the
//                                                   condition is per table, so it cannot be narrowed to one alias.
var readTables = concat(
  ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'],
  detectionMode == 'corrected' ? ['DeviceProcessEvents'] : [],
  [findingsTable.tableName],
  readWatchlist ? ['Watchlist'] : []
)

// Built-in role definition ids.
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: findingsTable.tableName
  properties: {
    plan: 'Analytics'
    retentionInDays: findingsRetentionInDays
    totalRetentionInDays: findingsTotalRetentionInDays
    schema: {
      name: findingsTable.tableName
      description: 'Findings of the Azure VM Run Command unique PowerShell script detection (runcommand-detection).'
      columns: [
        for c in findingsTable.columns: {
          name: c.name
          type: tableColumnType[c.type]
          description: c.description
        }
      ]
    }
  }
}

resource healthTableResource 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: healthTable.tableName
  properties: {
    plan: 'Analytics'
    retentionInDays: healthRetentionInDays
    totalRetentionInDays: healthRetentionInDays
    schema: {
      name: healthTable.tableName
      description: 'Health of the runcommand-detection job: one row per run, window and event.'
      columns: [
        for c in healthTable.columns: {
          name: c.name
          type: tableColumnType[c.type]
          description: c.description
        }
      ]
    }
  }
}

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: workspaceLocation
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'Logs Ingestion API rule for ${findingsTable.tableName} and ${healthTable.tableName} (runcommand-detection).'
    streamDeclarations: {
      '${findingsTable.streamName}': {
        columns: [for c in findingsTable.columns: { name: c.name, type: streamColumnType[c.type] }]
      }
      '${healthTable.streamName}': {
        columns: [for c in healthTable.columns: { name: c.name, type: streamColumnType[c.type] }]
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'findingsWorkspace'
          workspaceResourceId: workspace.id
        }
      ]
    }
    // `source | project <every column>`: what arrives is exactly the table's columns.
    // The tables must exist before a DCR can write to them: `table.name` and
    // `healthTableResource.name` make the dependencies explicit (no InvalidOutputTable).
    dataFlows: [
      {
        streams: [findingsTable.streamName]
        destinations: ['findingsWorkspace']
        transformKql: 'source | project ${join(map(findingsTable.columns, c => c.name), ', ')}'
        outputStream: 'Custom-${table.name}'
      }
      {
        streams: [healthTable.streamName]
        destinations: ['findingsWorkspace']
        transformKql: 'source | project ${join(map(healthTable.columns, c => c.name), ', ')}'
        outputStream: 'Custom-${healthTableResource.name}'
      }
    ]
  }
}

// A record the DCR refuses or cannot transform never reaches either table: its
// error does, here (table DCRLogErrors, category LogErrors:
// https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-insights-datacollectionrules-logs).
resource dcrDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'runcommand-detection-errors'
  scope: dcr
  properties: {
    workspaceId: workspace.id
    logs: [{ category: 'LogErrors', enabled: true }]
  }
}

// Read: table-level, as Azure Monitor's granular RBAC documents it
// (https://learn.microsoft.com/azure/azure-monitor/logs/manage-table-access,
// https://learn.microsoft.com/azure/azure-monitor/logs/granular-rbac-log-analytics):
// a custom role that may read the workspace, run a query and read table data
// (data action workspaces/tables/data/read), assigned with a condition that
// allows that data action only on the tables in readTables. No Log Analytics
// Reader: it reads every table (SigninLogs, SecurityAlert, ...).
resource queryRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(workspace.id, identityResourceId, 'runcommand-detection-table-read')
  properties: {
    roleName: 'runcommand-detection table read (${workspace.name}, ${take(uniqueString(identityResourceId), 8)})'
    description: 'Run queries on the workspace and read table data; the role assignment\'s condition limits the tables.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: ['Microsoft.OperationalInsights/workspaces/read', 'Microsoft.OperationalInsights/workspaces/query/read']
        notActions: []
        dataActions: ['Microsoft.OperationalInsights/workspaces/tables/data/read']
        notDataActions: []
      }
    ]
  }
}

var tableReadCondition = '((!(ActionMatches{\'Microsoft.OperationalInsights/workspaces/tables/data/read\'})) OR (${join(map(readTables, t => '@Resource[Microsoft.OperationalInsights/workspaces/tables:name] StringEquals \'${t}\''), ' OR ')}))'

// Role definitions are tenant objects: a role assignment names one by its
// subscription-level id, whatever scope defined it.
var queryRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queryRole.name)

resource workspaceReadRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identityResourceId, queryRole.name)
  scope: workspace
  properties: {
    roleDefinitionId: queryRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    condition: tableReadCondition
    conditionVersion: '2.0'
    description: 'runcommand-detection reads ${join(readTables, ', ')} only.'
  }
}

// Write: the Logs Ingestion API checks Monitoring Metrics Publisher on the DCR;
// one assignment covers both streams (findings and health) of this DCR.
resource dcrPublisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dcr.id, identityResourceId, monitoringMetricsPublisher)
  scope: dcr
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output workspaceResourceId string = workspace.id
@description('The workspace GUID (customerId): LOG_ANALYTICS_WORKSPACE_ID.')
output workspaceCustomerId string = workspace.properties.customerId
output tableName string = table.name
output healthTableName string = healthTableResource.name
output dataCollectionRuleId string = dcr.id
output dcrImmutableId string = dcr.properties.immutableId
output logsIngestionEndpoint string = dcr.properties.endpoints.logsIngestion
output streamName string = findingsTable.streamName
output healthStreamName string = healthTable.streamName
output queryRoleDefinitionId string = queryRoleDefinitionId
