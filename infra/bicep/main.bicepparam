// Parameters for main.bicep. Values come from environment variables so that the
// same file serves `az deployment group create` and `azd up` (azd sets
// AZURE_ENV_NAME; set the others with `azd env set NAME value`, or export them
// before `az deployment group create`). The two workspace variables are
// required: building this file fails, naming the variable, when one is unset.
using 'main.bicep'

param workspaceName = readEnvironmentVariable('LOG_ANALYTICS_WORKSPACE_NAME')
param workspaceResourceGroupName = readEnvironmentVariable('LOG_ANALYTICS_WORKSPACE_RESOURCE_GROUP')
param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'runcmd-detect')

// Comma-separated subscription ids that hold the VMs (VM-read role, for enrichment).
param vmSubscriptionIds = empty(readEnvironmentVariable('VM_SUBSCRIPTION_IDS', ''))
  ? []
  : split(readEnvironmentVariable('VM_SUBSCRIPTION_IDS', ''), ',')

param detectionMode = readEnvironmentVariable('DETECTION_MODE', 'parity')
param enrichmentEnabled = bool(readEnvironmentVariable('ENRICHMENT_ENABLED', 'true'))
param deploySentinelRule = bool(readEnvironmentVariable('DEPLOY_SENTINEL_RULE', 'true'))
param deployWorkbook = bool(readEnvironmentVariable('DEPLOY_WORKBOOK', 'true'))

// Comma-separated email addresses the health alert rules notify (optional).
param alertEmailAddresses = empty(readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', ''))
  ? []
  : split(readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', ''), ',')
// The alias of the Sentinel watchlist used as the allowlist (optional; empty: none).
param allowlistWatchlist = readEnvironmentVariable('ALLOWLIST_WATCHLIST', '')
param vnetEnabled = bool(readEnvironmentVariable('VNET_ENABLED', 'false'))

param tags = {
  'azd-env-name': readEnvironmentVariable('AZURE_ENV_NAME', 'runcmd-detect')
  application: 'runcommand-detection'
}
