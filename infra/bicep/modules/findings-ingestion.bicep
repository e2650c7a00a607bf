// Everything that lives with the EXISTING Log Analytics workspace (deployed into
// the workspace's resource group, which may differ from the app's):
//   - the custom findings table RunCommandFindings_CL,
//   - a Direct data collection rule (Logs Ingestion API, no DCE) whose stream,
//     columns and transform come from infra/findings-table.json,
//   - the identity's read access to the workspace and send access to the DCR.
// Table, stream declaration and transform are all derived from the one data
// file, so they cannot drift from what src/ingestion sends.

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

@description('Role definition id (GUID) given to the identity on the workspace to run queries.')
param workspaceQueryRoleId string

@description('Principal (object) id of the managed identity that queries and ingests.')
param principalId string

@description('Resource id of that identity: names the role assignments.')
param identityResourceId string

@description('Region of the workspace: a DCR must be in the region of its Log Analytics destination.')
param workspaceLocation string

param tags object

var findingsTable = loadJsonContent('../../findings-table.json')

// The data file spells types as the DCR stream declaration does; the table API
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

// `source | project <every column>`: what arrives is exactly the table's columns.
var transformKql = 'source | project ${join(map(findingsTable.columns, c => c.name), ', ')}'

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

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: workspaceLocation
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'Logs Ingestion API rule for ${findingsTable.tableName} (runcommand-detection).'
    streamDeclarations: {
      '${findingsTable.streamName}': {
        columns: [
          for c in findingsTable.columns: {
            name: c.name
            type: streamColumnType[c.type]
          }
        ]
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
    dataFlows: [
      {
        streams: [findingsTable.streamName]
        destinations: ['findingsWorkspace']
        transformKql: transformKql
        // The table must exist before a DCR can write to it: `table.name` makes
        // the dependency explicit.
        outputStream: 'Custom-${table.name}'
      }
    ]
  }
}

// Read: the job queries AzureActivity, DeviceFileEvents and DeviceEvents.
// Default Log Analytics Reader, the narrowest BUILT-IN role that can run queries
// on the workspace (main.bicep's workspaceQueryRoleId can name a narrower custom
// role: workspaces/read, workspaces/query/read, workspaces/query/<Table>/read).
resource workspaceReaderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identityResourceId, workspaceQueryRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspaceQueryRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Write: the Logs Ingestion API checks Monitoring Metrics Publisher on the DCR.
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
output dataCollectionRuleId string = dcr.id
output dcrImmutableId string = dcr.properties.immutableId
output logsIngestionEndpoint string = dcr.properties.endpoints.logsIngestion
output streamName string = findingsTable.streamName
