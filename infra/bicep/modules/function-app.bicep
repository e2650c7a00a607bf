// The Function app on the Flex Consumption plan (Linux, Node.js 22), running as
// the user-assigned runtime identity. HTTPS only, TLS 1.2, no basic publishing
// credentials. The deployment package lives in a container of its own storage
// account that only the separate deployment identity can write (azd deploy /
// `func azure functionapp publish` hand the package to the platform, which stores
// it with that identity). No `ftpsState`: Flex Consumption lists it among its
// unsupported site properties (FTP does not exist there).

param name string
param planName string
param location string
param tags object

@description('Resource id of the runtime identity (the job and the host run as it).')
param identityResourceId string

@description('Resource id of the deployment identity (reads and writes the deployment package only).')
param deploymentIdentityResourceId string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Most instances Flex may scale out to (a daily timer needs one).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('App settings as name/value pairs.')
param appSettings object

@description('Log Analytics workspace that receives the app\'s FunctionAppLogs (diagnostic setting).')
param workspaceResourceId string

@description('Subnet for outbound traffic (vnetEnabled), or empty.')
param virtualNetworkSubnetId string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
      '${deploymentIdentityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deploymentIdentityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        // Node.js 20 reached end of life on 2026-04-30. The code stays valid on 20
        // and 22 (package.json engines >=20, @types/node 20: the CI machine has Node 20).
        version: '22'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
  }
}

// Basic (user/password) publishing credentials off for both FTP and SCM.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// The host's and the job's log lines in the workspace (table FunctionAppLogs),
// next to the health records.
resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'runcommand-detection-logs'
  scope: site
  properties: {
    workspaceId: workspaceResourceId
    logs: [{ category: 'FunctionAppLogs', enabled: true }]
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
