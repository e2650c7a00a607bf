/**
 * The synthetic tenant a generated day happens in: subscriptions, virtual machines
 * (their ARM names and the names Defender reports them under), callers, and the
 * catalogue of routine PowerShell scripts that administrators run again and again.
 */
import type { SeededRandom } from './random';

export interface VirtualMachine {
  /** The name in the ARM scope: the last segment of `Authorization.scope`. */
  armName: string;
  /** The name Defender for Endpoint reports (DeviceName): short or an FQDN, sometimes in another case. */
  deviceName: string;
  subscriptionId: string;
  resourceGroup: string;
  /** `/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/virtualMachines/<armName>` */
  scope: string;
  /** The RunCommandWindows extension numbers its downloads script0.ps1, script1.ps1, … per VM. */
  nextScriptNumber: number;
}

export interface Caller {
  /** A UPN, a service principal's object id (no `@`), or "" (as seen in real exports). */
  name: string;
  ipAddresses: string[];
}

/** A PowerShell script: the commands PowerShell logs for it, in execution order, and its file size. */
export interface Script {
  commands: string[];
  size: number;
}

export interface Tenant {
  subscriptions: string[];
  vms: VirtualMachine[];
  scaleSets: { name: string; subscriptionId: string; resourceGroup: string; scope: string }[];
  callers: Caller[];
  routineScripts: Script[];
}

export const RESOURCE_GROUPS = ['rg-dev', 'rg-prod', 'rg-build', 'RG-Shared'];
const VM_ROLES = ['dc', 'app', 'web', 'sql', 'jump', 'file', 'build', 'k8snode'];
const DNS_SUFFIXES: ReadonlyArray<readonly [string, number]> = [
  ['', 45],
  ['.internal.cloudapp.net', 25],
  ['.contoso.local', 20],
  ['.corp.contoso.com', 10],
];
const UPN_CALLERS = [
  'alice@contoso.com',
  'bob@contoso.com',
  'Eve.Admin@Fabrikam.com',
  'svc-deploy@contoso.onmicrosoft.com',
  'carol.ops@contoso.com',
  'dave@contoso.onmicrosoft.com',
];

/** Cmdlets seen in Run Command scripts (the vocabulary of the example days and then some). */
export const CMDLETS = [
  'Get-Service',
  'Restart-Service',
  'Stop-Service',
  'Start-Service',
  'Write-Output',
  'Write-Host',
  'Get-Process',
  'Stop-Process',
  'Sort-Object',
  'Select-Object',
  'Where-Object',
  'Format-Table',
  'Get-ChildItem',
  'Remove-Item',
  'Copy-Item',
  'Get-Content',
  'Set-Content',
  'Out-File',
  'Get-EventLog',
  'Get-WinEvent',
  'Get-WmiObject',
  'Get-CimInstance',
  'Invoke-Expression',
  'Invoke-WebRequest',
  'Start-BitsTransfer',
  'New-ScheduledTask',
  'Register-ScheduledTask',
  'Set-MpPreference',
  'Add-MpPreference',
  'Compress-Archive',
  'Expand-Archive',
  'Test-NetConnection',
  'Get-NetTCPConnection',
  'Get-WindowsUpdate',
  'Install-WindowsUpdate',
  'ConvertTo-SecureString',
  'New-LocalUser',
  'Add-LocalGroupMember',
  'Set-ItemProperty',
  'Get-ItemProperty',
  'New-ItemProperty',
  'Get-LocalUser',
  'Get-Disk',
  'Get-Volume',
  'Set-ExecutionPolicy',
  'Enable-PSRemoting',
  'Get-HotFix',
  'Resolve-DnsName',
  'Clear-EventLog',
  'Get-Acl',
];

/** Command names outside ASCII: upper-casing them is where .NET and JavaScript differ. */
export const NON_ASCII_CMDLETS = ['Get-Übersicht', 'Écrire-Journal', 'Set-Straße', 'ﬁnd-Datei', 'Get-Σύνοψη'];

function guid(rng: SeededRandom): string {
  return rng.uuid();
}

function ipv4(rng: SeededRandom): string {
  return `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

function ipv6(rng: SeededRandom): string {
  return `2001:db8::${rng.int(0, 0xffff).toString(16).padStart(4, '0')}`;
}

/** The size in bytes of a script file that runs these commands (one line each, plus a header). */
export function scriptSize(commands: readonly string[], rng: SeededRandom): number {
  let size = rng.int(20, 60);
  for (const c of commands) size += Buffer.byteLength(c, 'utf8') + rng.int(2, 40);
  return size;
}

/** A random script of 1 to `max` commands drawn from the cmdlet vocabulary. */
export function randomScript(rng: SeededRandom, max = 7): Script {
  const n = rng.int(1, max);
  const commands: string[] = [];
  for (let i = 0; i < n; i++) commands.push(rng.pick(CMDLETS));
  return { commands, size: scriptSize(commands, rng) };
}

export interface TenantOptions {
  /** How many virtual machines (and about a tenth as many scale sets). */
  vmCount: number;
  /** How many routine scripts administrators reuse. */
  routineScriptCount?: number;
  /** Add the corners: VMs whose ARM name differs in case from the device name. */
  tricky?: boolean;
}

export function buildTenant(rng: SeededRandom, options: TenantOptions): Tenant {
  const subscriptions = Array.from({ length: Math.max(2, Math.min(8, Math.ceil(options.vmCount / 50))) }, () =>
    guid(rng),
  );
  const vms: VirtualMachine[] = [];
  const perRole = new Map<string, number>();
  for (let i = 0; i < options.vmCount; i++) {
    const role = rng.pick(VM_ROLES);
    const n = perRole.get(role) ?? 0;
    perRole.set(role, n + 1);
    const base = `${role}${String(n).padStart(2, '0')}`;
    // 3% of VMs carry a capitalised ARM name (Web04) while Defender reports web04.
    const armName = options.tricky && rng.chance(0.03) ? base[0].toUpperCase() + base.slice(1) : base;
    const deviceName = base + rng.weighted(DNS_SUFFIXES);
    const subscriptionId = rng.pick(subscriptions);
    const resourceGroup = rng.pick(RESOURCE_GROUPS);
    // Long-lived VMs have run many commands before: their counter starts high.
    const nextScriptNumber = rng.chance(0.35) ? 0 : rng.int(1, rng.chance(0.5) ? 20 : 2000);
    vms.push({
      armName,
      deviceName,
      subscriptionId,
      resourceGroup,
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${armName}`,
      nextScriptNumber,
    });
  }
  const scaleSets = Array.from({ length: Math.max(1, Math.floor(options.vmCount / 10)) }, (_, i) => {
    const subscriptionId = rng.pick(subscriptions);
    const resourceGroup = rng.pick(RESOURCE_GROUPS);
    const name = `vmss${String(i).padStart(2, '0')}`;
    return {
      name,
      subscriptionId,
      resourceGroup,
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`,
    };
  });
  const callers: Caller[] = UPN_CALLERS.map((name) => ({
    name,
    ipAddresses: Array.from({ length: rng.int(1, 4) }, () => (rng.chance(0.2) ? ipv6(rng) : ipv4(rng))),
  }));
  // Service principals (automation accounts, pipelines) call with their object id.
  for (let i = 0; i < 3; i++) callers.push({ name: guid(rng), ipAddresses: [ipv4(rng)] });
  const routineScripts = Array.from({ length: options.routineScriptCount ?? 25 }, () => randomScript(rng, 6));
  return { subscriptions, vms, scaleSets, callers, routineScripts };
}
