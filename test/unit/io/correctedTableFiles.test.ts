/**
 * Table files read for corrected mode: DeviceProcessEvents is an optional fourth file
 * that only corrected mode looks for, and the byte pre-filter (built on parity's row
 * filters) is applied only where it is sound for corrected mode (AzureActivity), so a
 * managed-handler or Linux script file is not dropped unparsed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateTableFiles, prefilterIsSound, readTableDirectory } from '../../../src/io/tableFiles';
import { createDetector } from '../../../src/detection/detector';
import type { TableName } from '../../../src/detection/schema';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rcd-corrected-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T = (s: number) => `2026-11-25T10:00:${String(s).padStart(2, '0')}.0000000Z`;
const VM =
  '/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines';
const SCRIPT = '/var/lib/waagent/run-command/download/4/script.sh';

function write(table: string, rows: object[]): void {
  writeFileSync(join(dir, `${table}.ndjson`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** A Linux action Run Command on lnx01 and a managed one on win01, as exported tables. */
function writeDay(withProcesses: boolean): void {
  const activity = (vm: string, op: string, scope: string) =>
    (['Started', 'Succeeded'] as const).map((status, i) => ({
      TimeGenerated: T(i * 50),
      OperationNameValue: op,
      Authorization: JSON.stringify({ action: op, scope }),
      CorrelationId: `c-${vm}`,
      Caller: 'alice@contoso.com',
      CallerIpAddress: '10.0.0.1',
      ActivityStatusValue: status,
    }));
  write('AzureActivity', [
    ...activity('lnx01', 'Microsoft.Compute/virtualMachines/runCommand/action', `${VM}/lnx01`),
    ...activity('win01', 'Microsoft.Compute/virtualMachines/runCommands/write', `${VM}/win01/runCommands/rc1`),
  ]);
  const file = (device: string, name: string, writer: string, folder: string) => ({
    TimeGenerated: T(10),
    DeviceName: device,
    InitiatingProcessFileName: writer,
    FileName: name,
    FileSize: 99,
    InitiatingProcessAccountName: 'root',
    InitiatingProcessAccountDomain: device,
    InitiatingProcessFolderPath: folder,
    InitiatingProcessId: 7,
  });
  write('DeviceFileEvents', [
    file('lnx01', 'script.sh', 'run-command-extension', '/var/lib/waagent/x/bin/run-command-extension'),
    file(
      'win01',
      'script.ps1',
      'RunCommandHandlerWindows.exe',
      'c:\\packages\\plugins\\microsoft.cplat.core.runcommandhandlerwindows\\2.0.14\\bin\\runcommandhandlerwindows.exe',
    ),
  ]);
  const command = (cmd: string) => ({
    TimeGenerated: T(12),
    DeviceName: 'win01',
    InitiatingProcessCommandLine: 'powershell.exe -ExecutionPolicy Unrestricted -File "C:\\rc\\script.ps1"',
    AdditionalFields: { Command: cmd },
  });
  write('DeviceEvents', [command('script.ps1'), command('Get-Service')]);
  if (withProcesses)
    write('DeviceProcessEvents', [
      {
        TimeGenerated: T(12),
        DeviceName: 'lnx01',
        FileName: 'id',
        ProcessCommandLine: 'id -un',
        InitiatingProcessFileName: 'sh',
        InitiatingProcessCommandLine: `/bin/sh -c ${SCRIPT}`,
      },
    ]);
}

const corrected = () =>
  createDetector('corrected', {
    windowStart: '2026-11-25T00:00:00.0000000Z',
    baselineDays: 14,
    baseline: new Map(),
  });

describe('table files in corrected mode', () => {
  it('reads the optional DeviceProcessEvents file and finds both runs (the pre-filter drops neither script file)', () => {
    writeDay(true);
    const detector = corrected();
    const stats = readTableDirectory(dir, detector, { mode: 'corrected' });
    expect(stats.map((s) => s.table)).toEqual([
      'AzureActivity',
      'DeviceFileEvents',
      'DeviceEvents',
      'DeviceProcessEvents',
    ]);
    const result = detector.finish();
    expect(
      result.findings.map((f) => [f.kind, f.finding.VirtualMachineName, f.finding.PowershellScriptCommands]),
    ).toEqual([
      ['script', 'lnx01', ['id -un']],
      ['script', 'win01', ['GET-SERVICE']],
    ]);
  });

  it('without a DeviceProcessEvents file, a Linux run is a control-plane finding, not an error', () => {
    writeDay(false);
    expect(locateTableFiles(dir, 'corrected').DeviceProcessEvents).toBeUndefined();
    const detector = corrected();
    readTableDirectory(dir, detector, { mode: 'corrected' });
    expect(detector.finish().findings.map((f) => [f.kind, f.finding.VirtualMachineName])).toEqual([
      ['control-plane', 'lnx01'],
      ['script', 'win01'],
    ]);
  });

  it('parity mode never looks for DeviceProcessEvents, even when the file is there', () => {
    writeDay(true);
    expect(locateTableFiles(dir).DeviceProcessEvents).toBeUndefined();
    const seen: TableName[] = [];
    const stats = readTableDirectory(dir, { add: (table) => void seen.push(table) });
    expect(stats.map((s) => s.table)).toEqual(['AzureActivity', 'DeviceFileEvents', 'DeviceEvents']);
    expect(seen).not.toContain('DeviceProcessEvents');
  });

  it('never pre-filters in corrected mode: parity’s needles drop rows corrected mode keeps', () => {
    expect(
      (['AzureActivity', 'DeviceFileEvents', 'DeviceEvents', 'DeviceProcessEvents'] as const).map((t) =>
        prefilterIsSound(t, 'corrected'),
      ),
    ).toEqual([false, false, false, false]);
    expect(
      (['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const).every((t) => prefilterIsSound(t, 'parity')),
    ).toBe(true);
    // With the parity pre-filter on the corrected read, the managed and Linux script files would be dropped unparsed.
    writeDay(true);
    const kept: string[] = [];
    readTableDirectory(
      dir,
      { add: (table, row) => void (table === 'DeviceFileEvents' && kept.push((row as { FileName: string }).FileName)) },
      { mode: 'corrected' },
    );
    expect(kept).toEqual(['script.sh', 'script.ps1']);
  });
});
