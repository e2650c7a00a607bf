/**
 * Deeply nested JSON in AdditionalFields: Kusto documents no nesting limit for
 * `dynamic` values (only their 1 MB size), so `parse_json` reads the value whatever its
 * depth and `tostring` gives its text; neither may overflow the stack. And a row the
 * engine still cannot evaluate is quarantined by the Detector, never failing the window.
 */
import fc from 'fast-check';
import { createDetector } from '../../../src/detection/detector';
import { compactJson, getProperty, parseJson, tostring } from '../../../src/detection/kql';
import { toScriptCommand } from '../../../src/detection/parity/deviceEvents';
import type { DeviceEventsRow } from '../../../src/detection/schema';

const nested = (depth: number, inner = '1') => '{"a":'.repeat(depth) + inner + '}'.repeat(depth);

describe('parse_json and tostring of deeply nested values', () => {
  it('reads a Command nested 6,000 deep and prints it as compact JSON', () => {
    const text = `{"Command":${nested(6000)}}`;
    const command = getProperty(parseJson(text), 'Command');
    const printed = tostring(command);
    expect(printed).toBe(nested(6000));
    expect(() => JSON.stringify(command)).toThrow(RangeError); // what tostring used to run into
  });

  it('arrays nested 100,000 deep', () => {
    const text = '['.repeat(100_000) + '"x"' + ']'.repeat(100_000);
    expect(tostring(parseJson(text))).toBe(text);
  });

  it('prints what JSON.stringify prints, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(compactJson(value)).toBe(JSON.stringify(value));
      }),
    );
  });

  it('a deep value that overflows JSON.stringify is printed exactly like a shallow one would be', () => {
    // Mixed arrays/objects, undefined members, escapes: the iterative path matches JSON.stringify.
    const deep: unknown[] = [];
    let cur: unknown[] = deep;
    for (let i = 0; i < 20_000; i++) {
      const next: unknown[] = [];
      cur.push({ k: 'q"\u2028', u: undefined, n: i % 7 === 0 ? null : i }, next, undefined);
      cur = next;
    }
    const printed = compactJson(deep);
    let expected = '';
    for (let i = 0; i < 20_000; i++) expected += `[{"k":"q\\"\u2028","n":${i % 7 === 0 ? 'null' : i}},`;
    expected += '[]' + ',null]'.repeat(20_000);
    expect(printed).toBe(expected);
    // Parses back to the same structure (depth 20,000 + 1).
    expect(compactJson(JSON.parse(printed))).toBe(printed);
  });

  it("the rule's DeviceEvents branch takes a row whose Command is 6,000 deep", () => {
    const row: DeviceEventsRow = {
      TimeGenerated: '2026-11-25T10:00:00.0000000Z',
      DeviceName: 'vm1',
      InitiatingProcessCommandLine: 'powershell -ExecutionPolicy Unrestricted -File script0.ps1',
      AdditionalFields: `{"Command":${nested(6000)}}`,
    } as DeviceEventsRow;
    expect(toScriptCommand(row)?.PSCommand).toBe(nested(6000).toUpperCase());
  });
});

describe('quarantine', () => {
  it('a row the engine cannot evaluate is set aside, counted and described; the others are kept', () => {
    const detector = createDetector('parity');
    const good: DeviceEventsRow = {
      TimeGenerated: '2026-11-25T10:00:00.0000000Z',
      DeviceName: 'vm1',
      InitiatingProcessCommandLine: 'powershell -File script1.ps1',
      AdditionalFields: '{"Command":"Get-Process"}',
    } as DeviceEventsRow;
    const bad = {
      ...good,
      TimeGenerated: '2026-11-25T11:00:00.0000000Z',
      get InitiatingProcessCommandLine(): string {
        throw new TypeError('cannot read this cell');
      },
    } as DeviceEventsRow;
    detector.add('DeviceEvents', good);
    detector.add('DeviceEvents', bad);
    detector.add('DeviceEvents', good);
    const result = detector.finish();
    expect(result.quarantine?.count).toEqual({ AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 1 });
    expect(result.quarantine?.samples).toEqual([
      expect.objectContaining({
        table: 'DeviceEvents',
        TimeGenerated: '2026-11-25T11:00:00.0000000Z',
        error: 'TypeError: cannot read this cell',
      }),
    ]);
    expect(result.quarantine?.samples[0]?.excerpt).toContain('"DeviceName":"vm1"');
    expect(result.mode === 'parity' && result.stages.scriptCommandRows).toBe(2);
  });
});
