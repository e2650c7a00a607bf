import { UsageError, walkArgs } from '../../../src/cli/args';

describe('walkArgs', () => {
  it('hands each flag its value, written as --flag value or --flag=value', () => {
    const seen: Array<[string, string]> = [];
    const result = walkArgs(['--input', 'a b', '--format=table', '--allow-empty'], (flag, value) => {
      seen.push([flag, flag === '--allow-empty' ? '' : value()]);
      return true;
    });
    expect(result).toBeUndefined();
    expect(seen).toEqual([
      ['--input', 'a b'],
      ['--format', 'table'],
      ['--allow-empty', ''],
    ]);
  });

  it('stops at -h or --help', () => {
    expect(walkArgs(['--input', 'x', '--help', '--bogus'], () => true)).toBe('help');
    expect(walkArgs(['-h'], () => false)).toBe('help');
  });

  it('refuses what the subcommand does not take, and a flag without its value', () => {
    expect(() => walkArgs(['--bogus'], () => false)).toThrow(new UsageError("unknown option '--bogus'"));
    expect(() => walkArgs(['stray'], () => false)).toThrow(new UsageError("unexpected argument 'stray'"));
    expect(() => walkArgs(['--input'], (_f, value) => (value(), true))).toThrow(
      new UsageError('--input needs a value'),
    );
    expect(() => walkArgs(['--input='], (_f, value) => (value(), true))).toThrow(UsageError);
  });
});
