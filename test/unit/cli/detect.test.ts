import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Writable } from 'node:stream';
import { main } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import { FINDING_COLUMNS } from '../../../src/detection/schema';

const FIXTURES = join(__dirname, '../../fixtures');
const EXAMPLES = join(FIXTURES, 'examples');
const BAD = join(FIXTURES, 'bad-input');
const TABLES = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function detect(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, env: {} };
  const code = await main(['detect', ...argv], io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const sortedLines = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .sort();

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rcd-detect-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('detect over the example days', () => {
  for (const day of ['plain-day', 'tricky-day']) {
    it(`${day}: prints exactly expected.ndjson (as a multiset of lines)`, async () => {
      const { code, stdout, stderr } = await detect('--input', join(EXAMPLES, day));
      expect(code).toBe(0);
      const expected = readFileSync(join(EXAMPLES, day, 'expected.ndjson'), 'utf8');
      expect(sortedLines(stdout)).toEqual(sortedLines(expected));
      expect(stderr).toMatch(/\d+ findings?/);
    });

    it(`${day}: --validate-all (no pre-filter) and --threads 1 give the same findings`, async () => {
      const fast = await detect('--input', join(EXAMPLES, day));
      const full = await detect('--input', join(EXAMPLES, day), '--validate-all');
      const single = await detect('--input', join(EXAMPLES, day), '--threads', '1');
      expect(full.code).toBe(0);
      expect(single.code).toBe(0);
      expect(full.stdout).toBe(fast.stdout);
      expect(single.stdout).toBe(fast.stdout);
    });
  }

  it('writes the 14 output columns in project order, to --output', async () => {
    const out = join(tmp, 'findings.ndjson');
    const { code, stdout } = await detect('--input', join(EXAMPLES, 'plain-day'), '--output', out);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const lines = sortedLines(readFileSync(out, 'utf8'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(Object.keys(JSON.parse(line))).toEqual(FINDING_COLUMNS.map(([n]) => n));
  });

  it('--format json is one array of the same findings', async () => {
    const nd = await detect('--input', join(EXAMPLES, 'tricky-day'));
    const js = await detect('--input', join(EXAMPLES, 'tricky-day'), '--format', 'json');
    expect(js.code).toBe(0);
    expect(JSON.parse(js.stdout)).toEqual(
      sortedLines(nd.stdout)
        .map((l) => JSON.parse(l))
        .sort(byJson),
    );
  });

  it('--format table prints a header and one line per finding', async () => {
    const { code, stdout } = await detect('--input', join(EXAMPLES, 'plain-day'), '--format=table');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const expected = sortedLines(readFileSync(join(EXAMPLES, 'plain-day', 'expected.ndjson'), 'utf8'));
    expect(lines[0]).toMatch(/^StartTime\s+VirtualMachineName\s+PowershellFileName\s+Caller/);
    // Header, rule, one line per finding, the count, and the two lines of the parity Prevalence note.
    expect(lines).toHaveLength(expected.length + 5);
    expect(lines[expected.length + 2]).toBe(`${expected.length} findings`);
    expect(lines[expected.length + 3]).toMatch(
      /^Prevalence: 2\.44% on every finding \(100 \/ 41 RunCommandData rows\)/,
    );
    for (const f of expected.map((l) => JSON.parse(l) as { VirtualMachineName: string; StartTime: string }))
      expect(stdout).toContain(f.StartTime);
  });
});

const byJson = (a: unknown, b: unknown): number => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

/** Rewrites one example day's tables in another file format, for the same findings. */
function rewriteDay(
  day: string,
  name: string,
  write: (table: string, rows: Record<string, unknown>[]) => [string, string],
) {
  const dir = join(tmp, `${day}-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const table of TABLES) {
    const rows = readFileSync(join(EXAMPLES, day, `${table}.ndjson`), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [file, text] = write(table, rows);
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

function columnsOf(rows: Record<string, unknown>[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) names.add(k);
  return [...names];
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(text) || text !== text.trim() ? '"' + text.replace(/"/g, '""') + '"' : text;
}

describe('detect reads every file format to the same findings', () => {
  for (const day of ['plain-day', 'tricky-day']) {
    const expected = (): string[] => sortedLines(readFileSync(join(EXAMPLES, day, 'expected.ndjson'), 'utf8'));

    it(`${day} as pretty-printed JSON arrays`, async () => {
      const dir = rewriteDay(day, 'json', (t, rows) => [`${t}.json`, JSON.stringify(rows, null, 2)]);
      const { code, stdout, stderr } = await detect('--input', dir);
      expect(stderr).not.toMatch(/error/i);
      expect(code).toBe(0);
      expect(sortedLines(stdout)).toEqual(expected());
    });

    it(`${day} as Log Analytics query API responses`, async () => {
      const dir = rewriteDay(day, 'api', (t, rows) => {
        const columns = columnsOf(rows);
        const body = {
          tables: [
            {
              name: 'PrimaryResult',
              columns: columns.map((name) => ({ name, type: name === 'TimeGenerated' ? 'datetime' : 'string' })),
              rows: rows.map((r) => columns.map((c) => (r[c] === undefined ? null : r[c]))),
            },
          ],
        };
        return [`${t}.json`, JSON.stringify(body)];
      });
      const { code, stdout } = await detect('--input', dir);
      expect(code).toBe(0);
      expect(sortedLines(stdout)).toEqual(expected());
    });

    it(`${day} as portal CSV (BOM, CRLF, [UTC] headers, quoted fields)`, async () => {
      const dir = rewriteDay(day, 'csv', (t, rows) => {
        const columns = columnsOf(rows);
        const header = columns.map((c) => (c === 'TimeGenerated' ? 'TimeGenerated [UTC]' : c)).join(',');
        const body = rows.map((r) => columns.map((c) => csvField(r[c])).join(',')).join('\r\n');
        return [`${t}.csv`, '\uFEFF' + header + '\r\n' + body + '\r\n'];
      });
      const { code, stdout } = await detect('--input', dir);
      expect(code).toBe(0);
      expect(sortedLines(stdout)).toEqual(expected());
    });

    it(`${day} as .jsonl with CRLF line ends and a BOM`, async () => {
      const dir = rewriteDay(day, 'jsonl', (t, rows) => [
        `${t}.jsonl`,
        '\uFEFF' + rows.map((r) => JSON.stringify(r)).join('\r\n') + '\r\n',
      ]);
      const { code, stdout } = await detect('--input', dir);
      expect(code).toBe(0);
      expect(sortedLines(stdout)).toEqual(expected());
    });
  }
});

describe('detect input errors: exit 1 with file:line and what to do', () => {
  const bad = (name: string) => join(BAD, name);

  it('a truncated last line', async () => {
    const { code, stderr, stdout } = await detect('--input', bad('truncated-line'));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /truncated-line\/AzureActivity\.ndjson:3: the last line is not complete JSON .*export the table again/,
    );
  });

  it('a wrong-typed cell in a row that matters', async () => {
    const { code, stderr } = await detect('--input', bad('wrong-type'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/wrong-type\/DeviceFileEvents\.ndjson:2: column FileSize should be a long but is "abc"/);
  });

  it('a wrong-typed cell in a row the rule drops is ignored', async () => {
    const dir = join(tmp, 'ignored-bad-cell');
    mkdirSync(dir, { recursive: true });
    for (const t of TABLES) copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    const extra = { ...JSON.parse(readFileSync(join(dir, 'DeviceFileEvents.ndjson'), 'utf8').split('\n')[0]) };
    extra.InitiatingProcessFileName = 'RunCommandExtension.exe.old';
    extra.FileSize = 'abc';
    writeFileSync(
      join(dir, 'DeviceFileEvents.ndjson'),
      readFileSync(join(dir, 'DeviceFileEvents.ndjson'), 'utf8') + JSON.stringify(extra) + '\n',
    );
    const { code, stdout } = await detect('--input', dir, '--validate-all');
    expect(code).toBe(0);
    expect(sortedLines(stdout)).toEqual(
      sortedLines(readFileSync(join(EXAMPLES, 'plain-day', 'expected.ndjson'), 'utf8')),
    );
  });

  it('invalid JSON in a line that can matter (read in the worker thread, and without it)', async () => {
    for (const threads of ['2', '1']) {
      const { code, stderr } = await detect('--input', bad('invalid-json'), '--threads', threads);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /invalid-json\/DeviceEvents\.ndjson:2: not valid JSON \(.*\): each line must be one JSON object/,
      );
    }
  });

  it('a line that is not an object', async () => {
    const { code, stderr } = await detect('--input', bad('not-an-object'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/not-an-object\/DeviceEvents\.ndjson:1: expected one JSON object per line, found an array/);
  });

  it('a missing table file names the directory and the table', async () => {
    const { code, stderr } = await detect('--input', bad('missing-table'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/missing-table: no file for table DeviceFileEvents: expected DeviceFileEvents\.ndjson/);
  });

  it('a table file named in the wrong case is pointed out', async () => {
    const dir = join(tmp, 'wrong-case');
    mkdirSync(dir, { recursive: true });
    for (const t of TABLES)
      copyFileSync(
        join(EXAMPLES, 'plain-day', `${t}.ndjson`),
        join(dir, t === 'DeviceEvents' ? 'deviceevents.ndjson' : `${t}.ndjson`),
      );
    const { code, stderr } = await detect('--input', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /no file for table DeviceEvents: .* \(found deviceevents\.ndjson: the name is case-sensitive/,
    );
  });

  it('two files for one table', async () => {
    const { code, stderr } = await detect('--input', bad('two-files-for-a-table'));
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /two-files-for-a-table: 2 files for table AzureActivity \(AzureActivity\.csv, AzureActivity\.ndjson\): keep exactly one/,
    );
  });

  it('an empty file is an error unless --allow-empty', async () => {
    const strict = await detect('--input', bad('empty-file'));
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(
      /empty-file\/DeviceEvents\.ndjson: is empty\. If DeviceEvents really had no rows.*--allow-empty/,
    );
    const lenient = await detect('--input', bad('empty-file'), '--allow-empty');
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toBe(''); // no DeviceEvents: the inner join leaves nothing
  });

  it('a table file that cannot be read', async () => {
    const dir = join(tmp, 'unreadable');
    mkdirSync(join(dir, 'DeviceEvents.ndjson'), { recursive: true }); // a directory, not a file
    for (const t of ['AzureActivity', 'DeviceFileEvents'])
      copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    const { code, stderr } = await detect('--input', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/unreadable\/DeviceEvents\.ndjson: cannot read this file \(EISDIR\); check that it exists/);
  });

  it('an --input that does not exist', async () => {
    const { code, stderr } = await detect('--input', join(tmp, 'nope'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/nope: cannot read this directory/);
  });
});

describe('detect usage', () => {
  it('--help prints usage and exits 0', async () => {
    const { code, stdout } = await detect('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: runcommand-detect detect --input DIR/);
    expect(stdout).toMatch(/--validate-all/);
  });

  it.each([
    [[], /--input DIR is required/],
    [['--input'], /--input needs a value/],
    [['--input', EXAMPLES, '--bogus'], /unknown option '--bogus'/],
    [['--input', EXAMPLES, '--format', 'xml'], /--format must be one of ndjson, json, table, not 'xml'/],
    [['--input', EXAMPLES, 'extra'], /unexpected argument 'extra'/],
    [['--input', EXAMPLES, '--threads', '3'], /--threads must be 1 or 2, not '3'/],
  ])('%j is a usage error: exit 2, one line and where the help is', async (argv, message) => {
    const { code, stderr, stdout } = await detect(...(argv as string[]));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(2);
    expect(stderr).toMatch(/\nRun 'runcommand-detect detect --help' for its options\.\n$/);
  });
});

describe('detect refuses files that cannot be the table, and shows each table span', () => {
  it.each([
    [
      'missing-columns',
      /missing-columns\/DeviceFileEvents\.ndjson: has no columns DeviceName, FileSize, which the rule reads/,
    ],
    [
      'swapped-tables',
      /swapped-tables\/DeviceFileEvents\.ndjson: has no columns .*Its columns are those of DeviceEvents: .*files swapped/,
    ],
    [
      'other-objects',
      /other-objects\/DeviceEvents\.ndjson: has no columns TimeGenerated, DeviceName, InitiatingProcessCommandLine, AdditionalFields.*Its rows have id, name, createdAt/,
    ],
  ])('%s: exit 1, naming the file and the columns, in every reading mode', async (dir, message) => {
    for (const extra of [[], ['--threads', '1'], ['--validate-all']]) {
      const { code, stdout, stderr } = await detect('--input', join(BAD, dir), ...extra);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(/findings?\n/);
    }
  });

  it('a column present only in rows the pre-filter skips is not called missing', async () => {
    const dir = join(tmp, 'sparse-column');
    mkdirSync(dir, { recursive: true });
    for (const t of ['AzureActivity', 'DeviceFileEvents'])
      copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    const lines = readFileSync(join(EXAMPLES, 'plain-day', 'DeviceEvents.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l);
    // Rows the rule keeps lack AdditionalFields; one irrelevant row has it.
    const stripped = lines.map((l) => {
      const row = JSON.parse(l) as Record<string, unknown>;
      delete row.AdditionalFields;
      return JSON.stringify(row);
    });
    stripped.push(
      JSON.stringify({
        TimeGenerated: '2026-11-25T12:00:00Z',
        DeviceName: 'x',
        InitiatingProcessCommandLine: 'notepad',
        AdditionalFields: {},
      }),
    );
    writeFileSync(join(dir, 'DeviceEvents.ndjson'), stripped.join('\n') + '\n');
    const { code } = await detect('--input', dir);
    expect(code).toBe(0);
  });

  it("the summary gives each table's span; an NDJSON export cut at a line boundary is warned about", async () => {
    const whole = await detect('--input', join(EXAMPLES, 'plain-day'));
    expect(whole.stderr).toMatch(
      /AzureActivity 240 rows \(120 pass its filters, TimeGenerated 2026-11-25T00:07:01\.0990000Z to 2026-11-25T23:51:20\.5700000Z\)/,
    );
    expect(whole.stderr).not.toMatch(/warning/);

    const dir = join(tmp, 'cut-off');
    mkdirSync(dir, { recursive: true });
    for (const t of ['AzureActivity', 'DeviceFileEvents'])
      copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    // The rows in time order, cut after the rows before 12:00, at a line boundary.
    const lines = readFileSync(join(EXAMPLES, 'plain-day', 'DeviceEvents.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l);
    const kept = lines.filter((l) => (JSON.parse(l) as { TimeGenerated: string }).TimeGenerated < '2026-11-25T12:00');
    writeFileSync(join(dir, 'DeviceEvents.ndjson'), kept.join('\n') + '\n');
    const cut = await detect('--input', dir);
    expect(cut.code).toBe(0);
    expect(cut.stderr).toMatch(
      /warning: DeviceEvents ends at 2026-11-25T1[01]:\d\d:\d\d\.\d{7}Z, \d+\.\d h before .*was .*DeviceEvents\.ndjson cut off\?/,
    );
  });

  it('tables of different days are warned about', async () => {
    const dir = join(tmp, 'other-day');
    mkdirSync(dir, { recursive: true });
    for (const t of ['AzureActivity', 'DeviceFileEvents'])
      copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    const text = readFileSync(join(EXAMPLES, 'plain-day', 'DeviceEvents.ndjson'), 'utf8').replaceAll(
      '2026-11-25T',
      '2026-11-27T',
    );
    writeFileSync(join(dir, 'DeviceEvents.ndjson'), text);
    const { code, stderr } = await detect('--input', dir);
    expect(code).toBe(0);
    expect(stderr).toMatch(/warning: AzureActivity \(.*\) and DeviceEvents \(2026-11-27T.*\) do not overlap/);
  });
});

describe('detect input diagnostics (issue 14, point 5)', () => {
  const copyDay = (name: string): string => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    for (const t of TABLES) copyFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), join(dir, `${t}.ndjson`));
    return dir;
  };

  it('reads .ndjson.gz tables to the same findings as the plain files', async () => {
    const dir = copyDay('gzipped');
    for (const t of TABLES) {
      writeFileSync(join(dir, `${t}.ndjson.gz`), gzipSync(readFileSync(join(dir, `${t}.ndjson`))));
      rmSync(join(dir, `${t}.ndjson`));
    }
    const plain = await detect('--input', join(EXAMPLES, 'plain-day'));
    for (const threads of ['1', '2']) {
      const { code, stdout, stderr } = await detect('--input', dir, '--threads', threads);
      expect(code).toBe(0);
      expect(stdout).toBe(plain.stdout);
      expect(stderr).toMatch(/DeviceEvents \d+ rows/);
    }
  });

  it('a UTF-16 file exits 1 with one line naming it and how to convert it', async () => {
    const dir = copyDay('utf16');
    const text = readFileSync(join(dir, 'AzureActivity.ndjson'), 'utf8');
    writeFileSync(
      join(dir, 'AzureActivity.ndjson'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    );
    const { code, stdout, stderr } = await detect('--input', dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/utf16\/AzureActivity\.ndjson: is UTF-16 text.*must be UTF-8.*Convert it/);
  });

  it('concatenated objects are diagnosed as such, not as a cut-off file', async () => {
    const dir = copyDay('concatenated');
    const lines = readFileSync(join(dir, 'DeviceEvents.ndjson'), 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'DeviceEvents.ndjson'), lines.join(''));
    const { code, stderr } = await detect('--input', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/concatenated\/DeviceEvents\.ndjson:1: concatenated JSON objects without line breaks/);
    expect(stderr).not.toMatch(/cut off/);
  });

  it('two missing tables are reported in one message', async () => {
    const dir = join(tmp, 'two-missing');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(EXAMPLES, 'plain-day', 'DeviceEvents.ndjson'), join(dir, 'DeviceEvents.ndjson'));
    const { code, stderr } = await detect('--input', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /two-missing: no files for tables AzureActivity, DeviceFileEvents: expected <Table>\.ndjson/,
    );
  });
});
