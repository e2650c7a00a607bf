// Optional private networking (main.bicep vnetEnabled), the pattern of the Azure
// Functions Flex Consumption quickstart: a virtual network whose `app` subnet
// (delegated to Microsoft.App/environments) carries the Function app's outbound
// traffic, and private endpoints with private DNS zones for the storage the app
// uses (host blob and table, package blob), whose public network access is then
// off. Log Analytics and the Logs Ingestion API stay on their public endpoints
// (Azure Monitor Private Link Scope is the workspace owner's choice).

param name string
param location string
param tags object

@description('Address space of the virtual network.')
param addressPrefix string

@description('Private endpoints to create: name, storage account resource id and sub-resource (blob or table).')
param endpoints array

var appSubnetPrefix = cidrSubnet(addressPrefix, 24, 0)
var endpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 1)
var zoneNames = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: { addressPrefix: endpointSubnetPrefix, privateEndpointNetworkPolicies: 'Disabled' }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for kind in ['blob', 'table']: {
    name: zoneNames[kind]
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (kind, i) in ['blob', 'table']: {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: { registrationEnabled: false, virtualNetwork: { id: vnet.id } }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for e in endpoints: {
    name: e.name
    location: location
    tags: tags
    properties: {
      subnet: { id: vnet.properties.subnets[1].id }
      privateLinkServiceConnections: [
        { name: e.name, properties: { privateLinkServiceId: e.storageAccountId, groupIds: [e.subResource] } }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (e, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        { name: e.subResource, properties: { privateDnsZoneId: zones[e.subResource == 'blob' ? 0 : 1].id } }
      ]
    }
  }
]

output appSubnetId string = vnet.properties.subnets[0].id
