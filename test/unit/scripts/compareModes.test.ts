/** scripts/compare-modes on a small generated month, and the generator's planted run-once scripts. */
import { compareModes, formatComparison, type CompareModesOptions } from '../../../scripts/compare-modes';
import { generateDayRows } from '../../../scripts/generator';

const OPTIONS: CompareModesOptions = {
  days: 6,
  operations: 40,
  seed: 11,
  runOncePerDay: 3,
  baselineDays: 14,
  noiseFactor: 1,
  firstDay: '2026-11-01',
};

describe('planted run-once scripts', () => {
  it('are recorded per day, succeed, and carry a command list found nowhere else', () => {
    const days = generateDayRows({ seed: 3, operations: 20, days: 3, runOnceScriptsPerDay: 2, noiseFactor: 1 });
    const planted = days.flatMap((d) => d.summary.planted ?? []);
    expect(planted).toHaveLength(6);
    expect(new Set(planted.map((p) => p.commands[0])).size).toBe(6);
    for (const p of planted) {
      const day = days.find((d) => d.summary.day === p.day)!;
      const statuses = day.AzureActivity.filter((r) => r.CorrelationId === p.correlationId).map(
        (r) => r.ActivityStatusValue,
      );
      expect(statuses.some((s) => s === 'Succeeded' || s === 'Success')).toBe(true);
      // The marker command is logged once in the whole run, on the planted VM.
      const markerEvents = days.flatMap((d) =>
        d.DeviceEvents.filter((e) => JSON.stringify(e.AdditionalFields ?? '').includes(p.commands[0]!)),
      );
      expect(markerEvents.length).toBeLessThanOrEqual(1);
      for (const e of markerEvents) expect(e.DeviceName).toBe(p.deviceName);
    }
  });

  it('leave the other rows as they were without the option', () => {
    const without = generateDayRows({ seed: 3, operations: 20, days: 2, noiseFactor: 1 });
    const withNone = generateDayRows({ seed: 3, operations: 20, days: 2, noiseFactor: 1, runOnceScriptsPerDay: 0 });
    expect(withNone).toEqual(without);
    expect(without[0]!.summary.planted).toBeUndefined();
  });
});

describe('planted scripts on every Run Command path', () => {
  it('leave the other rows as they were without the option, and plant each path with its own rows', () => {
    const base = { seed: 5, operations: 20, days: 2, noiseFactor: 1, runOnceScriptsPerDay: 1 };
    const without = generateDayRows(base);
    const withPaths = generateDayRows({ ...base, pathScriptsPerDay: 2 });
    for (const [i, day] of without.entries()) {
      // The day's rows come first, unchanged; the planted paths' rows are appended.
      for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const)
        expect(withPaths[i]![table].slice(0, day[table].length)).toEqual(day[table]);
    }
    const planted = withPaths.flatMap((d) => d.summary.planted ?? []);
    const byPath = (path: string) => planted.filter((p) => p.path === path);
    for (const path of ['vm-managed', 'vmss-action', 'vmss-managed', 'arc-managed', 'not-onboarded'])
      expect(byPath(path)).toHaveLength(4);
    const rows = withPaths.flatMap((d) => d.AzureActivity);
    const opOf = (id: string) => rows.find((r) => r.CorrelationId === id)!;
    expect(opOf(byPath('arc-managed')[0]!.correlationId).OperationNameValue).toBe(
      'Microsoft.HybridCompute/machines/runcommands/write',
    );
    expect(JSON.parse(opOf(byPath('vmss-action')[0]!.correlationId).Authorization).scope).toMatch(
      /\/virtualMachineScaleSets\/[^/]+\/virtualMachines\/\d+$/,
    );
    // A machine not onboarded to Defender has no endpoint rows at all.
    for (const p of byPath('not-onboarded'))
      expect(withPaths.flatMap((d) => d.DeviceFileEvents).some((f) => f.DeviceName === p.deviceName)).toBe(false);
  });
});

describe('compare-modes', () => {
  it('replays both modes over the generated days and counts the planted scripts each found', async () => {
    const r = await compareModes(OPTIONS);
    expect(r.days).toHaveLength(6);
    expect(r.planted).toHaveLength(18);
    for (const mode of [r.parity, r.corrected]) {
      expect(mode.findingsPerDay).toHaveLength(6);
      expect(mode.findingsPerDay.reduce((a, b) => a + b, 0)).toBe(mode.total);
      expect(mode.plantedFound).toBeLessThanOrEqual(18);
    }
    // Corrected mode finds at least what parity finds of the planted set, and most of it.
    expect(r.corrected.plantedFound).toBeGreaterThanOrEqual(r.parity.plantedFound);
    expect(r.corrected.plantedFound).toBeGreaterThanOrEqual(12);
    const text = formatComparison(r, OPTIONS);
    expect(text).toContain(`corrected ${r.corrected.plantedFound} of 18`);
    expect(text.split('\n').filter((l) => /^2026-11-0\d /.test(l))).toHaveLength(6);
    // Same options, same figures.
    const again = await compareModes(OPTIONS);
    expect(again.corrected).toEqual(r.corrected);
    expect(again.parity).toEqual(r.parity);
  });

  it('prints planted vs found per path: corrected finds every path, parity only the action Run Command on VMs', async () => {
    const o = { ...OPTIONS, days: 3, runOncePerDay: 1, pathScriptsPerDay: 2 };
    const r = await compareModes(o);
    for (const path of ['vm-managed', 'vmss-action', 'vmss-managed', 'arc-managed', 'not-onboarded'] as const) {
      expect(r.planted.filter((p) => p.path === path)).toHaveLength(6);
      expect(r.parity.foundByPath[path]).toBe(0);
      expect(r.corrected.foundByPath[path]).toBe(6);
    }
    expect(r.corrected.byKind.controlPlane).toBeGreaterThanOrEqual(6);
    expect(r.parity.byKind.controlPlane).toBe(0);
    const text = formatComparison(r, o);
    expect(text).toMatch(/^arc-managed\s+6\s+0\s+6$/m);
    expect(text).toMatch(/^not-onboarded\s+6\s+0\s+6$/m);
  });
});
