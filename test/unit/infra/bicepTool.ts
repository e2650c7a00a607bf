/**
 * Runs the Bicep CLI for the infra tests: finds it with scripts/install-bicep.sh
 * --no-download (never downloads during a test), builds main.bicep, and makes an
 * offline deployment snapshot (`bicep snapshot`: the template evaluated for given
 * parameters, subscription and resource group, as ARM would predict it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const REPO = join(__dirname, '..', '..', '..');
export const MAIN_BICEP = join(REPO, 'infra', 'bicep', 'main.bicep');
export const MAIN_BICEPPARAM = join(REPO, 'infra', 'bicep', 'main.bicepparam');

/** The bicep binary, or why there is none. */
export function findBicep(): { bin: string } | { reason: string } {
  const r = spawnSync('bash', [join(REPO, 'scripts', 'install-bicep.sh'), '--no-download'], { encoding: 'utf8' });
  const bin = r.stdout.trim();
  if (r.status === 0 && bin) return { bin };
  return { reason: (r.stderr || 'scripts/install-bicep.sh --no-download found no bicep').trim() };
}

export interface CliResult {
  status: number | null;
  output: string;
}

export function runBicep(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' } });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Builds main.bicep into a temporary directory: the ARM JSON and what bicep printed. */
export function buildMain(bin: string): { template: ArmTemplate; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rcd-bicep-'));
  try {
    const outfile = join(dir, 'main.json');
    const r = runBicep(bin, ['build', MAIN_BICEP, '--outfile', outfile]);
    if (r.status !== 0) throw new Error(`bicep build failed:\n${r.output}`);
    return { template: JSON.parse(readFileSync(outfile, 'utf8')) as ArmTemplate, output: r.output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const SNAPSHOT_TARGET = {
  tenantId: '33333333-3333-3333-3333-333333333333',
  subscriptionId: '22222222-2222-2222-2222-222222222222',
  resourceGroup: 'rg-app',
  location: 'westeurope',
};

/**
 * Evaluates main.bicep with `params` (Bicep parameter assignments, one per line)
 * into its predicted resources.
 */
export function snapshot(bin: string, params: Record<string, string>): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), 'rcd-snapshot-'));
  try {
    const paramFile = join(dir, 'test.bicepparam');
    const lines = [
      `using '${relative(dir, MAIN_BICEP)}'`,
      ...Object.entries(params).map(([k, v]) => `param ${k} = ${v}`),
    ];
    writeFileSync(paramFile, lines.join('\n') + '\n');
    const t = SNAPSHOT_TARGET;
    execFileSync(
      bin,
      [
        'snapshot',
        paramFile,
        '--mode',
        'overwrite',
        '--tenant-id',
        t.tenantId,
        '--subscription-id',
        t.subscriptionId,
        '--resource-group',
        t.resourceGroup,
        '--location',
        t.location,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return JSON.parse(readFileSync(join(dir, 'test.snapshot.json'), 'utf8')) as Snapshot;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface ArmTemplate {
  resources: Record<string, any>;
  [key: string]: any;
}

export interface PredictedResource {
  id: string;
  type: string;
  name: string;
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  properties?: any;
  [key: string]: any;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  diagnostics?: unknown[];
}
