// Optional companion Microsoft Sentinel scheduled analytics rule over the
// findings table, raising one incident per FindingId (docs/operations.md, "From
// finding to incident"): hourly over the longest query period Sentinel allows
// (14 days), raising only FindingIds no earlier alert carries, with incidents
// grouped by the FindingId custom detail as a second guard. Account, IP, Host,
// File and FileHash entities; custom details; an alert name, description and
// remediation steps that tell the analyst what happened and what to check; and
// a saved hunting query from a finding to its AzureActivity and DeviceEvents.
//
// The workspace must have Microsoft Sentinel enabled: the rule's deployment reads
// the workspace's Sentinel onboarding state first, so a workspace without
// Sentinel fails with "onboardingStates/default ... not found" before the rule,
// instead of an obscure error on the rule itself (docs/deploy.md says what to do).

param workspaceName string

var findingsTableName = loadJsonContent('../../findings-table.json').tableName

@description('Create the rule enabled (it then runs every hour).')
param enabled bool

var query = loadTextContent('../sentinel/findings-alert-rule.kql')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// Sentinel onboarding of the workspace. The rule's `enabled` reads its properties,
// so ARM GETs it before creating the rule: without Sentinel the deployment fails
// there, naming Microsoft.SecurityInsights/onboardingStates/default.
resource sentinelOnboarding 'Microsoft.SecurityInsights/onboardingStates@2024-09-01' existing = {
  scope: workspace
  name: 'default'
}
var sentinelOnboarded = string(sentinelOnboarding.properties) != ''

resource rule 'Microsoft.SecurityInsights/alertRules@2024-09-01' = {
  scope: workspace
  name: guid(workspace.id, 'runcommand-detection', findingsTableName)
  kind: 'Scheduled'
  properties: {
    displayName: 'Azure VM Run Command executed a unique PowerShell script (runcommand-detection)'
    description: 'Raises one alert, and one incident, per finding written to ${findingsTableName} by the runcommand-detection Function app, which runs the rule "Azure VM Run Command operations executing a unique PowerShell script" (5239248b-abfb-4c6a-8177-b104ade5db56) once a day.'
    severity: 'Medium'
    enabled: enabled && sentinelOnboarded
    query: query
    queryFrequency: 'PT1H'
    // The longest period Sentinel allows: every finding whose TimeGenerated is
    // within 14 days is seen, and its earlier alerts in SecurityAlert with it.
    queryPeriod: 'P14D'
    triggerOperator: 'GreaterThan'
    triggerThreshold: 0
    suppressionEnabled: false
    suppressionDuration: 'PT5H'
    tactics: ['LateralMovement', 'Execution']
    // The published rule lists T1059.001; this API version takes techniques only.
    techniques: ['T1570', 'T1059']
    eventGroupingSettings: { aggregationKind: 'AlertPerResult' }
    entityMappings: [
      {
        entityType: 'Account'
        fieldMappings: [
          { identifier: 'FullName', columnName: 'Caller' }
          { identifier: 'Name', columnName: 'CallerName' }
          { identifier: 'UPNSuffix', columnName: 'CallerUPNSuffix' }
        ]
      }
      {
        entityType: 'IP'
        fieldMappings: [{ identifier: 'Address', columnName: 'CallerIpAddress' }]
      }
      {
        entityType: 'Host'
        fieldMappings: [
          { identifier: 'HostName', columnName: 'VirtualMachineName' }
          { identifier: 'AzureID', columnName: 'Scope' }
        ]
      }
      {
        entityType: 'File'
        fieldMappings: [
          { identifier: 'Name', columnName: 'PowershellFileName' }
          { identifier: 'Directory', columnName: 'ScriptFolderPath' }
        ]
      }
      {
        entityType: 'FileHash'
        fieldMappings: [
          { identifier: 'Algorithm', columnName: 'FileHashAlgorithm' }
          { identifier: 'Value', columnName: 'FileHashValue' }
        ]
      }
    ]
    customDetails: {
      FindingId: 'FindingId'
      FindingKind: 'FindingKind'
      ScriptFileName: 'PowershellFileName'
      ScriptFolder: 'ScriptFolder'
      ScriptSha256: 'FileHashValue'
      ScriptFileSize: 'PowershellFileSize'
      ScriptCommands: 'ScriptCommands'
      FingerprintHash: 'ScriptFingerprintHash'
      CorrelationIds: 'CorrelationIdList'
      DetectionMode: 'DetectionMode'
      RunCommandStart: 'StartTime'
      RunCommandEnd: 'EndTime'
      VmResourceGroup: 'VmResourceGroup'
      EnrichmentStatus: 'EnrichmentStatus'
    }
    alertDetailsOverride: {
      // FindingSummary and AlertSubject say what the finding's mode tested (see the query):
      // parity "no other script had that day", corrected "not seen in the baseline period".
      alertDisplayNameFormat: 'Run Command on {{VirtualMachineName}}: {{AlertSubject}}'
      alertDescriptionFormat: '{{Caller}} used Azure VM Run Command on {{VirtualMachineName}}: {{FindingSummary}} Check whether the run was expected, read the script (custom details ScriptCommands, ScriptFolder, ScriptSha256) and follow the operation in AzureActivity (CorrelationIds) and DeviceEvents.'
      alertSeverityColumnName: 'AlertSeverity'
      alertDynamicProperties: [{ alertProperty: 'RemediationSteps', value: 'RemediationSteps' }]
    }
    incidentConfiguration: {
      createIncident: true
      // A second guard behind the query's own: an alert whose FindingId already
      // has an open incident (raised within 7 days, the longest lookback) joins it.
      groupingConfiguration: {
        enabled: true
        reopenClosedIncident: false
        lookbackDuration: 'P7D'
        matchingMethod: 'Selected'
        groupByEntities: []
        groupByAlertDetails: []
        groupByCustomDetails: ['FindingId']
      }
    }
  }
}

// A saved hunting query: from a finding to its AzureActivity and DeviceEvents.
resource pivotQuery 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {
  parent: workspace
  name: guid(workspace.id, 'runcommand-detection-finding-pivot')
  properties: {
    category: 'Hunting Queries'
    displayName: 'runcommand-detection: finding to AzureActivity and DeviceEvents'
    query: loadTextContent('../sentinel/finding-pivot.kql')
    version: 2
    tags: [
      { name: 'description', value: 'Paste a FindingId: the Run Command operation (AzureActivity, by CorrelationIds) and the PowerShell activity on the VM (DeviceEvents) around it.' }
      { name: 'tactics', value: 'Execution,LateralMovement' }
    ]
  }
}

output ruleId string = rule.id
