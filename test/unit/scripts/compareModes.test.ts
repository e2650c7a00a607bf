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
});
