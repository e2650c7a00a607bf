import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ParityDetection } from '../../../src/detection';
import { encodingOf } from '../../../src/io/encoding';
import { InputError } from '../../../src/io/errors';
import { readTableDirectoryInParallel } from '../../../src/io/parallel';
import { locateTableFiles, openTableFiles, readTableDirectory, readTableFile } from '../../../src/io/tableFiles';

const PLAIN_DAY = join(__dirname, '../../fixtures/examples/plain-day');
const TABLES = ['AzureActivity', 'DeviceFileEvents', 'DeviceEvents'] as const;

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rcd-input-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A directory with the plain day's three tables; `write` replaces or adds files. */
function day(write: (dir: string) => void = () => undefined, keep: readonly string[] = TABLES): string {
  const dir = join(tmp, `d${n++}`);
  mkdirSync(dir);
  for (const t of keep) copyFileSync(join(PLAIN_DAY, `${t}.ndjson`), join(dir, `${t}.ndjson`));
  write(dir);
  return dir;
}

async function inputError(run: () => unknown): Promise<InputError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

const findingsOf = (detection: ParityDetection) => detection.finish().findings;

describe('UTF-16 table files are refused with how to convert them', () => {
  const text = readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson'), 'utf8');
  it.each([
    ['UTF-16 LE with BOM (PowerShell 5 ">")', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])],
    ['UTF-16 BE with BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()])],
    ['UTF-16 LE without BOM', Buffer.from(text, 'utf16le')],
    ['UTF-16 BE without BOM', Buffer.from(text, 'utf16le').swap16()],
  ])('%s', async (_name, bytes) => {
    const dir = day((d) => writeFileSync(join(d, 'DeviceEvents.ndjson'), bytes));
    const err = await inputError(() => readTableDirectory(dir, new ParityDetection()));
    expect(err.file).toBe(join(dir, 'DeviceEvents.ndjson'));
    expect(err.line).toBeUndefined();
    expect(err.message).toMatch(/is UTF-16 text \((little|big)-endian; Windows PowerShell 5's ">"/);
    expect(err.message).toMatch(/must be UTF-8.*Set-Content -Encoding utf8.*iconv -f UTF-16 -t UTF-8/);
    // The same from the worker thread.
    const parallel = await inputError(() => readTableDirectoryInParallel(dir, new ParityDetection()));
    expect(parallel.message).toBe(err.message);
  });

  it('a UTF-8 BOM is read, to the same findings', () => {
    const dir = day((d) => {
      for (const t of TABLES) {
        const path = join(d, `${t}.ndjson`);
        writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(path)]));
      }
    });
    const withBom = new ParityDetection();
    readTableDirectory(dir, withBom);
    const plain = new ParityDetection();
    readTableDirectory(PLAIN_DAY, plain);
    expect(findingsOf(withBom)).toEqual(findingsOf(plain));
    expect(findingsOf(plain).length).toBeGreaterThan(0);
  });

  it('UTF-8 text with non-ASCII characters is plain, not UTF-16', () => {
    expect(encodingOf(Buffer.from('{"Caller":"zoë@contoso.com","x":"日本語"}', 'utf8'))).toBe('plain');
    expect(encodingOf(Buffer.from('Ti', 'utf8'))).toBe('plain');
    expect(encodingOf(Buffer.from('{"a":1}', 'utf16le'))).toBe('utf-16le');
  });
});

describe('gzip-compressed table files are read transparently', () => {
  const gz = (d: string, t: string, name: string) => {
    writeFileSync(join(d, name), gzipSync(readFileSync(join(d, `${t}.ndjson`))));
    rmSync(join(d, `${t}.ndjson`));
  };

  it('.ndjson.gz, .json.gz and .csv.gz (and a .gz extension in capitals) give the rows of the plain files', async () => {
    const dir = day((d) => {
      gz(d, 'DeviceEvents', 'DeviceEvents.ndjson.GZ');
      // A JSON array, compressed.
      const rows = readFileSync(join(d, 'DeviceFileEvents.ndjson'), 'utf8').trim().split('\n');
      writeFileSync(join(d, 'DeviceFileEvents.json.gz'), gzipSync(`[\n${rows.join(',\n')}\n]\n`));
      rmSync(join(d, 'DeviceFileEvents.ndjson'));
    });
    const opened = await openTableFiles(dir);
    try {
      expect(opened.files.DeviceEvents).toMatchObject({
        format: 'ndjson',
        gzip: true,
        source: join(dir, 'DeviceEvents.ndjson.GZ'),
      });
      expect(opened.files.DeviceFileEvents).toMatchObject({ format: 'json', gzip: true });
      const sequential = new ParityDetection();
      const stats = readTableDirectory(opened.files, sequential);
      expect(stats.map((s) => s.file)).toEqual([
        join(dir, 'AzureActivity.ndjson'),
        join(dir, 'DeviceFileEvents.json.gz'),
        join(dir, 'DeviceEvents.ndjson.GZ'),
      ]);
      const parallel = new ParityDetection();
      await readTableDirectoryInParallel(opened.files, parallel);
      const plain = new ParityDetection();
      readTableDirectory(PLAIN_DAY, plain);
      expect(findingsOf(sequential)).toEqual(findingsOf(plain));
      expect(findingsOf(parallel)).toEqual(findingsOf(plain));
    } finally {
      opened.close();
    }
  });

  it('.csv.gz', async () => {
    const dir = day((d) => {
      writeFileSync(
        join(d, 'DeviceEvents.csv.gz'),
        gzipSync(
          'TimeGenerated [UTC],DeviceName,InitiatingProcessCommandLine,AdditionalFields\r\n' +
            '"2026-11-25T10:00:00.0000000Z",vm1,"powershell -File script1.ps1","{""Command"":""Get-Date""}"\r\n',
        ),
      );
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    const opened = await openTableFiles(dir);
    try {
      const rows: unknown[] = [];
      const stats = readTableFile(opened.files.DeviceEvents, (row) => rows.push(row));
      expect(stats).toMatchObject({ rowsRead: 1, format: 'csv', file: join(dir, 'DeviceEvents.csv.gz') });
      expect(rows).toEqual([
        expect.objectContaining({ DeviceName: 'vm1', TimeGenerated: '2026-11-25T10:00:00.0000000Z' }),
      ]);
    } finally {
      opened.close();
    }
  });

  it('gzip without the .gz extension is recognised by its magic bytes', async () => {
    const dir = day((d) =>
      writeFileSync(join(d, 'DeviceEvents.ndjson'), gzipSync(readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson')))),
    );
    const opened = await openTableFiles(dir);
    const detection = new ParityDetection();
    try {
      readTableDirectory(opened.files, detection);
    } finally {
      opened.close();
    }
    const plain = new ParityDetection();
    readTableDirectory(PLAIN_DAY, plain);
    expect(findingsOf(detection)).toEqual(findingsOf(plain));
    // Read without openTableFiles, it is refused rather than read as garbage.
    const err = await inputError(() => readTableDirectory(dir, new ParityDetection()));
    expect(err.message).toMatch(/DeviceEvents\.ndjson: is gzip-compressed/);
  });

  it('errors in a compressed file name the .gz file and the line of its text; the copies are removed', async () => {
    const lines = readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson'), 'utf8').split('\n');
    lines[4] = lines[4].replace(/"AdditionalFields"/, '"AdditionalFields" oops');
    const dir = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.ndjson.gz'), gzipSync(lines.join('\n')));
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    const opened = await openTableFiles(dir);
    const copy = opened.files.DeviceEvents.path;
    expect(existsSync(copy)).toBe(true);
    try {
      const err = await inputError(() => readTableDirectory(opened.files, new ParityDetection(), { prefilter: false }));
      expect(err.message).toMatch(new RegExp(`^${join(dir, 'DeviceEvents.ndjson.gz')}:5: not valid JSON`));
      const parallel = await inputError(() =>
        readTableDirectoryInParallel(opened.files, new ParityDetection(), { prefilter: false }),
      );
      expect(parallel.message).toBe(err.message);
    } finally {
      opened.close();
    }
    expect(existsSync(copy)).toBe(false);
  });

  it("a message that quotes the file's path quotes the .gz, not the temporary copy", async () => {
    const rows = readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson'), 'utf8').trim().split('\n');
    const dir = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.ndjson.gz'), gzipSync(rows.slice(0, 3).join('')));
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    const opened = await openTableFiles(dir);
    try {
      const err = await inputError(() => readTableDirectory(opened.files, new ParityDetection()));
      expect(err.message).toMatch(/concatenated JSON objects without line breaks/);
      expect(err.message).toContain(`jq -c . '${join(dir, 'DeviceEvents.ndjson.gz')}'`);
      expect(err.message).not.toContain(opened.files.DeviceEvents.path);
    } finally {
      opened.close();
    }
  });

  it('a damaged or cut-off .gz is an input error naming it, and leaves no copy behind', async () => {
    const whole = gzipSync(readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson')));
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith('runcommand-detect-gunzip-')).length;
    const cut = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.ndjson.gz'), whole.subarray(0, whole.length / 2));
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    expect((await inputError(() => openTableFiles(cut))).message).toMatch(
      /DeviceEvents\.ndjson\.gz: the gzip stream ends early: the file is cut off/,
    );
    const damaged = Buffer.from(whole);
    damaged.fill(0x55, 20, 200);
    const bad = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.ndjson.gz'), damaged);
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    expect((await inputError(() => openTableFiles(bad))).message).toMatch(
      /DeviceEvents\.ndjson\.gz: is not a valid gzip file/,
    );
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('runcommand-detect-gunzip-')).length).toBe(before);
  });
});

describe('objects without line breaks are diagnosed as such', () => {
  const rows = readFileSync(join(PLAIN_DAY, 'DeviceEvents.ndjson'), 'utf8').trim().split('\n');

  it.each([
    ['the whole file on one line, no final newline', rows.slice(0, 5).join(''), 1],
    ['"}{" in the middle of a file', [rows[0], rows[1] + rows[2], rows[3]].join('\n') + '\n', 2],
    ['"} {" on the last line', [rows[0], rows[1] + ' ' + rows[2]].join('\n'), 2],
  ])('NDJSON: %s', async (_name, content, line) => {
    const dir = day((d) => writeFileSync(join(d, 'DeviceEvents.ndjson'), content));
    const err = await inputError(() => readTableDirectory(dir, new ParityDetection(), { prefilter: false }));
    expect(err.line).toBe(line);
    expect(err.message).toMatch(/concatenated JSON objects without line breaks \("\}\{"\)/);
    expect(err.message).toMatch(/jq -c \./);
    expect(err.message).not.toMatch(/cut off/);
  });

  it('NDJSON: pretty-printed objects', async () => {
    const pretty =
      rows
        .slice(0, 3)
        .map((r) => JSON.stringify(JSON.parse(r), null, 2))
        .join('\n') + '\n';
    const dir = day((d) => writeFileSync(join(d, 'DeviceEvents.ndjson'), pretty));
    const err = await inputError(() => readTableDirectory(dir, new ParityDetection()));
    expect(err.message).toMatch(
      /DeviceEvents\.ndjson:1: an object or array spread over several lines \(pretty-printed JSON\)/,
    );
  });

  it('.json: concatenated objects, and one object a line', async () => {
    const glued = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.json'), rows.slice(0, 3).join(''));
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    expect((await inputError(() => readTableDirectory(glued, new ParityDetection()))).message).toMatch(
      /DeviceEvents\.json:1: concatenated JSON objects without line breaks/,
    );
    const lined = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.json'), rows.slice(0, 3).join('\n'));
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    expect((await inputError(() => readTableDirectory(lined, new ParityDetection()))).message).toMatch(
      /DeviceEvents\.json:2: one JSON object a line is NDJSON, not a \.json file: rename the file to \.ndjson/,
    );
  });

  it('.json array: two objects without a comma', async () => {
    const dir = day((d) => {
      writeFileSync(join(d, 'DeviceEvents.json'), `[\n${rows[0]},\n${rows[1]}${rows[2]}\n]\n`);
      rmSync(join(d, 'DeviceEvents.ndjson'));
    });
    const err = await inputError(() => readTableDirectory(dir, new ParityDetection(), { prefilter: false }));
    expect(err.message).toMatch(/DeviceEvents\.json:3: array element 2 is concatenated JSON objects without a comma/);
  });
});

describe('every missing or doubled table is reported at once', () => {
  it('two missing tables', () => {
    const dir = day(undefined, ['AzureActivity']);
    expect(() => locateTableFiles(dir)).toThrow(
      `${dir}: no files for tables DeviceFileEvents, DeviceEvents: expected <Table>.ndjson, .jsonl, .json or .csv ` +
        '(optionally .gz) in this directory for each',
    );
  });

  it('three missing tables, with a hint for a name in the wrong case', () => {
    const dir = day((d) => writeFileSync(join(d, 'deviceevents.ndjson'), '{}\n'), []);
    expect(() => locateTableFiles(dir)).toThrow(
      /no files for tables AzureActivity, DeviceFileEvents, DeviceEvents: .* \(found deviceevents\.ndjson: the name is case-sensitive/,
    );
  });

  it('a missing table and a doubled one in one message', () => {
    const dir = day(
      (d) => copyFileSync(join(d, 'AzureActivity.ndjson'), join(d, 'AzureActivity.ndjson.gz')),
      ['AzureActivity', 'DeviceEvents'],
    );
    expect(() => locateTableFiles(dir)).toThrow(
      /no file for table DeviceFileEvents: expected DeviceFileEvents\.ndjson.*; 2 files for table AzureActivity \(AzureActivity\.ndjson, AzureActivity\.ndjson\.gz\): keep exactly one/,
    );
  });
});
