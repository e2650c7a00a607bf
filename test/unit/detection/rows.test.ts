/** coerceRow: parsed records → typed rows as KQL sees them, with cell problems listed. */
import fc from 'fast-check';
import { parseKqlDateTime } from '../../../src/detection/datetime';
import { coerceCell, coerceRow, columnNames, dateTimeOf, RULE_COLUMNS, TABLE_NAMES } from '../../../src/detection/rows';

describe('coerceRow', () => {
  it('types a full DeviceFileEvents record, optional columns absent, and ignores columns it does not declare', () => {
    const { row, problems } = coerceRow('DeviceFileEvents', {
      TimeGenerated: '2026-11-25T22:55:20.181Z',
      DeviceName: 'web01',
      InitiatingProcessFileName: 'RunCommandExtension.exe',
      FileName: 'script0.ps1',
      FileSize: 59,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: 'c:\\x.exe',
      InitiatingProcessId: '4301',
      ReportId: 0,
    });
    expect(problems).toEqual([]);
    expect(row).toEqual({
      TimeGenerated: '2026-11-25T22:55:20.1810000Z',
      DeviceName: 'web01',
      InitiatingProcessFileName: 'RunCommandExtension.exe',
      FileName: 'script0.ps1',
      FileSize: 59,
      InitiatingProcessAccountName: 'system',
      InitiatingProcessAccountDomain: 'nt authority',
      InitiatingProcessFolderPath: 'c:\\x.exe',
      InitiatingProcessId: 4301,
      // Optional (not read by the rule): absent from the record, read as empty.
      SHA256: '',
      FolderPath: '',
    });
    expect(Object.keys(row)).toEqual(columnNames('DeviceFileEvents'));
  });

  it("reads DeviceFileEvents' optional SHA256 and FolderPath when the record has them", () => {
    const sha = 'ab'.repeat(32);
    const { row, problems } = coerceRow('DeviceFileEvents', { SHA256: sha, FolderPath: 'C:\\P\\script1.ps1' });
    expect(problems).toEqual([]);
    expect(row.SHA256).toBe(sha);
    expect(row.FolderPath).toBe('C:\\P\\script1.ps1');
  });

  it('reads missing and null cells as the empty value of their type, without a problem', () => {
    const { row, problems } = coerceRow('DeviceFileEvents', { FileSize: null, DeviceName: null });
    expect(problems).toEqual([]);
    expect(row.TimeGenerated).toBeNull();
    expect(row.DeviceName).toBe('');
    expect(row.FileName).toBe('');
    expect(row.FileSize).toBeNull();
    expect(row.InitiatingProcessId).toBeNull();
  });

  it('lists cells of the wrong type and still returns a row', () => {
    const { row, problems } = coerceRow('DeviceFileEvents', {
      TimeGenerated: 'yesterday',
      DeviceName: { name: 'web01' },
      FileSize: 'abc',
      InitiatingProcessId: 1.5,
    });
    expect(problems).toEqual([
      { column: 'TimeGenerated', expected: 'datetime', found: '"yesterday"' },
      { column: 'DeviceName', expected: 'string', found: 'object {"name":"web01"}' },
      { column: 'FileSize', expected: 'long', found: '"abc"' },
      { column: 'InitiatingProcessId', expected: 'long', found: 'number 1.5' },
    ]);
    expect(row.TimeGenerated).toBeNull();
    expect(row.DeviceName).toBe('{"name":"web01"}');
    expect(row.FileSize).toBeNull();
    expect(row.InitiatingProcessId).toBeNull();
  });

  it('turns numbers in string columns into their digits', () => {
    const { row, problems } = coerceRow('AzureActivity', { CorrelationId: 42, Caller: true });
    expect(problems).toEqual([]);
    expect(row.CorrelationId).toBe('42');
    expect(row.Caller).toBe('true');
  });

  it('passes dynamic cells through as-is (object or JSON text)', () => {
    const obj = { Command: 'Get-Item' };
    expect(coerceRow('DeviceEvents', { AdditionalFields: obj }).row.AdditionalFields).toBe(obj);
    expect(coerceRow('DeviceEvents', { AdditionalFields: '{"Command":"x"}' }).row.AdditionalFields).toBe(
      '{"Command":"x"}',
    );
    expect(coerceRow('DeviceEvents', {}).row.AdditionalFields).toBeNull();
  });

  it('reads CSV text cells', () => {
    const { row, problems } = coerceRow('DeviceFileEvents', {
      TimeGenerated: '11/25/2026 10:55:20 PM',
      FileSize: ' 59 ',
      InitiatingProcessId: '',
    });
    expect(problems).toEqual([{ column: 'TimeGenerated', expected: 'datetime', found: '"11/25/2026 10:55:20 PM"' }]);
    expect(row.FileSize).toBe(59);
    expect(row.InitiatingProcessId).toBeNull();
  });

  it('truncates long descriptions of a bad value', () => {
    const { problems } = coerceRow('DeviceFileEvents', { FileSize: 'x'.repeat(500) });
    expect(problems[0].found.length).toBeLessThanOrEqual(60);
  });

  it('never throws, whatever the record holds', () => {
    const weird: Record<string, unknown> = {
      TimeGenerated: Symbol('t'),
      OperationNameValue: () => 1,
      Authorization: 10n,
      CorrelationId: [1, [2]],
      Caller: undefined,
    };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    weird.CallerIpAddress = cyclic;
    expect(() => coerceRow('AzureActivity', weird)).not.toThrow();
    expect(coerceRow('AzureActivity', weird).problems.map((p) => p.column)).toEqual([
      'TimeGenerated',
      'OperationNameValue',
      'CorrelationId',
      'CallerIpAddress',
    ]);
  });
});

describe('coerceCell', () => {
  it.each([
    ['datetime', '2026-11-25T04:13:54.3140005Z', '2026-11-25T04:13:54.3140005Z', true],
    ['datetime', '2026-11-25T04:13:54Z', '2026-11-25T04:13:54.0000000Z', true],
    ['datetime', '2026-11-25 04:13:54.314', '2026-11-25T04:13:54.3140000Z', true],
    ['datetime', '2026-02-30T00:00:00Z', null, false],
    ['datetime', 1764044034000, null, false],
    ['datetime', '', null, true],
    ['long', 7, 7, true],
    ['long', '-12', -12, true],
    ['long', '12.0', 12, true],
    ['long', '1e3', null, false],
    ['long', Number.NaN, null, false],
    ['long', true, null, false],
    ['real', '3.5', 3.5, true],
    ['real', 'x', null, false],
    ['bool', 'true', true, true],
    ['bool', 'maybe', null, false],
    ['string', null, '', true],
    ['string', 3.25, '3.25', true],
  ] as const)('%s %j → %j (ok %s)', (type, raw, value, ok) => {
    expect(coerceCell(type, raw)).toEqual({ value, ok });
  });

  it('covers every column of the rule', () => {
    for (const columns of Object.values(RULE_COLUMNS)) {
      for (const [, type] of columns) expect(() => coerceCell(type, 'x')).not.toThrow();
    }
  });
});

describe('the typed row of each table', () => {
  it.each(TABLE_NAMES)('%s has exactly the RULE_COLUMNS, in order, typed as declared', (table) => {
    const { row } = coerceRow(table, {});
    expect(Object.keys(row)).toEqual(columnNames(table));
    const full: Record<string, unknown> = {};
    const sample: Record<string, unknown> = {
      string: 'x',
      long: 7,
      datetime: '2026-11-25T04:13:54.314Z',
      dynamic: { a: 1 },
    };
    for (const [column, type] of RULE_COLUMNS[table]) full[column] = sample[type];
    const typed = coerceRow(table, full);
    expect(typed.problems).toEqual([]);
    for (const [column, type] of RULE_COLUMNS[table]) {
      const expected = type === 'datetime' ? '2026-11-25T04:13:54.3140000Z' : sample[type];
      expect((typed.row as unknown as Record<string, unknown>)[column]).toEqual(expected);
    }
  });
});

describe('dateTimeOf (the fast path of datetime cells)', () => {
  const digits = (n: number) =>
    fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((d) => d.join(''));
  const utcLike = fc
    .tuple(
      fc.oneof(digits(4), fc.constantFrom('2026', '2024', '1900', '2000', '2100', '0004', '9999')),
      fc.oneof(digits(2), fc.constantFrom('01', '02', '12', '13', '00')),
      fc.oneof(digits(2), fc.constantFrom('28', '29', '30', '31', '00')),
      fc.oneof(digits(2), fc.constantFrom('23', '24')),
      fc.oneof(digits(2), fc.constantFrom('59', '60')),
      fc.oneof(digits(2), fc.constantFrom('59', '60')),
      fc.oneof(
        fc.constant(''),
        fc.integer({ min: 1, max: 9 }).chain((n) => digits(n).map((d) => '.' + d)),
      ),
      fc.constantFrom('Z', 'z', '', '+00:00', '+01:30', ' '),
      fc.constantFrom('T', ' ', 't'),
    )
    .map(([y, mo, d, h, mi, s, frac, zone, sep]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac}${zone}`);

  it('gives exactly what parseKqlDateTime gives', () => {
    fc.assert(
      fc.property(fc.oneof(utcLike, fc.string()), (text) => {
        expect(dateTimeOf(text)).toBe(parseKqlDateTime(text));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['2026-11-25T04:13:54Z', '2026-11-25T04:13:54.0000000Z'],
    ['2026-11-25T04:13:54.3Z', '2026-11-25T04:13:54.3000000Z'],
    ['2026-11-25T04:13:54.3140005Z', '2026-11-25T04:13:54.3140005Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.0000000Z'],
    ['2026-02-29T00:00:00Z', null],
    ['2100-02-29T00:00:00Z', null],
    ['2026-11-25T24:00:00Z', null],
  ])('%s → %s', (text, expected) => {
    expect(dateTimeOf(text)).toBe(expected);
  });
});
