/**
 * The compiled program (dist/), for tests that run `runcommand-detect` as a user does:
 * in a process of its own. `npm run build` runs first in CI; locally the build is
 * (re)made here when dist/ is missing or older than a source file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): string {
  const newest = Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'scripts')));
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  }
  return CLI;
}
