/**
 * The published rule's metadata and entity mappings (`./rule/rule-as-published.txt`).
 */
import type { RunCommandFinding } from './schema';

/** What the project keeps of a Sentinel scheduled rule's definition. */
export interface RuleMetadata {
  id: string;
  name: string;
  version: string;
  severity: string;
  tactics: readonly string[];
  techniques: readonly string[];
  queryFrequency: string;
  queryPeriod: string;
  description: string;
}

export const RULE = {
  id: '5239248b-abfb-4c6a-8177-b104ade5db56',
  name: 'Azure VM Run Command operations executing a unique PowerShell script',
  version: '1.0.8',
  severity: 'Medium',
  tactics: ['LateralMovement', 'Execution'],
  techniques: ['T1570', 'T1059.001'],
  queryFrequency: '1d',
  queryPeriod: '1d',
  description:
    'Identifies when Azure Run command is used to execute a PowerShell script on a VM that is unique.\n' +
    'The uniqueness of the PowerShell script is determined by taking a combined hash of the cmdLets it imports and the file size of the PowerShell script. Alerts from this detection indicate a unique PowerShell was executed in your environment.',
} as const satisfies RuleMetadata;

export interface FindingEntities {
  Account: { FullName: string; Name: string; UPNSuffix: string };
  IP: { Address: string };
  Host: { HostName: string; AzureID: string };
}

/**
 * The rule's `entityMappings`: Account (FullName = Caller, Name = CallerName,
 * UPNSuffix = CallerUPNSuffix), IP (Address = CallerIpAddress), Host
 * (HostName = VirtualMachineName, AzureID = Scope).
 */
export function entityMappings(finding: RunCommandFinding): FindingEntities {
  return {
    Account: { FullName: finding.Caller, Name: finding.CallerName, UPNSuffix: finding.CallerUPNSuffix },
    IP: { Address: finding.CallerIpAddress },
    Host: { HostName: finding.VirtualMachineName, AzureID: finding.Scope },
  };
}
