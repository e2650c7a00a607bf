// Read access to the VMs of one subscription, for enrichment (ENRICHMENT_ENABLED):
// a custom role with only the reads src/arm/vmEnrichment.ts makes, instead of
// Reader on the whole subscription. vmEnrichment calls ARM `resources.getById` on a
// finding's Scope (GET <resource id>?api-version=2024-07-01), which is a
// virtual machine or a scale-set VM instance:
//   Microsoft.Compute/virtualMachines/read
//   Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read
// Deployed once per entry of main.bicep's vmSubscriptionIds, scoped to it.
targetScope = 'subscription'

@description('Principal (object) id of the runtime identity.')
param principalId string

@description('Resource id of that identity: names the role and its assignment.')
param identityResourceId string

var vmReadActions = [
  'Microsoft.Compute/virtualMachines/read'
  'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read'
]

resource vmReadRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, identityResourceId, 'runcommand-detection-vm-read')
  properties: {
    // Role names are unique in the tenant: one per subscription and identity.
    roleName: 'runcommand-detection VM read (${take(subscription().subscriptionId, 8)}, ${take(uniqueString(identityResourceId), 8)})'
    description: 'Read virtual machines and scale-set VM instances, nothing else (runcommand-detection enrichment).'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [{ actions: vmReadActions, notActions: [], dataActions: [], notDataActions: [] }]
  }
}

resource vmReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityResourceId, vmReadRole.id)
  properties: {
    roleDefinitionId: vmReadRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output scope string = subscription().id
output roleDefinitionId string = vmReadRole.id
