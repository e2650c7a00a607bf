/**
 * Each KQL operator helper against the cases of docs/kql-semantics.md. Case-mapping
 * expectations marked ".NET" were checked against .NET 10's ToUpperInvariant and
 * StringComparison.OrdinalIgnoreCase.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  arrayIndex,
  between,
  caseFold,
  equalsIgnoreCase,
  extractScriptName,
  getProperty,
  has,
  hasAny,
  hashSha256,
  isnotempty,
  listHasAny,
  ordinalCompare,
  parseJson,
  split,
  tostring,
  toupper,
} from '../../../src/detection/kql';

describe('has', () => {
  it.each([
    ['/virtualMachines/vm1', 'virtualMachines', true],
    ['/virtualMachineScaleSets/x', 'virtualMachines', false],
    ['/VIRTUALMACHINES/vm1', 'virtualMachines', true],
    ['/virtualmachines/vm1', 'virtualMachines', true],
    ['virtualMachines', 'virtualMachines', true],
    ['xvirtualMachines', 'virtualMachines', false],
    ['virtualMachines1', 'virtualMachines', false],
    ['_virtualMachines_', 'virtualMachines', true], // `_` is not alphanumeric
    ['évirtualMachines', 'virtualMachines', false], // Unicode letter before
    ['virtualMachines\u0660', 'virtualMachines', false], // Arabic-Indic digit (Nd) after
    ['virtualMachines\u00b2', 'virtualMachines', true], // superscript two is No, not a digit
    ['virtualMachines\u{10428}', 'virtualMachines', false], // astral letter after
    ['\u{10428}virtualMachines', 'virtualMachines', false], // astral letter before
    ['virtualMachine\u017f', 'virtualMachines', false], // long s never folds to ASCII s (.NET)
    ['"/virtualMachineScaleSets/ss/virtualMachines/0"', 'virtualMachines', true], // second hit
    ['powershell -File script0.ps1', '-File', true],
    ['powershell -FilePath x', '-File', false],
    ['powershell -file x', '-File', true],
    ['powershell x-File y', '-File', true], // needle starts with "-": no check before
    ['powershell -File_x', '-File', true],
    ['powershell -Files', '-File', false],
    ['powershell -FilePath a -File b', '-File', true],
    ['powershell -File', '-File', true],
    ['', '-File', false],
    ['abc', '', false],
    // A hit in the needle's own case that is not a whole term, then a whole-term hit in another case.
    ['virtualMachinesX /VIRTUALMACHINES/', 'virtualMachines', true],
    ['x-Files -FILE y', '-File', true],
    ['virtualMachinesX', 'virtualMachines', false],
  ])('%j has %j is %s', (haystack, needle, expected) => {
    expect(has(haystack, needle)).toBe(expected);
  });

  it('hasAny is has on any needle', () => {
    expect(hasAny('a Success b', ['Succeeded', 'Success'])).toBe(true);
    expect(hasAny('a Successful b', ['Succeeded', 'Success'])).toBe(false);
    expect(hasAny('a Succeeded b', ['Succeeded', 'Success'])).toBe(true);
  });

  it.each([
    [['Started', 'Accepted', 'Succeeded'], true],
    [['Start', 'Accept', 'Success'], true],
    [['Start', 'Accept', 'Failure'], false],
    [['Started', 'Failed'], false],
    [['Successful'], false],
    [['SUCCESS'], true],
    [['x Success'], true],
    [['Success_1'], true],
    [['x\nSuccess'], false], // the JSON text is x\nSuccess: "n" sits before the term
    [['x\tSucceeded'], false],
    [['x"Success'], true], // JSON text \"Success: quote before
    [[], false],
    [[''], false],
  ])('list %j has_any ("Succeeded", "Success") is %s', (list, expected) => {
    expect(listHasAny(list, ['Succeeded', 'Success'])).toBe(expected);
  });
});

describe('=~ and case folding', () => {
  it('compares case-insensitively', () => {
    const op = 'Microsoft.Compute/virtualMachines/runCommand/action';
    expect(equalsIgnoreCase(op, op)).toBe(true);
    expect(equalsIgnoreCase('MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION', op)).toBe(true);
    expect(equalsIgnoreCase('microsoft.compute/virtualmachines/runcommand/action', op)).toBe(true);
    expect(equalsIgnoreCase(op + ' ', op)).toBe(false);
    expect(equalsIgnoreCase('Microsoft.Compute/virtualMachineſ/runCommand/action', op)).toBe(false);
  });

  it.each([
    ['é', 'É', true],
    ['\u{10428}', '\u{10400}', true],
    ['\u212a', 'k', false],
    ['ß', 'ẞ', false],
    ['ſ', 's', false],
    ['ı', 'i', false],
    ['σ', 'ς', true],
    ['µ', 'μ', true],
    ['ǅ', 'ǆ', true],
    ['ᾳ', 'ᾼ', true],
  ])('.NET OrdinalIgnoreCase: %j =~ %j is %s', (a, b, expected) => {
    expect(equalsIgnoreCase(a, b)).toBe(expected);
  });

  it('caseFold keeps the UTF-16 length', () => {
    for (const s of ['ß', 'ﬁ', 'ŉ', 'ΐ', '\u{10428}x', '\ud801', 'İ', 'abc'])
      expect(caseFold(s)).toHaveLength(s.length);
  });
});

describe('toupper (.NET ToUpperInvariant)', () => {
  it.each([
    ['get-childitem', 'GET-CHILDITEM'],
    ['é', 'É'],
    ['σ', 'Σ'],
    ['ς', 'Σ'],
    ['ß', 'ß'], // full mapping SS is longer: stays
    ['ﬁ', 'ﬁ'], // JS toUpperCase would give FI
    ['ﬀ', 'ﬀ'],
    ['ŉ', 'ŉ'],
    ['ΐ', 'ΐ'],
    ['ǰ', 'ǰ'],
    ['ı', 'ı'], // .NET invariant keeps dotless i
    ['ſ', 'S'],
    ['µ', 'Μ'],
    ['ÿ', 'Ÿ'],
    ['ǅ', 'Ǆ'],
    ['ᾳ', 'ᾼ'], // simple mapping, where JS gives the full ΑΙ
    ['ᾀ', 'ᾈ'],
    ['ᾈ', 'ᾈ'],
    ['\u0345', '\u0399'],
    ['\u{10428}', '\u{10400}'], // astral letter: per code point
    ['\u{1e922}', '\u{1e900}'],
    ['\ud801', '\ud801'], // lone surrogate stays
    ['write-host ß ﬁ é', 'WRITE-HOST ß ﬁ É'],
    ['', ''],
  ])('toupper(%j) is %j', (input, expected) => {
    expect(toupper(input)).toBe(expected);
  });
});

describe('parse_json and property access', () => {
  it('parses valid JSON, keeps invalid JSON as the string, passes dynamic values through', () => {
    expect(parseJson('{"scope":"/a/b"}')).toEqual({ scope: '/a/b' });
    expect(parseJson('{not json')).toBe('{not json');
    expect(parseJson('')).toBe('');
    expect(parseJson('42')).toBe(42);
    expect(parseJson('"x"')).toBe('x');
    const obj = { Command: 'Get-Item' };
    expect(parseJson(obj)).toBe(obj);
    expect(parseJson(null)).toBeNull();
    expect(parseJson(undefined)).toBeNull();
  });

  it('reads a property of an object only, case-sensitively', () => {
    expect(getProperty({ scope: '/x' }, 'scope')).toBe('/x');
    expect(getProperty({ Scope: '/x' }, 'scope')).toBeNull();
    expect(getProperty({}, 'scope')).toBeNull();
    expect(getProperty({}, 'constructor')).toBeNull();
    expect(getProperty(['scope'], 'scope')).toBeNull();
    expect(getProperty('{"scope":1}', 'scope')).toBeNull();
    expect(getProperty(null, 'scope')).toBeNull();
    expect(getProperty(7, 'scope')).toBeNull();
    expect(getProperty({ scope: null }, 'scope')).toBeNull();
    expect(getProperty({ scope: { a: 1 } }, 'scope')).toEqual({ a: 1 });
  });
});

describe('tostring', () => {
  it.each([
    [null, ''],
    [undefined, ''],
    ['abc', 'abc'],
    [42, '42'],
    [JSON.parse('118.0'), '118'],
    [-3, '-3'],
    [true, 'true'],
    [['A', 'B'], '["A","B"]'],
    [{ a: 1, b: [1, 2] }, '{"a":1,"b":[1,2]}'],
    [['a/b', 'é', '\n', '"', '\\', '\u001f'], '["a/b","é","\\n","\\"","\\\\","\\u001f"]'],
    [[], '[]'],
  ])('tostring(%j) is %j', (value, expected) => {
    expect(tostring(value)).toBe(expected);
  });
});

describe('split and index', () => {
  it('splits the string form', () => {
    expect(split('', '/')).toEqual(['']);
    expect(split(null, '/')).toEqual(['']);
    expect(split('/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1', '/')).toEqual([
      '',
      'subscriptions',
      's1',
      'resourceGroups',
      'rg',
      'providers',
      'Microsoft.Compute',
      'virtualMachines',
      'vm1',
    ]);
    expect(split('web01.contoso.com', '.')).toEqual(['web01', 'contoso', 'com']);
    expect(split('a@b@c', '@')).toEqual(['a', 'b', 'c']);
    expect(split(12, '/')).toEqual(['12']);
  });

  it('indexes from the end with negative indexes, null out of range', () => {
    const a = ['x', 'y', 'z'];
    expect(arrayIndex(a, 0)).toBe('x');
    expect(arrayIndex(a, 2)).toBe('z');
    expect(arrayIndex(a, -1)).toBe('z');
    expect(arrayIndex(a, -3)).toBe('x');
    expect(arrayIndex(a, -4)).toBeNull();
    expect(arrayIndex(a, 3)).toBeNull();
    expect(tostring(arrayIndex(['only'], 1))).toBe('');
    expect(arrayIndex([''], -1)).toBe('');
  });
});

describe('extract(@"\\-File\\s(script[0-9]{1,9}\\.ps1)", 1, s)', () => {
  const RUST_WHITE_SPACE = [
    '\t', '\n', '\u000b', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680',
    '\u2000', '\u2001', '\u2005', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000',
  ]; // prettier-ignore
  it.each(RUST_WHITE_SPACE.map((ws) => [ws.codePointAt(0)!.toString(16), ws]))(
    'matches with U+%s (Unicode White_Space) after -File',
    (_hex, ws) => {
      expect(extractScriptName(`powershell -ExecutionPolicy Unrestricted -File${ws}script0.ps1`)).toBe('script0.ps1');
    },
  );

  it.each([
    ['U+FEFF (in JS \\s, not White_Space)', 'powershell -File\ufeffscript0.ps1', ''],
    ['U+200B (not White_Space)', 'powershell -File\u200bscript0.ps1', ''],
    ['U+180E (not White_Space)', 'powershell -File\u180escript0.ps1', ''],
    ['-file (case-sensitive)', 'powershell -file script0.ps1', ''],
    ['-FilePath', 'powershell -FilePath script0.ps1', ''],
    ['two spaces', 'powershell -File  script0.ps1', ''],
    ['no digits', 'powershell -File script.ps1', ''],
    ['.PS1', 'powershell -File script0.PS1', ''],
    ['Script', 'powershell -File Script0.ps1', ''],
    ['non-ASCII digit', 'powershell -File script\u0660.ps1', ''],
    ['nine digits', 'powershell -File script123456789.ps1', 'script123456789.ps1'],
    ['ten digits', 'powershell -File script1234567890.ps1', ''],
    ['ten digits, then a later match', 'ps -File script1234567890.ps1 -File script7.ps1', 'script7.ps1'],
    ['first of two matches', 'ps -File script1.ps1 -File script2.ps1', 'script1.ps1'],
    ['no end anchor', 'powershell -File script0.ps1x', 'script0.ps1'],
    ['leading zeros', 'powershell -File script007.ps1', 'script007.ps1'],
    ['--File', 'powershell --File script3.ps1', 'script3.ps1'],
    ['empty', '', ''],
  ])('%s', (_name, commandLine, expected) => {
    expect(extractScriptName(commandLine)).toBe(expected);
  });
});

describe('isnotempty', () => {
  it('is false for "" and null only', () => {
    expect(isnotempty('')).toBe(false);
    expect(isnotempty(null)).toBe(false);
    expect(isnotempty(undefined)).toBe(false);
    expect(isnotempty(' ')).toBe(true);
    expect(isnotempty('script0.ps1')).toBe(true);
  });
});

describe('hash_sha256', () => {
  it('hashes the UTF-8 bytes to lowercase hex', () => {
    expect(hashSha256('World')).toBe('78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524');
    expect(hashSha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashSha256('é')).not.toBe(hashSha256('e'));
  });
});

describe('between', () => {
  const low = '2026-11-25T04:13:54.3140000Z';
  const high = '2026-11-25T04:19:25.3700000Z';
  it('is inclusive at both ends, to the 100 ns tick', () => {
    expect(between(low, low, high)).toBe(true);
    expect(between(high, low, high)).toBe(true);
    expect(between('2026-11-25T04:13:54.3139999Z', low, high)).toBe(false);
    expect(between('2026-11-25T04:13:54.3140001Z', low, high)).toBe(true);
    expect(between('2026-11-25T04:19:25.3700001Z', low, high)).toBe(false);
  });
  it('drops a null on any side', () => {
    expect(between(null, low, high)).toBe(false);
    expect(between(low, null, high)).toBe(false);
    expect(between(low, low, null)).toBe(false);
  });
});

describe('ordinal order', () => {
  it('orders by UTF-16 code units', () => {
    const sorted = ['b', 'B', 'a', 'é', 'Z', '', '\uff01', '\u{1f600}'].sort(ordinalCompare);
    expect(sorted).toEqual(['', 'B', 'Z', 'a', 'b', 'é', '\u{1f600}', '\uff01']);
    expect(ordinalCompare('x', 'x')).toBe(0);
  });
});

describe('toupper and caseFold against .NET 10, every code point', () => {
  const table = new Map<number, number>();
  for (const line of readFileSync(join(__dirname, 'fixtures/dotnet10-ToUpperInvariant.txt'), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [cp, upper] = line.split(' ').map((hex) => parseInt(hex, 16));
    table.set(cp, upper);
  }
  // Letters added in Unicode 16 and 17: whether they map depends on the ICU version of
  // the runtime (.NET's system ICU does not know them yet; Node's may).
  const newInUnicode16or17 = (cp: number) =>
    [0x19b, 0x264, 0x1c8a, 0xa7cd, 0xa7cf, 0xa7d3, 0xa7d5, 0xa7db].includes(cp) ||
    (cp >= 0x10d70 && cp <= 0x10d85) ||
    (cp >= 0x16ebb && cp <= 0x16ed3);

  it('has the expected shape', () => {
    expect(table.size).toBeGreaterThan(1400);
    expect(table.get(0xe9)).toBe(0xc9);
  });

  it('maps every code point as ToUpperInvariant does', () => {
    const differences: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if ((cp >= 0xd800 && cp <= 0xdfff) || newInUnicode16or17(cp)) continue;
      const s = String.fromCodePoint(cp);
      const expected = String.fromCodePoint(table.get(cp) ?? cp);
      if (toupper(s) !== expected) differences.push(cp.toString(16));
    }
    expect(differences).toEqual([]);
  });

  it('folds for =~ as OrdinalIgnoreCase: the upper case, but never non-ASCII to ASCII', () => {
    const differences: string[] = [];
    for (const [cp, upper] of table) {
      if (newInUnicode16or17(cp)) continue;
      const s = String.fromCodePoint(cp);
      const expected = cp >= 0x80 && upper < 0x80 ? s : String.fromCodePoint(upper);
      if (caseFold(s) !== expected) differences.push(cp.toString(16));
    }
    expect(differences).toEqual([]);
    expect(equalsIgnoreCase('\u017f', 'S')).toBe(false);
  });
});
