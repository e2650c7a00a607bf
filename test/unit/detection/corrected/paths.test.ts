/**
 * Corrected mode on every Run Command path on Windows (issue 16): the operation names,
 * the target in the scope (VM, scale-set instance, Arc machine) and its device name,
 * the managed handler's scripts, and control-plane findings for runs with no endpoint
 * evidence, reported when the (caller, target) pair is new within BASELINE_DAYS.
 */
import {
  callerTargetKey,
  CONTROL_PLANE_IDENTITY_MARKER,
  detectCorrected,
  managedScriptNameOf,
  MemoryBaseline,
  parseRunCommandTarget,
  runCommandOperationKind,
  scaleSetComputerName,
  type Baseline,
  type ControlPlaneFindingDetails,
  type ScriptFindingDetails,
  WINDOWS_MANAGED_HANDLER,
} from '../../../../src/detection/corrected';
import { addTables, createDetector } from '../../../../src/detection/detector';
import { detectParity } from '../../../../src/detection';
import type { AzureActivityRow, DeviceEventsRow, DeviceFileEventsRow } from '../../../../src/detection/schema';

const RG = '/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-dev/providers';
const OPS = {
  'vm-action': 'Microsoft.Compute/virtualMachines/runCommand/action',
  'vm-managed': 'Microsoft.Compute/virtualMachines/runCommands/write',
  'vmss-action': 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action',
  'vmss-managed': 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write',
  'arc-managed': 'Microsoft.HybridCompute/machines/runCommands/write',
} as const;
type Path = keyof typeof OPS;

interface Tables {
  AzureActivity: AzureActivityRow[];
  DeviceFileEvents: DeviceFileEventsRow[];
  DeviceEvents: DeviceEventsRow[];
}
const empty = (): Tables => ({ AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] });

interface Run {
  path: Path;
  scope: string;
  at: string;
  day?: string;
  caller?: string;
  /** The device that reports the run; none = the machine is not onboarded. */
  device?: string;
  script?: string;
  commands?: string[];
  /** Write the script file but log none of its commands. */
  noCommands?: boolean;
}

const MANAGED_FOLDER = 'C:\\Packages\\Plugins\\Microsoft.CPlat.Core.RunCommandHandlerWindows\\2.0.14';

function run(t: Tables, r: Run): string {
  const day = r.day ?? '2026-11-25';
  const at = (s: number) => `${day}T${r.at}:${String(s).padStart(2, '0')}.0000000Z`;
  const correlationId = `${day}-${r.at}-${r.path}`;
  for (const [s, status] of [
    [0, 'Started'],
    [2, 'Accepted'],
    [50, 'Succeeded'],
  ] as const)
    t.AzureActivity.push({
      TimeGenerated: at(s),
      OperationNameValue: OPS[r.path],
      Authorization: JSON.stringify({ action: OPS[r.path], scope: r.scope }),
      CorrelationId: correlationId,
      Caller: r.caller ?? 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    });
  if (!r.device) return correlationId;
  const managed = r.path.endsWith('managed');
  const script = r.script ?? (managed ? 'script.ps1' : 'script0.ps1');
  t.DeviceFileEvents.push({
    TimeGenerated: at(10),
    DeviceName: r.device,
    InitiatingProcessFileName: managed ? 'RunCommandHandlerWindows.exe' : 'RunCommandExtension.exe',
    FileName: script,
    FileSize: 100,
    InitiatingProcessAccountName: 'system',
    InitiatingProcessAccountDomain: 'nt authority',
    InitiatingProcessFolderPath: managed ? `${MANAGED_FOLDER}\\bin` : 'c:\\packages\\runcommandextension.exe',
    InitiatingProcessId: 4301,
  });
  if (r.noCommands) return correlationId;
  const commandLine = managed
    ? `powershell.exe -ExecutionPolicy Unrestricted -File "${MANAGED_FOLDER}\\Downloads\\cmd1\\0\\${script}"`
    : `powershell  -ExecutionPolicy Unrestricted -File ${script}`;
  [script, ...(r.commands ?? ['Get-Service'])].forEach((command, i) =>
    t.DeviceEvents.push({
      TimeGenerated: at(12 + i),
      DeviceName: r.device!,
      InitiatingProcessCommandLine: commandLine,
      AdditionalFields: { Command: command },
    }),
  );
  return correlationId;
}

const corrected = (t: Tables, baseline: Baseline = new Map(), windowStart = '2026-11-25T00:00:00.0000000Z') =>
  detectCorrected(t, { windowStart, baselineDays: 14, baseline });

describe('Run Command targets', () => {
  it('reads the machine of each path from its scope', () => {
    const target = (path: Path, scope: string) => parseRunCommandTarget(runCommandOperationKind(OPS[path])!, scope);
    expect(target('vm-action', `${RG}/Microsoft.Compute/virtualMachines/app01`)).toMatchObject({
      machineName: 'app01',
      hostName: 'app01',
      runCommandName: '',
    });
    // A managed Run Command's scope ends in the run command's name, not the VM's.
    expect(target('vm-managed', `${RG}/Microsoft.Compute/virtualMachines/app01/runCommands/fixDns`)).toMatchObject({
      machineId: `${RG}/Microsoft.Compute/virtualMachines/app01`,
      machineName: 'app01',
      runCommandName: 'fixDns',
    });
    // A scale-set instance: the ARM instance name, and the computer name prefix + base-36 id.
    expect(
      target('vmss-action', `${RG}/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/1146`),
    ).toMatchObject({ machineName: 'web_1146', hostName: 'web0000VU', scaleSet: { name: 'web', instanceId: '1146' } });
    expect(
      target('vmss-managed', `${RG}/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/10/runCommands/x`),
    ).toMatchObject({ machineId: `${RG}/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/10` });
    expect(target('arc-managed', `${RG}/Microsoft.HybridCompute/machines/onprem-sql/runCommands/x`)).toMatchObject({
      machineName: 'onprem-sql',
      hostName: 'onprem-sql',
    });
    // The rule's `Authorization has "virtualMachines"`, made exact: a scope of another kind is no target.
    expect(target('vm-action', `${RG}/Microsoft.Compute/virtualMachineScaleSets/web`)).toBeNull();
    expect(target('arc-managed', `${RG}/Microsoft.Compute/virtualMachines/app01`)).toBeNull();
    expect(target('vm-action', '')).toBeNull();
    // Operation names compare =~ (the permissions reference writes HybridCompute's `runcommands`).
    expect(runCommandOperationKind('microsoft.hybridcompute/machines/runcommands/write')?.path).toBe('arc-managed');
    expect(runCommandOperationKind('Microsoft.Compute/virtualMachines/write')).toBeUndefined();
  });

  it('names a scale-set instance as Defender reports it: configurable prefix, Flexible ids as they are', () => {
    expect(scaleSetComputerName('web', '0')).toBe('web000000');
    expect(scaleSetComputerName('web', '35')).toBe('web00000Z');
    expect(scaleSetComputerName('WEB', '10', { computerNamePrefixes: { web: 'webvm' } })).toBe('webvm00000A');
    expect(scaleSetComputerName('web', 'web_3f2a1b9c')).toBe('web_3f2a1b9c');
  });

  it('reads the managed script a PowerShell command line runs', () => {
    expect(managedScriptNameOf('powershell -File "C:\\Packages\\x y\\Downloads\\a\\0\\script.ps1"')).toBe('script.ps1');
    expect(managedScriptNameOf('powershell -file C:\\tmp\\Fix-Dns.PS1 -Verbose')).toBe('Fix-Dns.PS1');
    expect(managedScriptNameOf('powershell -Command Get-Date')).toBe('');
    expect(managedScriptNameOf('powershell -File C:\\tmp\\notes.txt')).toBe('');
  });
});

describe('corrected mode on every Windows path', () => {
  it.each([
    ['vm-managed', `${RG}/Microsoft.Compute/virtualMachines/app01/runCommands/fixDns`, 'app01.contoso.local', 'app01'],
    ['vmss-action', `${RG}/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/3`, 'web000003', 'web_3'],
    [
      'vmss-managed',
      `${RG}/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/3/runCommands/c`,
      'WEB000003.internal.cloudapp.net',
      'web_3',
    ],
    ['arc-managed', `${RG}/Microsoft.HybridCompute/machines/onprem01/runCommands/c`, 'onprem01', 'onprem01'],
  ] as const)('%s: a new script is a script finding on its machine; parity misses it', (path, scope, device, vm) => {
    const t = empty();
    const id = run(t, { path, scope, at: '03:00', device, commands: ['Invoke-WebRequest', 'Start-Process'] });
    expect(detectParity(t)).toEqual([]);
    const r = corrected(t);
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.kind).toBe('script');
    expect(f.finding).toMatchObject({
      VirtualMachineName: vm,
      Scope: scope,
      PowershellScriptCommands: ['INVOKE-WEBREQUEST', 'START-PROCESS'],
    });
    expect(f.identity.CorrelationId).toBe(id);
    expect(f.details as ScriptFindingDetails).toMatchObject({ FindingKind: 'script', RunCommandPath: path });
    expect(r.stages.succeededOperationsByPath[path]).toBe(1);
  });

  it("a managed script's commands never join an action Run Command's file of the same name, and back", () => {
    const t = empty();
    const vm = `${RG}/Microsoft.Compute/virtualMachines/app01`;
    run(t, { path: 'vm-action', scope: vm, at: '03:00', device: 'app01', script: 'script0.ps1', noCommands: true });
    // The managed handler's script called script0.ps1, run at the same time on the same VM.
    run(t, { path: 'vm-managed', scope: `${vm}/runCommands/c`, at: '03:00', device: 'app01', script: 'script0.ps1' });
    const r = corrected(t);
    const byPath = Object.fromEntries(r.findings.map((f) => [f.details.RunCommandPath, f]));
    expect(byPath['vm-action']!.kind).toBe('control-plane');
    expect((byPath['vm-action']!.details as ControlPlaneFindingDetails).MissingEvidence).toBe('no-script-commands');
    expect(byPath['vm-managed']!.kind).toBe('script');
  });

  it('recognises the managed handler by the MANAGED_HANDLER_* settings, not only by their unverified defaults', () => {
    const t = empty();
    const vm = `${RG}/Microsoft.Compute/virtualMachines/app02`;
    run(t, { path: 'vm-managed', scope: `${vm}/runCommands/c`, at: '04:00', device: 'app02' });
    const file = t.DeviceFileEvents[0]!;
    file.InitiatingProcessFileName = 'ContosoRunCommandHandler.exe';
    file.InitiatingProcessFolderPath = 'C:\\Packages\\Plugins\\Contoso.Handler\\1.0\\bin';
    const options = { windowStart: '2026-11-25T00:00:00.0000000Z', baselineDays: 14, baseline: new Map() };
    const kinds = (windowsManagedHandler?: typeof WINDOWS_MANAGED_HANDLER) => {
      const detector = createDetector('corrected', { ...options, windowsManagedHandler });
      addTables(detector, t);
      return {
        relevant: detector.isRelevant('DeviceFileEvents', file),
        kinds: detector.finish().findings.map((f) => f.kind),
      };
    };
    // The defaults do not know this writer: the run has no script file (a control-plane finding).
    expect(kinds()).toEqual({ relevant: false, kinds: ['control-plane'] });
    expect(kinds({ ...WINDOWS_MANAGED_HANDLER, processFileNames: ['contosoruncommandhandler.exe'] })).toEqual({
      relevant: true,
      kinds: ['script'],
    });
    expect(kinds({ ...WINDOWS_MANAGED_HANDLER, folderMarker: 'contoso.handler' })).toEqual({
      relevant: true,
      kinds: ['script'],
    });
  });
});

describe('control-plane findings', () => {
  const scope = `${RG}/Microsoft.Compute/virtualMachines/dark01`;

  it('a successful run on a machine that reports nothing is a low-severity finding that says why', () => {
    const t = empty();
    const id = run(t, { path: 'vm-action', scope, at: '03:00' });
    expect(detectParity(t)).toEqual([]);
    const r = corrected(t);
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.kind).toBe('control-plane');
    expect(f.identity).toEqual({
      CorrelationId: id,
      VirtualMachineName: 'dark01',
      PowershellFileName: '',
      PowershellFileCreatedTimestamp: '2026-11-25T03:00:00.0000000Z',
      InitiatingProcessCommandLine: CONTROL_PLANE_IDENTITY_MARKER,
    });
    expect(f.finding).toMatchObject({ PowershellScriptCommands: [], ScriptFingerprintHash: '', Prevalence: 0 });
    const d = f.details as ControlPlaneFindingDetails;
    expect(d).toMatchObject({
      Severity: 'Low',
      MissingEvidence: 'no-device-telemetry',
      RunCommandPath: 'vm-action',
      TargetResourceId: scope,
      PairOperationsInWindow: 1,
      LastSeenBeforeHorizon: null,
    });
    expect(d.MissingEvidenceReason).toMatch(/not be onboarded to Defender for Endpoint/);
    expect(r.stages).toMatchObject({ operationsWithoutEvidence: 1, controlPlaneFindings: 1, findings: 0 });
  });

  it('tells a device that reports other runs from one that reports nothing', () => {
    const t = empty();
    const vm = `${RG}/Microsoft.Compute/virtualMachines/app01`;
    run(t, { path: 'vm-action', scope: vm, at: '03:00', device: 'app01' });
    run(t, { path: 'vm-action', scope: vm, at: '05:00', caller: 'bob@contoso.com' });
    const cp = corrected(t).findings.filter((f) => f.kind === 'control-plane');
    expect(cp.map((f) => (f.details as ControlPlaneFindingDetails).MissingEvidence)).toEqual(['no-script-file']);
  });

  it('is reported only while the (caller, target) pair is new within BASELINE_DAYS ("new terms")', () => {
    const baseline = new MemoryBaseline();
    const day = (d: string, caller = 'alice@contoso.com') => {
      const t = empty();
      run(t, {
        path: 'arc-managed',
        scope: `${RG}/Microsoft.HybridCompute/machines/m1/runCommands/c`,
        at: '03:00',
        day: d,
        caller,
      });
      return t;
    };
    const found = ['2026-11-25', '2026-11-26', '2026-11-27'].map((d) => {
      const r = corrected(day(d), baseline.current, `${d}T00:00:00.0000000Z`);
      baseline.record(r.observations, `${d.slice(0, 8)}${Number(d.slice(8)) + 1}T00:00:00.0000000Z`, 14);
      return r.findings.map((f) => f.kind);
    });
    expect(found).toEqual([['control-plane'], [], []]);
    // The pair's key is the caller and the machine (not the run command's name), case-insensitively.
    expect(
      baseline.current.has(callerTargetKey('ALICE@contoso.com', `${RG}/Microsoft.HybridCompute/machines/M1`)),
    ).toBe(true);
    // Another caller on the same machine is a new pair.
    const other = corrected(day('2026-11-28', 'mallory@contoso.com'), baseline.current, '2026-11-28T00:00:00.0000000Z');
    expect(other.findings.map((f) => f.kind)).toEqual(['control-plane']);
    // Re-running a window whose observations are stored gives the same finding.
    expect(corrected(day('2026-11-25'), baseline.current).findings).toHaveLength(1);
  });

  it('flows through the Detector with its kind and details', () => {
    const t = empty();
    run(t, {
      path: 'vmss-managed',
      scope: `${RG}/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/7/runCommands/c`,
      at: '03:00',
    });
    const detector = createDetector('corrected', {
      windowStart: '2026-11-25T00:00:00.0000000Z',
      baselineDays: 14,
      baseline: new Map(),
      scaleSetNaming: { computerNamePrefixes: { ss: 'ssvm' } },
    });
    addTables(detector, t);
    const result = detector.finish();
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]!.kind).toBe('control-plane');
    expect(result.findings[0]!.details).toMatchObject({ DeviceName: 'ssvm000007', RunCommandPath: 'vmss-managed' });
    // Its pair is an observation for the baseline.
    expect(result.observations.map((o) => o.exampleVirtualMachine)).toEqual(['ss_7']);
  });
});
