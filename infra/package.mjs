// Builds the deployment package of the Function app: a pruned LOCAL package
// (docs/deploy.md, "What is deployed as code"). azd runs it before packaging
// (azure.yaml hook `prepackage`) and zips the result (azure.yaml `dist`); Core Tools
// publishes it from that folder (`func azure functionapp publish <app> --no-build`). Steps:
//   1. `npm run build` (skipped with --no-build),
//   2. copy every file of the repository that .funcignore lets through, read with
//      gitignore semantics (the `ignore` package, as azd and Core Tools read it),
//      except node_modules,
//   3. `npm ci --omit=dev` in the package folder: the production dependencies of
//      package-lock.json, nothing from devDependencies.
//
//   node infra/package.mjs [--no-build] [--out DIR]    (default .cache/deploy-package)
//
// test/integration/packaging runs it and loads the result in a fresh process.
/* global process, console */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ignore from 'ignore';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function usage(message) {
  console.error(`infra/package.mjs: ${message}\nusage: node infra/package.mjs [--no-build] [--out DIR]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let build = true;
let out = join(repo, '.cache', 'deploy-package');
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--no-build') build = false;
  else if (args[i] === '--out') {
    if (!args[i + 1]) usage('--out needs a folder');
    out = resolve(args[++i]);
  } else usage(`unknown argument '${args[i]}'`);
}
// The package folder is emptied first: never the repository or one of its parents.
if (out === repo || repo.startsWith(out + '/')) usage(`--out '${out}' would overwrite the repository`);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (build) execFileSync(npm, ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
if (!existsSync(join(repo, 'dist', 'src', 'functions'))) {
  console.error("infra/package.mjs: dist/src/functions is missing: run 'npm run build' first (or drop --no-build).");
  process.exit(1);
}

// The .funcignore filter, with gitignore semantics.
const filter = ignore().add(readFileSync(join(repo, '.funcignore'), 'utf8'));
const outRelative = relative(repo, out);
let files = 0;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(repo, path).split('\\').join('/');
    // The package folder itself, and node_modules (step 3 installs its own).
    if (rel === outRelative || rel === 'node_modules') continue;
    if (entry.isDirectory()) {
      if (!filter.ignores(`${rel}/`)) walk(path);
    } else if (entry.isFile() && !filter.ignores(rel)) {
      mkdirSync(join(out, dirname(rel)), { recursive: true });
      copyFileSync(path, join(out, rel));
      files++;
    }
  }
}
walk(repo);

execFileSync(npm, ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
  cwd: out,
  stdio: ['ignore', 'ignore', 'inherit'],
});
console.log(
  `infra/package.mjs: ${files} app files and the production dependencies in ${relative(process.cwd(), out) || '.'}`,
);
