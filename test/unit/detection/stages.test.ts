/** Each stage of the rule on small hand-made rows. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authorizationOf,
  isRunCommandActivity,
  isSucceeded,
  RunCommandOperations,
  splitAuthorization,
  toExecution,
  type RunCommandOperation,
} from '../../../src/detection/parity/azureActivity';
import {
  isRunCommandExtensionFile,
  toScriptFile,
  virtualMachineNameOfDevice,
} from '../../../src/detection/parity/deviceFileEvents';
import { ScriptCommandLists, toScriptCommand } from '../../../src/detection/parity/deviceEvents';
import {
  joinCommandListGroups,
  joinCommandLists,
  joinScriptFiles,
  scriptFingerprintHash,
  ScriptFilesByVirtualMachine,
  type RunCommandDataRow,
} from '../../../src/detection/parity/joins';
import { uniqueFindings, uniqueFindingsOfGroups } from '../../../src/detection/parity/uniqueness';
import { detectParity, entityMappings, ParityDetection, RULE } from '../../../src/detection';
import type { AzureActivityRow, DeviceEventsRow, DeviceFileEventsRow } from '../../../src/detection/schema';

const OP = 'Microsoft.Compute/virtualMachines/runCommand/action';
const scopeOf = (vm: string) =>
  `/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/${vm}`;
const T = (s: string) => `2026-11-25T${s}Z`;

/** The Authorization fields of an operation for this text. */
function authorizationPieces(text: string) {
  const [AuthorizationHead, AuthorizationScope, AuthorizationTail] = splitAuthorization(text);
  return { AuthorizationHead, AuthorizationScope, AuthorizationTail };
}

function activity(over: Partial<AzureActivityRow> = {}): AzureActivityRow {
  return {
    TimeGenerated: T('04:00:00.0000000'),
    OperationNameValue: OP,
    Authorization: JSON.stringify({ action: OP, scope: scopeOf('web01') }),
    CorrelationId: 'c1',
    Caller: 'alice@contoso.com',
    CallerIpAddress: '10.0.0.1',
    ActivityStatusValue: 'Succeeded',
    ...over,
  };
}

function file(over: Partial<DeviceFileEventsRow> = {}): DeviceFileEventsRow {
  return {
    TimeGenerated: T('04:00:01.0000000'),
    DeviceName: 'web01',
    InitiatingProcessFileName: 'RunCommandExtension.exe',
    FileName: 'script0.ps1',
    FileSize: 59,
    InitiatingProcessAccountName: 'system',
    InitiatingProcessAccountDomain: 'nt authority',
    InitiatingProcessFolderPath: 'c:\\runcommandextension.exe',
    InitiatingProcessId: 4301,
    ...over,
  };
}

function event(command: unknown, over: Partial<DeviceEventsRow> = {}): DeviceEventsRow {
  return {
    TimeGenerated: T('04:00:02.0000000'),
    DeviceName: 'web01',
    InitiatingProcessCommandLine: 'powershell -ExecutionPolicy Unrestricted -File script0.ps1',
    AdditionalFields: { Command: command },
    ...over,
  };
}

describe('AzureActivity branch', () => {
  it('keeps run command operations on virtual machines only', () => {
    expect(isRunCommandActivity(activity())).toBe(true);
    expect(isRunCommandActivity(activity({ OperationNameValue: OP.toUpperCase() }))).toBe(true);
    expect(
      isRunCommandActivity(activity({ OperationNameValue: 'Microsoft.Compute/virtualMachines/start/action' })),
    ).toBe(false);
    expect(isRunCommandActivity(activity({ OperationNameValue: OP + '/x' }))).toBe(false);
    expect(isRunCommandActivity(activity({ Authorization: '{"scope":"/x/virtualMachineScaleSets/ss"}' }))).toBe(false);
    expect(isRunCommandActivity(activity({ Authorization: '' }))).toBe(false);
  });

  it('summarizes by CorrelationId, Authorization, Caller: min/max time ignoring nulls, ordinal max IP, statuses in order', () => {
    const ops = new RunCommandOperations();
    ops.add(
      activity({ TimeGenerated: T('04:00:05.0000001'), CallerIpAddress: '10.0.0.10', ActivityStatusValue: 'Started' }),
    );
    ops.add(activity({ TimeGenerated: null, CallerIpAddress: '9.9.9.9', ActivityStatusValue: 'Accepted' }));
    ops.add(activity({ TimeGenerated: T('04:00:05.0000000'), CallerIpAddress: '', ActivityStatusValue: 'Succeeded' }));
    ops.add(activity({ Caller: 'ALICE@contoso.com' })); // another group: keys are case-sensitive
    ops.add(activity({ Authorization: JSON.stringify({ scope: scopeOf('web01') }) })); // another group
    expect(ops.size).toBe(3);
    const [first] = [...ops.values()];
    expect({ ...first, Authorization: authorizationOf(first) }).toEqual({
      CorrelationId: 'c1',
      ...authorizationPieces(activity().Authorization),
      Authorization: activity().Authorization,
      Caller: 'alice@contoso.com',
      StartTime: T('04:00:05.0000000'),
      EndTime: T('04:00:05.0000001'),
      max_CallerIpAddress: '9.9.9.9',
      hasSucceededStatus: true,
    });
  });

  it('keeps groups apart when one CorrelationId has many (Authorization, Caller) pairs, rows in any order', () => {
    // Past 16 groups a CorrelationId's groups are also indexed by key: both ways must agree.
    const ops = new RunCommandOperations();
    const keys: Array<[string, string]> = [];
    for (let a = 0; a < 6; a++) for (let c = 0; c < 7; c++) keys.push([`{"scope":"/vm${a}"}`, `user${c}`]);
    for (const round of ['Started', 'Succeeded'])
      for (const [Authorization, Caller] of round === 'Started' ? keys : [...keys].reverse())
        ops.add(activity({ CorrelationId: 'same', Authorization, Caller, ActivityStatusValue: round }));
    ops.add(activity({ CorrelationId: 'other', Authorization: keys[0][0], Caller: keys[0][1] }));
    expect(ops.size).toBe(keys.length + 1);
    const groups = [...ops.values()].filter((g) => g.CorrelationId === 'same');
    expect(groups.map((g) => [authorizationOf(g), g.Caller])).toEqual(keys);
    for (const g of groups) expect(g.hasSucceededStatus).toBe(true);
  });

  it('cuts Authorization at its scope value, as text: the pieces join to the text, equal texts only', () => {
    const scoped = JSON.stringify({ action: OP, scope: scopeOf('web01'), evidence: { role: 'Owner' } });
    expect(splitAuthorization(scoped)).toEqual([
      `{"action":"${OP}","scope":"`,
      scopeOf('web01'),
      '","evidence":{"role":"Owner"}}',
    ]);
    // An escaped quote inside the value does not end it; an escaped backslash before a quote does not escape it.
    expect(splitAuthorization(String.raw`{"scope":"a\"b"}`)).toEqual(['{"scope":"', String.raw`a\"b`, '"}']);
    expect(splitAuthorization(String.raw`{"scope":"a\\"b"}`)).toEqual(['{"scope":"', String.raw`a\\`, '"b"}']);
    // No scope value, or one never closed: all of it is the head.
    expect(splitAuthorization('{"other":1}')).toEqual(['{"other":1}', '', '']);
    expect(splitAuthorization('{"scope":"open')).toEqual(['{"scope":"open', '', '']);
    expect(splitAuthorization('{"scope":"ends with a backslash\\')).toEqual([
      '{"scope":"ends with a backslash\\',
      '',
      '',
    ]);
    const pieces = fc.string({ unit: fc.constantFrom('"', '\\', 'a', ':', 's', 'scope', '"scope":"', '{', '}') });
    fc.assert(
      fc.property(pieces, pieces, (a, b) => {
        expect(splitAuthorization(a).join('')).toBe(a);
        // Groups of one CorrelationId and Caller are one group exactly when the texts are equal.
        const ops = new RunCommandOperations();
        ops.add(activity({ Authorization: a }));
        ops.add(activity({ Authorization: b }));
        expect(ops.size).toBe(a === b ? 1 : 2);
        expect([...ops.values()].map(authorizationOf)).toEqual(a === b ? [a] : [a, b]);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a null StartTime/EndTime when every TimeGenerated is null', () => {
    const ops = new RunCommandOperations();
    ops.add(activity({ TimeGenerated: null }));
    const [op] = [...ops.values()];
    expect(op.StartTime).toBeNull();
    expect(op.EndTime).toBeNull();
  });

  /** The operation of one group whose rows have these statuses (added as rows), from 04:00 to 04:01. */
  const op = (statuses: string[], Authorization = activity().Authorization): RunCommandOperation => {
    const ops = new RunCommandOperations();
    for (const ActivityStatusValue of statuses) ops.add(activity({ Authorization, ActivityStatusValue }));
    const [added] = [...ops.values()];
    return {
      CorrelationId: 'c1',
      ...authorizationPieces(Authorization),
      Caller: 'alice@contoso.com',
      StartTime: T('04:00:00.0000000'),
      EndTime: T('04:01:00.0000000'),
      max_CallerIpAddress: '10.0.0.1',
      hasSucceededStatus: added?.hasSucceededStatus ?? false,
    };
  };

  it('keeps operations whose status list has Succeeded or Success', () => {
    expect(isSucceeded(op(['Started', 'Accepted', 'Succeeded']))).toBe(true);
    expect(isSucceeded(op(['Start', 'Accept', 'Success']))).toBe(true);
    expect(isSucceeded(op(['Started', 'Accepted', 'Failed']))).toBe(false);
    expect(isSucceeded(op(['Started', 'Accepted']))).toBe(false);
    expect(isSucceeded(op(['Successful']))).toBe(false);
    expect(isSucceeded(op(['x\nSuccess']))).toBe(false);
    expect(isSucceeded(op(['x Success']))).toBe(true);
  });

  it('extracts Scope, Subscription and VirtualMachineName from Authorization', () => {
    const e = toExecution(op(['Succeeded']));
    expect(e).toEqual({
      StartTime: T('04:00:00.0000000'),
      EndTime: T('04:01:00.0000000'),
      Subscription: '7e861ea0-79f3-4ead-a336-d55d4a591e2a',
      VirtualMachineName: 'web01',
      CorrelationId: 'c1',
      Caller: 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      Scope: scopeOf('web01'),
    });
    const scaleSet =
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3';
    expect(toExecution(op([], JSON.stringify({ scope: scaleSet }))).VirtualMachineName).toBe('3');
    expect(toExecution(op([], JSON.stringify({ scope: scopeOf('web01') + '/' }))).VirtualMachineName).toBe('');
    expect(toExecution(op([], '{scope: "/a/virtualMachines/web01"'))).toMatchObject({
      Scope: null,
      VirtualMachineName: '',
      Subscription: '',
    });
    expect(toExecution(op([], JSON.stringify({ Scope: scopeOf('web01') }))).Scope).toBeNull();
    expect(toExecution(op([], JSON.stringify({ scope: 118.0 })))).toMatchObject({
      Scope: 118,
      VirtualMachineName: '118',
    });
  });
});

describe('DeviceFileEvents branch', () => {
  it('keeps files written by RunCommandExtension.exe, case-sensitively', () => {
    expect(isRunCommandExtensionFile(file())).toBe(true);
    expect(isRunCommandExtensionFile(file({ InitiatingProcessFileName: 'runcommandextension.exe' }))).toBe(false);
  });

  it('takes the VM name from the first label of the device name', () => {
    expect(virtualMachineNameOfDevice('web01.contoso.com')).toBe('web01');
    expect(virtualMachineNameOfDevice('Web01')).toBe('Web01');
    expect(virtualMachineNameOfDevice('')).toBe('');
    expect(virtualMachineNameOfDevice('.x')).toBe('');
    expect(toScriptFile(file({ DeviceName: 'web03.internal.cloudapp.net' }))).toMatchObject({
      VirtualMachineName: 'web03',
      PowershellFileCreatedTimestamp: T('04:00:01.0000000'),
      FileName: 'script0.ps1',
      FileSize: 59,
    });
  });
});

describe('DeviceEvents branch', () => {
  it('keeps PowerShell commands of run command scripts, upper-cased', () => {
    expect(toScriptCommand(event('Get-Item'))).toEqual({
      PowershellFileName: 'script0.ps1',
      InitiatingProcessCommandLine: 'powershell -ExecutionPolicy Unrestricted -File script0.ps1',
      PSCommand: 'GET-ITEM',
      TimeGenerated: T('04:00:02.0000000'),
    });
    expect(toScriptCommand(event('script0.ps1'))).toBeNull(); // the script itself
    expect(toScriptCommand(event('Script0.ps1'))?.PSCommand).toBe('SCRIPT0.PS1'); // != is case-sensitive
    expect(toScriptCommand(event('x', { InitiatingProcessCommandLine: 'powershell -file script0.ps1' }))).toBeNull();
    expect(
      toScriptCommand(event('x', { InitiatingProcessCommandLine: 'powershell -File script1234567890.ps1' })),
    ).toBeNull();
  });

  it('reads Command from AdditionalFields given as an object or JSON text; "" when absent or invalid', () => {
    expect(toScriptCommand(event(null, { AdditionalFields: '{"Command":"Get-Item"}' }))?.PSCommand).toBe('GET-ITEM');
    expect(toScriptCommand(event(null, { AdditionalFields: '{Command:' }))?.PSCommand).toBe('');
    expect(toScriptCommand(event(null, { AdditionalFields: {} }))?.PSCommand).toBe('');
    expect(toScriptCommand(event(null, { AdditionalFields: null }))?.PSCommand).toBe('');
    expect(toScriptCommand(event(42))?.PSCommand).toBe('42');
    expect(toScriptCommand(event(['a', 'b']))?.PSCommand).toBe('["A","B"]');
  });

  it('lists each (script, command line) group’s commands in ordinal order, pooled across devices', () => {
    const lists = new ScriptCommandLists();
    for (const [cmd, device] of [
      ['Write-Host', 'web01'],
      ['get-item', 'web02'],
      ['Get-Item', 'web01'],
      ['é-x', 'web01'],
      ['', 'web01'],
    ]) {
      lists.add(toScriptCommand(event(cmd, { DeviceName: device }))!);
    }
    lists.add(toScriptCommand(event('Z', { InitiatingProcessCommandLine: 'pwsh -File script0.ps1' }))!);
    lists.add(toScriptCommand(event('Z', { InitiatingProcessCommandLine: 'pwsh -File script1.ps1' }))!);
    expect(lists.size).toBe(3);
    const groups = [...lists.withFileName('script0.ps1')];
    expect(groups.map((g) => g.list_PSCommand)).toEqual([['', 'GET-ITEM', 'GET-ITEM', 'WRITE-HOST', 'É-X'], ['Z']]);
    expect([...lists.withFileName('script9.ps1')]).toEqual([]);
  });
});

describe('joins', () => {
  const execution = toExecution({
    CorrelationId: 'c1',
    ...authorizationPieces(activity().Authorization),
    Caller: 'alice@contoso.com',
    StartTime: T('04:00:00.0000000'),
    EndTime: T('04:00:10.0000000'),
    max_CallerIpAddress: '10.0.0.1',
    hasSucceededStatus: true,
  });

  it('pairs an execution with the files of its VM created within [StartTime, EndTime]', () => {
    const files = new ScriptFilesByVirtualMachine();
    files.add(toScriptFile(file({ TimeGenerated: T('04:00:00.0000000'), FileName: 'a' }))); // == StartTime
    files.add(toScriptFile(file({ TimeGenerated: T('04:00:10.0000000'), FileName: 'b' }))); // == EndTime
    files.add(toScriptFile(file({ TimeGenerated: T('03:59:59.9999999'), FileName: 'c' }))); // a tick before
    files.add(toScriptFile(file({ TimeGenerated: T('04:00:10.0000001'), FileName: 'd' }))); // a tick after
    files.add(toScriptFile(file({ TimeGenerated: null, FileName: 'e' })));
    files.add(toScriptFile(file({ DeviceName: 'Web01', FileName: 'f' }))); // case differs: trap 3
    files.add(toScriptFile(file({ DeviceName: 'web01.contoso.com', FileName: 'g' })));
    expect(joinScriptFiles(execution, files).map((r) => r.FileName)).toEqual(['a', 'b', 'g']);
  });

  it('drops an execution with a null window', () => {
    const files = new ScriptFilesByVirtualMachine();
    files.add(toScriptFile(file()));
    expect(joinScriptFiles({ ...execution, StartTime: null }, files)).toEqual([]);
    expect(joinScriptFiles({ ...execution, EndTime: null }, files)).toEqual([]);
  });

  it('pairs each execution file with every command list of the same script name (kind=inner)', () => {
    const files = new ScriptFilesByVirtualMachine();
    files.add(toScriptFile(file()));
    const [withFile] = joinScriptFiles(execution, files);
    const lists = new ScriptCommandLists();
    lists.add(toScriptCommand(event('b'))!);
    lists.add(toScriptCommand(event('a', { InitiatingProcessCommandLine: 'pwsh -File script0.ps1' }))!);
    lists.add(toScriptCommand(event('a', { InitiatingProcessCommandLine: 'pwsh -File script1.ps1' }))!);
    const rows = joinCommandLists(withFile, lists, new Map());
    expect(rows.map((r) => r.PowershellScriptCommands)).toEqual([['B'], ['A']]);
    expect(rows[0].ScriptFingerprintHash).toBe(scriptFingerprintHash(['B']));
    expect(rows[0]).toMatchObject({ PowershellFileSize: 59, VirtualMachineName: 'web01', Caller: 'alice@contoso.com' });
  });

  it('fingerprints the command list only (trap 1): sha256 of its compact JSON text', () => {
    // hash_sha256(tostring(["A","B"])) is the hash of the text ["A","B"], whatever the file size
    expect(scriptFingerprintHash(['A', 'B'])).toBe(createHash('sha256').update('["A","B"]').digest('hex'));
    expect(scriptFingerprintHash(['A', 'B'])).not.toBe(scriptFingerprintHash(['B', 'A']));
  });
});

describe('uniqueness and the final project', () => {
  const row = (hash: string, over: Partial<RunCommandDataRow> = {}): RunCommandDataRow => ({
    StartTime: T('04:00:00.0000000'),
    EndTime: T('04:00:10.0000000'),
    PowershellFileCreatedTimestamp: T('04:00:01.0000000'),
    PowershellExecStartTime: null,
    PowershellExecEnd: null,
    PowershellFileName: 'script0.ps1',
    PowershellScriptCommands: ['A'],
    Caller: 'alice@contoso.com',
    CallerIpAddress: '10.0.0.1',
    InitiatingProcessCommandLine: 'x',
    PowershellFileSize: 59,
    VirtualMachineName: 'web01',
    Scope: scopeOf('web01'),
    ScriptFingerprintHash: hash,
    ...over,
  });

  it('returns rows whose fingerprint occurs once, with Prevalence 100 / totals', () => {
    const findings = uniqueFindings([row('h1'), row('h2'), row('h2'), row('h3', { StartTime: T('03:00:00.0000000') })]);
    expect(findings.map((f) => f.ScriptFingerprintHash)).toEqual(['h3', 'h1']); // sorted by StartTime
    expect(findings.map((f) => f.Prevalence)).toEqual([25, 25]);
    expect(uniqueFindings([row('h1'), row('h2'), row('h3')])[0].Prevalence).toBe((1 / 3) * 100);
  });

  it('grouped RunCommandData (a command list with its executions) gives the same findings and totals as its rows', () => {
    // Three lists: one joined by two executions (its hash occurs twice), two joined by one
    // each, of which one shares its commands (so its hash) with the first list.
    const files = new ScriptFilesByVirtualMachine();
    files.add(toScriptFile(file({ FileName: 'script0.ps1' })));
    files.add(toScriptFile(file({ FileName: 'script0.ps1', TimeGenerated: T('04:00:02.0000000') })));
    files.add(toScriptFile(file({ FileName: 'script1.ps1', TimeGenerated: T('04:00:03.0000000') })));
    files.add(toScriptFile(file({ FileName: 'script2.ps1', TimeGenerated: T('04:00:04.0000000') })));
    const execution = toExecution({
      CorrelationId: 'c1',
      ...authorizationPieces(activity().Authorization),
      Caller: 'alice@contoso.com',
      StartTime: T('04:00:00.0000000'),
      EndTime: T('04:00:10.0000000'),
      max_CallerIpAddress: '10.0.0.1',
      hasSucceededStatus: true,
    });
    const lists = new ScriptCommandLists();
    lists.add(toScriptCommand(event('a', { InitiatingProcessCommandLine: 'pwsh -File script0.ps1' }))!);
    lists.add(toScriptCommand(event('b', { InitiatingProcessCommandLine: 'pwsh -File script1.ps1' }))!);
    lists.add(toScriptCommand(event('a', { InitiatingProcessCommandLine: 'pwsh -File script2.ps1' }))!);
    lists.add(toScriptCommand(event('c', { InitiatingProcessCommandLine: 'pwsh -File script2.ps1 ' }))!);
    const withFiles = joinScriptFiles(execution, files);
    const rows = withFiles.flatMap((w) => joinCommandLists(w, lists, new Map()));
    const byFileName = new Map<string, typeof withFiles>();
    for (const w of withFiles) byFileName.set(w.FileName, [...(byFileName.get(w.FileName) ?? []), w]);
    const grouped = uniqueFindingsOfGroups(joinCommandListGroups(byFileName, lists));
    expect(grouped.totals).toBe(rows.length);
    expect(grouped.findings.map((f) => f.finding)).toEqual(uniqueFindings(rows));
    expect(grouped.findings.map((f) => f.finding.PowershellScriptCommands).sort()).toEqual([['B'], ['C']]);
    // Each finding names its event: the operation, the script file and the PowerShell command line it joined.
    expect(grouped.findings.map((f) => f.identity.InitiatingProcessCommandLine).sort()).toEqual([
      'pwsh -File script1.ps1',
      'pwsh -File script2.ps1 ',
    ]);
    for (const f of grouped.findings) {
      expect(f.identity).toMatchObject({
        CorrelationId: execution.CorrelationId,
        VirtualMachineName: f.finding.VirtualMachineName,
        PowershellFileName: f.finding.PowershellFileName,
      });
    }
  });

  it('splits Caller at "@" and prints Scope as text', () => {
    const one = (over: Partial<RunCommandDataRow>) => uniqueFindings([row('h', over)])[0];
    expect(one({ Caller: 'alice@contoso.com' })).toMatchObject({ CallerName: 'alice', CallerUPNSuffix: 'contoso.com' });
    expect(one({ Caller: 'svc-noat' })).toMatchObject({ CallerName: 'svc-noat', CallerUPNSuffix: '' });
    expect(one({ Caller: 'a@b@c' })).toMatchObject({ CallerName: 'a', CallerUPNSuffix: 'b' });
    expect(one({ Caller: '' })).toMatchObject({ CallerName: '', CallerUPNSuffix: '' });
    expect(one({ Scope: null }).Scope).toBe('');
    expect(one({ Scope: 118 }).Scope).toBe('118');
    const f = one({});
    expect(f.timestamp).toBe(f.StartTime);
  });
});

describe('the whole rule on a hand-made day', () => {
  const start = activity({ TimeGenerated: T('04:00:00.0000000'), ActivityStatusValue: 'Started' });
  const done = activity({ TimeGenerated: T('04:00:10.0000000'), ActivityStatusValue: 'Succeeded' });
  const op2 = (c: string, vm: string, t0: string, t1: string) => [
    activity({ CorrelationId: c, Authorization: JSON.stringify({ scope: scopeOf(vm) }), TimeGenerated: T(t0) }),
    activity({ CorrelationId: c, Authorization: JSON.stringify({ scope: scopeOf(vm) }), TimeGenerated: T(t1) }),
  ];

  it('pools script0.ps1 across VMs with the same command line (trap 2), so neither run is unique', () => {
    const day = {
      AzureActivity: [start, done, ...op2('c2', 'web02', '05:00:00.0000000', '05:00:10.0000000')],
      DeviceFileEvents: [file(), file({ DeviceName: 'web02', TimeGenerated: T('05:00:01.0000000') })],
      DeviceEvents: [event('Get-Item'), event('Remove-Item', { DeviceName: 'web02' })],
    };
    // one pooled list ["GET-ITEM","REMOVE-ITEM"] joins both runs: the same hash twice
    const result = (() => {
      const d = new ParityDetection();
      for (const r of day.AzureActivity) d.add('AzureActivity', r);
      for (const r of day.DeviceFileEvents) d.add('DeviceFileEvents', r);
      for (const r of day.DeviceEvents) d.add('DeviceEvents', r);
      return d.finish();
    })();
    expect(result.findings).toEqual([]);
    expect(result.stages).toMatchObject({ runCommandData: 2, scriptCommandLists: 1, findings: 0 });
  });

  it('finds a run whose command list is unique, with its entities', () => {
    const day = {
      AzureActivity: [start, done, ...op2('c2', 'web02', '05:00:00.0000000', '05:00:10.0000000')],
      DeviceFileEvents: [
        file(),
        file({ DeviceName: 'web02', TimeGenerated: T('05:00:01.0000000'), FileName: 'script1.ps1' }),
      ],
      DeviceEvents: [
        event('Get-Item'),
        event('Remove-Item', { DeviceName: 'web02', InitiatingProcessCommandLine: 'powershell -File script1.ps1' }),
      ],
    };
    const findings = detectParity(day);
    expect(findings).toHaveLength(2);
    expect(findings[0]).toEqual({
      timestamp: T('04:00:00.0000000'),
      StartTime: T('04:00:00.0000000'),
      EndTime: T('04:00:10.0000000'),
      PowershellFileName: 'script0.ps1',
      VirtualMachineName: 'web01',
      Caller: 'alice@contoso.com',
      CallerName: 'alice',
      CallerUPNSuffix: 'contoso.com',
      CallerIpAddress: '10.0.0.1',
      PowershellScriptCommands: ['GET-ITEM'],
      PowershellFileSize: 59,
      ScriptFingerprintHash: scriptFingerprintHash(['GET-ITEM']),
      Prevalence: 50,
      Scope: scopeOf('web01'),
    });
    expect(entityMappings(findings[0])).toEqual({
      Account: { FullName: 'alice@contoso.com', Name: 'alice', UPNSuffix: 'contoso.com' },
      IP: { Address: '10.0.0.1' },
      Host: { HostName: 'web01', AzureID: scopeOf('web01') },
    });
  });

  it('isRelevant is each table’s row filter', () => {
    expect(ParityDetection.isRelevant('AzureActivity', activity())).toBe(true);
    expect(ParityDetection.isRelevant('AzureActivity', activity({ OperationNameValue: 'x' }))).toBe(false);
    expect(ParityDetection.isRelevant('DeviceFileEvents', file())).toBe(true);
    expect(ParityDetection.isRelevant('DeviceFileEvents', file({ InitiatingProcessFileName: 'x.exe' }))).toBe(false);
    expect(ParityDetection.isRelevant('DeviceEvents', event('Get-Item'))).toBe(true);
    expect(ParityDetection.isRelevant('DeviceEvents', event('script0.ps1'))).toBe(false);
  });
});

describe('RULE metadata', () => {
  it('matches rule-as-published.txt', () => {
    const text = readFileSync(join(__dirname, '../../../src/detection/rule/rule-as-published.txt'), 'utf8');
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(text)?.[1];
    expect(RULE.id).toBe(field('id'));
    expect(RULE.name).toBe(field('name'));
    expect(RULE.version).toBe(field('version'));
    expect(RULE.severity).toBe(field('severity'));
    expect(RULE.queryFrequency).toBe(field('queryFrequency'));
    expect(RULE.queryPeriod).toBe(field('queryPeriod'));
    // a YAML list: the "- item" lines right after "name:"
    const list = (name: string) => {
      const after = text.slice(text.indexOf(`\n${name}:\n`) + name.length + 3).split('\n');
      const items: string[] = [];
      for (const line of after) {
        if (!line.startsWith('- ')) break;
        items.push(line.slice(2));
      }
      return items;
    };
    expect([...RULE.tactics]).toEqual(list('tactics'));
    expect([...RULE.techniques]).toEqual(list('relevantTechniques'));
    const description = text.split("description: |\n'")[1].split("'\nseverity")[0];
    expect(RULE.description).toBe(description);
  });
});
