import { Writable } from 'node:stream';
import { main } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, env: {} };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const WS = '11111111-2222-3333-4444-555555555555';
const COMMANDS = ['job', 'detect', 'export', 'run', 'verify', 'replay'] as const;

describe('every usage error of every command is one line, then where its help is (exit 2)', () => {
  const cases: Array<[string, string[]]> = [
    ...COMMANDS.map((c): [string, string[]] => [c, ['--bogus']]),
    ['detect', []],
    ['detect', ['--input']],
    ['detect', ['--input', '.', '--format', 'xml']],
    ['detect', ['--input', '.', '--baseline', 'b.json']],
    ['detect', ['--input', '.', '--mode', 'corrected', '--from', 'yesterday']],
    ['export', ['--workspace', WS, '--from', '2026-11-25', '--to', '2026-11-26']],
    ['run', ['--workspace', 'my-ws']],
    ['verify', ['--workspace', WS]],
    ['replay', ['--workspace', WS, '--from', '2026-11-25', '--to', '2026-11-26', '--seed-baseline', 'b.json']],
    ['replay', ['--input', '.', '--from', '2026-11-25']],
    ['replay', ['--input', '.', '--workspace', WS, '--from', '2026-11-25', '--to', '2026-11-26']],
    ['replay', ['--input', '.', '--from', '2026-11-25T06:00:00Z', '--to', '2026-11-26']],
    ['job', ['--from', '2026-11-25']],
  ];
  it.each(cases)('%s %j', async (command, argv) => {
    const { code, stdout, stderr } = await cli(command, ...argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^runcommand-detect ${command}: \\S`));
    expect(lines[1]).toBe(`Run 'runcommand-detect ${command} --help' for its options.`);
  });

  it('no command at all', async () => {
    const { code, stderr } = await cli();
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      'runcommand-detect: a command is required (job, detect, export, run, verify, replay, allowlist).',
      "Run 'runcommand-detect --help' for what each does.",
    ]);
  });
});

describe('help texts: required options first, the identity at the end', () => {
  it.each(COMMANDS)('%s --help', async (command) => {
    const { code, stdout } = await cli(command, '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: runcommand-detect ${command}`));
    const required = stdout.search(/\nRequired( \([^)]*\))?:\n/);
    const options = stdout.indexOf('\nOptions:\n');
    expect(options).toBeGreaterThan(0);
    if (command !== 'job') {
      // job has no required option; every other command lists its required ones first.
      expect(required).toBeGreaterThan(0);
      expect(required).toBeLessThan(options);
    }
    const paragraphs = stdout.trimEnd().split('\n\n');
    const last = paragraphs[paragraphs.length - 1]!;
    expect(last).toMatch(command === 'detect' ? /no identity is used/ : /Identity: /);
    expect(stdout.split('\n').every((l) => l.length <= 100)).toBe(true);
  });
});
