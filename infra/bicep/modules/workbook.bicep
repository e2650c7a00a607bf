// Optional workbook over the findings table (findings per day, top callers, VMs,
// script fingerprints with their prevalence) and the health table (windows by
// outcome, runs, warnings and failures, rows per source table). It needs no
// Sentinel: with Sentinel (deploySentinelRule) it is listed under the Sentinel
// workbooks of the workspace, otherwise under the workspace's Azure Monitor
// workbooks. Its content is workbook/findings-workbook.json.

param workspaceName string

var findingsTableName = loadJsonContent('../../findings-table.json').tableName
param location string
param tags object

@description('Shown in the portal.')
param displayName string

@description('List it under Microsoft Sentinel (the workspace has Sentinel) rather than Azure Monitor workbooks.')
param sentinel bool

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(workspace.id, 'runcommand-detection-workbook', findingsTableName)
  location: location
  // hidden-title: the portal's tag for a workbook's name; scripts/uninstall.sh finds the workbook by it.
  tags: union(tags, { 'hidden-title': displayName })
  kind: 'shared'
  properties: {
    displayName: displayName
    category: sentinel ? 'sentinel' : 'workbook'
    version: 'Notebook/1.0'
    sourceId: toLower(workspace.id)
    serializedData: loadTextContent('../workbook/findings-workbook.json')
  }
}

output id string = workbook.id
