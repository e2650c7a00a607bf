// Optional companion Microsoft Sentinel scheduled analytics rule over the
// findings table: Account, IP and Host entities, custom details, alert name and
// severity from the finding, incidents grouped by matching entities for a day.
// The workspace must already have Microsoft Sentinel enabled.

param workspaceName string

var findingsTableName = loadJsonContent('../../findings-table.json').tableName

@description('Create the rule enabled (it then runs every hour).')
param enabled bool

var query = loadTextContent('../sentinel/findings-alert-rule.kql')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource rule 'Microsoft.SecurityInsights/alertRules@2024-09-01' = {
  scope: workspace
  name: guid(workspace.id, 'runcommand-detection', findingsTableName)
  kind: 'Scheduled'
  properties: {
    displayName: 'Azure VM Run Command executed a unique PowerShell script (runcommand-detection)'
    description: 'Raises an alert for each finding written to ${findingsTableName} by the runcommand-detection Function app, which runs the rule "Azure VM Run Command operations executing a unique PowerShell script" (5239248b-abfb-4c6a-8177-b104ade5db56) once a day.'
    severity: 'Medium'
    enabled: enabled
    query: query
    queryFrequency: 'PT1H'
    // The query filters on ingestion_time() for the last hour; the period only
    // has to cover it (TimeGenerated is the time the finding was written).
    queryPeriod: 'PT2H'
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
    ]
    customDetails: {
      FindingId: 'FindingId'
      ScriptFileName: 'PowershellFileName'
      ScriptFileSize: 'PowershellFileSize'
      ScriptCommands: 'ScriptCommands'
      FingerprintHash: 'ScriptFingerprintHash'
      Prevalence: 'Prevalence'
      DetectionMode: 'DetectionMode'
      RunCommandStart: 'StartTime'
    }
    alertDetailsOverride: {
      alertDisplayNameFormat: 'Run Command ran a unique PowerShell script {{PowershellFileName}} on {{VirtualMachineName}}'
      alertDescriptionFormat: '{{Caller}} used Azure VM Run Command on {{VirtualMachineName}} to run a PowerShell script whose command fingerprint {{ScriptFingerprintHash}} was seen only once in the day.'
      alertSeverityColumnName: 'AlertSeverity'
    }
    incidentConfiguration: {
      createIncident: true
      groupingConfiguration: {
        enabled: true
        reopenClosedIncident: false
        lookbackDuration: 'P1D'
        matchingMethod: 'AllEntities'
        groupByEntities: []
        groupByAlertDetails: []
        groupByCustomDetails: []
      }
    }
  }
}

output ruleId string = rule.id
