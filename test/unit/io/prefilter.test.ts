import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coerceRow, ParityDetection } from '../../../src/detection';
import type { TableName } from '../../../src/detection/schema';
import { readCsvFile } from '../../../src/io/csv';
import { readJsonFile } from '../../../src/io/json';
import { ByteScanner, byteScanner, type PairAnchor } from '../../../src/io/byteScan';
import { forEachLineChunk } from '../../../src/io/chunks';
import { forEachCandidateLine, hitPositions, mayMatter, type ChunkSearch } from '../../../src/io/prefilter';
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
    // The needle is `runcommand/a`: managed Run Command operations are dropped unparsed.
    const aa = (value: string): boolean => mayMatter('AzureActivity', JSON.stringify({ OperationNameValue: value }));
    expect(aa('Microsoft.Compute/virtualMachines/runCommands/write')).toBe(false);
    expect(aa('microsoft.compute/virtualmachines/RUNCOMMAND/ACTION')).toBe(true);
    expect(mayMatter('AzureActivity', '{"OperationNameValue":"Microsoft.Compute/runCommand\\u002faction"}')).toBe(true);
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
    // Reported at the `t` of `script`: the white space before it is tried at 1, 2 and 3 bytes.
    expect(de('powershell -File\u2028script42.ps1')).toBe(true); // E2 80 A8
    expect(de('powershell -File\u0085script42.ps1')).toBe(true); // C2 85
    expect(de('powershell -File  script1.ps1')).toBe(false); // two spaces: `\s` is one character
    expect(de('powershell -File\\tscript1.ps1')).toBe(false); // a backslash and a t, not a tab
    expect(de('script1.ps1 -File scriptx.ps1')).toBe(false);
    expect(de('powershell -File scriptx.ps1 -File script7.ps1')).toBe(true);
  });

  it('runs the SIMD kernel on this machine (otherwise the plain forms below are all that is tested)', () => {
    expect(byteScanner()).not.toBeNull();
  });

  for (const search of ['auto', 'plain'] as const satisfies readonly ChunkSearch[]) {
    it(`finds in a whole chunk exactly the lines that mayMatter, line by line (${search} search)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(deviceEventsRow, azureActivityRow, deviceFileEventsRow, fc.integer()), { maxLength: 12 }),
          fc.constantFrom(0, 0.01, 0.2),
          (rows, escapeRate) => {
            const lines = rows.flatMap(([de, aa, dfe, seed]) => {
              const rnd = mulberry32(seed);
              return [encode(de, rnd, escapeRate), encode(aa, rnd, escapeRate), encode(dfe, rnd, escapeRate), ''];
            });
            const chunk = Buffer.from(lines.join('\n'), 'utf8');
            for (const table of ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const) {
              const found: string[] = [];
              forEachCandidateLine(table, chunk, (s, e) => found.push(chunk.toString('utf8', s, e)), search);
              expect(found).toEqual(lines.filter((l) => mayMatter(table, l)));
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('the kernel reports every anchor pair and every \\u in order, whatever the chunk edges and position buffer', () => {
    // Bytes drawn mostly from those the anchors and escapes are made of, so pairs are frequent.
    const alphabet = Buffer.from('rRdD\\u-Fx\n "aUmMt09:?/', 'latin1');
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: alphabet.length }), { maxLength: 300 }),
        fc.record({
          a: fc.constantFrom(0x72, 0x2d, 0x52, 0x6d, 0x74),
          b: fc.constantFrom(0x64, 0x46, 0x78, 0x6d, 0x3f),
          fold: fc.constantFrom(0, 0x20, 0x0f),
          // Absent: the same fold for both bytes; else b's own (0x0f: a digit, or : ; < = > ?).
          foldB: fc.option(fc.constantFrom(0, 0x20, 0x0f), { nil: undefined }),
        }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.string({ unit: fc.constantFrom(...'rRdD\\u-FxmMt5'), minLength: 1, maxLength: 40 }),
        (codes, anchor: PairAnchor, capacity, inPlace, stale) => {
          // Index alphabet.length stands for a random byte 0x80-0xFF.
          const bytes = Buffer.from(codes.map((c, i) => (c < alphabet.length ? alphabet[c] : 0x80 + (i % 128))));
          const scanner = new ByteScanner(64, capacity);
          // Stale bytes past the chunk, as a reused buffer holds them: they may add candidates, never drop one.
          scanner.reserve(bytes.length + 64).fill(Buffer.from(stale, 'latin1'));
          let chunk: Buffer = bytes;
          if (inPlace) {
            chunk = scanner.buffer.subarray(7, 7 + bytes.length);
            bytes.copy(chunk);
          }
          const reported: number[] = [];
          const newlines = scanner.forEachCandidate(chunk, anchor, (p) => reported.push(p));
          // The `\n`s of the chunk, counted in the same pass, whatever the calls that go on.
          expect(newlines).toBe(bytes.filter((b) => b === 10).length);
          const fold = (x: number | undefined, by: number): number | undefined => (x === undefined ? x : x | by);
          const foldB = anchor.foldB ?? anchor.fold;
          const expected: number[] = [];
          for (let p = 0; p < bytes.length; p++) {
            const pair = fold(bytes[p], anchor.fold) === anchor.a && fold(bytes[p + 1], foldB) === anchor.b;
            if (pair || (bytes[p] === 0x5c && bytes[p + 1] === 0x75)) expected.push(p);
          }
          expect([...reported].sort((x, y) => x - y)).toEqual(reported);
          expect(new Set(reported).size).toBe(reported.length);
          for (const p of expected) expect(reported).toContain(p);
          // Any other report is a position whose pair reaches past the chunk.
          for (const p of reported)
            if (!expected.includes(p)) {
              expect(p).toBeLessThan(bytes.length);
              expect(p + 1).toBeGreaterThanOrEqual(bytes.length);
            }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the kernel reports no position at or past the end, and every one before it, for every length', () => {
    const r: PairAnchor = { a: 0x72, b: 0x72, fold: 0 };
    for (let length = 0; length <= 200; length++) {
      const scanner = new ByteScanner(256, 7);
      scanner.buffer.fill('r'); // a pair at every position past the chunk
      const reported = (chunk: Buffer): number[] => {
        const out: number[] = [];
        scanner.forEachCandidate(chunk, r, (p) => out.push(p));
        return out;
      };
      expect(reported(scanner.buffer.subarray(3, 3 + length).fill('x'))).toEqual([]);
      expect(reported(scanner.buffer.subarray(3, 3 + length).fill('r'))).toEqual([...Array(length).keys()]);
    }
  });

  it('the kernel counts the newlines before the end and none past it, for every length and early stop', () => {
    const rNewline: PairAnchor = { a: 0x72, b: 0x0a, fold: 0 };
    for (let length = 0; length <= 200; length++) {
      for (const capacity of [1, 3, 4096]) {
        const scanner = new ByteScanner(256, capacity);
        scanner.buffer.fill('\n'); // newlines past the chunk, never counted
        const chunk = scanner.buffer.subarray(5, 5 + length);
        expect(scanner.forEachCandidate(chunk.fill('\n'), rNewline, () => undefined)).toBe(length);
        // `r` and `\n` in turn: a pair at every `r` (the last one's `\n` past the end), so
        // the calls stop early every `capacity` positions, in both of the kernel's loops.
        for (let i = 0; i < length; i++) chunk[i] = i % 2 === 0 ? 0x72 : 10;
        const reported: number[] = [];
        expect(scanner.forEachCandidate(chunk, rNewline, (p) => reported.push(p))).toBe(length >> 1);
        expect(reported).toEqual([...Array(length).keys()].filter((i) => i % 2 === 0));
      }
    }
  });

  it('forEachCandidateLine returns the newlines of the chunk, with the kernel and without', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('\n', 'runCommand/action', '\\u0041', 'x', '-File script1.ps1')),
        (parts) => {
          const chunk = Buffer.from(parts.join(''), 'latin1');
          const expected = parts.filter((p) => p === '\n').length;
          for (const search of ['auto', 'plain'] as const)
            for (const table of ['AzureActivity', 'DeviceEvents'] as const)
              expect(forEachCandidateLine(table, chunk, () => undefined, search)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hitPositions: the kernel finds the plain positions in any slice of encoded rows (needles cut at the edges)', () => {
    const tables = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...tables), fc.integer()), { minLength: 1, maxLength: 10 }),
        fc.constantFrom(0, 0.01, 0.2),
        fc.constantFrom('\n', '', ',', '\\'),
        fc.nat(),
        fc.nat(),
        (picks, escapeRate, sep, s1, s2) => {
          const texts = picks.map(([table, seed]) => {
            const rnd = mulberry32(seed);
            const row = fc.sample(rowOf[table], { seed, numRuns: 1 })[0];
            return encode(row, rnd, escapeRate);
          });
          const whole = Buffer.from(texts.join(sep), 'utf8');
          const [from, to] = [s1 % (whole.length + 1), s2 % (whole.length + 1)].sort((x, y) => x - y);
          const slice = whole.subarray(from, to);
          for (const table of tables) {
            const plain = hitPositions(table, slice, 'plain');
            expect(hitPositions(table, slice, 'auto')).toEqual(plain);
            // Every plain hit is a needle or escape that mayMatter sees in the slice's own bytes.
            if (plain.length > 0) expect(mayMatter(table, slice)).toBe(true);
            else expect(mayMatter(table, slice)).toBe(false);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('lines longer than the scanner memory grow it, and the chunks still hold whole lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-prefilter-grow-'));
    try {
      const lines = [
        'x'.repeat(70_000) + '-File script1.ps1',
        '{"a":1}',
        'y'.repeat(200_000) + '\\u0041',
        '-File script2.ps1',
      ];
      const path = join(dir, 'DeviceEvents.ndjson');
      writeFileSync(path, lines.join('\n') + '\n');
      const scanner = new ByteScanner(1024);
      const seen: string[] = [];
      forEachLineChunk(
        path,
        ({ buffer, length }) => {
          const chunk = buffer.subarray(0, length);
          expect(scanner.holds(chunk)).toBe(true);
          expect(chunk[length - 1]).toBe(10);
          forEachCandidateLine('DeviceEvents', chunk.subarray(0, length - 1), (s, e) =>
            seen.push(chunk.toString('latin1', s, e)),
          );
        },
        512,
        scanner,
      );
      expect(seen).toEqual(lines.filter((l) => mayMatter('DeviceEvents', l)));
      expect(seen).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
