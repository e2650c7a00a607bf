import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addDays,
  dayTimestamp,
  fileSha256,
  generateDayRows,
  GENERATED_TABLES,
  RUN_COMMAND_OPERATION,
  SeededRandom,
  writeDays,
  type GeneratedDay,
} from '../../../scripts/generator';
import { parseGenerateArgs, UsageError } from '../../../scripts/generate';
import { coerceRow, ParityDetection, parseKqlDateTime, TABLE_NAMES } from '../../../src/detection';

const EXAMPLES = join(__dirname, '..', '..', 'fixtures', 'examples');

function detect(day: GeneratedDay) {
  const detection = new ParityDetection();
  for (const table of TABLE_NAMES) {
    for (const raw of day[table]) detection.add(table, coerceRow(table, raw as unknown as Record<string, unknown>).row);
  }
  return detection.finish();
}

describe('SeededRandom', () => {
  it('gives the same sequence for a seed and another for another seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const seqA = Array.from({ length: 20 }, () => a.nextUint32());
    expect(Array.from({ length: 20 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it('keeps int() within its bounds and reaches both ends', () => {
    const r = new SeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(3, 7);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(7);
      seen.add(v);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });
});

describe('dayTimestamp / addDays', () => {
  it('prints canonical 7-digit KQL datetimes', () => {
    expect(dayTimestamp('2026-11-25', 0)).toBe('2026-11-25T00:00:00.0000000Z');
    expect(dayTimestamp('2026-11-25', 86_399 * 10_000_000 + 3_140_005)).toBe('2026-11-25T23:59:59.3140005Z');
    expect(() => dayTimestamp('2026-11-25', 864_000_000_000)).toThrow(RangeError);
    expect(() => dayTimestamp('2026-11-25', 1.5)).toThrow(RangeError);
  });

  it('adds days across month and year ends', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(() => addDays('2026-13-01', 0)).toThrow(RangeError);
  });
});

describe('generateDayRows', () => {
  const options = { seed: 7, operations: 400, noiseFactor: 2 };
  const [day] = generateDayRows(options);

  it('is deterministic for a seed', () => {
    const [again] = generateDayRows(options);
    for (const t of GENERATED_TABLES) expect(JSON.stringify(again[t])).toBe(JSON.stringify(day[t]));
    const [other] = generateDayRows({ ...options, seed: 8 });
    expect(JSON.stringify(other.AzureActivity)).not.toBe(JSON.stringify(day.AzureActivity));
  });

  it('writes the columns of the example exports, in their order, and DeviceFileEvents SHA256 after FolderPath', () => {
    for (const t of GENERATED_TABLES) {
      const exampleKeys = Object.keys(
        JSON.parse(readFileSync(join(EXAMPLES, 'plain-day', `${t}.ndjson`), 'utf8').split('\n')[0]),
      );
      // The examples have no SHA256 (Defender often leaves it out); the generator writes one where Defender's schema has it.
      if (t === 'DeviceFileEvents') exampleKeys.splice(exampleKeys.indexOf('FolderPath') + 1, 0, 'SHA256');
      const keyLists = new Set(day[t].map((row) => Object.keys(row).join(',')));
      expect([...keyLists]).toEqual([exampleKeys.join(',')]);
    }
  });

  it('gives a script file the SHA256 of its content: the same script, the same hash; a quarter of the scripts none', () => {
    const scripts = day.DeviceFileEvents.filter(
      (r) => /^script\d+\.ps1$/.test(r.FileName) && r.ActionType === 'FileCreated',
    );
    const extension = scripts.filter((r) => r.InitiatingProcessFileName === 'RunCommandExtension.exe');
    expect(extension.length).toBeGreaterThan(100);
    for (const r of extension) expect(r.SHA256).toMatch(/^([0-9a-f]{64})?$/);
    const hashed = extension.filter((r) => r.SHA256 !== '').length / extension.length;
    expect(hashed).toBeGreaterThan(0.6);
    expect(hashed).toBeLessThan(0.9);
    // One size, one content: a hash never stands for two sizes, and routine scripts share theirs.
    const sizes = new Map<string, Set<number>>();
    for (const r of extension.filter((x) => x.SHA256))
      sizes.set(r.SHA256!, (sizes.get(r.SHA256!) ?? new Set()).add(r.FileSize));
    for (const s of sizes.values()) expect(s.size).toBe(1);
    expect(sizes.size).toBeLessThan(extension.filter((x) => x.SHA256).length);
    // The same content gives the same hash, another content another one; `tricky: false` always writes one.
    expect(fileSha256(['Get-Service'], 100, false)).toBe(fileSha256(['Get-Service'], 100, false));
    expect(fileSha256(['Get-Service'], 101, false)).not.toBe(fileSha256(['Get-Service'], 100, false));
    const [plain] = generateDayRows({ ...options, tricky: false });
    for (const r of plain.DeviceFileEvents.filter((x) => x.FileName.endsWith('.ps1')))
      expect(r.SHA256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes canonical datetimes within the day', () => {
    for (const t of GENERATED_TABLES) {
      const bad = day[t]
        .map((row) => row.TimeGenerated)
        .filter((ts) => !/^2026-11-25T\d{2}:\d{2}:\d{2}\.\d{7}Z$/.test(ts) || parseKqlDateTime(ts) !== ts);
      expect(bad).toEqual([]);
    }
  });

  it('counts what it emits', () => {
    for (const t of GENERATED_TABLES) expect(day.summary.rows[t]).toBe(day[t].length);
    const ops = day.summary.operations;
    expect(ops.succeeded + ops.failed + ops.unfinished).toBe(400);
    expect(ops.failed).toBeGreaterThan(0);
    expect(ops.unfinished).toBeGreaterThan(0);
  });

  it('adds about noiseFactor unrelated rows per Run Command row', () => {
    const runCommandActivity = day.AzureActivity.filter(
      (r) => r.OperationNameValue.toLowerCase() === RUN_COMMAND_OPERATION.toLowerCase(),
    );
    const unrelated = day.AzureActivity.length - runCommandActivity.length;
    expect(unrelated / 400).toBeGreaterThan(2 * 1.5);
    const extensionFiles = day.DeviceFileEvents.filter((r) =>
      /^runcommandextension\.exe$/i.test(r.InitiatingProcessFileName),
    );
    expect(day.DeviceFileEvents.length - extensionFiles.length).toBeGreaterThanOrEqual(2 * 400);
  });

  it('models a Run Command operation: activity events, the script file in its window, then the script and its commands', () => {
    const byCorrelation = new Map<string, typeof day.AzureActivity>();
    for (const r of day.AzureActivity) {
      if (r.OperationNameValue.toLowerCase() !== RUN_COMMAND_OPERATION.toLowerCase()) continue;
      byCorrelation.set(r.CorrelationId, [...(byCorrelation.get(r.CorrelationId) ?? []), r]);
    }
    const families = [
      ['Started', 'Accepted', 'Succeeded', 'Failed'],
      ['Start', 'Accept', 'Success', 'Failure'],
    ];
    let inWindow = 0;
    let files = 0;
    for (const events of byCorrelation.values()) {
      const scope = JSON.parse(events[0].Authorization).scope as string;
      if (!scope.includes('/virtualMachines/')) continue; // scale-set Run Command noise
      const statuses = events.map((e) => e.ActivityStatusValue);
      const family = families.find((f) => f.includes(statuses[0]));
      expect(family).toBeDefined();
      expect(statuses[0]).toBe(family![0]);
      expect(statuses[1]).toBe(family![1]);
      if (statuses.length === 3) expect([family![2], family![3]]).toContain(statuses[2]);
      if (statuses[2] !== family![2]) continue;
      const vm = scope.split('/').pop()!.toLowerCase();
      const times = events.map((e) => e.TimeGenerated).sort();
      const file = day.DeviceFileEvents.find(
        (f) =>
          /^script\d+\.ps1$/.test(f.FileName) &&
          /^runcommandextension\.exe$/i.test(f.InitiatingProcessFileName) &&
          f.DeviceName.split('.')[0].toLowerCase() === vm &&
          f.TimeGenerated >= times[0] &&
          f.TimeGenerated <= times[times.length - 1],
      );
      if (!file) continue;
      files++;
      const commands = day.DeviceEvents.filter(
        (e) => e.DeviceName === file.DeviceName && e.InitiatingProcessCommandLine.includes(file.FileName.slice(0, -4)),
      ).filter((e) => e.TimeGenerated > file.TimeGenerated && e.TimeGenerated < addDays('2026-11-25', 1));
      expect(commands.length).toBeGreaterThanOrEqual(2);
      const first = commands.sort((a, b) => (a.TimeGenerated < b.TimeGenerated ? -1 : 1))[0];
      const af =
        typeof first.AdditionalFields === 'string' ? safeParse(first.AdditionalFields) : first.AdditionalFields;
      if (af && typeof af === 'object' && 'Command' in af)
        expect((af as { Command: string }).Command).toBe(file.FileName);
      inWindow++;
    }
    expect(files).toBeGreaterThan(300);
    expect(inWindow).toBe(files);
  });

  it('produces unique and repeated scripts, so the rule finds some and passes over others', () => {
    const { findings, stages } = detect(day);
    expect(day.summary.operations.uniqueScripts).toBeGreaterThan(0);
    expect(findings.length).toBeGreaterThan(0);
    expect(stages.runCommandData).toBeGreaterThan(findings.length * 2);
    const hashes = new Set(findings.map((f) => f.ScriptFingerprintHash));
    expect(hashes.size).toBe(findings.length);
  });

  it('puts the corners of the query into a tricky day and leaves them out of a plain one', () => {
    const [tricky] = generateDayRows({ seed: 3, operations: 3000, noiseFactor: 0.2 });
    const [plain] = generateDayRows({ seed: 3, operations: 3000, noiseFactor: 0.2, tricky: false });
    const corners = (d: GeneratedDay) => ({
      upperOperation: d.AzureActivity.some((r) => r.OperationNameValue === RUN_COMMAND_OPERATION.toUpperCase()),
      scaleSet: d.AzureActivity.some((r) => r.Authorization.includes('/virtualMachineScaleSets/')),
      callerWithoutAt: d.AzureActivity.some((r) => r.Caller !== '' && !r.Caller.includes('@')),
      emptyCaller: d.AzureActivity.some((r) => r.Caller === ''),
      noIp: d.AzureActivity.some((r) => r.CallerIpAddress === ''),
      lowerProcess: d.DeviceFileEvents.some((r) => r.InitiatingProcessFileName === 'runcommandextension.exe'),
      fqdn: d.DeviceFileEvents.some((r) => r.DeviceName.includes('.')),
      capitalisedArmName: d.AzureActivity.some((r) => /virtualMachines\/[A-Z]/.test(r.Authorization)),
      subMillisecond: d.AzureActivity.some((r) => !r.TimeGenerated.endsWith('0000Z')),
      longScriptNumber: d.DeviceFileEvents.some((r) => /^script\d{10,}\.ps1$/.test(r.FileName)),
      ...Object.fromEntries(
        [
          ['tab', '-File\tscript'],
          ['noBreakSpace', '-File\u00a0script'],
          ['nextLine', '-File\u0085script'],
          ['byteOrderMark', '-File\ufeffscript'],
          ['filePath', '-FilePath script'],
          ['lowerFile', '-file script'],
          ['noSpace', '-Filescript'],
        ].map(([k, s]) => [k, d.DeviceEvents.some((r) => r.InitiatingProcessCommandLine.includes(s))]),
      ),
      additionalFieldsText: d.DeviceEvents.some(
        (r) => typeof r.AdditionalFields === 'string' && r.AdditionalFields.startsWith('{'),
      ),
      additionalFieldsInvalid: d.DeviceEvents.some((r) => r.AdditionalFields === 'not json'),
      additionalFieldsNull: d.DeviceEvents.some((r) => r.AdditionalFields === null),
      nonAsciiCommand: d.DeviceEvents.some((r) =>
        [...(JSON.stringify(r.AdditionalFields) ?? '')].some((ch) => ch.charCodeAt(0) > 0x7f),
      ),
    });
    const t = corners(tricky);
    const p = corners(plain);
    for (const [name, present] of Object.entries(t)) expect([name, present]).toEqual([name, true]);
    const alwaysThere = new Set(['fqdn', 'callerWithoutAt']);
    for (const [name, present] of Object.entries(p)) expect([name, present]).toEqual([name, alwaysThere.has(name)]);
  });

  it('keeps the tenant over several days: consecutive days, script numbers go on counting', () => {
    const days = generateDayRows({ seed: 5, operations: 200, noiseFactor: 0, days: 2, tricky: false });
    expect(days.map((d) => d.summary.day)).toEqual(['2026-11-25', '2026-11-26']);
    expect(days[1].AzureActivity.every((r) => r.TimeGenerated.startsWith('2026-11-26'))).toBe(true);
    const numbers = (d: GeneratedDay) => {
      const m = new Map<string, number[]>();
      for (const f of d.DeviceFileEvents) {
        const n = /^script(\d+)\.ps1$/.exec(f.FileName);
        if (n) m.set(f.DeviceName, [...(m.get(f.DeviceName) ?? []), Number(n[1])]);
      }
      return m;
    };
    const first = numbers(days[0]);
    const second = numbers(days[1]);
    let compared = 0;
    for (const [device, later] of second) {
      const earlier = first.get(device);
      if (!earlier) continue;
      compared++;
      expect(Math.min(...later)).toBeGreaterThan(Math.max(...earlier));
    }
    expect(compared).toBeGreaterThan(10);
  });
});

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('writeDays', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rcd-gen-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one NDJSON file per table, the same rows as in memory', () => {
    const options = { seed: 9, operations: 50, noiseFactor: 1 };
    const [written] = writeDays(dir, options);
    const [inMemory] = generateDayRows(options);
    expect(readdirSync(dir).sort()).toEqual(['AzureActivity.ndjson', 'DeviceEvents.ndjson', 'DeviceFileEvents.ndjson']);
    let bytes = 0;
    for (const t of GENERATED_TABLES) {
      const text = readFileSync(join(dir, `${t}.ndjson`), 'utf8');
      bytes += Buffer.byteLength(text);
      const lines = text.split('\n').filter((l) => l !== '');
      expect(lines.length).toBe(written.rows[t]);
      expect(lines.map((l) => JSON.parse(l))).toEqual(inMemory[t]);
    }
    expect(written.bytes).toBe(bytes);
  });

  it('writes one folder per day for several days', () => {
    const written = writeDays(dir, { seed: 9, operations: 5, noiseFactor: 0, days: 3, day: '2026-12-31' });
    expect(readdirSync(dir).sort()).toEqual(['2026-12-31', '2027-01-01', '2027-01-02']);
    expect(written.map((w) => w.folder)).toEqual(
      readdirSync(dir)
        .sort()
        .map((d) => join(dir, d)),
    );
    expect(readdirSync(join(dir, '2027-01-01')).sort()).toEqual([
      'AzureActivity.ndjson',
      'DeviceEvents.ndjson',
      'DeviceFileEvents.ndjson',
    ]);
  });
});

describe('generate CLI arguments', () => {
  it('reads the options', () => {
    expect(
      parseGenerateArgs(['--out', 'd', '--seed', '3', '--operations', '10', '--days', '2', '--day', '2026-01-31']),
    ).toEqual({
      out: 'd',
      options: { seed: 3, operations: 10, day: '2026-01-31', days: 2, noiseFactor: 10, tricky: true },
    });
    expect(
      parseGenerateArgs(['--out', 'd', '--seed', '3', '--operations', '10', '--plain', '--noise', '0.5']).options,
    ).toMatchObject({
      tricky: false,
      noiseFactor: 0.5,
    });
  });

  it.each([
    [['--seed', '1', '--operations', '1'], /--out is required/],
    [['--out', 'd', '--operations', '1'], /--seed is required/],
    [['--out', 'd', '--seed', 'x', '--operations', '1'], /--seed must be a whole number, got 'x'/],
    [['--out', 'd', '--seed', '1', '--operations', '1', '--day', '2026-02-30'], /--day must be a date/],
    [['--out', 'd', '--seed', '1', '--operations', '1', '--bogus'], /unknown option '--bogus'/],
    [['--out', 'd', '--seed', '1', '--operations'], /--operations needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseGenerateArgs(argv)).toThrow(UsageError);
    expect(() => parseGenerateArgs(argv)).toThrow(message);
  });
});
