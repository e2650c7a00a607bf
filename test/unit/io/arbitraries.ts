/**
 * Random rows of the three tables that reach the corners of the rule's filters, and
 * random valid JSON encodings of them, for the pre-filter and reader property tests.
 */
import fc from 'fast-check';
import type { RuleTableName } from '../../../src/detection/schema';

/** A small seeded PRNG, so one fast-check integer drives every encoding choice. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * One valid JSON encoding of a string among many: each UTF-16 unit may be written as
 * `\uXXXX`; `/` may be `\/`; the rest as JSON requires (short escapes or raw).
 */
function encodeString(s: string, rnd: () => number, escapeRate: number): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    const lone = ch.length === 1 && code >= 0xd800 && code <= 0xdfff; // must be escaped
    if (lone || rnd() < escapeRate || code < 0x20) {
      if (SHORT_ESCAPES[ch] !== undefined && rnd() < 0.5) out += SHORT_ESCAPES[ch];
      else for (let i = 0; i < ch.length; i++) out += '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0');
    } else if (ch === '/' && rnd() < 0.5) out += '\\/';
    else if (SHORT_ESCAPES[ch] !== undefined) out += SHORT_ESCAPES[ch];
    else out += ch;
  }
  return out + '"';
}

/** A random valid JSON encoding of a value: random escapes, random white space between tokens. */
export function encode(value: unknown, rnd: () => number, escapeRate: number): string {
  const ws = (): string => (rnd() < 0.2 ? [' ', '\t', '\r', '  '][Math.floor(rnd() * 4)] : '');
  if (typeof value === 'string') return encodeString(value, rnd, escapeRate);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return '[' + value.map((v) => ws() + encode(v, rnd, escapeRate) + ws()).join(',') + ']';
  return (
    '{' +
    Object.entries(value)
      .map(([k, v]) => ws() + encodeString(k, rnd, escapeRate) + ws() + ':' + ws() + encode(v, rnd, escapeRate) + ws())
      .join(',') +
    '}'
  );
}

const caseVariant = (text: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((flips) =>
    text
      .split('')
      .map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase()))
      .join(''),
  );

const anyText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', 'ſ', 'ı', 'K', 'ß', 'ﬁ', '\u0130', '\\', '\\\\', '\\u', 'C:\\Users\\update.log'),
);

export const RUN_COMMAND = 'Microsoft.Compute/virtualMachines/runCommand/action';

export const azureActivityRow = fc.record({
  TimeGenerated: fc.constantFrom('2026-11-25T13:44:00.0730000Z', 'not a time', null),
  OperationNameValue: fc.oneof(
    fc.constant(RUN_COMMAND),
    caseVariant(RUN_COMMAND),
    fc.constant('Microsoft.Compute/virtualMachines/write'),
    fc.constant('Microsoft.Compute/virtualMachines/runCommand/actionX'),
    // Near misses of the pre-filter's needle `runcommand/a`.
    fc.constantFrom(
      'Microsoft.Compute/virtualMachines/runCommands/write',
      'Microsoft.HybridCompute/machines/runcommands/write',
      'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action',
      'runCommand/',
      'runcommand\\/action',
      'RUNCOMMAND/A',
    ),
    anyText,
  ),
  Authorization: fc.oneof(
    fc.constant('{"scope":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"}'),
    fc.constant('{"scope":"/subscriptions/s/providers/Microsoft.Compute/virtualMachineScaleSets/ss"}'),
    anyText,
  ),
  CorrelationId: anyText,
  Caller: fc.oneof(fc.constant('alice@contoso.com'), anyText),
  CallerIpAddress: anyText,
  ActivityStatusValue: fc.constantFrom('Started', 'Succeeded', 'Success', 'Failed'),
});

export const deviceFileEventsRow = fc.record({
  TimeGenerated: fc.constant('2026-11-25T13:44:00.0730000Z'),
  DeviceName: fc.oneof(fc.constant('vm1.contoso.com'), anyText),
  InitiatingProcessFileName: fc.oneof(
    fc.constant('RunCommandExtension.exe'),
    caseVariant('RunCommandExtension.exe'),
    fc.constant('RunCommandExtension.exe '),
    anyText,
  ),
  FileName: fc.oneof(fc.constant('script0.ps1'), fc.constant('RunCommandExtension.exe'), anyText),
  FileSize: fc.oneof(fc.integer(), fc.constant(null)),
  InitiatingProcessAccountName: anyText,
  InitiatingProcessAccountDomain: anyText,
  InitiatingProcessFolderPath: anyText,
  InitiatingProcessId: fc.oneof(fc.integer(), fc.constant(null)),
});

const commandLinePiece = fc.oneof(
  fc.constantFrom(
    '-File',
    '-file',
    '-FilePath',
    'powershell ',
    ' ',
    '\t',
    '\n',
    '\r',
    '\f',
    '\u000b',
    '\u0085',
    '\u00a0',
    '\u1680',
    '\u2000',
    '\u200a',
    '\u2028',
    '\u2029',
    '\u202f',
    '\u205f',
    '\u3000',
    '\ufeff',
    '\u200b',
    'script',
    'script1',
    '-File script',
    '\\t',
    't7',
    'scriptx',
    'Script',
    '0',
    '7',
    '123456789',
    '1234567890',
    '.ps1',
    '.PS1',
    '/',
    '\\',
  ),
  anyText,
);

export const deviceEventsRow = fc.record({
  TimeGenerated: fc.constant('2026-11-25T13:44:00.0730000Z'),
  DeviceName: anyText,
  InitiatingProcessCommandLine: fc.oneof(
    fc.array(commandLinePiece, { maxLength: 10 }).map((p) => p.join('')),
    // Shaped like a Run Command line, each part varied: mostly a match, sometimes not.
    fc
      .tuple(
        commandLinePiece,
        fc.constantFrom('-File', '-File', '-file', '-FilePath'),
        fc.constantFrom(
          ' ',
          '\t',
          '\n',
          '\r',
          '\f',
          '\u000b',
          '\u0085',
          '\u00a0',
          '\u1680',
          '\u2000',
          '\u2028',
          '\u3000',
          '\ufeff',
          '',
        ),
        fc.constantFrom('script', 'script', 'scriptx', 'Script'),
        fc.constantFrom('0', '42', '123456789', '1234567890', ''),
        fc.constantFrom('.ps1', '.ps1', '.PS1', '.ps'),
        commandLinePiece,
      )
      .map((p) => p.join('')),
  ),
  AdditionalFields: fc.oneof(
    fc.record({ Command: fc.oneof(fc.constantFrom('script0.ps1', 'Get-Service'), anyText) }),
    fc.constantFrom('{"Command":"Get-Process"}', '{not json', null),
    anyText,
  ),
});

export const rowOf: { [T in RuleTableName]: fc.Arbitrary<Record<string, unknown>> } = {
  AzureActivity: azureActivityRow,
  DeviceFileEvents: deviceFileEventsRow,
  DeviceEvents: deviceEventsRow,
};

export const encodedRow = (table: RuleTableName) =>
  fc.record({
    row: rowOf[table],
    seed: fc.integer(),
    escapeRate: fc.constantFrom(0, 0, 0.01, 0.2),
  });
