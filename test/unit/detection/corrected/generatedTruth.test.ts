/**
 * Corrected mode against the generator's ground truth: on generated days with the
 * query's corners (case variants, FQDN device names, script names reused across VMs,
 * look-alike local scripts), every planted run-once script appears as exactly one
 * execution on its own VM, with its own commands and file size, unless the operation
 * ended before the script ran (the generator's window-edge corner).
 */
import { coerceRow, toUnixTicks } from '../../../../src/detection';
import { CorrectedDetection } from '../../../../src/detection/corrected';
import { toupper } from '../../../../src/detection/kql';
import { generateDayRows, GENERATED_TABLES } from '../../../../scripts/generator';

const READABLE = /-File[\t\n\v\f\r \u0085\u00a0](script[0-9]{1,9}\.ps1)/i;

/** `tostring(parse_json(AdditionalFields).Command)`, written out again for the test. */
function commandOf(fields: unknown): string {
  let v = fields;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return '';
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return '';
  const c = (v as Record<string, unknown>).Command;
  return c === undefined || c === null ? '' : String(c);
}

describe('corrected mode on generated days', () => {
  it.each([1, 2, 3])('seed %i: each planted script is one execution with its commands and size', (seed) => {
    const days = generateDayRows({ seed, operations: 120, days: 2, runOnceScriptsPerDay: 8, noiseFactor: 1 });
    let checked = 0;
    for (const day of days) {
      const detection = new CorrectedDetection();
      for (const table of GENERATED_TABLES) {
        for (const raw of day[table])
          detection.add(table, coerceRow(table, raw as unknown as Record<string, unknown>).row);
      }
      const { executions } = detection.executions();
      for (const p of day.summary.planted ?? []) {
        const ops = day.AzureActivity.filter((r) => r.CorrelationId === p.correlationId);
        const end = ops.map((r) => toUnixTicks(r.TimeGenerated)).reduce((a, b) => (a > b ? a : b));
        const file = day.DeviceFileEvents.find((f) => f.FileName === p.scriptName && f.DeviceName === p.deviceName)!;
        const events = day.DeviceEvents.filter(
          (e) => e.DeviceName === p.deviceName && e.InitiatingProcessCommandLine.includes(p.scriptName),
        );
        const mine = executions.filter((e) => e.CorrelationId === p.correlationId);
        // Corners no mode can read: the operation ended before its script ran, or a
        // command line whose script name the rule's regex cannot extract (-FilePath,
        // no white space, U+FEFF, a 10-digit script number).
        const readable = READABLE.test(events[0]?.InitiatingProcessCommandLine ?? '');
        if (toUnixTicks(file.TimeGenerated) >= end || !readable) {
          expect(mine).toEqual([]);
          continue;
        }
        expect(mine).toHaveLength(1);
        const e = mine[0]!;
        expect(e.VirtualMachineName).toBe(p.armName);
        expect(e.PowershellFileName).toBe(p.scriptName);
        expect(e.PowershellFileSize).toBe(p.size);
        // Exactly the commands logged for this script on this device (AdditionalFields may
        // be text, invalid or lack Command: a corner, read as the rule reads it).
        const logged = events
          .map((ev) => String(commandOf(ev.AdditionalFields)))
          .filter((c) => c !== p.scriptName)
          .map(toupper)
          .sort();
        expect(e.PowershellScriptCommands).toEqual(logged.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        if (logged.includes(toupper(p.commands[0]!)))
          expect(e.PowershellScriptCommands).toContain(toupper(p.commands[0]!));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });
});
