/**
 * Corrected mode: the Run Command paths on Windows machines, beyond the one the rule
 * sees (docs/corrected-mode-paths.md has the sources of every fact here).
 *
 *   path          AzureActivity OperationNameValue (=~)                                   target in the scope
 *   vm-action     Microsoft.Compute/virtualMachines/runCommand/action                      …/virtualMachines/<vm>
 *   vm-managed    Microsoft.Compute/virtualMachines/runCommands/write                      …/virtualMachines/<vm>[/runCommands/<name>]
 *   vmss-action   Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action
 *                                                                                          …/virtualMachineScaleSets/<ss>/virtualMachines/<instance>
 *   vmss-managed  Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write
 *                                                                                          …/virtualMachineScaleSets/<ss>/virtualMachines/<instance>[/runCommands/<name>]
 *   arc-managed   Microsoft.HybridCompute/machines/runCommands/write                       …/Microsoft.HybridCompute/machines/<machine>[/runCommands/<name>]
 *
 * The rule's `| where Authorization has "virtualMachines"` ("the operation impacted a
 * virtual machine") becomes: the scope names a machine of the operation's own kind.
 * An Arc scope has no `virtualMachines` term at all, and a managed Run Command's scope
 * ends in the run command's name, not the VM's (the rule's `split(Scope, "/")[-1]`).
 *
 * Endpoint side: the action paths (vm-action, vmss-action) are run by the
 * RunCommandWindows extension (RunCommandExtension.exe writes `script<N>.ps1`, as the
 * rule expects). The managed paths are run by the RunCommandHandlerWindows extension
 * (on Arc machines too: the Connected Machine agent runs the same handler). No public
 * source we found names the handler's process or script file, so those patterns are
 * the configurable defaults of {@link WINDOWS_MANAGED_HANDLER}, marked unverified.
 */
import { caseFold, equalsIgnoreCase } from '../kql';

export type RunCommandPath = 'vm-action' | 'vm-managed' | 'vmss-action' | 'vmss-managed' | 'arc-managed';
export const RUN_COMMAND_PATHS: readonly RunCommandPath[] = [
  'vm-action',
  'vm-managed',
  'vmss-action',
  'vmss-managed',
  'arc-managed',
];

/** Which extension runs a path's script on a Windows machine. */
export type WindowsHandler = 'RunCommandWindows' | 'RunCommandHandlerWindows';
/** Which extension runs a path's script on a Linux machine (./linux). */
export type LinuxHandler = 'RunCommandLinux' | 'RunCommandHandlerLinux';
/** The extension that runs a Run Command script on the machine. */
export type RunCommandHandler = WindowsHandler | LinuxHandler;

/** The Linux counterpart of a Windows handler: action Run Command ↔ RunCommandLinux, managed ↔ RunCommandHandlerLinux. */
export function linuxHandlerOf(handler: WindowsHandler): LinuxHandler {
  return handler === 'RunCommandWindows' ? 'RunCommandLinux' : 'RunCommandHandlerLinux';
}

/** The operating system a handler runs on (a finding's `RunCommandPlatform`). */
export function platformOf(handler: RunCommandHandler): 'Windows' | 'Linux' {
  return handler === 'RunCommandLinux' || handler === 'RunCommandHandlerLinux' ? 'Linux' : 'Windows';
}

export interface RunCommandOperationKind {
  path: RunCommandPath;
  /** OperationNameValue, as the Azure resource provider operations reference spells it (compared `=~`). */
  operation: string;
  target: 'virtualMachine' | 'scaleSetInstance' | 'arcMachine';
  handler: WindowsHandler;
}

/**
 * The Run Command operations corrected mode reads. Names from the Azure permissions
 * reference (learn.microsoft.com/azure/role-based-access-control/permissions/compute
 * and …/permissions/hybrid-multicloud, which writes `runcommands`: compared `=~`).
 */
export const RUN_COMMAND_OPERATIONS: readonly RunCommandOperationKind[] = [
  {
    path: 'vm-action',
    operation: 'Microsoft.Compute/virtualMachines/runCommand/action',
    target: 'virtualMachine',
    handler: 'RunCommandWindows',
  },
  {
    path: 'vm-managed',
    operation: 'Microsoft.Compute/virtualMachines/runCommands/write',
    target: 'virtualMachine',
    handler: 'RunCommandHandlerWindows',
  },
  {
    path: 'vmss-action',
    operation: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action',
    target: 'scaleSetInstance',
    handler: 'RunCommandWindows',
  },
  {
    path: 'vmss-managed',
    operation: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write',
    target: 'scaleSetInstance',
    handler: 'RunCommandHandlerWindows',
  },
  {
    path: 'arc-managed',
    operation: 'Microsoft.HybridCompute/machines/runCommands/write',
    target: 'arcMachine',
    handler: 'RunCommandHandlerWindows',
  },
];

const BY_OPERATION = new Map(RUN_COMMAND_OPERATIONS.map((k) => [caseFold(k.operation), k]));

/** The extension that runs a path's script on Windows. */
export function handlerOfPath(path: RunCommandPath): WindowsHandler {
  return RUN_COMMAND_OPERATIONS.find((k) => k.path === path)!.handler;
}

/** The Run Command operation kind of an `OperationNameValue` (`=~`), or undefined. */
export function runCommandOperationKind(operationNameValue: string): RunCommandOperationKind | undefined {
  return BY_OPERATION.get(caseFold(operationNameValue));
}

/** The machine a Run Command operation targets, read from its ARM scope. */
export interface RunCommandTarget {
  /** The machine's resource id (the scope without a trailing `/runCommands/<name>`). */
  machineId: string;
  /**
   * The machine's name as the findings report it (`VirtualMachineName`): the VM's or
   * Arc machine's ARM name; for a scale-set instance `<scaleSet>_<instanceId>`, its ARM
   * instance name.
   */
  machineName: string;
  /** The host name Defender for Endpoint is expected to report (DeviceName's first label). */
  hostName: string;
  /** The managed run command's resource name (`…/runCommands/<name>`), or "" (action Run Command). */
  runCommandName: string;
  scaleSet?: { name: string; instanceId: string };
}

/*
 * `/subscriptions/<s>/resourceGroups/<rg>/providers/<provider>/<…>`, segments compared
 * case-insensitively (ARM resource ids are). Group 1: the provider's resource path.
 */
const PROVIDER_PATH = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/(.+)$/i;
const VM = /^Microsoft\.Compute\/virtualMachines\/([^/]+)(?:\/runCommands\/([^/]+))?\/?$/i;
const VMSS_VM =
  /^Microsoft\.Compute\/virtualMachineScaleSets\/([^/]+)\/virtualMachines\/([^/]+)(?:\/runCommands\/([^/]+))?\/?$/i;
const ARC = /^Microsoft\.HybridCompute\/machines\/([^/]+)(?:\/runCommands\/([^/]+))?\/?$/i;

/**
 * How a scale-set instance is named on the machine (and so in Defender's DeviceName),
 * when no device of that name is known: for a scale set in Uniform orchestration, the
 * computer name is `computerNamePrefix` followed by the instance id in base 36, upper
 * case, left-padded with zeros to 6 characters (instance 10 → `00000A`). The prefix is
 * a property of the scale set that AzureActivity does not carry; many templates set it
 * to the scale set's name, which is the default here. `computerNamePrefixes` (scale
 * set name, case-insensitive → prefix) overrides it.
 * TODO(settings): VMSS_COMPUTER_NAME_PREFIXES should become a setting (owned by src/config).
 */
export interface ScaleSetNaming {
  computerNamePrefixes?: Readonly<Record<string, string>>;
}

/** The computer name of instance `instanceId` of a Uniform scale set (see {@link ScaleSetNaming}). */
export function scaleSetComputerName(scaleSet: string, instanceId: string, naming: ScaleSetNaming = {}): string {
  let prefix = scaleSet;
  for (const [name, p] of Object.entries(naming.computerNamePrefixes ?? {})) {
    if (equalsIgnoreCase(name, scaleSet)) prefix = p;
  }
  // A Flexible scale set's instance id is the VM's own name: the host name is that name.
  if (!/^[0-9]{1,10}$/.test(instanceId)) return instanceId;
  return prefix + Number(instanceId).toString(36).toUpperCase().padStart(6, '0');
}

/**
 * The target of an operation of `kind` on `scope`, or null when the scope names no
 * machine of that kind (the rule's `Authorization has "virtualMachines"`, made exact).
 */
export function parseRunCommandTarget(
  kind: RunCommandOperationKind,
  scope: string,
  naming: ScaleSetNaming = {},
): RunCommandTarget | null {
  const providerPath = PROVIDER_PATH.exec(scope)?.[1];
  if (providerPath === undefined) return null;
  const prefixLength = scope.length - providerPath.length;
  switch (kind.target) {
    case 'virtualMachine': {
      const m = VM.exec(providerPath);
      if (!m) return null;
      const machineId = scope.slice(0, prefixLength) + `${providerPath.split('/').slice(0, 3).join('/')}`;
      return { machineId, machineName: m[1]!, hostName: m[1]!, runCommandName: m[2] ?? '' };
    }
    case 'scaleSetInstance': {
      const m = VMSS_VM.exec(providerPath);
      if (!m) return null;
      const machineId = scope.slice(0, prefixLength) + `${providerPath.split('/').slice(0, 5).join('/')}`;
      const [, scaleSet, instanceId] = m as unknown as [string, string, string, string | undefined];
      return {
        machineId,
        machineName: `${scaleSet}_${instanceId}`,
        hostName: scaleSetComputerName(scaleSet, instanceId, naming),
        runCommandName: m[3] ?? '',
        scaleSet: { name: scaleSet, instanceId },
      };
    }
    case 'arcMachine': {
      const m = ARC.exec(providerPath);
      if (!m) return null;
      const machineId = scope.slice(0, prefixLength) + `${providerPath.split('/').slice(0, 3).join('/')}`;
      return { machineId, machineName: m[1]!, hostName: m[1]!, runCommandName: m[2] ?? '' };
    }
  }
}

/**
 * The RunCommandHandlerWindows extension (managed Run Command on VMs, scale-set
 * instances and Arc machines), as corrected mode recognises it in DeviceFileEvents and
 * DeviceEvents. UNVERIFIED DEFAULTS: the extension's name
 * (`Microsoft.CPlat.Core.RunCommandHandlerWindows`) is documented, and Windows
 * extensions live under `C:\Packages\Plugins\<publisher>.<type>\<version>\`; the
 * process that writes the script, the script's file name and the PowerShell command
 * line are not documented anywhere we found. A script file is the handler's when its
 * writer runs from the handler's plugin folder or is one of `processFileNames`, and its
 * name matches `scriptFileName`; its commands are PowerShell events whose command line
 * runs that file with `-File` (any path before the name).
 * `folderMarker` and `processFileNames` are the defaults of the settings
 * MANAGED_HANDLER_FOLDER_MARKER and MANAGED_HANDLER_PROCESS_NAMES (src/config/settings.ts):
 * a SOC that sees the handler's real names in its tenant sets them.
 */
export interface WindowsManagedHandler {
  /** A folder-path fragment of the handler's installation (matched case-insensitively in InitiatingProcessFolderPath). */
  folderMarker: string;
  /** InitiatingProcessFileName of the writer (matched `=~`). */
  processFileNames: readonly string[];
  /** FileName of a downloaded script (any PowerShell script file). */
  scriptFileName: RegExp;
}

/** The unverified defaults of {@link WindowsManagedHandler} (see above). */
export const WINDOWS_MANAGED_HANDLER: WindowsManagedHandler = {
  /** A folder-path fragment of the handler's installation (matched case-insensitively in InitiatingProcessFolderPath). */
  folderMarker: 'microsoft.cplat.core.runcommandhandlerwindows',
  /** InitiatingProcessFileName of the writer (unverified; matched `=~`). */
  processFileNames: ['RunCommandHandlerWindows.exe', 'RunCommandHandler.exe'] as readonly string[],
  /** FileName of a downloaded script (unverified: any PowerShell script file). */
  scriptFileName: /^[^\\/]+\.ps1$/i,
};

/** Whether a DeviceFileEvents writer is the managed handler (see {@link WINDOWS_MANAGED_HANDLER}). */
export function isManagedHandlerProcess(
  initiatingProcessFileName: string,
  initiatingProcessFolderPath: string,
  handler: WindowsManagedHandler = WINDOWS_MANAGED_HANDLER,
): boolean {
  if (caseFold(initiatingProcessFolderPath).includes(caseFold(handler.folderMarker))) return true;
  return handler.processFileNames.some((n) => equalsIgnoreCase(n, initiatingProcessFileName));
}

/**
 * The file name of the script a managed-handler PowerShell command line runs:
 * `-File` (any case), white space, an optional quote, an optional path, then a
 * `.ps1` name. "" when there is none.
 */
export function managedScriptNameOf(commandLine: string): string {
  const m = /-File\s+(?:"([^"]+)"|(\S+))/i.exec(commandLine);
  const path = m ? (m[1] ?? m[2]!) : '';
  const name = path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1);
  return /^[^\\/]+\.ps1$/i.test(name) ? name : '';
}
