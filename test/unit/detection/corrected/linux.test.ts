/**
 * Corrected mode on Linux machines (issue 16): action Run Command (RunCommandLinux:
 * `run-command-extension` writes `/var/lib/waagent/run-command/download/<n>/script.sh`
 * and runs `/bin/sh -c <path>`) and managed Run Command (RunCommandHandlerLinux:
 * `run-command-handler` writes `…/run-command-handler/download/<name>/<n>/script.sh`
 * and runs `/bin/bash -c <path>`). The script's commands are the processes it starts
 * (DeviceProcessEvents); parity mode reads no DeviceProcessEvents.
 */
import {
  correctedFingerprint,
  detectCorrected,
  MemoryBaseline,
  type ScriptFindingDetails,
} from '../../../../src/detection/corrected';
import { toLinuxScriptCommand } from '../../../../src/detection/corrected/linux';
import { createDetector, addTables } from '../../../../src/detection/detector';
import { detectParity } from '../../../../src/detection';
import type {
  AzureActivityRow,
  DeviceEventsRow,
  DeviceFileEventsRow,
  DeviceProcessEventsRow,
} from '../../../../src/detection/schema';

const VM =
  '/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-linux/providers/Microsoft.Compute/virtualMachines';
const ACTION = 'Microsoft.Compute/virtualMachines/runCommand/action';
const MANAGED = 'Microsoft.Compute/virtualMachines/runCommands/write';

interface Tables {
  AzureActivity: AzureActivityRow[];
  DeviceFileEvents: DeviceFileEventsRow[];
  DeviceEvents: DeviceEventsRow[];
  DeviceProcessEvents: DeviceProcessEventsRow[];
}
const empty = (): Tables => ({ AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [], DeviceProcessEvents: [] });

interface LinuxRun {
  managed?: boolean;
  vm: string;
  /** HH:MM of the operation's start; it lasts 50 s. */
  at: string;
  device?: string;
  seq?: number;
  commands?: string[];
  /** The writer of script.sh (default: the extension's binary). */
  writer?: string;
  size?: number;
  /** Seconds added to every time of the run (two runs in one minute). */
  offset?: number;
}

function linuxRun(t: Tables, r: LinuxRun): string {
  const at = (s: number) => `2026-11-25T${r.at}:${String(s + (r.offset ?? 0)).padStart(2, '0')}.0000000Z`;
  const operation = r.managed ? MANAGED : ACTION;
  const scope = r.managed ? `${VM}/${r.vm}/runCommands/rc-patch` : `${VM}/${r.vm}`;
  const correlationId = `${r.vm}-${r.at}-${r.offset ?? 0}`;
  for (const [s, status] of [
    [0, 'Started'],
    [2, 'Accepted'],
    [50, 'Succeeded'],
  ] as const)
    t.AzureActivity.push({
      TimeGenerated: at(s),
      OperationNameValue: operation,
      Authorization: JSON.stringify({ action: operation, scope }),
      CorrelationId: correlationId,
      Caller: 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    });
  const device = r.device ?? r.vm;
  const seq = r.seq ?? 0;
  const path = r.managed
    ? `/var/lib/waagent/run-command-handler/download/rc-patch/${seq}/script.sh`
    : `/var/lib/waagent/run-command/download/${seq}/script.sh`;
  const writer = r.writer ?? (r.managed ? 'run-command-handler' : 'run-command-extension');
  t.DeviceFileEvents.push({
    TimeGenerated: at(10),
    DeviceName: device,
    InitiatingProcessFileName: writer,
    FileName: 'script.sh',
    FileSize: r.size ?? 120,
    InitiatingProcessAccountName: 'root',
    InitiatingProcessAccountDomain: r.vm,
    InitiatingProcessFolderPath: `/var/lib/waagent/Microsoft.CPlat.Core.RunCommandLinux-1.0.12/bin/${writer}`,
    InitiatingProcessId: 4242,
  });
  const shell = r.managed ? `/bin/bash -c ${path}` : `/bin/sh -c ${path}`;
  const process = (s: number, commandLine: string, parent: string): void => {
    t.DeviceProcessEvents.push({
      TimeGenerated: at(s),
      DeviceName: device,
      FileName: commandLine.split(' ')[0]!,
      ProcessCommandLine: commandLine,
      InitiatingProcessFileName: parent.split(' ')[0]!,
      InitiatingProcessCommandLine: parent,
    });
  };
  // The shell running the script is the script itself; then the processes it starts.
  process(11, shell, `/var/lib/waagent/bin/${writer} enable`);
  (r.commands ?? ['id -un', 'uname -a']).forEach((c, i) => process(12 + i, c, shell));
  return correlationId;
}

const OPTIONS = {
  windowStart: '2026-11-25T00:00:00.0000000Z',
  baselineDays: 14,
  baseline: new MemoryBaseline().current,
};

describe('Linux Run Command script commands (DeviceProcessEvents)', () => {
  const row = (commandLine: string, parent: string): DeviceProcessEventsRow => ({
    TimeGenerated: '2026-11-25T10:00:00.0000000Z',
    DeviceName: 'lnx01',
    FileName: 'x',
    ProcessCommandLine: commandLine,
    InitiatingProcessFileName: 'sh',
    InitiatingProcessCommandLine: parent,
  });

  it('takes a process started by an action or managed script, with the script path', () => {
    expect(toLinuxScriptCommand(row('id -un', '/bin/sh -c /var/lib/waagent/run-command/download/3/script.sh'))).toEqual(
      {
        handler: 'RunCommandLinux',
        scriptPath: '/var/lib/waagent/run-command/download/3/script.sh',
        command: 'id -un',
      },
    );
    expect(
      toLinuxScriptCommand(
        row('df -h', '/bin/bash -c /var/lib/waagent/run-command-handler/download/rc-x/0/script.sh --verbose'),
      ),
    ).toMatchObject({
      handler: 'RunCommandHandlerLinux',
      scriptPath: '/var/lib/waagent/run-command-handler/download/rc-x/0/script.sh',
    });
    // RunAsUser: the copy under the user's home, run through sudo.
    expect(
      toLinuxScriptCommand(
        row('whoami', '/bin/bash /home/ops/waagent/run-command-handler-runas/download/rc-x/1/script.sh'),
      ),
    ).toMatchObject({ handler: 'RunCommandHandlerLinux' });
  });

  it('drops the shell that runs the script itself, and processes of other parents', () => {
    const path = '/var/lib/waagent/run-command/download/3/script.sh';
    expect(toLinuxScriptCommand(row(`/bin/bash ${path}`, `/bin/sh -c ${path}`))).toBeNull();
    expect(toLinuxScriptCommand(row('id -un', '-bash'))).toBeNull();
    expect(toLinuxScriptCommand(row('id -un', '/bin/sh -c /tmp/run-command/download/3/script.sh'))).toBeNull();
    // Linux paths are case-sensitive.
    expect(toLinuxScriptCommand(row('id', '/bin/sh -c /var/lib/waagent/Run-Command/download/3/script.sh'))).toBeNull();
  });
});

describe('corrected mode on Linux paths', () => {
  it.each([
    ['action Run Command (RunCommandLinux)', false],
    ['managed Run Command (RunCommandHandlerLinux)', true],
  ])('finds a new script run by %s', (_label, managed) => {
    const t = empty();
    const id = linuxRun(t, {
      managed,
      vm: 'lnx-web01',
      device: 'lnx-web01.internal.cloudapp.net',
      at: '10:00',
      seq: 7,
      commands: ['useradd -m svc', 'id -un'],
    });
    const { findings, executions } = detectCorrected(t, OPTIONS);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.kind).toBe('script');
    expect(f.finding.VirtualMachineName).toBe('lnx-web01');
    expect(f.finding.PowershellFileName).toBe('script.sh');
    // The processes' command lines as is (Linux is case-sensitive), ordinal order; the shell is not one.
    expect(f.finding.PowershellScriptCommands).toEqual(['id -un', 'useradd -m svc']);
    expect(f.finding.ScriptFingerprintHash).toBe(correctedFingerprint(['id -un', 'useradd -m svc'], 120));
    const details = f.details as ScriptFindingDetails;
    expect(details.RunCommandPath).toBe(managed ? 'vm-managed' : 'vm-action');
    expect(details.ScriptPath).toBe(
      managed
        ? '/var/lib/waagent/run-command-handler/download/rc-patch/7/script.sh'
        : '/var/lib/waagent/run-command/download/7/script.sh',
    );
    expect(details.CorrelationId).toBe(id);
    expect(executions).toHaveLength(1);
  });

  it('the same commands in another size are another script; the same script the next day is known', () => {
    const t = empty();
    linuxRun(t, { vm: 'lnx01', at: '10:00', seq: 1 });
    linuxRun(t, { vm: 'lnx02', at: '10:00', seq: 1 });
    linuxRun(t, { vm: 'lnx03', at: '11:00', seq: 1, size: 121 });
    const { executions, findings, observations } = detectCorrected(t, OPTIONS);
    expect(new Set(executions.map((e) => e.ScriptFingerprintHash)).size).toBe(2);
    // New in the window: all three executions are findings (no baseline yet).
    expect(findings).toHaveLength(3);
    // The next day, with this day in the baseline: the same script is known, a new one is not.
    const baseline = new MemoryBaseline();
    baseline.record(observations, '2026-11-26T00:00:00.0000000Z', 14);
    const next = empty();
    linuxRun(next, { vm: 'lnx04', at: '10:00', seq: 2 });
    linuxRun(next, { vm: 'lnx04', at: '12:00', seq: 3, commands: ['tar czf /tmp/etc.tgz /etc'] });
    for (const r of [...next.AzureActivity, ...next.DeviceFileEvents, ...next.DeviceProcessEvents])
      r.TimeGenerated = r.TimeGenerated!.replace('2026-11-25', '2026-11-26');
    const nextDay = detectCorrected(next, {
      ...OPTIONS,
      windowStart: '2026-11-26T00:00:00.0000000Z',
      baseline: baseline.current,
    });
    expect(nextDay.findings.map((f) => f.finding.PowershellScriptCommands)).toEqual([['tar czf /tmp/etc.tgz /etc']]);
  });

  it('two runs on one machine in overlapping windows each take their own script run', () => {
    const t = empty();
    linuxRun(t, { vm: 'lnx01', at: '10:00', seq: 1, commands: ['id -un'] });
    // Starts 5 s into the first: each window holds both script files and both runs' commands.
    linuxRun(t, { vm: 'lnx01', at: '10:00', seq: 2, commands: ['crontab -l'], offset: 5 });
    const { executions } = detectCorrected(t, OPTIONS);
    expect(executions.map((e) => e.PowershellScriptCommands)).toEqual([['id -un'], ['crontab -l']]);
  });

  it('a script file with no process events is a control-plane finding (no-script-commands)', () => {
    const t = empty();
    linuxRun(t, { vm: 'lnx01', at: '10:00' });
    t.DeviceProcessEvents = [];
    const { findings } = detectCorrected(t, OPTIONS);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.kind).toBe('control-plane');
    expect(findings[0]!.details).toMatchObject({
      MissingEvidence: 'no-script-commands',
      ScriptFile: { FileName: 'script.sh' },
    });
  });

  it('a script.sh not written by a Run Command extension is not a Run Command script', () => {
    const t = empty();
    linuxRun(t, { vm: 'lnx01', at: '10:00', writer: 'vim' });
    const { findings } = detectCorrected(t, OPTIONS);
    expect(findings.map((f) => [f.kind, (f.details as { MissingEvidence?: string }).MissingEvidence])).toEqual([
      ['control-plane', 'no-script-file'],
    ]);
  });

  it('parity mode reads no DeviceProcessEvents: a Linux run is not a finding, and the rows change nothing', () => {
    const t = empty();
    linuxRun(t, { vm: 'lnx01', at: '10:00' });
    expect(detectParity(t)).toEqual([]);
    const parity = createDetector('parity');
    expect(parity.isRelevant('DeviceProcessEvents', t.DeviceProcessEvents[1]!)).toBe(false);
    addTables(parity, t);
    expect(parity.finish().findings).toEqual([]);
    const corrected = createDetector('corrected', OPTIONS);
    expect(corrected.isRelevant('DeviceProcessEvents', t.DeviceProcessEvents[1]!)).toBe(true);
    addTables(corrected, t);
    expect(corrected.finish().findings.map((f) => f.kind)).toEqual(['script']);
  });
});
