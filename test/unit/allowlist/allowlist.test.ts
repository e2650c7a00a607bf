/**
 * The allowlist's entries: parsing and checking each row (a bad one is refused with the
 * row named, never thrown), expiry, and matching per Kind; the watchlist query passes
 * the Kusto language service; the CSV file a SOC uploads reads the same.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALLOWLIST_KINDS,
  entriesAt,
  matchingEntry,
  parseAllowlist,
  parseExpires,
  type AllowlistRow,
  type FindingSubject,
} from '../../../src/allowlist/allowlist';
import { readAllowlistFile } from '../../../src/allowlist/file';
import { InputError } from '../../../src/io/errors';
import { buildWatchlistQuery } from '../../../src/logAnalytics/watchlist';
import { kqlDiagnostics, kqlResultColumns, SENTINEL_WATCHLIST_TABLES } from '../../support/kusto';

const HASH = 'ab'.repeat(32);
const row = (Kind: string, Value: string, Reason = 'why', Expires = '', where = 'row'): AllowlistRow => ({
  where,
  Kind,
  Value,
  Reason,
  Expires,
});
const subject: FindingSubject = {
  ScriptSha256: HASH.toUpperCase(),
  ScriptFingerprintHash: 'cd'.repeat(32),
  Caller: 'Eve.Admin@Fabrikam.com',
  VirtualMachineName: 'dc09',
  CallerIpAddress: '10.1.2.3',
};
const matchesSubject = (r: AllowlistRow, s: FindingSubject = subject) =>
  matchingEntry(parseAllowlist('t', [r]).entries, s) !== undefined;

describe('allowlist entries', () => {
  it.each([
    ['ScriptSha256', HASH, true],
    ['scriptsha256', HASH.toUpperCase(), true],
    ['ScriptSha256', 'ef'.repeat(32), false],
    ['ScriptFingerprintHash', 'CD'.repeat(32), true],
    ['Caller', 'eve.admin@fabrikam.com', true],
    ['Caller', 'eve', false],
    ['VirtualMachineName', 'DC09', true],
    ['VirtualMachineName', 'dc0', false],
    ['CallerIpAddress', '10.1.2.3', true],
    ['CallerIpAddress', '10.1.0.0/16', true],
    ['CallerIpAddress', '10.2.0.0/16', false],
    ['CallerIpAddress', '::ffff:10.1.2.3', true], // the IPv4-mapped form of the same address
    ['CallerIpAddress', '10.1.2.4', false],
  ])('%s %s matches: %s', (kind, value, expected) => {
    expect(matchesSubject(row(kind, value))).toBe(expected);
  });

  it('a ScriptSha256 entry never matches a finding without the hash', () => {
    expect(matchesSubject(row('ScriptSha256', HASH), { ...subject, ScriptSha256: null })).toBe(false);
  });

  it('an IPv6 range matches an IPv6 caller, not an IPv4 one', () => {
    const v6 = { ...subject, CallerIpAddress: '2001:db8::2766' };
    expect(matchesSubject(row('CallerIpAddress', '2001:db8::/32'), v6)).toBe(true);
    expect(matchesSubject(row('CallerIpAddress', '2001:db8::/32'))).toBe(false);
  });

  it.each([
    [row('Hostname', 'dc09'), "unknown Kind 'Hostname'"],
    [row('', 'dc09'), 'Kind is empty'],
    [row('Caller', '  '), 'Value is empty'],
    [row('Caller', '*@contoso.com'), 'no wildcards'],
    [row('ScriptSha256', 'abc'), 'is not a SHA256'],
    [row('ScriptFingerprintHash', 'x'.repeat(64)), 'is not a SHA256'],
    [row('CallerIpAddress', '10.0.0.0/33'), 'not an IP address or a CIDR range'],
    [row('CallerIpAddress', 'gateway'), 'not an IP address or a CIDR range'],
    [row('Caller', 'a@b.c', ''), 'Reason is empty'],
    [row('Caller', 'a@b.c', 'why', '2026-02-30'), "Expires '2026-02-30'"],
    [row('Caller', 'a@b.c', 'why', '31/12/2026'), "Expires '31/12/2026'"],
  ])('refuses %j: %s', (r, problem) => {
    const list = parseAllowlist('t', [r, row('Caller', 'ok@contoso.com', 'fine', '', 'good')]);
    expect(list.refused).toEqual([{ where: 'row', problem: expect.stringContaining(problem) }]);
    expect(list.entries.map((e) => e.where)).toEqual(['good']);
  });

  it('Expires: a date is in force through that UTC day; a datetime until that instant; empty never expires', () => {
    expect(parseExpires('')).toBeNull();
    expect(parseExpires('2026-11-25')).toBe(Date.parse('2026-11-26T00:00:00Z'));
    expect(parseExpires('2026-11-25T12:00:00+02:00')).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(parseExpires('2026-11-25T12:00')).toBeUndefined();
    const { entries } = parseAllowlist('t', [
      row('Caller', 'a@b.c', 'r', '2026-11-25', 'day'),
      row('Caller', 'a@b.c', 'r', '2026-11-26T00:00:00.001Z', 'instant'),
      row('Caller', 'a@b.c', 'r', '', 'never'),
    ]);
    const at = (iso: string) => {
      const { inForce, expired } = entriesAt(entries, Date.parse(iso));
      return { inForce: inForce.map((e) => e.where), expired: expired.map((e) => e.where) };
    };
    expect(at('2026-11-25T23:59:59.999Z')).toEqual({ inForce: ['day', 'instant', 'never'], expired: [] });
    expect(at('2026-11-26T00:00:00Z')).toEqual({ inForce: ['instant', 'never'], expired: ['day'] });
    expect(at('2026-11-26T00:00:00.001Z')).toEqual({ inForce: ['never'], expired: ['day', 'instant'] });
  });
});

describe('the watchlist query', () => {
  it('passes the Kusto language service, with _GetWatchlist and the Watchlist table declared', () => {
    const query = buildWatchlistQuery('RunCommandAllowlist');
    expect(kqlDiagnostics(query, SENTINEL_WATCHLIST_TABLES)).toEqual([]);
    expect(kqlResultColumns(query, SENTINEL_WATCHLIST_TABLES)).toEqual([
      ['ItemId', 'string'],
      ['Kind', 'string'],
      ['Value', 'string'],
      ['Reason', 'string'],
      ['Expires', 'string'],
    ]);
    // The checker is not blind: a column _GetWatchlist does not return is refused.
    expect(kqlDiagnostics(query.replace('_DTItemId', '_DTItemKey'), SENTINEL_WATCHLIST_TABLES)).not.toEqual([]);
  });

  it('takes only a watchlist alias (no quote can reach the query text)', () => {
    expect(() => buildWatchlistQuery("x') | union SigninLogs //")).toThrow(RangeError);
  });
});

describe('the allowlist file (the CSV uploaded as the watchlist)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allowlist-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the columns by name, names each row by its line, ignores blank lines and other columns', () => {
    const path = file(
      'allowlist.csv',
      '\ufeffKind,Value,Reason,Expires,Owner\r\n' +
        'VirtualMachineName,dc09,"patching, weekly",2027-01-31,ops\r\n' +
        '\r\n' +
        'Hostname,dc09,bad,,ops\r\n',
    );
    const list = readAllowlistFile(path);
    expect(list.entries).toEqual([
      expect.objectContaining({
        where: 'allowlist.csv line 2',
        kind: 'VirtualMachineName',
        reason: 'patching, weekly',
      }),
    ]);
    expect(list.refused).toEqual([{ where: 'allowlist.csv line 4', problem: expect.stringContaining('Hostname') }]);
  });

  it('the example CSV of docs/operations.md is a valid allowlist, one entry of each Kind', () => {
    const docs = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'operations.md'), 'utf8');
    const csv = /## Allowlist[\s\S]*?```csv\n([\s\S]*?)```/.exec(docs)![1]!;
    const list = readAllowlistFile(file('docs-example.csv', csv));
    expect(list.refused).toEqual([]);
    expect(list.entries.map((e) => e.kind).sort()).toEqual([...ALLOWLIST_KINDS].sort());
  });

  it('a file without the Kind column, or empty, or missing, is an InputError naming it', () => {
    expect(() => readAllowlistFile(file('nokind.csv', 'Value,Reason\ndc09,x\n'))).toThrow(InputError);
    expect(() => readAllowlistFile(file('nokind2.csv', 'Value,Reason\ndc09,x\n'))).toThrow(/nokind2\.csv:1: .*no Kind/);
    expect(() => readAllowlistFile(file('empty.csv', ''))).toThrow(/empty\.csv:1: the file is empty/);
    expect(() => readAllowlistFile(join(dir, 'absent.csv'))).toThrow(/absent\.csv: cannot read it \(ENOENT\)/);
  });
});
