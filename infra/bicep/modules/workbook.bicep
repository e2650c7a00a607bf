// Optional workbook over the findings table (findings per day, top callers, VMs,
// script fingerprints with their prevalence), listed under Microsoft Sentinel
// workbooks of the workspace. Its content is workbook/findings-workbook.json.

param workspaceName string

var findingsTableName = loadJsonContent('../../findings-table.json').tableName
param location string
param tags object

@description('Shown in the portal.')
param displayName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(workspace.id, 'runcommand-detection-workbook', findingsTableName)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'sentinel'
    version: 'Notebook/1.0'
    sourceId: toLower(workspace.id)
    serializedData: loadTextContent('../workbook/findings-workbook.json')
  }
}

output id string = workbook.id
