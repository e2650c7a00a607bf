/** The comparison behind `verify`, and replay's window check. */
import { diffFindings, differenceCount, formatDiff } from '../../../src/cli/verify';
import { replay, ReplayWindowError } from '../../../src/job/replay';
import type { RunCommandFinding } from '../../../src/detection/schema';

function finding(over: Partial<RunCommandFinding> = {}): RunCommandFinding {
  return {
    timestamp: '2026-11-25T04:00:00.0000001Z',
    StartTime: '2026-11-25T04:00:00.0000001Z',
    EndTime: '2026-11-25T04:01:00.0000000Z',
    PowershellFileName: 'script0.ps1',
    VirtualMachineName: 'web01',
    Caller: 'alice@contoso.com',
    CallerName: 'alice',
    CallerUPNSuffix: 'contoso.com',
    CallerIpAddress: '10.0.0.1',
    PowershellScriptCommands: ['GET-SERVICE'],
    PowershellFileSize: 59,
    ScriptFingerprintHash: 'a'.repeat(64),
    Prevalence: 50,
    Scope: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web01',
    ...over,
  };
}

describe('diffFindings', () => {
  it('finds no difference between equal row sets in any order', () => {
    const a = finding();
    const b = finding({ VirtualMachineName: 'sql01' });
    expect(differenceCount(diffFindings([a, b], [{ ...b }, { ...a }]))).toBe(0);
  });

  it('compares rows as a multiset, every column, ticks included', () => {
    const a = finding();
    const d = diffFindings([a, a], [a, finding({ StartTime: '2026-11-25T04:00:00.0000002Z' })]);
    expect(d.onlyServer).toEqual([a]);
    expect(d.onlyClient.map((f) => f.StartTime)).toEqual(['2026-11-25T04:00:00.0000002Z']);
    const commands = diffFindings([a], [finding({ PowershellScriptCommands: ['GET-SERVICE', 'X'] })]);
    expect(differenceCount(commands)).toBe(2);
  });

  it('reports a row that differs only by Prevalence once, with both values', () => {
    const d = diffFindings([finding({ Prevalence: 25 })], [finding({ Prevalence: 50 })]);
    expect(d.prevalenceDiffers).toHaveLength(1);
    expect(differenceCount(d)).toBe(1);
    expect(formatDiff(d)).toMatch(/Prevalence differs +2026-11-25T04:00:00\.0000001Z +web01 .* 25 \/ 50 /);
  });
});

describe('replay', () => {
  it('refuses a window that is not whole UTC days', async () => {
    const source = { pullWindowInto: () => Promise.reject(new Error('not called')) };
    await expect(
      replay({ from: '2026-11-25T06:00:00.0000000Z', to: '2026-11-26T00:00:00.0000000Z', mode: 'parity', source }),
    ).rejects.toBeInstanceOf(ReplayWindowError);
    await expect(
      replay({ from: '2026-11-26T00:00:00.0000000Z', to: '2026-11-26T00:00:00.0000000Z', mode: 'parity', source }),
    ).rejects.toThrow(/--to after --from/);
  });
});
