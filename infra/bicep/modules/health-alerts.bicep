// Azure Monitor log search alert rules over the health table and the DCR's error
// log, so that a dead job never looks like a quiet day:
//   no-processed-window       no window processed in 26 hours,
//   window-failed-or-skipped  a failed or skipped window (or a failed run),
//   source-gap                a source table had a gap in a window,
//   spool-stale               findings older than the spool's limit,
//   dcr-ingestion-errors      the DCR refused or could not transform records.
// Their KQL is in ../alerts/*.kql (checked with the Kusto language service by
// test/unit/infra). Every rule fires on "at least one row", hourly, notifying the
// optional action group (email) each time (autoMitigate off: each row is news).

param location string
param tags object

@description('Prefix of the rule names (unique per installation).')
param namePrefix string

@description('Resource id of the Log Analytics workspace the rules query.')
param workspaceResourceId string

@description('Resource id of the data collection rule whose errors are counted.')
param dataCollectionRuleId string

@description('Email addresses notified by the rules (an action group is created when not empty).')
param alertEmailAddresses string[]

@description('Resource id of an existing action group to notify as well (optional).')
param actionGroupId string

var rules = [
  {
    key: 'no-processed-window'
    displayName: 'runcommand-detection: no window processed in 26 hours'
    description: 'The daily job wrote no processed window to RunCommandDetectionHealth_CL in 26 hours: it is not running, stuck, or failing. Check FunctionAppLogs and the health table.'
    severity: 1
    windowSize: 'P2D'
    query: loadTextContent('../alerts/no-processed-window.kql')
    skipQueryValidation: false
  }
  {
    key: 'window-failed-or-skipped'
    displayName: 'runcommand-detection: a window failed or was skipped'
    description: 'A day window failed (the record names the phase) or was skipped: its findings are missing until a run processes it. See Message in RunCommandDetectionHealth_CL.'
    severity: 1
    windowSize: 'PT6H'
    query: loadTextContent('../alerts/window-failed-or-skipped.kql')
    skipQueryValidation: false
  }
  {
    key: 'source-gap'
    displayName: 'runcommand-detection: gap in a source table'
    description: 'A source table (AzureActivity, DeviceFileEvents or DeviceEvents) had no rows for part of a processed window: findings of those hours may be missing.'
    severity: 2
    windowSize: 'PT6H'
    query: loadTextContent('../alerts/source-gap.kql')
    skipQueryValidation: false
  }
  {
    key: 'spool-stale'
    displayName: 'runcommand-detection: findings stuck in the spool'
    description: 'Findings have waited in the spool longer than its limit and have not reached RunCommandFindings_CL. Check the Logs Ingestion API errors and the identity\'s role on the DCR.'
    severity: 1
    windowSize: 'PT6H'
    query: loadTextContent('../alerts/spool-stale.kql')
    skipQueryValidation: false
  }
  {
    key: 'dcr-ingestion-errors'
    displayName: 'runcommand-detection: the data collection rule refused records'
    description: 'The DCR of runcommand-detection logged ingestion or transformation errors (DCRLogErrors): records did not reach the findings or health table.'
    severity: 1
    windowSize: 'PT6H'
    query: replace(loadTextContent('../alerts/dcr-ingestion-errors.kql'), '__DCR_RESOURCE_ID__', dataCollectionRuleId)
    // DCRLogErrors is created by the first error; the query's union isfuzzy keeps
    // it valid before that, but deployment-time validation may still refuse it.
    skipQueryValidation: true
  }
]

resource emailGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddresses)) {
  name: '${namePrefix}-email'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'runcmd-det'
    enabled: true
    emailReceivers: [
      for (address, i) in alertEmailAddresses: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroups = concat(empty(alertEmailAddresses) ? [] : [emailGroup.id], empty(actionGroupId) ? [] : [actionGroupId])

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for r in rules: {
    name: '${namePrefix}-${r.key}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: r.displayName
      description: r.description
      severity: r.severity
      enabled: true
      scopes: [workspaceResourceId]
      evaluationFrequency: 'PT1H'
      windowSize: r.windowSize
      skipQueryValidation: r.skipQueryValidation
      autoMitigate: false
      criteria: {
        allOf: [
          {
            query: r.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: actionGroups }
    }
  }
]

output ruleIds string[] = [for (r, i) in rules: alertRules[i].id]
output actionGroupIds string[] = actionGroups
