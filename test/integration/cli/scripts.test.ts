/**
 * Every script answers --help with its usage, exits 0 and does nothing else: the
 * compiled scripts (as `npm run demo -- --help` runs them), each in its own process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from '../../support/build';

const ROOT = join(__dirname, '..', '..', '..');

beforeAll(() => {
  ensureBuilt();
});

it.each([
  ['demo', /^Usage: npm run demo/],
  ['generate', /^Usage: generate --out DIR/],
  ['compare-modes', /^Usage: npm run compare-modes/],
  ['bench', /^Usage: npm run bench/],
])('%s --help prints its usage and exits 0, doing nothing else', (script, usage) => {
  const demoOut = join(ROOT, 'out', 'demo-findings.ndjson');
  const before = existsSync(demoOut) ? statSync(demoOut).mtimeMs : undefined;
  for (const flag of ['--help', '-h']) {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'scripts', `${script}.js`), flag], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(usage);
    // Usage only: no progress lines, tables or findings after it.
    expect(r.stdout).not.toMatch(/Generat(ed|ing) |finding\(s\)|Day +parity/);
  }
  expect(existsSync(demoOut) ? statSync(demoOut).mtimeMs : undefined).toBe(before);
});
