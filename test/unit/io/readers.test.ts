import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachCsvRecord, portalDateTimeToIso, readCsvFile } from '../../../src/io/csv';
import { InputError } from '../../../src/io/errors';
import { readJsonFile } from '../../../src/io/json';
import { readNdjsonFile } from '../../../src/io/ndjson';
import type { RawRow, RowLocation } from '../../../src/io/rawRows';

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rcd-readers-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(content: string | Buffer, ext = 'ndjson'): string {
  const path = join(tmp, `f${n++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

function collect(read: (sink: (raw: RawRow, where: () => RowLocation) => void) => unknown) {
  const rows: RawRow[] = [];
  const where: RowLocation[] = [];
  const result = read((raw, w) => {
    rows.push(raw);
    where.push(w());
  });
  return { rows, where, result };
}

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

/** A DeviceEvents row that passes the pre-filter, with a payload to tell rows apart. */
const de = (i: number, extra: Record<string, unknown> = {}) => ({
  TimeGenerated: '2026-11-25T13:44:34.6730000Z',
  InitiatingProcessCommandLine: 'powershell -File script1.ps1',
  AdditionalFields: { Command: `Cmd-${i}` },
  ...extra,
});

describe('NDJSON reader', () => {
  it('reads every line that can matter, across any chunk size, with its line number', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant('relevant'), fc.constant('noise'), fc.constant('blank')), { maxLength: 30 }),
        fc.integer({ min: 16, max: 400 }),
        fc.boolean(),
        (kinds, chunkBytes, finalNewline) => {
          const lines = kinds.map((k, i) =>
            k === 'relevant' ? JSON.stringify(de(i)) : k === 'noise' ? JSON.stringify({ i, x: 'y'.repeat(i) }) : '',
          );
          const path = file(lines.join('\n') + (finalNewline ? '\n' : ''));
          const { rows, where } = collect((sink) => readNdjsonFile(path, 'DeviceEvents', sink, { chunkBytes }));
          // Relevant lines all come through, in order, with their line numbers; the
          // first and an unterminated last line are always parsed too.
          const wanted = lines
            .map((l, i) => ({ l, line: i + 1 }))
            .filter(
              ({ l, line }) =>
                l !== '' && (l.includes('script1.ps1') || line === 1 || (!finalNewline && line === lines.length)),
            );
          expect(rows).toEqual(wanted.map(({ l }) => JSON.parse(l)));
          expect(where.map((w) => w.line)).toEqual(wanted.map(({ line }) => line));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('counts lines, skips a BOM and CRLF line ends', () => {
    const path = file('\uFEFF' + JSON.stringify(de(1)) + '\r\n' + JSON.stringify(de(2)) + '\r\n');
    const { rows, result } = collect((sink) => readNdjsonFile(path, 'DeviceEvents', sink));
    expect(rows).toEqual([de(1), de(2)]);
    expect(result).toEqual({ lines: 2, parsed: 2 });
  });

  it('--validate-all mode parses every line', () => {
    const path = file(
      [JSON.stringify({ a: 1 }), JSON.stringify({ b: 2 }), '{bad', JSON.stringify({ c: 3 })].join('\n'),
    );
    const err = inputError(() => readNdjsonFile(path, 'DeviceEvents', () => undefined, { prefilter: false }));
    expect(err.line).toBe(3);
    // With the pre-filter the broken middle line is never looked at.
    expect(collect((sink) => readNdjsonFile(path, 'DeviceEvents', sink)).rows).toEqual([{ a: 1 }, { c: 3 }]);
  });

  it('reports a cut-off last line as a truncated export', () => {
    const path = file(JSON.stringify(de(1)) + '\n' + JSON.stringify(de(2)).slice(0, 40));
    const err = inputError(() => readNdjsonFile(path, 'DeviceEvents', () => undefined));
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/:2: the last line is not complete JSON .* export the table again/);
  });

  it('reports a file that is not NDJSON at its first line', () => {
    const path = file('TimeGenerated,DeviceName\n2026-11-25,vm1\n');
    expect(inputError(() => readNdjsonFile(path, 'DeviceEvents', () => undefined)).line).toBe(1);
  });

  it('names the line of invalid JSON deep in a file', () => {
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify(de(i)));
    lines[36] = lines[36].replace('"AdditionalFields"', 'AdditionalFields');
    const path = file(lines.join('\n') + '\n');
    const err = inputError(() => readNdjsonFile(path, 'DeviceEvents', () => undefined, { chunkBytes: 256 }));
    expect(err.line).toBe(37);
    expect(err.message).toContain(`${path}:37: not valid JSON`);
  });
});

describe('JSON array reader', () => {
  it('streams elements across chunks, whatever brackets and quotes their strings hold', () => {
    const tricky = [
      de(1, { DeviceName: 'a ] b } c , d [ e {' }),
      de(2, { DeviceName: 'quote \\" and backslash \\\\ then ]' }),
      de(3, { Nested: [{ a: [1, 2, { b: ']' }] }] }),
      { OperationNameValue: 'noise' },
      de(4, { DeviceName: 'ünïcödé ✓ 𝄞' }),
    ];
    for (const text of [JSON.stringify(tricky), JSON.stringify(tricky, null, 2), JSON.stringify(tricky, null, '\t')]) {
      for (const chunkBytes of [7, 64, 1 << 20]) {
        const path = file(text, 'json');
        const { rows, result } = collect((sink) => readJsonFile(path, 'DeviceEvents', sink, { chunkBytes }));
        expect(rows).toEqual(tricky.filter((r) => r !== tricky[3]));
        expect(result).toEqual({ rows: 5, parsed: 4 });
      }
    }
  });

  it('gives each element its starting line', () => {
    const path = file('[\n' + [de(1), de(2), de(3)].map((r) => JSON.stringify(r)).join(',\n') + '\n]\n', 'json');
    expect(collect((sink) => readJsonFile(path, 'DeviceEvents', sink)).where.map((w) => w.line)).toEqual([2, 3, 4]);
  });

  it('accepts an empty array', () => {
    const path = file(' [ ] ', 'json');
    expect(collect((sink) => readJsonFile(path, 'DeviceEvents', sink)).result).toEqual({ rows: 0, parsed: 0 });
  });

  it('reports an unclosed array, an element that is not an object, and trailing text', () => {
    const open = file('[\n' + JSON.stringify(de(1)) + ',\n' + JSON.stringify(de(2)).slice(0, 30), 'json');
    expect(inputError(() => readJsonFile(open, 'DeviceEvents', () => undefined)).message).toMatch(
      /not closed .* export the table again/,
    );
    const scalar = file('[\n' + JSON.stringify(de(1)) + ',\n"-File script1.ps1"\n]', 'json');
    const err = inputError(() => readJsonFile(scalar, 'DeviceEvents', () => undefined));
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/array element 2 is "-File script1.ps1", not a row object/);
    const trailing = file('[]\n[]', 'json');
    expect(inputError(() => readJsonFile(trailing, 'DeviceEvents', () => undefined)).line).toBe(2);
  });

  it('reads a Log Analytics query API response by column names', () => {
    const body = {
      tables: [
        {
          name: 'PrimaryResult',
          columns: [
            { name: 'TimeGenerated', type: 'datetime' },
            { name: 'FileSize', type: 'long' },
            { name: 'AdditionalFields', type: 'dynamic' },
          ],
          rows: [
            ['2026-11-25T13:44:34.673Z', 12, '{"Command":"a"}'],
            ['2026-11-25T13:44:35Z', null, null],
          ],
        },
      ],
    };
    const path = file('\uFEFF' + JSON.stringify(body), 'json');
    const { rows, where } = collect((sink) => readJsonFile(path, 'DeviceEvents', sink));
    expect(rows).toEqual([
      { TimeGenerated: '2026-11-25T13:44:34.673Z', FileSize: 12, AdditionalFields: '{"Command":"a"}' },
      { TimeGenerated: '2026-11-25T13:44:35Z', FileSize: null, AdditionalFields: null },
    ]);
    expect(where[1].label).toBe('row 2 of the query API response');
  });

  it('reports a response row of the wrong width, and an object that is no response', () => {
    const bad = file(
      JSON.stringify({ tables: [{ name: 'PrimaryResult', columns: [{ name: 'a' }], rows: [[1], [1, 2]] }] }),
      'json',
    );
    expect(inputError(() => readJsonFile(bad, 'DeviceEvents', () => undefined)).message).toMatch(
      /row 2 of the query API response is not an array of 1 cells/,
    );
    const other = file('{"value":[]}', 'json');
    expect(inputError(() => readJsonFile(other, 'DeviceEvents', () => undefined)).message).toMatch(/"tables" array/);
  });
});

describe('CSV reader', () => {
  const records = (text: string, chunkBytes?: number) => {
    const out: Array<[string[], number]> = [];
    forEachCsvRecord(file(text, 'csv'), (fields, line) => out.push([fields, line]), chunkBytes);
    return out;
  };

  it('follows RFC 4180: quotes, doubled quotes, commas and line breaks in fields, CRLF', () => {
    const text = 'a,b,c\r\n1,"x, ""y""",3\r\n"multi\nline",,"end\r\nhere"\r\nlast,"",z';
    for (const chunkBytes of [1, 2, 3, 5, 1 << 20]) {
      expect(records(text, chunkBytes)).toEqual([
        [['a', 'b', 'c'], 1],
        [['1', 'x, "y"', '3'], 2],
        [['multi\nline', '', 'end\r\nhere'], 3],
        [['last', '', 'z'], 6],
      ]);
    }
  });

  it('round-trips random fields written the RFC 4180 way, across chunk sizes', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'é', '"', ',', '\n', '\r\n', ' ', '𝄞'), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 40 }),
        (rows, chunkBytes) => {
          const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? '"' + f.replace(/"/g, '""') + '"' : f);
          const text = rows.map((r) => r.map(quote).join(',')).join('\r\n') + '\r\n';
          expect(records(text, chunkBytes).map(([f]) => f)).toEqual(rows);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads a portal export: BOM, [UTC] headers, display-form datetimes', () => {
    const path = file(
      '\uFEFFTimeGenerated [UTC],DeviceName,FileSize\r\n' +
        '"11/25/2026, 1:44:00.073 PM",vm1,101\r\n' +
        '"11/25/2026, 12:05:09.5 AM",vm2,\r\n' +
        '2026/11/25 0:00:01.403,vm3,7\r\n',
      'csv',
    );
    const { rows, where, result } = collect((sink) => readCsvFile(path, new Set(['TimeGenerated']), sink));
    expect(rows).toEqual([
      { TimeGenerated: '2026-11-25T13:44:00.073Z', DeviceName: 'vm1', FileSize: '101' },
      { TimeGenerated: '2026-11-25T00:05:09.5Z', DeviceName: 'vm2', FileSize: '' },
      { TimeGenerated: '2026-11-25T00:00:01.403Z', DeviceName: 'vm3', FileSize: '7' },
    ]);
    expect(where.map((w) => w.line)).toEqual([2, 3, 4]);
    expect(result).toEqual({ rows: 3 });
  });

  it('converts the portal datetime forms, and leaves unknown text for the row check to report', () => {
    expect(portalDateTimeToIso('11/25/2026, 12:00:00.000 PM')).toBe('2026-11-25T12:00:00.000Z');
    expect(portalDateTimeToIso('11/25/2026, 12:00:00 AM')).toBe('2026-11-25T00:00:00Z');
    expect(portalDateTimeToIso('1/2/2026, 11:59:59.999 PM')).toBe('2026-01-02T23:59:59.999Z');
    expect(portalDateTimeToIso('2026-11-25T04:13:54.3140005Z')).toBe('2026-11-25T04:13:54.3140005Z');
    expect(portalDateTimeToIso('11/25/2026, 13:00:00 PM')).toBe('11/25/2026, 13:00:00 PM');
    expect(portalDateTimeToIso('yesterday')).toBe('yesterday');
  });

  it('refuses local-time columns, ragged records and an unclosed quote, with the line', () => {
    const local = file('TimeGenerated [Local Time],a\r\nx,y\r\n', 'csv');
    expect(inputError(() => readCsvFile(local, new Set(['TimeGenerated']), () => undefined)).message).toMatch(
      /:1: column "TimeGenerated \[Local Time\]" is in local time; set the portal's time zone to UTC/,
    );
    const ragged = file('a,b\n1,2\n1,2,3\n', 'csv');
    expect(inputError(() => readCsvFile(ragged, new Set(), () => undefined)).message).toMatch(
      /:3: record has 3 fields but the header has 2/,
    );
    const open = file('a,b\n1,2\n"3,4\n5,6\n', 'csv');
    expect(inputError(() => readCsvFile(open, new Set(), () => undefined)).message).toMatch(
      /:3: a quoted field is never closed/,
    );
    const stray = file('a,b\nx"y,2\n', 'csv');
    expect(inputError(() => readCsvFile(stray, new Set(), () => undefined)).line).toBe(2);
  });
});
