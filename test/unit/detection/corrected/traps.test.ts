/**
 * Corrected mode fixes each trap of the published rule (docs/kql-semantics.md, "Traps"),
 * one test per trap: each builds a small tenant where parity mode (the rule as
 * published) goes wrong, and shows what corrected mode returns instead.
 */
import { detectParity } from '../../../../src/detection';
import {
  correctedFingerprint,
  detectCorrected,
  MemoryBaseline,
  type Baseline,
} from '../../../../src/detection/corrected';
import type { AzureActivityRow, DeviceEventsRow, DeviceFileEventsRow } from '../../../../src/detection/schema';

const OP = 'Microsoft.Compute/virtualMachines/runCommand/action';
const scopeOf = (vm: string) =>
  `/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/${vm}`;

interface Tables {
  AzureActivity: AzureActivityRow[];
  DeviceFileEvents: DeviceFileEventsRow[];
  DeviceEvents: DeviceEventsRow[];
}

const empty = (): Tables => ({ AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] });

interface RunSpec {
  day?: string;
  /** HH:MM of the operation's start; the script runs a few seconds later. */
  at: string;
  armName: string;
  deviceName?: string;
  script?: string;
  commands: string[];
  size?: number;
  extensionProcess?: string;
  correlationId?: string;
  commandLine?: string;
}

/** Adds one successful Run Command operation with its script file and PowerShell events. */
function runCommand(t: Tables, spec: RunSpec): void {
  const day = spec.day ?? '2026-11-25';
  const at = (seconds: number) => `${day}T${spec.at}:${String(seconds).padStart(2, '0')}.0000000Z`;
  const script = spec.script ?? 'script0.ps1';
  const device = spec.deviceName ?? spec.armName;
  const correlationId = spec.correlationId ?? `${day}-${spec.at}-${spec.armName}`;
  for (const [s, status] of [
    [0, 'Started'],
    [2, 'Accepted'],
    [50, 'Succeeded'],
  ] as const) {
    t.AzureActivity.push({
      TimeGenerated: at(s),
      OperationNameValue: OP,
      Authorization: JSON.stringify({ action: OP, scope: scopeOf(spec.armName) }),
      CorrelationId: correlationId,
      Caller: 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    });
  }
  t.DeviceFileEvents.push({
    TimeGenerated: at(10),
    DeviceName: device,
    InitiatingProcessFileName: spec.extensionProcess ?? 'RunCommandExtension.exe',
    FileName: script,
    FileSize: spec.size ?? 100,
    InitiatingProcessAccountName: 'system',
    InitiatingProcessAccountDomain: 'nt authority',
    InitiatingProcessFolderPath: 'c:\\packages\\runcommandextension.exe',
    InitiatingProcessId: 4301,
  });
  [script, ...spec.commands].forEach((command, i) =>
    t.DeviceEvents.push({
      TimeGenerated: at(12 + i),
      DeviceName: device,
      InitiatingProcessCommandLine: spec.commandLine ?? `powershell  -ExecutionPolicy Unrestricted -File ${script}`,
      AdditionalFields: { Command: command },
    }),
  );
}

const WINDOW = '2026-11-25T00:00:00.0000000Z';
const nextDay = (d: string) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10) + 'T00:00:00.0000000Z';
const corrected = (t: Tables, baseline: Baseline = new Map(), windowStart = WINDOW, baselineDays = 14) =>
  detectCorrected(t, { windowStart, baselineDays, baseline });

describe('corrected mode fixes the traps of the published rule', () => {
  it('trap 1: the fingerprint covers the file size, not only the commands', () => {
    // Day 1: a routine script of 100 bytes. Day 2: the same commands from a 4,000-byte
    // file (the script grew: more code between the same cmdlets).
    const day1 = empty();
    runCommand(day1, { at: '04:00', armName: 'web01', commands: ['Get-Service'], size: 100 });
    const day2 = empty();
    runCommand(day2, {
      day: '2026-11-26',
      at: '04:00',
      armName: 'web01',
      commands: ['Get-Service'],
      size: 4000,
    });
    // Parity: the size is never hashed, both days give the same fingerprint.
    expect(detectParity(day1)[0]!.ScriptFingerprintHash).toBe(detectParity(day2)[0]!.ScriptFingerprintHash);
    // Corrected: different sizes, different fingerprints; with day 1 in the baseline, day 2 is still new.
    const baseline = new MemoryBaseline();
    const r1 = corrected(day1, baseline.current);
    baseline.record(r1.observations, '2026-11-26T00:00:00.0000000Z', 14);
    const r2 = corrected(day2, baseline.current, '2026-11-26T00:00:00.0000000Z');
    expect(r2.findings.map((f) => f.finding.PowershellFileSize)).toEqual([4000]);
    expect(r2.findings[0]!.finding.ScriptFingerprintHash).toBe(correctedFingerprint(['GET-SERVICE'], 4000));
    expect(correctedFingerprint(['GET-SERVICE'], 4000)).not.toBe(correctedFingerprint(['GET-SERVICE'], 100));
  });

  it('trap 2: script0.ps1 on two VMs is two executions, not one pooled command list', () => {
    const t = empty();
    runCommand(t, { at: '04:00', armName: 'web01', commands: ['Get-Service'] });
    runCommand(t, { at: '05:00', armName: 'sql01', commands: ['Invoke-WebRequest', 'Invoke-Expression'] });
    // Parity: both VMs' commands pooled into one list, which both rows join: HashCount 2, no finding,
    // and the list mixes the two VMs' commands.
    expect(detectParity(t)).toEqual([]);
    const r = corrected(t);
    expect(r.findings.map((f) => [f.finding.VirtualMachineName, f.finding.PowershellScriptCommands])).toEqual([
      ['web01', ['GET-SERVICE']],
      ['sql01', ['INVOKE-EXPRESSION', 'INVOKE-WEBREQUEST']],
    ]);
  });

  it('trap 3: Web01 in ARM meets web01.contoso.com in Defender', () => {
    const t = empty();
    runCommand(t, { at: '04:00', armName: 'Web01', deviceName: 'web01.contoso.com', commands: ['Get-Process'] });
    expect(detectParity(t)).toEqual([]);
    const r = corrected(t);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.finding).toMatchObject({ VirtualMachineName: 'Web01', Scope: scopeOf('Web01') });
    expect(r.findings[0]!.details.DeviceName).toBe('web01.contoso.com');
  });

  it('trap 4: InitiatingProcessFileName is compared case-insensitively', () => {
    const t = empty();
    runCommand(t, {
      at: '04:00',
      armName: 'web01',
      commands: ['Get-Process'],
      extensionProcess: 'runcommandextension.exe',
    });
    expect(detectParity(t)).toEqual([]);
    expect(corrected(t).findings.map((f) => f.finding.PowershellScriptCommands)).toEqual([['GET-PROCESS']]);
  });

  it('trap 5: a script seen in the last BASELINE_DAYS is not new again; past the horizon it is', () => {
    const daily = (day: string) => {
      const t = empty();
      runCommand(t, { day, at: '03:00', armName: 'app01', commands: ['Get-HotFix'] });
      return t;
    };
    const days = ['2026-11-25', '2026-11-26', '2026-11-27'];
    // Parity alerts on the same script every day.
    expect(days.map((d) => detectParity(daily(d)).length)).toEqual([1, 1, 1]);
    const baseline = new MemoryBaseline();
    const found = days.map((d) => {
      const r = corrected(daily(d), baseline.current, `${d}T00:00:00.0000000Z`, 14);
      baseline.record(r.observations, nextDay(d), 14);
      return r.findings.length;
    });
    expect(found).toEqual([1, 0, 0]);
    expect(baseline.current.get(correctedFingerprint(['GET-HOTFIX'], 100))).toMatchObject({
      firstSeen: '2026-11-25T03:00:00.0000000Z',
      lastSeen: '2026-11-27T03:00:00.0000000Z',
      count: 3,
      exampleVirtualMachine: 'app01',
    });
    // Re-running a window whose observations are already stored gives the same findings.
    expect(corrected(daily('2026-11-25'), baseline.current, '2026-11-25T00:00:00.0000000Z').findings).toHaveLength(1);

    // BASELINE_DAYS=2: seen on the 25th and 26th, then not for two days.
    const short = new MemoryBaseline();
    for (const d of ['2026-11-25', '2026-11-26']) {
      const r = corrected(daily(d), short.current, `${d}T00:00:00.0000000Z`, 2);
      expect(r.findings).toHaveLength(d === '2026-11-25' ? 1 : 0);
      short.record(r.observations, nextDay(d), 2);
    }
    // The baseline holds the script's fingerprint and the (caller, VM) pair of its operation.
    short.record([], nextDay('2026-11-27'), 2); // nothing on the 27th: last seen the 26th, inside [26th, 28th)
    expect(short.current.size).toBe(2);
    expect(short.current.has(correctedFingerprint(['GET-HOTFIX'], 100))).toBe(true);
    short.record([], nextDay('2026-11-28'), 2); // nothing on the 28th: behind the horizon [27th, 29th), forgotten
    expect(short.current.size).toBe(0);
    const again = corrected(daily('2026-11-29'), short.current, '2026-11-29T00:00:00.0000000Z', 2);
    expect(again.findings).toHaveLength(1);
    expect(again.findings[0]!.details.LastSeenBeforeHorizon).toBeNull();
  });

  it('trap 6: Prevalence is the share of the window executions carrying the fingerprint', () => {
    const t = empty();
    // A new script on three VMs (lateral movement), and one routine script on a fourth.
    for (const [i, vm] of ['app01', 'app02', 'app03'].entries())
      runCommand(t, { at: `0${i + 1}:00`, armName: vm, script: `script${i}.ps1`, commands: ['Invoke-WebRequest'] });
    runCommand(t, { at: '06:00', armName: 'web01', script: 'script7.ps1', commands: ['Get-Service'] });
    // Parity: a prevalence is only ever 100 / totals, on rows with HashCount 1.
    const parity = detectParity(t);
    expect(parity.map((f) => f.Prevalence)).toEqual([25]);
    // Corrected: the routine script is in the baseline; the new one is found on all three VMs, at 75%.
    const routine = correctedFingerprint(['GET-SERVICE'], 100);
    const baseline = new Map([
      [
        routine,
        {
          fingerprint: routine,
          firstSeen: '2026-11-20T06:00:00.0000000Z',
          lastSeen: '2026-11-24T06:00:00.0000000Z',
          count: 5,
          exampleVirtualMachine: 'web01',
          exampleScope: scopeOf('web01'),
        },
      ],
    ]);
    const r = corrected(t, baseline);
    expect(r.findings.map((f) => [f.finding.VirtualMachineName, f.finding.Prevalence])).toEqual([
      ['app01', 75],
      ['app02', 75],
      ['app03', 75],
    ]);
    expect(r.findings[0]!.details).toMatchObject({ FingerprintExecutionsInWindow: 3, ExecutionsInWindow: 4 });
    expect(r.stages).toMatchObject({ executions: 4, fingerprints: 2, knownExecutions: 1, findings: 3 });
  });

  it('beyond the listed traps: -file (any case of the parameter) and an Authorization text that changes', () => {
    const t = empty();
    runCommand(t, {
      at: '04:00',
      armName: 'web01',
      commands: ['Get-Process'],
      commandLine: 'powershell -ExecutionPolicy Unrestricted -file script0.ps1',
    });
    // The last event of an operation carries another role in its Authorization text.
    runCommand(t, { at: '05:00', armName: 'sql01', script: 'script4.ps1', commands: ['Get-Disk'] });
    const last = t.AzureActivity[5]!;
    last.Authorization = JSON.stringify({ action: OP, scope: scopeOf('sql01'), evidence: { role: 'Owner' } });
    expect(detectParity(t)).toEqual([]);
    expect(
      corrected(t).findings.map((f) => [f.finding.VirtualMachineName, f.finding.PowershellScriptCommands]),
    ).toEqual([
      ['web01', ['GET-PROCESS']],
      ['sql01', ['GET-DISK']],
    ]);
  });

  it('two overlapping operations on one VM: each takes its own script file, the earliest in its window', () => {
    const t = empty();
    runCommand(t, { at: '04:00', armName: 'web01', script: 'script5.ps1', commands: ['Get-Service'] });
    runCommand(t, { at: '04:00', armName: 'web01', script: 'script6.ps1', commands: ['Get-Disk'], correlationId: 'b' });
    // The second operation's events, file and commands come a few seconds after the first's.
    const shift = (x: string) =>
      x.replace(/:(\d\d)\.0000000Z$/, (_, sec: string) => `:${String(Number(sec) + 5).padStart(2, '0')}.0000000Z`);
    for (const r of t.AzureActivity.slice(3)) r.TimeGenerated = shift(r.TimeGenerated!);
    t.DeviceFileEvents[1]!.TimeGenerated = shift(t.DeviceFileEvents[1]!.TimeGenerated!);
    for (const r of t.DeviceEvents.slice(2)) r.TimeGenerated = shift(r.TimeGenerated!);
    const r = corrected(t);
    expect(r.executions.map((e) => [e.CorrelationId, e.PowershellFileName, e.PowershellScriptCommands])).toEqual([
      ['2026-11-25-04:00-web01', 'script5.ps1', ['GET-SERVICE']],
      ['b', 'script6.ps1', ['GET-DISK']],
    ]);
  });
});
