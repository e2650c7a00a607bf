// A storage account of the app, one of two (main.bicep):
//   host     AzureWebJobsStorage of the Functions host (its leases and timer
//            status in blobs) and the job's state store (one table); the runtime
//            identity has Storage Blob Data Owner (what the host documents for
//            identity-based AzureWebJobsStorage) and Storage Table Data Contributor.
//   package  the Flex Consumption deployment package, in one container; only the
//            deployment identity may write it (Storage Blob Data Contributor on the
//            container). The runtime identity has no role on this account, so the
//            job cannot rewrite its own code.
// No keys: shared-key access is off, so every client signs in with Entra ID.

@description('Storage account name: 3-24 lower-case letters and digits.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Blob containers to create (the package account: its deployment container).')
param containerNames string[]

@description('Table Storage tables to create (the host account: the state store table).')
param tableNames string[]

@description('Role assignments on this account or one of its containers: principalId, identityResourceId, roleId, and container (empty: the account).')
param roles array

@description('Days deleted blobs and containers are kept (soft delete); 0 turns it off.')
@minValue(0)
@maxValue(365)
param softDeleteDays int

@description('Only private endpoints reach the account (vnetEnabled in main.bicep).')
param privateOnly bool

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateOnly ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: privateOnly ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: softDeleteDays > 0 ? { enabled: true, days: max(softDeleteDays, 1) } : { enabled: false }
    containerDeleteRetentionPolicy: softDeleteDays > 0 ? { enabled: true, days: max(softDeleteDays, 1) } : { enabled: false }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for c in containerNames: {
    parent: blobService
    name: c
    properties: { publicAccess: 'None' }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [
  for t in tableNames: {
    parent: tableService
    name: t
  }
]

resource accountRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for r in filter(roles, r => empty(r.container)): {
    name: guid(account.id, r.identityResourceId, r.roleId)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.roleId)
      principalId: r.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Roles on one container only (the deployment package).
resource containerRef 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' existing = [
  for r in filter(roles, r => !empty(r.container)): {
    parent: blobService
    name: r.container
  }
]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (r, i) in filter(roles, r => !empty(r.container)): {
    name: guid(containerRef[i].id, r.identityResourceId, r.roleId)
    scope: containerRef[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r.roleId)
      principalId: r.principalId
      principalType: 'ServicePrincipal'
    }
    dependsOn: [containers]
  }
]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output containerUrls string[] = [for (c, i) in containerNames: '${account.properties.primaryEndpoints.blob}${containers[i].name}']
