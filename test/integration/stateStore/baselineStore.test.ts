/**
 * Corrected mode's baseline in a real Azurite table: stored after one window, read back
 * by a new store (the next run), merged, and pruned past its horizon.
 */
import { startAzuriteTables, type RunningAzurite } from '../../support/azurite';
import { BaselineStore, StateStore } from '../../../src/stateStore';
import { detectCorrected, type BaselineEntry } from '../../../src/detection/corrected';
import { callerTargetKey } from '../../../src/detection/corrected/detection';
import type { AzureActivityRow, DeviceEventsRow, DeviceFileEventsRow } from '../../../src/detection/schema';

const OP = 'Microsoft.Compute/virtualMachines/runCommand/action';
const scope = (vm: string) =>
  `/subscriptions/7e861ea0-79f3-4ead-a336-d55d4a591e2a/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/${vm}`;
const midnight = (d: string) => `${d}T00:00:00.0000000Z`;

/** One day on which `vm` runs a script with `commands` at 04:00. */
function dayOf(d: string, vm: string, commands: string[]) {
  const at = (s: string) => `${d}T04:00:${s}.0000000Z`;
  const AzureActivity: AzureActivityRow[] = ['Started', 'Accepted', 'Succeeded'].map((status, i) => ({
    TimeGenerated: at(['00', '02', '50'][i]!),
    OperationNameValue: OP,
    Authorization: JSON.stringify({ scope: scope(vm) }),
    CorrelationId: `${d}-${vm}`,
    Caller: 'alice@contoso.com',
    CallerIpAddress: '10.0.0.1',
    ActivityStatusValue: status,
  }));
  const DeviceFileEvents: DeviceFileEventsRow[] = [
    {
      TimeGenerated: at('10'),
      DeviceName: `${vm}.contoso.com`,
      InitiatingProcessFileName: 'RunCommandExtension.exe',
      FileName: 'script3.ps1',
      FileSize: 321,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: '',
      InitiatingProcessId: 1,
    },
  ];
  const DeviceEvents: DeviceEventsRow[] = ['script3.ps1', ...commands].map((Command, i) => ({
    TimeGenerated: at(String(20 + i)),
    DeviceName: `${vm}.contoso.com`,
    InitiatingProcessCommandLine: 'powershell -File script3.ps1',
    AdditionalFields: { Command },
  }));
  return { AzureActivity, DeviceFileEvents, DeviceEvents };
}

describe('baseline store on Azurite', () => {
  let azurite: RunningAzurite;
  const open = async () =>
    new BaselineStore(
      (
        await StateStore.open(
          { kind: 'connectionString', connectionString: azurite.connectionString },
          { tableName: 'baselinetest' },
        )
      ).entities,
    );
  beforeAll(async () => {
    azurite = await startAzuriteTables();
  });
  afterAll(async () => azurite?.stop());

  /** One job run over day `d`: load, detect, store. Returns the findings' VMs. */
  async function runDay(d: string, next: string, vm: string, commands: string[], baselineDays: number) {
    const store = await open();
    const baseline = await store.load();
    const result = detectCorrected(dayOf(d, vm, commands), { windowStart: midnight(d), baselineDays, baseline });
    await store.record(baseline, result.observations, midnight(next), baselineDays);
    return result.findings.map((f) => f.finding.VirtualMachineName);
  }

  it('carries the baseline over runs, and forgets a fingerprint past its horizon', async () => {
    // BASELINE_DAYS=3. The same script on app01 the 20th, on app02 the 21st; then nothing until the 26th.
    expect(await runDay('2026-11-20', '2026-11-21', 'app01', ['Get-HotFix'], 3)).toEqual(['app01']);
    expect(await runDay('2026-11-21', '2026-11-22', 'app02', ['Get-HotFix'], 3)).toEqual([]);
    // Script fingerprints; the (caller, machine) pairs of corrected mode's control-plane
    // findings are kept beside them under their own keys.
    const all = [...(await (await open()).load()).values()];
    const pairKeys = new Set(['app01', 'app02'].map((vm) => callerTargetKey('alice@contoso.com', scope(vm))));
    expect(all.filter((e) => pairKeys.has(e.fingerprint))).toHaveLength(2);
    const stored = all.filter((e) => !pairKeys.has(e.fingerprint));
    expect(stored).toEqual<BaselineEntry[]>([
      {
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string,
        firstSeen: '2026-11-20T04:00:00.0000000Z',
        lastSeen: '2026-11-21T04:00:00.0000000Z',
        count: 2,
        exampleVirtualMachine: 'app01',
        exampleScope: scope('app01'),
      },
    ]);
    // Another script on the 24th. Once the 24th is done, the next window's horizon starts on
    // the 22nd: Get-HotFix, last seen on the 21st, is deleted from the table.
    expect(await runDay('2026-11-24', '2026-11-25', 'web01', ['Get-Service'], 3)).toEqual(['web01']);
    const after = [...(await (await open()).load()).values()];
    expect(after.map((e) => e.exampleVirtualMachine).sort()).toEqual(['web01', 'web01']); // its script and its pair
    // Get-HotFix again on the 26th: new again.
    expect(await runDay('2026-11-26', '2026-11-27', 'app03', ['Get-HotFix'], 3)).toEqual(['app03']);
  });
});
