/**
 * Script identity (issue 16 point 3): where DeviceFileEvents has the script file's
 * SHA256, corrected mode's fingerprint is that hash and the baseline keys on it; else
 * the commands and size, as before. Both modes carry the joined file's folder and hash
 * as the finding's evidence, beside the rule's 14 columns, which parity leaves exactly
 * as the rule returns them.
 */
import { createDetector, addTables, detectParity, scriptFolderOf, sha256Of } from '../../../../src/detection';
import {
  callerTargetKey,
  correctedFingerprint,
  detectCorrected,
  MemoryBaseline,
  scriptFingerprintOf,
  type Baseline,
} from '../../../../src/detection/corrected';
import type { AzureActivityRow, DeviceEventsRow, DeviceFileEventsRow } from '../../../../src/detection/schema';

const OP = 'Microsoft.Compute/virtualMachines/runCommand/action';
const scopeOf = (vm: string) =>
  `/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/${vm}`;
const FOLDER = 'C:\\Packages\\Plugins\\Microsoft.CPlat.Core.RunCommandWindows\\1.1.18\\Downloads';
const HASH_A = 'A'.repeat(64);
const HASH_B = 'b'.repeat(64);

interface Tables {
  AzureActivity: AzureActivityRow[];
  DeviceFileEvents: DeviceFileEventsRow[];
  DeviceEvents: DeviceEventsRow[];
}
const empty = (): Tables => ({ AzureActivity: [], DeviceFileEvents: [], DeviceEvents: [] });

/** One successful Run Command on `vm` at `day` `hh:mm`, its script file (with the given SHA256/FolderPath cells, or none) and commands. */
function run(
  t: Tables,
  spec: { day?: string; at: string; vm: string; commands: string[]; size?: number; sha256?: string; folder?: string },
): void {
  const day = spec.day ?? '2026-11-25';
  const at = (s: number) => `${day}T${spec.at}:${String(s).padStart(2, '0')}.0000000Z`;
  const script = 'script0.ps1';
  for (const [s, status] of [
    [0, 'Started'],
    [50, 'Succeeded'],
  ] as const)
    t.AzureActivity.push({
      TimeGenerated: at(s),
      OperationNameValue: OP,
      Authorization: JSON.stringify({ action: OP, scope: scopeOf(spec.vm) }),
      CorrelationId: `${day}-${spec.at}-${spec.vm}`,
      Caller: 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    });
  t.DeviceFileEvents.push({
    TimeGenerated: at(10),
    DeviceName: spec.vm,
    InitiatingProcessFileName: 'RunCommandExtension.exe',
    FileName: script,
    FileSize: spec.size ?? 100,
    InitiatingProcessAccountName: 'system',
    InitiatingProcessAccountDomain: 'nt authority',
    InitiatingProcessFolderPath: 'c:\\packages\\runcommandextension.exe',
    InitiatingProcessId: 4301,
    ...(spec.sha256 !== undefined ? { SHA256: spec.sha256 } : {}),
    ...(spec.folder !== undefined ? { FolderPath: spec.folder } : {}),
  });
  [script, ...spec.commands].forEach((command, i) =>
    t.DeviceEvents.push({
      TimeGenerated: at(12 + i),
      DeviceName: spec.vm,
      InitiatingProcessCommandLine: `powershell  -ExecutionPolicy Unrestricted -File ${script}`,
      AdditionalFields: { Command: command },
    }),
  );
}

const DAY1 = '2026-11-25T00:00:00.0000000Z';
const DAY2 = '2026-11-26T00:00:00.0000000Z';
const corrected = (t: Tables, baseline: Baseline = new Map(), windowStart = DAY1) =>
  detectCorrected(t, { windowStart, baselineDays: 14, baseline });

/** Day 1 then day 2 through a baseline, as the job runs them: day 2's result. */
function twoDays(day1: Tables, day2: Tables) {
  const baseline = new MemoryBaseline();
  baseline.record(corrected(day1).observations, DAY2, 14);
  return corrected(day2, baseline.current, DAY2);
}

describe('script identity: the file SHA256 where DeviceFileEvents has it', () => {
  it('is the corrected fingerprint (lower case), and the finding carries it and the folder', () => {
    const t = empty();
    run(t, { at: '04:00', vm: 'web01', commands: ['Get-Service'], sha256: HASH_A, folder: `${FOLDER}\\script0.ps1` });
    const [f] = corrected(t).findings;
    expect(f!.finding.ScriptFingerprintHash).toBe('a'.repeat(64));
    expect(f!.evidence).toEqual({ ScriptSha256: 'a'.repeat(64), ScriptFolderPath: FOLDER });
  });

  it('without a hash (column absent, empty or not a SHA256), the commands and size, as before', () => {
    for (const sha256 of [undefined, '', 'not-a-hash', 'a'.repeat(63)]) {
      const t = empty();
      run(t, { at: '04:00', vm: 'web01', commands: ['Get-Service'], size: 120, sha256 });
      const [f] = corrected(t).findings;
      expect(f!.finding.ScriptFingerprintHash).toBe(correctedFingerprint(['GET-SERVICE'], 120));
      expect(f!.evidence.ScriptSha256).toBe('');
    }
    expect(scriptFingerprintOf('', ['X'], 1)).toBe(correctedFingerprint(['X'], 1));
  });

  it('two scripts with the same cmdlets and size but other content are told apart by their hashes', () => {
    // A routine script, and one with the same commands and size pointed at another URL.
    const day1 = empty();
    run(day1, { at: '04:00', vm: 'web01', commands: ['Invoke-WebRequest'], sha256: HASH_A });
    const day2 = empty();
    run(day2, { day: '2026-11-26', at: '04:00', vm: 'web01', commands: ['Invoke-WebRequest'], sha256: HASH_B });
    expect(twoDays(day1, day2).findings.map((f) => f.finding.ScriptFingerprintHash)).toEqual([HASH_B]);
    // Without the hashes, commands and size alone call day 2's script known.
    const plain = (t: Tables) => ({
      ...t,
      DeviceFileEvents: t.DeviceFileEvents.map(({ SHA256: _hash, ...row }) => row),
    });
    expect(twoDays(plain(day1), plain(day2)).findings).toEqual([]);
  });

  it('the same file is known by its hash even when PowerShell logged its commands differently', () => {
    const day1 = empty();
    run(day1, { at: '04:00', vm: 'web01', commands: ['Get-Service', 'Get-Process'], sha256: HASH_A });
    const day2 = empty();
    // A command's event lost its Command field: the command list differs, the file is the same.
    run(day2, { day: '2026-11-26', at: '04:00', vm: 'web01', commands: ['Get-Service', ''], sha256: HASH_A });
    expect(twoDays(day1, day2).findings).toEqual([]);
  });

  it('a run whose file event lacks the hash is known from an earlier run of that script that had one', () => {
    const day1 = empty();
    run(day1, { at: '04:00', vm: 'web01', commands: ['Get-Service'], size: 100, sha256: HASH_A });
    const day2 = empty();
    run(day2, { day: '2026-11-26', at: '04:00', vm: 'web02', commands: ['Get-Service'], size: 100 });
    run(day2, { day: '2026-11-26', at: '05:00', vm: 'web03', commands: ['Get-Service'], size: 101 });
    const r = twoDays(day1, day2);
    expect(r.findings.map((f) => [f.finding.VirtualMachineName, f.finding.ScriptFingerprintHash])).toEqual([
      ['web03', correctedFingerprint(['GET-SERVICE'], 101)],
    ]);
  });

  it('a run with a hash the baseline never saw is new, even if its commands and size are known', () => {
    const day1 = empty();
    run(day1, { at: '04:00', vm: 'web01', commands: ['Get-Service'], size: 100 });
    const day2 = empty();
    run(day2, { day: '2026-11-26', at: '04:00', vm: 'web01', commands: ['Get-Service'], size: 100, sha256: HASH_B });
    expect(twoDays(day1, day2).findings.map((f) => f.finding.ScriptFingerprintHash)).toEqual([HASH_B]);
  });

  it("stores one observation per key: the hash, and the hashed run's commands-and-size key", () => {
    const t = empty();
    run(t, { at: '04:00', vm: 'web01', commands: ['Get-Service'], sha256: HASH_A });
    run(t, { at: '05:00', vm: 'web02', commands: ['Get-Service'] });
    const r = corrected(t);
    const keys = r.observations.map((o) => o.fingerprint);
    expect(new Set(keys).size).toBe(keys.length);
    const fallback = correctedFingerprint(['GET-SERVICE'], 100);
    const pairs = new Set(['web01', 'web02'].map((vm) => callerTargetKey('alice@contoso.com', scopeOf(vm))));
    const scripts = r.observations.filter((o) => !pairs.has(o.fingerprint));
    expect(Object.fromEntries(scripts.map((o) => [o.fingerprint, o.count]))).toEqual({
      ['a'.repeat(64)]: 1,
      [fallback]: 2,
    });
    // The window's share counts each run under its own fingerprint only.
    expect(
      r.findings.map((f) => f.details.FindingKind === 'script' && f.details.FingerprintExecutionsInWindow),
    ).toEqual([1, 1]);
  });
});

describe('parity mode with the optional columns', () => {
  it("returns exactly the rule's rows with or without them, and carries the joined file's evidence", () => {
    const withColumns = empty();
    run(withColumns, {
      at: '04:00',
      vm: 'web01',
      commands: ['Get-Service'],
      sha256: HASH_A,
      folder: `${FOLDER}\\script0.ps1`,
    });
    const without = empty();
    run(without, { at: '04:00', vm: 'web01', commands: ['Get-Service'] });
    expect(detectParity(withColumns)).toEqual(detectParity(without));
    const detector = createDetector('parity');
    addTables(detector, withColumns);
    const [f] = detector.finish().findings;
    expect(f!.evidence).toEqual({ ScriptSha256: 'a'.repeat(64), ScriptFolderPath: FOLDER });
    expect(f!.finding.ScriptFingerprintHash).not.toBe('a'.repeat(64));
  });
});

describe('evidence cells', () => {
  it('sha256Of keeps 64 hex digits, lower-cased, and nothing else', () => {
    expect(sha256Of(` ${HASH_A} `)).toBe('a'.repeat(64));
    expect(sha256Of('')).toBe('');
    expect(sha256Of('g'.repeat(64))).toBe('');
  });

  it('scriptFolderOf cuts a trailing file name (any case, either separator), else keeps the folder', () => {
    expect(scriptFolderOf(`${FOLDER}\\SCRIPT0.PS1`, 'script0.ps1')).toBe(FOLDER);
    expect(scriptFolderOf('/var/lib/waagent/run-command/download/3/script.sh', 'script.sh')).toBe(
      '/var/lib/waagent/run-command/download/3',
    );
    expect(scriptFolderOf(FOLDER, 'script0.ps1')).toBe(FOLDER);
    expect(scriptFolderOf('C:\\x\\myscript0.ps1', 'script0.ps1')).toBe('C:\\x\\myscript0.ps1');
    expect(scriptFolderOf('', 'script0.ps1')).toBe('');
  });
});
