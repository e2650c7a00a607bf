// Reader on one subscription that holds monitored VMs, so the job can look up a
// finding's VM in Azure Resource Manager (ENRICHMENT_ENABLED). Deployed once per
// entry of main.bicep's vmSubscriptionIds, each scoped to that subscription.
targetScope = 'subscription'

@description('Principal (object) id of the managed identity.')
param principalId string

@description('Resource id of that identity: names the role assignment.')
param identityResourceId string

var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

resource vmReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityResourceId, reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output scope string = subscription().id
