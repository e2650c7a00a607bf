import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coerceRow, ParityDetection } from '../../../src/detection';
import type { TableName } from '../../../src/detection/schema';
import { readCsvFile } from '../../../src/io/csv';
import { readJsonFile } from '../../../src/io/json';
import { forEachCandidateLine, mayMatter } from '../../../src/io/prefilter';
import {
  RUN_COMMAND,
  azureActivityRow,
  deviceEventsRow,
  deviceFileEventsRow,
  encode,
  encodedRow,
  mulberry32,
  rowOf,
} from './arbitraries';

const relevant = (table: TableName, raw: Record<string, unknown>): boolean =>
  ParityDetection.isRelevant(table, coerceRow(table, raw).row);

describe('byte pre-filter', () => {
  for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const) {
    it(`${table}: a line it drops is never a row the rule keeps, under any JSON encoding`, () => {
      let relevantSeen = 0;
      let droppedSeen = 0;
      fc.assert(
        fc.property(encodedRow(table), ({ row, seed, escapeRate }) => {
          const line = encode(row, mulberry32(seed), escapeRate);
          // The encoder is a JSON encoder: the line decodes to the row.
          expect(JSON.parse(line)).toEqual(row);
          if (relevant(table, row)) relevantSeen++;
          if (!mayMatter(table, line)) {
            droppedSeen++;
            expect(relevant(table, row)).toBe(false);
          }
        }),
        { numRuns: 3000 },
      );
      // The generators reach both sides, so the property is not vacuous.
      expect(relevantSeen).toBeGreaterThan(50);
      expect(droppedSeen).toBeGreaterThan(50);
    });
  }

  it('keeps the rows that matter and drops plain unrelated rows', () => {
    expect(mayMatter('AzureActivity', JSON.stringify({ OperationNameValue: RUN_COMMAND }))).toBe(true);
    expect(mayMatter('AzureActivity', JSON.stringify({ OperationNameValue: RUN_COMMAND.toUpperCase() }))).toBe(true);
    expect(
      mayMatter('AzureActivity', '{"OperationNameValue":"Microsoft.Compute\\/virtualMachines\\/runCommand\\/action"}'),
    ).toBe(true);
    expect(
      mayMatter('AzureActivity', JSON.stringify({ OperationNameValue: 'Microsoft.Compute/virtualMachines/write' })),
    ).toBe(false);
    expect(
      mayMatter('DeviceFileEvents', JSON.stringify({ InitiatingProcessFileName: 'RunCommandExtension.exe' })),
    ).toBe(true);
    expect(
      mayMatter('DeviceFileEvents', JSON.stringify({ InitiatingProcessFileName: 'runcommandextension.exe' })),
    ).toBe(false);
    expect(mayMatter('DeviceFileEvents', '{"InitiatingProcessFileName":"RunCommand\\u0045xtension.exe"}')).toBe(true);
    // An escaped backslash before a plain u (a Windows path) is not a \u escape...
    expect(mayMatter('DeviceFileEvents', '{"FolderPath":"C:\\\\Windows\\\\update.log"}')).toBe(false);
    // ...but a backslash character followed by an escaped letter is.
    expect(mayMatter('DeviceFileEvents', '{"InitiatingProcessFileName":"\\\\\\u0052unCommandExtension.exe"}')).toBe(
      true,
    );
    const de = (cmd: string): boolean =>
      mayMatter('DeviceEvents', JSON.stringify({ InitiatingProcessCommandLine: cmd }));
    expect(de('powershell -File script0.ps1')).toBe(true);
    expect(de('powershell -File\tscript123456789.ps1')).toBe(true);
    expect(de('powershell -File\u00a0script1.ps1')).toBe(true);
    expect(de('powershell -File\u3000script1.ps1')).toBe(true);
    expect(de('powershell -File\u000bscript1.ps1')).toBe(true); // written as \u000b
    expect(de('powershell -File scriptx.ps1')).toBe(false);
    expect(de('powershell -File script1234567890.ps1')).toBe(false);
    expect(de('powershell -FilePath script1.ps1')).toBe(false);
    expect(de('powershell -file script1.ps1')).toBe(false);
    expect(de('powershell -File\ufeffscript1.ps1')).toBe(false);
  });

  it('finds in a whole chunk exactly the lines that mayMatter, line by line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(deviceEventsRow, azureActivityRow, deviceFileEventsRow, fc.integer()), { maxLength: 12 }),
        (rows) => {
          const lines = rows.flatMap(([de, aa, dfe, seed]) => {
            const rnd = mulberry32(seed);
            return [encode(de, rnd, 0.01), encode(aa, rnd, 0), encode(dfe, rnd, 0), ''];
          });
          const chunk = Buffer.from(lines.join('\n'), 'utf8');
          for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const) {
            const found: string[] = [];
            forEachCandidateLine(table, chunk, (s, e) => found.push(chunk.toString('utf8', s, e)));
            expect(found).toEqual(lines.filter((l) => mayMatter(table, l)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('JSON arrays: an element is parsed exactly when its own text mayMatter, whatever the chunking', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-prefilter-'));
    try {
      for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const) {
        fc.assert(
          fc.property(
            fc.array(fc.tuple(rowOf[table], fc.integer()), { maxLength: 8 }),
            fc.integer({ min: 5, max: 300 }),
            fc.constantFrom('', '\n', ' \n  '),
            (rows, chunkBytes, sep) => {
              const texts = rows.map(([row, seed]) => encode(row, mulberry32(seed), 0.01));
              const path = join(dir, `${table}.json`);
              writeFileSync(path, '[' + sep + texts.join(',' + sep) + sep + ']');
              const seen: unknown[] = [];
              readJsonFile(path, table, (raw) => seen.push(raw), { chunkBytes });
              expect(seen).toEqual(texts.filter((t) => mayMatter(table, t)).map((t) => JSON.parse(t)));
            },
          ),
          { numRuns: 150 },
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CSV: every record the rule keeps is decoded, whatever the chunking', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-prefilter-csv-'));
    const quote = (v: unknown): string => {
      const text = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      return /[",\r\n]/.test(text) || text === '' ? '"' + text.replace(/"/g, '""') + '"' : text;
    };
    try {
      for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const) {
        let kept = 0;
        fc.assert(
          fc.property(
            fc.array(rowOf[table], { minLength: 1, maxLength: 8 }),
            fc.integer({ min: 3, max: 300 }),
            (rows, chunkBytes) => {
              // CSV holds text: a string cell as is, anything else as its JSON text.
              const cells = rows.map((r) =>
                Object.fromEntries(
                  Object.entries(r).map(([k, v]) => [
                    k,
                    typeof v === 'string' || v === null ? (v ?? '') : JSON.stringify(v),
                  ]),
                ),
              );
              const columns = Object.keys(rows[0]);
              const path = join(dir, `${table}.csv`);
              writeFileSync(
                path,
                columns.join(',') + '\r\n' + cells.map((r) => columns.map((c) => quote(r[c])).join(',')).join('\r\n'),
              );
              const seen: unknown[] = [];
              readCsvFile(path, new Set(), (raw) => seen.push(raw), { chunkBytes, prefilter: table });
              for (const r of cells)
                if (relevant(table, r)) {
                  kept++;
                  expect(seen).toContainEqual(r);
                }
            },
          ),
          { numRuns: 150 },
        );
        expect(kept).toBeGreaterThan(10);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
