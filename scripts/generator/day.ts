/**
 * Generates synthetic tenant days in the shape of the exported tables the rule reads
 * (AzureActivity, DeviceFileEvents, DeviceEvents; see test/fixtures/examples/).
 *
 * Each Run Command operation is what Azure and Defender really record for one:
 *   AzureActivity   Started -> Accepted -> Succeeded (or Start/Accept/Success, or a
 *                   Failed/Failure end, or no end at all), one CorrelationId;
 *   DeviceFileEvents RunCommandExtension.exe creates scriptN.ps1 on the VM inside the
 *                   operation's window (N counts up per VM), with its FolderPath and,
 *                   for most script files, a SHA256 of its content (see `fileSha256`);
 *   DeviceEvents    PowerShellCommand events: first the script itself
 *                   (Command = scriptN.ps1), then each command it runs.
 * Around them, about `noiseFactor` times as many unrelated operations, files and
 * events. With `tricky`, a few percent of operations also carry the corners of the
 * query (docs/kql-semantics.md): case variants, FQDN device names, whitespace variants
 * after `-File`, AdditionalFields as text / invalid / null, non-ASCII commands,
 * sub-millisecond timestamps on the edges of an operation's window, callers without
 * `@` or IP, Authorization text that changes within an operation, scale-set scopes.
 *
 * Everything is drawn from one seeded generator: the same options give the same rows.
 */
import { createHash } from 'node:crypto';
import { SeededRandom } from './random';
import {
  buildTenant,
  CMDLETS,
  NON_ASCII_CMDLETS,
  randomScript,
  type Script,
  type Tenant,
  type VirtualMachine,
} from './tenant';

export const RUN_COMMAND_OPERATION = 'Microsoft.Compute/virtualMachines/runCommand/action';
const EXTENSION_FOLDER = 'C:\\Packages\\Plugins\\Microsoft.CPlat.Core.RunCommandWindows\\1.1.18';
/** The managed Run Command handler's plugin folder (an unverified default: see src/detection/corrected/paths.ts). */
const MANAGED_HANDLER_FOLDER = 'C:\\Packages\\Plugins\\Microsoft.CPlat.Core.RunCommandHandlerWindows\\2.0.14';
const EXTENSION_PROCESS_FOLDER =
  'c:\\packages\\plugins\\microsoft.cplat.core.runcommandwindows\\1.1.18\\bin\\runcommandextension.exe';

/** An AzureActivity row as exported (the rule's columns plus a few that exports carry). */
export interface GeneratedAzureActivityRow {
  TimeGenerated: string;
  OperationNameValue: string;
  Authorization: string;
  CorrelationId: string;
  Caller: string;
  CallerIpAddress: string;
  ActivityStatusValue: string;
  ResourceGroup: string;
  SubscriptionId: string;
  Category: string;
  Level: string;
}

export interface GeneratedDeviceFileEventsRow {
  TimeGenerated: string;
  DeviceName: string;
  ActionType: string;
  FileName: string;
  FolderPath: string;
  /** The file's SHA256 ('' where Defender left it out); see `fileSha256`. */
  SHA256?: string;
  FileSize: number;
  InitiatingProcessFileName: string;
  InitiatingProcessAccountName: string;
  InitiatingProcessAccountDomain: string;
  InitiatingProcessFolderPath: string;
  InitiatingProcessId: number;
  ReportId: number;
}

export interface GeneratedDeviceEventsRow {
  TimeGenerated: string;
  DeviceName: string;
  ActionType: string;
  InitiatingProcessCommandLine: string;
  InitiatingProcessFileName: string;
  /** An object, its JSON text, text that is not JSON, or null. */
  AdditionalFields: unknown;
}

/** A DeviceProcessEvents row (Linux Run Command paths only: the processes a script starts). */
export interface GeneratedDeviceProcessEventsRow {
  TimeGenerated: string;
  DeviceName: string;
  ActionType: string;
  FileName: string;
  FolderPath: string;
  ProcessCommandLine: string;
  InitiatingProcessFileName: string;
  InitiatingProcessCommandLine: string;
  AccountName: string;
}

export interface GeneratedRows {
  AzureActivity: GeneratedAzureActivityRow;
  DeviceFileEvents: GeneratedDeviceFileEventsRow;
  DeviceEvents: GeneratedDeviceEventsRow;
  DeviceProcessEvents: GeneratedDeviceProcessEventsRow;
}

export type GeneratedTable = keyof GeneratedRows;
/** The rule's three tables: always written (a day without Linux runs has no DeviceProcessEvents file). */
export const GENERATED_TABLES: readonly Exclude<GeneratedTable, 'DeviceProcessEvents'>[] = [
  'AzureActivity',
  'DeviceFileEvents',
  'DeviceEvents',
];

/** Receives rows as they are made; a writer streams them to files, a test collects them. */
export interface RowSink {
  row<T extends GeneratedTable>(table: T, row: GeneratedRows[T]): void;
}

export interface GeneratorOptions {
  /** Seed of the pseudo-random generator: same seed, same rows. */
  seed: number;
  /** Run Command operations per day. */
  operations: number;
  /** First day, `YYYY-MM-DD` (default 2026-11-25, the day of the example days). */
  day?: string;
  /** Number of consecutive days (default 1). The tenant and its VMs' script counters carry over. */
  days?: number;
  /** Unrelated operations, files and events per Run Command operation, file and event (default 10). */
  noiseFactor?: number;
  /** Add the corners of the query (default true). */
  tricky?: boolean;
  /** Share of operations that run a one-off script rather than a routine one (default 0.25). */
  uniqueScriptShare?: number;
  /** Virtual machines in the tenant (default: one per four operations, at least 12). */
  vmCount?: number;
  /**
   * Run-once scripts planted per day (default 0): each is a successful operation running
   * a script whose command list (with its own `Invoke-RunOnce…` function) occurs nowhere
   * else in the whole run, recorded in the day's summary (`planted`), so that what a
   * detection finds over many days can be checked against a known set.
   */
  runOnceScriptsPerDay?: number;
  /**
   * Run-once scripts planted per day on each Run Command path beyond the rule's
   * (default 0): managed Run Command on a VM, a scale-set instance (action and
   * managed), an Azure Arc machine, and a run on a machine not onboarded to Defender
   * (no endpoint rows: corrected mode's control-plane finding). Drawn from a generator
   * of their own, so the other rows are those of the same options without it.
   */
  pathScriptsPerDay?: number;
}

/**
 * Where a planted script ran: the rule's path, the others of corrected mode
 * (src/detection/corrected/paths), a machine without Defender, or a Linux VM (action
 * Run Command by RunCommandLinux, managed by RunCommandHandlerLinux:
 * src/detection/corrected/linux).
 */
export type PlantedPath =
  | 'vm-action'
  | 'vm-managed'
  | 'vmss-action'
  | 'vmss-managed'
  | 'arc-managed'
  | 'not-onboarded'
  | 'linux-vm-action'
  | 'linux-vm-managed';
/** In planting order: the Linux paths come last, so the others' rows do not change with them. */
export const PLANTED_PATHS: readonly PlantedPath[] = [
  'vm-action',
  'vm-managed',
  'vmss-action',
  'vmss-managed',
  'arc-managed',
  'not-onboarded',
  'linux-vm-action',
  'linux-vm-managed',
];

/** A planted run-once script: where and when it ran, and what it ran. */
export interface PlantedScript {
  day: string;
  /** The path it ran on (`runOnceScriptsPerDay` plants on `vm-action`). */
  path: PlantedPath;
  correlationId: string;
  /** The VM's ARM name and the name Defender reports it under. */
  armName: string;
  deviceName: string;
  scriptName: string;
  /** The commands as PowerShell logs them (before `toupper`); the first is the marker `Invoke-RunOnce…`. */
  commands: string[];
  size: number;
}

/** What was generated: rows per table and the operations by how they ended, per day. */
export interface GeneratedDaySummary {
  day: string;
  /** Rows per table (DeviceProcessEvents only on a day with Linux runs). */
  rows: Record<Exclude<GeneratedTable, 'DeviceProcessEvents'>, number> & { DeviceProcessEvents?: number };
  operations: { succeeded: number; failed: number; unfinished: number; uniqueScripts: number };
  /** The run-once scripts planted this day (only with `runOnceScriptsPerDay`). */
  planted?: PlantedScript[];
}

const TICKS_PER_SECOND = 10_000_000;
const TICKS_PER_MS = 10_000;
const TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND;

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** Canonical 7-digit KQL datetime text for `ticks` (100 ns) after midnight UTC of `day`. */
export function dayTimestamp(day: string, ticks: number): string {
  if (!Number.isSafeInteger(ticks) || ticks < 0 || ticks >= TICKS_PER_DAY) {
    throw new RangeError(`ticks must be a whole number within the day, got ${ticks}`);
  }
  const seconds = Math.floor(ticks / TICKS_PER_SECOND);
  const fraction = ticks - seconds * TICKS_PER_SECOND;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${day}T${pad2(h)}:${pad2(m)}:${pad2(s)}.${String(fraction).padStart(7, '0')}Z`;
}

/** Whether `text` is a real calendar day written `YYYY-MM-DD`. */
export function isDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/** `YYYY-MM-DD` plus `n` days. */
export function addDays(day: string, n: number): string {
  if (!isDay(day)) throw new RangeError(`not a day (YYYY-MM-DD): '${day}'`);
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

type StatusFamily = { start: string; accept: string; success: string; failure: string };
const STATUS_FAMILIES: readonly StatusFamily[] = [
  { start: 'Started', accept: 'Accepted', success: 'Succeeded', failure: 'Failed' },
  { start: 'Start', accept: 'Accept', success: 'Success', failure: 'Failure' },
];
const ROLES = ['Virtual Machine Contributor', 'Contributor', 'Owner'];

/** What separates `-File` from the script name on the command line, and how often. */
const COMMAND_LINE_FORMS: ReadonlyArray<readonly [(script: string) => string, number]> = [
  [(s) => `powershell  -ExecutionPolicy Unrestricted -File ${s}`, 900],
  [(s) => `powershell -ExecutionPolicy Unrestricted -File ${s}`, 30],
  [(s) => `powershell -ExecutionPolicy Unrestricted -File\t${s}`, 12],
  [(s) => `powershell -ExecutionPolicy Unrestricted -File\u00a0${s}`, 8],
  [(s) => `powershell -ExecutionPolicy Unrestricted -File\u0085${s}`, 8],
  [(s) => `powershell -ExecutionPolicy Unrestricted -File\ufeff${s}`, 8],
  [(s) => `powershell -ExecutionPolicy Unrestricted -Filescript${s.slice(6)}`, 6],
  [(s) => `powershell -ExecutionPolicy Unrestricted -FilePath ${s}`, 10],
  [(s) => `powershell -ExecutionPolicy Unrestricted -file ${s}`, 8],
];

const NOISE_OPERATIONS: ReadonlyArray<readonly [string, number]> = [
  ['Microsoft.Compute/virtualMachines/write', 20],
  ['Microsoft.Compute/virtualMachines/start/action', 15],
  ['Microsoft.Compute/virtualMachines/deallocate/action', 8],
  ['Microsoft.Compute/virtualMachines/restart/action', 8],
  ['Microsoft.Compute/virtualMachines/extensions/write', 6],
  ['Microsoft.Compute/virtualMachines/runCommands/write', 3],
  ['Microsoft.Storage/storageAccounts/listKeys/action', 18],
  ['Microsoft.Resources/deployments/write', 15],
  ['Microsoft.Network/networkSecurityGroups/write', 7],
  ['Microsoft.Authorization/roleAssignments/write', 3],
];
const NOISE_FILES: ReadonlyArray<readonly [string, string, string]> = [
  ['update.log', 'C:\\Windows\\Temp', 'svchost.exe'],
  ['temp.tmp', 'C:\\Windows\\Temp', 'powershell.exe'],
  ['setup.msi', 'C:\\Windows\\Installer', 'msiexec.exe'],
  ['install.log', 'C:\\Windows\\Temp', 'msiexec.exe'],
  ['script0.ps1', 'C:\\Windows\\Temp', 'msiexec.exe'],
  ['report.csv', 'C:\\ops', 'powershell.exe'],
  ['backup.ps1', 'C:\\ops', 'explorer.exe'],
  ['MpCmdRun.log', 'C:\\ProgramData\\Microsoft\\Windows Defender\\Support', 'MsMpEng.exe'],
];
const NOISE_EVENTS: ReadonlyArray<readonly [string, string, string]> = [
  ['ProcessCreated', 'cmd.exe /c dir', 'cmd.exe'],
  ['ProcessCreated', 'svchost.exe -k netsvcs', 'svchost.exe'],
  ['DnsQueryResponse', 'powershell.exe -NoProfile -File C:\\ops\\backup.ps1', 'powershell.exe'],
  ['PowerShellCommand', 'powershell -File scriptx.ps1', 'powershell.exe'],
  ['PowerShellCommand', 'powershell.exe -NoProfile -File C:\\ops\\backup.ps1', 'powershell.exe'],
  ['ScriptContent', 'powershell.exe -ExecutionPolicy Bypass -Command Get-Date', 'powershell.exe'],
  ['AntivirusScanCompleted', 'MsMpEng.exe', 'MsMpEng.exe'],
];

/**
 * The SHA256 Defender would report for a script file: a stand-in digest of its content
 * (the commands it runs, in order, and its size), so that the same script always has the
 * same hash and two scripts with other content never do. Drawn from no random generator:
 * the other rows are those the generator made before it wrote hashes.
 *
 * Defender often leaves SHA256 empty (its DeviceFileEvents reference: "usually not
 * populated"): with `tricky`, a quarter of the scripts (those whose digest starts with
 * 0 to 3, a choice by content, so a script has a hash everywhere or nowhere) have none.
 */
export function fileSha256(commands: readonly string[], size: number, tricky: boolean): string {
  const digest = createHash('sha256')
    .update(`script\n${commands.join('\n')}\n${size}`, 'utf8')
    .digest('hex');
  return tricky && digest.charAt(0) <= '3' ? '' : digest;
}

/** Shell commands a Linux Run Command script runs (the body of a planted Linux script). */
const LINUX_COMMANDS: readonly string[] = [
  'id -un',
  'uname -a',
  'cat /etc/os-release',
  'df -h',
  'systemctl restart nginx',
  'curl -fsS https://packages.contoso.com/agent.sh',
  'useradd -m -s /bin/bash svc-backup',
  'crontab -l',
  'ss -tlnp',
  'tar czf /tmp/etc.tgz /etc',
];

/** Generation state of one day. */
class DayWriter {
  readonly summary: GeneratedDaySummary;
  private reportId = 0;

  constructor(
    private readonly rng: SeededRandom,
    private readonly tenant: Tenant,
    readonly day: string,
    private readonly sink: RowSink,
    private readonly options: Required<Pick<GeneratorOptions, 'noiseFactor' | 'tricky' | 'uniqueScriptShare'>>,
  ) {
    this.summary = {
      day,
      rows: { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 },
      operations: { succeeded: 0, failed: 0, unfinished: 0, uniqueScripts: 0 },
    };
  }

  private emit<T extends GeneratedTable>(table: T, row: GeneratedRows[T]): void {
    this.summary.rows[table] = (this.summary.rows[table] ?? 0) + 1;
    this.sink.row(table, row);
  }

  private time(ticks: number, subMillisecond: boolean): string {
    const t = Math.min(Math.max(0, ticks), TICKS_PER_DAY - 1);
    return dayTimestamp(this.day, subMillisecond ? t : t - (t % TICKS_PER_MS));
  }

  private tricky(p: number): boolean {
    return this.options.tricky && this.rng.chance(p);
  }

  /**
   * One Run Command operation with its activity events, script file and PowerShell
   * events. With `planted`, a successful run of that script (recorded in the summary).
   */
  runCommandOperation(planted?: { marker: string }): void {
    const rng = this.rng;
    const vm = rng.pick(this.tenant.vms);
    const callerEntry = rng.pick(this.tenant.callers);
    let caller = callerEntry.name;
    if (this.tricky(0.01)) caller = '';
    const ip = this.tricky(0.03) ? '' : rng.pick(callerEntry.ipAddresses);
    const family = rng.pick(STATUS_FAMILIES);
    const outcome = planted
      ? 'succeeded'
      : rng.weighted<'succeeded' | 'failed' | 'unfinished'>([
          ['succeeded', 88],
          ['failed', 8],
          ['unfinished', 4],
        ]);
    this.summary.operations[outcome]++;
    const subMs = this.tricky(0.06);
    const correlationId = rng.uuid();
    const role = rng.pick(ROLES);
    const principalType = caller.includes('@') ? 'User' : 'ServicePrincipal';
    const authorization = (r: string): string =>
      JSON.stringify({
        action: RUN_COMMAND_OPERATION,
        scope: vm.scope,
        evidence: { role: r, principalType },
      });
    const operationName = this.tricky(0.02) ? RUN_COMMAND_OPERATION.toUpperCase() : RUN_COMMAND_OPERATION;
    // The Authorization text of the last event changes (another role assignment matched).
    const drift = this.tricky(0.01);

    let script: Script;
    if (planted) {
      const body = randomScript(rng, 6);
      const commands = [planted.marker, ...body.commands];
      script = { commands, size: body.size + Buffer.byteLength(planted.marker) + 2 };
    } else {
      script = rng.chance(this.options.uniqueScriptShare) ? this.oneOffScript() : rng.pick(this.tenant.routineScripts);
    }
    const scriptNumber = this.tricky(0.004) ? 1_000_000_000 + rng.int(0, 999_999_999) : vm.nextScriptNumber++;
    const scriptName = `script${scriptNumber}.ps1`;
    if (planted) {
      (this.summary.planted ??= []).push({
        day: this.day,
        path: 'vm-action',
        correlationId,
        armName: vm.armName,
        deviceName: vm.deviceName,
        scriptName,
        commands: script.commands,
        size: script.size,
      });
    }

    // Timeline in ticks after midnight; operations end before midnight.
    const start = rng.int(0, TICKS_PER_DAY - 40 * 60 * TICKS_PER_SECOND);
    const accepted = start + rng.int(1 * TICKS_PER_SECOND, 4 * TICKS_PER_SECOND);
    const fileCreated = accepted + rng.int(15 * TICKS_PER_SECOND, 150 * TICKS_PER_SECOND);
    const commandTimes: number[] = [];
    let t = fileCreated + rng.int((3 * TICKS_PER_SECOND) / 10, (8 * TICKS_PER_SECOND) / 10);
    for (let i = 0; i <= script.commands.length; i++) {
      commandTimes.push(t);
      t += rng.int(TICKS_PER_SECOND / 20, (TICKS_PER_SECOND * 4) / 10);
    }
    let end = t + rng.int(5 * TICKS_PER_SECOND, 120 * TICKS_PER_SECOND);
    const fileTime = fileCreated;
    let startTime = start;
    let acceptedAt = accepted;
    if (subMs) {
      // Edge of the window: the file lands exactly on StartTime or EndTime, or one tick past EndTime.
      const edge = rng.pick(['atStart', 'atEnd', 'pastEnd', 'inside'] as const);
      if (edge === 'atStart') {
        startTime = fileTime;
        acceptedAt = fileTime + rng.int(1, TICKS_PER_MS);
      }
      if (edge === 'atEnd') end = fileTime;
      if (edge === 'pastEnd') end = fileTime - 1;
    }

    // AzureActivity: the operation's events.
    const activity = (ticks: number, status: string, auth = authorization(role)) =>
      this.emit('AzureActivity', {
        TimeGenerated: this.time(ticks, subMs),
        OperationNameValue: operationName,
        Authorization: auth,
        CorrelationId: correlationId,
        Caller: caller,
        CallerIpAddress: ip,
        ActivityStatusValue: status,
        ResourceGroup: vm.resourceGroup,
        SubscriptionId: vm.subscriptionId,
        Category: 'Administrative',
        Level: status === family.failure ? 'Error' : 'Informational',
      });
    activity(startTime, family.start);
    activity(acceptedAt, family.accept);
    if (outcome !== 'unfinished') {
      activity(
        end,
        outcome === 'succeeded' ? family.success : family.failure,
        drift ? authorization(rng.pick(ROLES.filter((r) => r !== role))) : undefined,
      );
    }

    // A failed operation may have failed before the script ever reached the VM.
    const reachedVm = outcome === 'succeeded' || rng.chance(0.6);
    if (!reachedVm) return;

    const extensionPid = rng.int(800, 9999);
    const processName = this.tricky(0.01) ? 'runcommandextension.exe' : 'RunCommandExtension.exe';
    // The file rows are emitted once the script's commands are known (their SHA256 covers them).
    const fileRows: GeneratedDeviceFileEventsRow[] = [];
    fileRows.push({
      TimeGenerated: this.time(fileTime, subMs),
      DeviceName: vm.deviceName,
      ActionType: 'FileCreated',
      FileName: scriptName,
      FolderPath: `${EXTENSION_FOLDER}\\Downloads\\${scriptName}`,
      SHA256: '',
      FileSize: script.size,
      InitiatingProcessFileName: processName,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: EXTENSION_PROCESS_FOLDER,
      InitiatingProcessId: extensionPid,
      ReportId: this.reportId++,
    });
    if (rng.chance(0.2)) {
      // The extension also writes its status file during the operation (a modified file: no hash).
      fileRows.push({
        TimeGenerated: this.time(fileTime + rng.int(1, 4 * TICKS_PER_SECOND), subMs),
        DeviceName: vm.deviceName,
        ActionType: 'FileModified',
        FileName: `${scriptNumber}.status`,
        FolderPath: `${EXTENSION_FOLDER}\\Status\\${scriptNumber}.status`,
        SHA256: '',
        FileSize: rng.int(300, 1200),
        InitiatingProcessFileName: processName,
        InitiatingProcessAccountName: 'system',
        InitiatingProcessAccountDomain: 'nt authority',
        InitiatingProcessFolderPath: EXTENSION_PROCESS_FOLDER,
        InitiatingProcessId: extensionPid,
        ReportId: this.reportId++,
      });
    }

    // DeviceEvents: PowerShell logs the script itself, then each of its commands.
    const commandLine =
      this.options.tricky && rng.chance(0.1)
        ? rng.weighted(COMMAND_LINE_FORMS.slice(1))(scriptName)
        : COMMAND_LINE_FORMS[0][0](scriptName);
    const commands = [scriptName, ...script.commands];
    if (this.tricky(0.02)) commands.splice(rng.int(1, commands.length), 0, rng.pick(NON_ASCII_CMDLETS));
    // The file holds what the script runs (what PowerShell logs of it may be garbled: see additionalFields).
    fileRows[0]!.SHA256 = fileSha256(commands.slice(1), script.size, this.options.tricky);
    for (const row of fileRows) this.emit('DeviceFileEvents', row);
    for (let i = 0; i < commands.length; i++) {
      this.emit('DeviceEvents', {
        TimeGenerated: this.time(commandTimes[Math.min(i, commandTimes.length - 1)] + i, subMs),
        DeviceName: vm.deviceName,
        ActionType: 'PowerShellCommand',
        InitiatingProcessCommandLine: commandLine,
        InitiatingProcessFileName: 'powershell.exe',
        AdditionalFields: this.additionalFields(commands[i], scriptName),
      });
    }
  }

  /**
   * A successful run of a run-once script on `path` (see `pathScriptsPerDay`), drawn
   * from `rng` (not the day's generator). Managed runs are written by the
   * RunCommandHandlerWindows extension (the unverified defaults of
   * src/detection/corrected/paths.ts: its plugin folder, `script.ps1` under
   * `Downloads\<run command>\<n>\`, run with `-File "<path>"`); a not-onboarded run has
   * AzureActivity rows only.
   */
  plantOnPath(rng: SeededRandom, path: Exclude<PlantedPath, 'vm-action'>, marker: string, n: number): void {
    if (path === 'linux-vm-action' || path === 'linux-vm-managed') return this.plantOnLinux(rng, path, marker, n);
    const caller = rng.pick(this.tenant.callers);
    const sub = rng.pick(this.tenant.subscriptions);
    const ss = rng.pick(this.tenant.scaleSets);
    const instanceId = rng.int(0, 40);
    const runCommandName = `rc-${marker.toLowerCase()}`;
    let scope: string;
    let armName: string;
    let deviceName: string;
    switch (path) {
      case 'vm-managed': {
        const vm = rng.pick(this.tenant.vms);
        scope = `${vm.scope}/runCommands/${runCommandName}`;
        armName = vm.armName;
        deviceName = vm.deviceName;
        break;
      }
      case 'vmss-action':
      case 'vmss-managed':
        scope = `${ss.scope}/virtualMachines/${instanceId}${path === 'vmss-managed' ? `/runCommands/${runCommandName}` : ''}`;
        armName = `${ss.name}_${instanceId}`;
        // Defender reports the computer name: the prefix (here the scale set's name) and the base-36 instance id.
        deviceName =
          ss.name +
          instanceId.toString(36).toUpperCase().padStart(6, '0') +
          (rng.chance(0.5) ? '.internal.cloudapp.net' : '');
        break;
      case 'arc-managed':
        armName = `arc-srv${String(rng.int(0, 30)).padStart(2, '0')}`;
        scope = `/subscriptions/${sub}/resourceGroups/rg-hybrid/providers/Microsoft.HybridCompute/machines/${armName}/runCommands/${runCommandName}`;
        deviceName = `${armName}.corp.contoso.com`;
        break;
      case 'not-onboarded':
        armName = `dark${this.day.replaceAll('-', '')}n${n}`;
        scope = `/subscriptions/${sub}/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/${armName}`;
        deviceName = armName;
        break;
    }
    const operation = {
      'vm-managed': 'Microsoft.Compute/virtualMachines/runCommands/write',
      'vmss-action': 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action',
      'vmss-managed': 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write',
      'arc-managed': 'Microsoft.HybridCompute/machines/runcommands/write',
      'not-onboarded': RUN_COMMAND_OPERATION,
    }[path];
    const body = randomScript(rng, 5);
    const commands = [marker, ...body.commands];
    const size = body.size + Buffer.byteLength(marker) + 2;
    const managed = path.endsWith('managed');
    const scriptName = managed ? 'script.ps1' : `script${rng.int(0, 60)}.ps1`;
    const { fileTime } = this.plantOperation(rng, {
      plant: { path, armName, deviceName, scriptName, commands, size },
      operation,
      scope,
      caller,
      subscriptionId: sub,
      resourceGroup: 'rg',
    });
    if (path === 'not-onboarded') return;
    const folder = managed
      ? `${MANAGED_HANDLER_FOLDER}\\Downloads\\${runCommandName}\\0`
      : `${EXTENSION_FOLDER}\\Downloads`;
    this.emit('DeviceFileEvents', {
      TimeGenerated: this.time(fileTime, false),
      DeviceName: deviceName,
      ActionType: 'FileCreated',
      FileName: scriptName,
      FolderPath: `${folder}\\${scriptName}`,
      SHA256: fileSha256(commands, size, this.options.tricky),
      FileSize: size,
      InitiatingProcessFileName: managed ? 'RunCommandHandlerWindows.exe' : 'RunCommandExtension.exe',
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: managed
        ? `${MANAGED_HANDLER_FOLDER.toLowerCase()}\\bin\\runcommandhandlerwindows.exe`
        : EXTENSION_PROCESS_FOLDER,
      InitiatingProcessId: rng.int(800, 9999),
      ReportId: this.reportId++,
    });
    const commandLine = managed
      ? `powershell.exe -ExecutionPolicy Unrestricted -File "${folder}\\${scriptName}"`
      : COMMAND_LINE_FORMS[0][0](scriptName);
    [scriptName, ...commands].forEach((command, i) =>
      this.emit('DeviceEvents', {
        TimeGenerated: this.time(fileTime + TICKS_PER_SECOND + i * (TICKS_PER_SECOND / 10), false),
        DeviceName: deviceName,
        ActionType: 'PowerShellCommand',
        InitiatingProcessCommandLine: commandLine,
        InitiatingProcessFileName: 'powershell.exe',
        AdditionalFields: { Command: command, ScriptName: scriptName },
      }),
    );
  }

  /**
   * A successful run of a run-once script on a Linux VM, as the Linux extensions write
   * and start it (src/detection/corrected/linux: sources there): action Run Command's
   * `run-command-extension` writes `/var/lib/waagent/run-command/download/<n>/script.sh`
   * and runs `/bin/sh -c <path>`; managed Run Command's `run-command-handler` writes
   * `/var/lib/waagent/run-command-handler/download/<run command>/<n>/script.sh` and runs
   * `/bin/bash -c <path>`. The script's commands are the processes it starts
   * (DeviceProcessEvents); a process of another parent on the same machine at the same
   * time is not one of them.
   */
  private plantOnLinux(
    rng: SeededRandom,
    path: 'linux-vm-action' | 'linux-vm-managed',
    marker: string,
    n: number,
  ): void {
    const managed = path === 'linux-vm-managed';
    const caller = rng.pick(this.tenant.callers);
    const sub = rng.pick(this.tenant.subscriptions);
    const armName = `lnx-app${String(rng.int(0, 20)).padStart(2, '0')}`;
    const deviceName = rng.chance(0.5) ? `${armName}.internal.cloudapp.net` : armName;
    const runCommandName = `rc-${marker.toLowerCase()}`;
    const vmScope = `/subscriptions/${sub}/resourceGroups/rg-linux/providers/Microsoft.Compute/virtualMachines/${armName}`;
    const scope = managed ? `${vmScope}/runCommands/${runCommandName}` : vmScope;
    const operation = managed ? 'Microsoft.Compute/virtualMachines/runCommands/write' : RUN_COMMAND_OPERATION;
    const seq = rng.int(0, 40) + n;
    const scriptPath = managed
      ? `/var/lib/waagent/run-command-handler/download/${runCommandName}/${seq}/script.sh`
      : `/var/lib/waagent/run-command/download/${seq}/script.sh`;
    const body = Array.from({ length: rng.int(2, 5) }, () => rng.pick(LINUX_COMMANDS));
    const commands = [`logger ${marker}`, ...body];
    const size = Buffer.byteLength(['#!/bin/bash', ...commands].join('\n') + '\n');
    const { fileTime } = this.plantOperation(rng, {
      plant: { path, armName, deviceName, scriptName: 'script.sh', commands, size },
      operation,
      scope,
      caller,
      subscriptionId: sub,
      resourceGroup: 'rg-linux',
    });
    const writer = managed ? 'run-command-handler' : 'run-command-extension';
    const extension = managed
      ? 'Microsoft.CPlat.Core.RunCommandHandlerLinux-1.3.28'
      : 'Microsoft.CPlat.Core.RunCommandLinux-1.0.12';
    this.emit('DeviceFileEvents', {
      TimeGenerated: this.time(fileTime, false),
      DeviceName: deviceName,
      ActionType: 'FileCreated',
      FileName: 'script.sh',
      FolderPath: scriptPath,
      FileSize: size,
      InitiatingProcessFileName: writer,
      InitiatingProcessAccountName: 'root',
      InitiatingProcessAccountDomain: armName,
      InitiatingProcessFolderPath: `/var/lib/waagent/${extension}/bin/${writer}`,
      InitiatingProcessId: rng.int(800, 9999),
      ReportId: this.reportId++,
    });
    const shell = managed ? `/bin/bash -c ${scriptPath}` : `/bin/sh -c ${scriptPath}`;
    const process = (at: number, fileName: string, commandLine: string, parent: string, parentCommandLine: string) =>
      this.emit('DeviceProcessEvents', {
        TimeGenerated: this.time(at, false),
        DeviceName: deviceName,
        ActionType: 'ProcessCreated',
        FileName: fileName,
        FolderPath: `/usr/bin/${fileName}`,
        ProcessCommandLine: commandLine,
        InitiatingProcessFileName: parent,
        InitiatingProcessCommandLine: parentCommandLine,
        AccountName: 'root',
      });
    const t0 = fileTime + TICKS_PER_SECOND;
    // The shell running the script is the script itself, not one of its commands.
    process(t0, managed ? 'bash' : 'dash', shell, writer, `/var/lib/waagent/${extension}/bin/${writer} enable`);
    commands.forEach((command, i) =>
      process(
        t0 + (i + 1) * (TICKS_PER_SECOND / 10),
        command.split(' ')[0]!,
        command,
        managed ? 'bash' : 'dash',
        shell,
      ),
    );
    // Another process on the machine meanwhile: not the script's.
    process(t0 + TICKS_PER_SECOND / 20, 'systemctl', 'systemctl status waagent', 'bash', '-bash');
  }

  /**
   * A planted script's Run Command operation: recorded in the day's summary, and its
   * three AzureActivity rows (Started, Accepted, Succeeded); returns when the script file
   * is written, between Accepted and Succeeded.
   */
  private plantOperation(
    rng: SeededRandom,
    run: {
      plant: Omit<PlantedScript, 'day' | 'correlationId'>;
      operation: string;
      scope: string;
      caller: { name: string; ipAddresses: readonly string[] };
      subscriptionId: string;
      resourceGroup: string;
    },
  ): { fileTime: number } {
    const correlationId = rng.uuid();
    const { path, ...where } = run.plant;
    (this.summary.planted ??= []).push({ day: this.day, path, correlationId, ...where });
    const start = rng.int(0, TICKS_PER_DAY - 40 * 60 * TICKS_PER_SECOND);
    const fileTime = start + rng.int(20 * TICKS_PER_SECOND, 120 * TICKS_PER_SECOND);
    const end = fileTime + rng.int(30 * TICKS_PER_SECOND, 200 * TICKS_PER_SECOND);
    const ip = rng.pick(run.caller.ipAddresses);
    const authorization = JSON.stringify({ action: run.operation, scope: run.scope });
    for (const [t, status] of [
      [start, 'Started'],
      [start + TICKS_PER_SECOND, 'Accepted'],
      [end, 'Succeeded'],
    ] as const)
      this.emit('AzureActivity', {
        TimeGenerated: this.time(t, false),
        OperationNameValue: run.operation,
        Authorization: authorization,
        CorrelationId: correlationId,
        Caller: run.caller.name,
        CallerIpAddress: ip,
        ActivityStatusValue: status,
        ResourceGroup: run.resourceGroup,
        SubscriptionId: run.subscriptionId,
        Category: 'Administrative',
        Level: 'Informational',
      });
    return { fileTime };
  }

  private oneOffScript(): Script {
    this.summary.operations.uniqueScripts++;
    const script = randomScript(this.rng, 8);
    // Some one-off scripts call a function of their own, as hand-written scripts do.
    if (this.rng.chance(0.5)) script.commands.push(`Invoke-Step${this.rng.int(1, 99999)}`);
    return script;
  }

  private additionalFields(command: string, scriptName: string): unknown {
    const fields = { Command: command, ScriptName: scriptName };
    if (!this.options.tricky) return fields;
    const r = this.rng.next();
    if (r < 0.05) return JSON.stringify(fields);
    if (r < 0.053) return 'not json';
    if (r < 0.056) return null;
    if (r < 0.059) return { ScriptName: scriptName };
    return fields;
  }

  /** One unrelated AzureActivity operation (1 to 3 events). */
  unrelatedOperation(): void {
    const rng = this.rng;
    const caller = rng.pick(this.tenant.callers);
    const family = rng.pick(STATUS_FAMILIES);
    const correlationId = rng.uuid();
    const ip = rng.pick(caller.ipAddresses);
    let operation = rng.weighted(NOISE_OPERATIONS);
    let scope: string;
    let resourceGroup: string;
    let subscriptionId: string;
    if (this.tricky(0.03)) {
      // Run Command on a scale set: same operation name, but no "virtualMachines" term in the scope.
      const ss = rng.pick(this.tenant.scaleSets);
      operation = RUN_COMMAND_OPERATION;
      ({ scope, resourceGroup, subscriptionId } = ss);
    } else {
      const vm: VirtualMachine = rng.pick(this.tenant.vms);
      ({ scope, resourceGroup, subscriptionId } = vm);
    }
    const authorization = JSON.stringify({ action: operation, scope });
    const statuses = [family.start, family.accept, rng.chance(0.85) ? family.success : family.failure];
    const count = rng.int(1, 3);
    let t = rng.int(0, TICKS_PER_DAY - 10 * 60 * TICKS_PER_SECOND);
    for (let i = 0; i < count; i++) {
      const status = count === 1 ? statuses[2] : i === count - 1 ? statuses[2] : statuses[i];
      this.emit('AzureActivity', {
        TimeGenerated: this.time(t, false),
        OperationNameValue: operation,
        Authorization: authorization,
        CorrelationId: correlationId,
        Caller: caller.name,
        CallerIpAddress: ip,
        ActivityStatusValue: status,
        ResourceGroup: resourceGroup,
        SubscriptionId: subscriptionId,
        Category: 'Administrative',
        Level: 'Informational',
      });
      t += rng.int(TICKS_PER_SECOND, 90 * TICKS_PER_SECOND);
    }
  }

  /** One unrelated file event. */
  unrelatedFile(): void {
    const rng = this.rng;
    const vm = rng.pick(this.tenant.vms);
    const [fileName, folder, process] = rng.pick(NOISE_FILES);
    const time = this.time(rng.int(0, TICKS_PER_DAY - 1), false);
    const actionType = rng.chance(0.8) ? 'FileCreated' : 'FileModified';
    const size = rng.int(100, 100_000);
    this.emit('DeviceFileEvents', {
      TimeGenerated: time,
      DeviceName: vm.deviceName,
      ActionType: actionType,
      FileName: fileName,
      FolderPath: `${folder}\\${fileName}`,
      SHA256: fileSha256([fileName], size, this.options.tricky),
      FileSize: size,
      InitiatingProcessFileName: process,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: 'c:\\windows\\system32',
      InitiatingProcessId: rng.int(100, 9999),
      ReportId: this.reportId++,
    });
  }

  /** One unrelated device event. */
  unrelatedEvent(): void {
    const rng = this.rng;
    const vm = rng.pick(this.tenant.vms);
    const [actionType, commandLine, process] = rng.pick(NOISE_EVENTS);
    this.emit('DeviceEvents', {
      TimeGenerated: this.time(rng.int(0, TICKS_PER_DAY - 1), false),
      DeviceName: vm.deviceName,
      ActionType: actionType,
      InitiatingProcessCommandLine: commandLine,
      InitiatingProcessFileName: process,
      AdditionalFields: { Command: rng.pick(CMDLETS) },
    });
  }

  /**
   * An administrator runs a local script that happens to be called scriptN.ps1 with the
   * Run Command command line, outside any Run Command operation: the rule's DeviceEvents
   * side cannot tell it apart and pools its commands with the real runs of that name.
   */
  lookalikeLocalScript(): void {
    const rng = this.rng;
    const vm = rng.pick(this.tenant.vms);
    const scriptName = `script${rng.int(0, 30)}.ps1`;
    const commandLine = COMMAND_LINE_FORMS[0][0](scriptName);
    let t = rng.int(0, TICKS_PER_DAY - 60 * TICKS_PER_SECOND);
    for (const command of [scriptName, ...randomScript(rng, 3).commands]) {
      this.emit('DeviceEvents', {
        TimeGenerated: this.time(t, false),
        DeviceName: vm.deviceName,
        ActionType: 'PowerShellCommand',
        InitiatingProcessCommandLine: commandLine,
        InitiatingProcessFileName: 'powershell.exe',
        AdditionalFields: { Command: command, ScriptName: scriptName },
      });
      t += rng.int(TICKS_PER_SECOND / 10, TICKS_PER_SECOND);
    }
  }
}

function resolveOptions(options: GeneratorOptions) {
  if (!Number.isInteger(options.operations) || options.operations < 0) {
    throw new RangeError(`operations must be a whole number >= 0, got ${options.operations}`);
  }
  if (!Number.isInteger(options.seed)) throw new RangeError(`seed must be a whole number, got ${options.seed}`);
  const days = options.days ?? 1;
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be a whole number >= 1, got ${days}`);
  const noiseFactor = options.noiseFactor ?? 10;
  if (!(noiseFactor >= 0)) throw new RangeError(`noiseFactor must be >= 0, got ${noiseFactor}`);
  const day = options.day ?? '2026-11-25';
  addDays(day, 0);
  return {
    seed: options.seed,
    operations: options.operations,
    day,
    days,
    noiseFactor,
    tricky: options.tricky ?? true,
    uniqueScriptShare: options.uniqueScriptShare ?? 0.25,
    vmCount: options.vmCount ?? Math.max(12, Math.ceil(options.operations / 4)),
    runOnceScriptsPerDay: options.runOnceScriptsPerDay ?? 0,
    pathScriptsPerDay: options.pathScriptsPerDay ?? 0,
  };
}

/**
 * Generates `days` consecutive tenant days. `sinkForDay(day)` gives the sink each day's
 * rows go to. The tenant (VMs, callers, routine scripts) is shared by all days, and
 * each VM's script counter keeps counting from one day to the next.
 */
export function generateDays(options: GeneratorOptions, sinkForDay: (day: string) => RowSink): GeneratedDaySummary[] {
  const o = resolveOptions(options);
  const root = new SeededRandom(o.seed);
  const tenant = buildTenant(root.fork(), { vmCount: o.vmCount, tricky: o.tricky });
  const summaries: GeneratedDaySummary[] = [];
  for (let d = 0; d < o.days; d++) {
    const day = addDays(o.day, d);
    const writer = new DayWriter(root.fork(), tenant, day, sinkForDay(day), o);
    const rng = new SeededRandom(o.seed ^ (0x5bd1e995 * (d + 1)));
    // Per Run Command operation: ~noiseFactor unrelated operations, files, and events
    // (an operation logs ~5 PowerShell events, so 5 x noiseFactor unrelated events).
    let noiseOps = 0;
    let noiseFiles = 0;
    let noiseEvents = 0;
    for (let i = 0; i < o.operations; i++) {
      writer.runCommandOperation();
      noiseOps += o.noiseFactor;
      noiseFiles += o.noiseFactor;
      noiseEvents += 5 * o.noiseFactor;
      for (; noiseOps >= 1; noiseOps--) writer.unrelatedOperation();
      for (; noiseFiles >= 1; noiseFiles--) writer.unrelatedFile();
      for (; noiseEvents >= 1; noiseEvents--) writer.unrelatedEvent();
      if (o.tricky && rng.chance(0.02)) writer.lookalikeLocalScript();
    }
    for (let i = 0; i < o.runOnceScriptsPerDay; i++) {
      writer.runCommandOperation({ marker: `Invoke-RunOnce${day.replaceAll('-', '')}n${i}` });
    }
    if (o.pathScriptsPerDay > 0) {
      // A generator of their own: the rows above are those of the same options without them.
      const pathRng = new SeededRandom((o.seed ^ (0x2545f491 * (d + 1))) >>> 0);
      for (const path of PLANTED_PATHS) {
        if (path === 'vm-action') continue;
        for (let i = 0; i < o.pathScriptsPerDay; i++) {
          writer.plantOnPath(
            pathRng,
            path,
            `Invoke-${path.replace(/-(.)/g, (_, c: string) => c.toUpperCase())}Once${day.replaceAll('-', '')}n${i}`,
            i,
          );
        }
      }
    }
    summaries.push(writer.summary);
  }
  return summaries;
}

/** The rows of one generated day, in memory (for tests and small days). */
export type GeneratedDay = { [T in GeneratedTable]: GeneratedRows[T][] } & { summary: GeneratedDaySummary };

/** Generates the days in memory; use `writeDays` for large days. */
export function generateDayRows(options: GeneratorOptions): GeneratedDay[] {
  const days: GeneratedDay[] = [];
  const summaries = generateDays(options, () => {
    const day = {
      AzureActivity: [],
      DeviceFileEvents: [],
      DeviceEvents: [],
      DeviceProcessEvents: [],
    } as unknown as GeneratedDay;
    days.push(day);
    return {
      row(table, row) {
        (day[table] as unknown[]).push(row);
      },
    };
  });
  summaries.forEach((s, i) => (days[i].summary = s));
  return days;
}
