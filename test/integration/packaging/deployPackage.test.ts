/**
 * The deployment package, built as azd builds it (azure.yaml): `npm run build`, then
 * the prepackage hook infra/package.mjs (copies what .funcignore lets through, read
 * with gitignore semantics by the `ignore` package as azd reads it, and runs
 * `npm ci --omit=dev` in the package folder), then azd zips the `dist` folder,
 * filtering it with .funcignore again.
 *
 * The package is copied into an empty folder and loaded in a fresh Node process the
 * way the Functions Node worker loads an app: every file matching package.json
 * `main` is required. The worker's own module `@azure/functions-core` is provided
 * from a folder outside the package (NODE_PATH) and records what the app registers.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ignore from 'ignore';

const REPO = join(__dirname, '..', '..', '..');
const funcignore = () => ignore().add(readFileSync(join(REPO, '.funcignore'), 'utf8'));

/** Every file under `root`, relative, with '/' separators. */
function filesUnder(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(root, p));
    else out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}

/** Top-level package folders of a node_modules ('@scope/name' or 'name'). */
function installedPackages(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const names: string[] = [];
  for (const e of readdirSync(nodeModules)) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) for (const s of readdirSync(join(nodeModules, e))) names.push(`${e}/${s}`);
    else names.push(e);
  }
  return names;
}

/** Newest (or oldest) modification time of the files under `dir`. */
function mtimes(dir: string): number[] {
  return existsSync(dir) ? filesUnder(dir).map((f) => statSync(join(dir, f)).mtimeMs) : [];
}

/** dist/src was built after the last change to src/, package.json and tsconfig.json. */
function builtAfterSources(): boolean {
  const built = mtimes(join(REPO, 'dist', 'src'));
  if (built.length === 0) return false;
  const sources = [
    ...mtimes(join(REPO, 'src')),
    ...['package.json', 'tsconfig.json'].map((f) => statSync(join(REPO, f)).mtimeMs),
  ];
  return Math.min(...built) > Math.max(...sources);
}

interface Lock {
  packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
}

describe('the deployment package (azd deploy / func azure functionapp publish)', () => {
  let work: string;
  let staged: string;
  let deployed: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rcd-package-'));
    staged = join(work, 'staged');
    // The hook, with the build azd runs before it; skipped when dist/ is newer than every
    // source file (CI builds just before the tests), which saves a full tsc run.
    const build = builtAfterSources() ? ['--no-build'] : [];
    execFileSync('node', [join(REPO, 'infra', 'package.mjs'), '--out', staged, ...build], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // azd zips `dist` with .funcignore applied: what passes is what is deployed,
    // unpacked here into an empty folder.
    deployed = join(work, 'wwwroot');
    mkdirSync(deployed);
    const filter = funcignore();
    for (const f of filesUnder(staged)) {
      if (filter.ignores(f)) continue;
      cpSync(join(staged, f), join(deployed, f));
    }
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('.funcignore applied to the staged package drops nothing (anchored patterns only)', () => {
    const filter = funcignore();
    const dropped = filesUnder(staged).filter((f) => filter.ignores(f));
    expect(dropped).toEqual([]);
  });

  it('.funcignore keeps the entry point and dependency src folders an unanchored `src/` would drop', () => {
    const filter = funcignore();
    for (const kept of [
      'dist/src/functions/runCommandDetection.js',
      'node_modules/debug/src/index.js',
      'node_modules/ecdsa-sig-formatter/src/ecdsa-sig-formatter.js',
      'host.json',
      'package.json',
    ])
      expect([kept, filter.ignores(kept)]).toEqual([kept, false]);
    for (const dropped of ['src/functions/runCommandDetection.ts', 'test/unit/x.test.ts', 'local.settings.json'])
      expect([dropped, filter.ignores(dropped)]).toEqual([dropped, true]);
  });

  it('holds host.json, package.json, the compiled app and nothing of the sources, tests or tools', () => {
    const files = filesUnder(deployed);
    expect(files).toEqual(expect.arrayContaining(['host.json', 'package.json', 'package-lock.json']));
    expect(files).toContain('dist/src/functions/runCommandDetection.js');
    expect(files).toContain('dist/src/detection/rule/query.kql');
    expect(files).toContain('dist/infra/findings-table.json');
    const appFiles = files.filter((f) => !f.startsWith('node_modules/'));
    for (const f of appFiles)
      expect([f, /^(host\.json|package(-lock)?\.json|dist\/(src|infra)\/)/.test(f)]).toEqual([f, true]);
    expect(appFiles.filter((f) => f.endsWith('.ts') || f.endsWith('.map'))).toEqual([]);
    expect(files.some((f) => f === 'local.settings.json')).toBe(false);
  });

  it('carries no devDependency, direct or transitive, and every production dependency', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Lock;
    // Every folder the lock file marks dev-only, at any depth.
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && (p.dev || p.devOptional))
      .map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(100);
    const shipped = devOnly.filter((path) => existsSync(join(deployed, path)));
    expect(shipped).toEqual([]);
    const installed = installedPackages(join(deployed, 'node_modules'));
    for (const dev of Object.keys(pkg.devDependencies)) expect([dev, installed.includes(dev)]).toEqual([dev, false]);
    for (const dep of Object.keys(pkg.dependencies)) expect([dep, installed.includes(dep)]).toEqual([dep, true]);
  });

  it('loads in a fresh Node process and registers the timer, as the Functions worker does', () => {
    // The worker provides @azure/functions-core; ours records registrations.
    const core = join(work, 'worker-modules', '@azure', 'functions-core');
    mkdirSync(core, { recursive: true });
    writeFileSync(
      join(core, 'index.js'),
      `const registrations = [];
globalThis.__registrations = registrations;
module.exports = {
  registerFunction(metadata) { registrations.push(metadata); return { dispose() {} }; },
  setProgrammingModel() {}, getProgrammingModel() { return undefined; },
  registerHook() { return { dispose() {} }; },
};`,
    );
    // The worker's loading: package.json `main` (a glob over one folder) → require each file.
    const loader = `
const { readdirSync, readFileSync } = require('node:fs');
const { join, dirname, basename } = require('node:path');
const root = process.cwd();
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).main;
const dir = join(root, dirname(main));
const pattern = new RegExp('^' + basename(main).replace(/[.]/g, '\\\\.').replace('*', '.*') + '$');
const files = readdirSync(dir).filter((f) => pattern.test(f));
for (const f of files) require(join(dir, f));
process.stdout.write(JSON.stringify({ files, registrations: globalThis.__registrations }));
`;
    const out = execFileSync('node', ['-e', loader], {
      cwd: deployed,
      encoding: 'utf8',
      // Only the package and the worker's module: no repository folder on the path.
      env: { PATH: process.env.PATH, NODE_PATH: join(work, 'worker-modules') },
    });
    const { files, registrations } = JSON.parse(out) as {
      files: string[];
      registrations: Array<{ name: string; bindings: Record<string, Record<string, unknown>> }>;
    };
    expect(files).toEqual(['runCommandDetection.js']);
    expect(registrations).toHaveLength(1);
    const [reg] = registrations;
    expect(reg.name).toBe('runCommandDetection');
    const bindings = Object.values(reg.bindings);
    expect(bindings).toEqual([
      expect.objectContaining({ type: 'timerTrigger', direction: 'in', schedule: '%DETECTION_SCHEDULE%' }),
    ]);
  });

  it('the CLI of the package starts with production dependencies only', () => {
    const out = execFileSync('node', [join(deployed, 'dist', 'src', 'cli', 'main.js'), '--help'], {
      cwd: deployed,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(out).toMatch(/runcommand-detect/);
  });
});
