/**
 * Differential test: the streaming engine against the plain reference transcription
 * of the query (test/reference/parityReference.ts) on many generated days whose rows
 * hit the corners of the query: script names shared across VMs, case variants, FQDN
 * device names, boundary timestamps a 100 ns tick apart, odd white space, missing or
 * non-string Command, invalid JSON, failed operations, duplicate fingerprints.
 */
import fc from 'fast-check';
import { fromUnixTicks, toUnixTicks } from '../../../src/detection/datetime';
import { ParityDetection, detectParity } from '../../../src/detection';
import type {
  AzureActivityRow,
  DeviceEventsRow,
  DeviceFileEventsRow,
  RunCommandFinding,
} from '../../../src/detection/schema';
import { referenceQuery } from '../../reference/parityReference';

const OP = 'Microsoft.Compute/virtualMachines/runCommand/action';
const BASE = toUnixTicks('2026-11-25T04:00:00.0000000Z');
const TICK_OFFSETS = [0n, 1n, 9_999n, 10_000n, 10_001n, 10_000_000n, 10_000_001n, 30_000_000n, 600_000_000n];

const at = (offset: bigint) => fromUnixTicks(BASE + offset);

const vm = fc.constantFrom('web01', 'Web01', 'sql05', 'vm-ß', '');
const deviceSuffix = fc.constantFrom('', '', '.contoso.com', '.internal.cloudapp.net', '.');
const scriptName = fc.constantFrom(
  'script0.ps1',
  'script0.ps1',
  'script1.ps1',
  'script12.ps1',
  'script1234567890.ps1',
  'a.ps1',
);
const correlationId = fc.constantFrom('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8');
const caller = fc.constantFrom(
  'alice@contoso.com',
  'Eve.Admin@Fabrikam.com',
  'svc-noat',
  '',
  'a@b@c',
  'ALICE@contoso.com',
);
const ip = fc.constantFrom('10.0.0.1', '10.0.0.10', '9.9.9.9', '', '2001:db8::1');
const status = fc.constantFrom<string>(
  'Started',
  'Accepted',
  'Succeeded',
  'Failed',
  'Start',
  'Accept',
  'Success',
  'Failure',
  'Successful',
  'x\nSuccess',
  'SUCCEEDED',
  '',
);
const operationName = fc.constantFrom(
  OP,
  OP,
  OP,
  OP.toUpperCase(),
  OP.toLowerCase(),
  'Microsoft.Compute/virtualMachines/start/action',
  OP.replace('s/', 'ſ/'),
);
const time = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...TICK_OFFSETS).map(at) },
  { weight: 1, arbitrary: fc.constant(null) },
);
const fileSize = fc.constantFrom(null, 59, 80, 101);
const command = fc.constantFrom<string>(
  'Get-Item',
  'GET-ITEM',
  'get-item',
  'Write-Host',
  'ß-Cmd',
  'ﬁle-x',
  'é-cmd',
  'σ',
  'ı-x',
  '',
  'script0.ps1',
  'Script0.ps1',
  'a"b\\c\n',
);
/** Mostly the usual value, sometimes one of the corners. */
function mostly<T>(usual: T, ...corners: T[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constantFrom(...corners) });
}
const flag = mostly('-File', '-file', '-FilePath', '--File');
const space = mostly(' ', '\t', '\u00a0', '\u0085', '\ufeff', '  ', '\u3000', '\u200b');
const commandLine = fc
  .tuple(
    fc.constantFrom('powershell -ExecutionPolicy Unrestricted ', 'pwsh '),
    flag,
    space,
    scriptName,
    fc.constantFrom('', '', ' -x', 'x'),
  )
  .map(([head, f, ws, s, tail]) => head + f + ws + s + tail);
const additionalFields = (cmd: string) =>
  fc.constantFrom<unknown>(
    { Command: cmd, ScriptName: 'x' },
    { Command: cmd },
    JSON.stringify({ Command: cmd }),
    '{Command: ' + cmd,
    {},
    { command: cmd },
    { Command: 42 },
    { Command: null },
    { Command: [cmd] },
    null,
    [cmd],
  );

function scope(vmName: string, kind: number): string {
  const sub = '/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg/providers/Microsoft.Compute/';
  if (kind === 1) return sub + 'virtualMachineScaleSets/ss/virtualMachines/' + vmName;
  if (kind === 2) return sub.toLowerCase() + 'virtualmachines/' + vmName;
  return sub + 'virtualMachines/' + vmName;
}

const authorization = (vmName: string) =>
  mostly(0, 1, 2, 3, 4, 5, 6).map((kind) => {
    switch (kind) {
      case 3:
        return '{"scope": "' + scope(vmName, 0) + '"}'; // same scope, different text
      case 4:
        return '{scope: "' + scope(vmName, 0) + '"'; // invalid JSON
      case 5:
        return JSON.stringify({ action: OP, resource: scope(vmName, 0) }); // no scope
      case 6:
        return JSON.stringify({ action: OP, scope: 118.0, note: 'virtualMachines' }); // scope a number
      default:
        return JSON.stringify({ action: OP, scope: scope(vmName, kind) });
    }
  });

interface Day {
  AzureActivity: AzureActivityRow[];
  DeviceFileEvents: DeviceFileEventsRow[];
  DeviceEvents: DeviceEventsRow[];
}

/** One Run Command execution, coherent across the three tables (with its own corners). */
const run = fc
  .record({
    vm,
    deviceSuffix,
    script: scriptName,
    correlationId,
    caller,
    ip,
    ip2: ip,
    op: operationName,
    start: time,
    middle: time,
    end: time,
    statuses: fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom<string[]>(['Started', 'Accepted', 'Succeeded'], ['Start', 'Accept', 'Success']),
      },
      { weight: 1, arbitrary: fc.array(status, { minLength: 1, maxLength: 4 }) },
    ),
    fileTime: time,
    fileProcess: mostly('RunCommandExtension.exe', 'runcommandextension.exe'),
    fileSize,
    fileVm: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: vm }),
    commandLine,
    commands: fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom<string[]>(['Get-Item', 'Write-Host'], ['write-host', 'GET-ITEM'], ['Get-Process']),
      },
      { weight: 1, arbitrary: fc.array(command, { maxLength: 4 }) },
    ),
  })
  .chain((r) =>
    fc
      .tuple(authorization(r.vm), fc.tuple(...r.commands.map((c) => additionalFields(c))), additionalFields(r.script))
      .map(([auth, fields, firstFields]): Day => {
        const times = [r.start, r.middle, r.end];
        const AzureActivity = r.statuses.map((s, i) => ({
          TimeGenerated: times[i % 3],
          OperationNameValue: r.op,
          Authorization: auth,
          CorrelationId: r.correlationId,
          Caller: r.caller,
          CallerIpAddress: i === 0 ? r.ip : r.ip2,
          ActivityStatusValue: s,
        }));
        const device = (r.fileVm ?? r.vm) + r.deviceSuffix;
        const DeviceFileEvents = [
          {
            TimeGenerated: r.fileTime,
            DeviceName: device,
            InitiatingProcessFileName: r.fileProcess,
            FileName: r.script,
            FileSize: r.fileSize,
            InitiatingProcessAccountName: 'system',
            InitiatingProcessAccountDomain: 'nt authority',
            InitiatingProcessFolderPath: 'c:\\packages\\plugins\\runcommandextension.exe',
            InitiatingProcessId: 4301,
          },
        ];
        const DeviceEvents = [firstFields, ...fields].map((AdditionalFields, i) => ({
          TimeGenerated: times[i % 3],
          DeviceName: device,
          InitiatingProcessCommandLine: r.commandLine,
          AdditionalFields,
        }));
        return { AzureActivity, DeviceFileEvents, DeviceEvents };
      }),
  );

const day = fc.array(run, { maxLength: 8 }).map((runs): Day => ({
  AzureActivity: runs.flatMap((r) => r.AzureActivity),
  DeviceFileEvents: runs.flatMap((r) => r.DeviceFileEvents),
  DeviceEvents: runs.flatMap((r) => r.DeviceEvents),
}));

function multiset(findings: RunCommandFinding[]): string[] {
  return findings.map((f) => JSON.stringify(f)).sort();
}

describe('parity engine vs reference transcription', () => {
  it('returns the same findings (multiset) and the same RunCommandData row count on generated days', () => {
    let daysWithFindings = 0;
    let daysWithSharedFingerprints = 0;
    let runs = 0;
    fc.assert(
      fc.property(day, fc.boolean(), (d, reverse) => {
        runs++;
        const expected = referenceQuery(d.AzureActivity, d.DeviceFileEvents, d.DeviceEvents);
        const detection = new ParityDetection();
        const order = (rows: unknown[]) => (reverse ? [...rows].reverse() : rows);
        for (const row of order(d.DeviceEvents)) detection.add('DeviceEvents', row as DeviceEventsRow);
        for (const row of order(d.AzureActivity)) detection.add('AzureActivity', row as AzureActivityRow);
        for (const row of order(d.DeviceFileEvents)) detection.add('DeviceFileEvents', row as DeviceFileEventsRow);
        const { findings, stages } = detection.finish();
        expect(multiset(findings)).toEqual(multiset(expected.findings));
        expect(stages.runCommandData).toBe(expected.totals);
        expect(multiset(detectParity(d))).toEqual(multiset(expected.findings));
        if (findings.length > 0) daysWithFindings++;
        if (expected.totals > findings.length) daysWithSharedFingerprints++;
      }),
      { numRuns: 400 },
    );
    // the generator must reach the interesting paths, or this test proves little
    expect(daysWithFindings).toBeGreaterThan(runs / 10);
    expect(daysWithSharedFingerprints).toBeGreaterThan(runs / 20);
  });
});
