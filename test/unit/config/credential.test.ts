/**
 * createCredential with the real @azure/identity credentials: the managed identity against
 * a local stand-in that answers the App Service managed identity protocol (what Functions
 * serves on IDENTITY_ENDPOINT), and the developer sign-in against stand-in `az` / `azd`
 * executables on PATH.
 *
 * The managed identity credential (MSAL) reads IDENTITY_ENDPOINT / IDENTITY_HEADER from
 * process.env and keeps the source it found for the process, so one stand-in serves the
 * whole file, and each test asks for its own resource (MSAL caches tokens per resource).
 */
import { execFileSync } from 'node:child_process';
import { AppServiceIdentityStandIn, IDENTITY_HEADER } from '../../support/identityStandIn';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedIdentityCredential } from '@azure/identity';
import { createCredential } from '../../../src/config/credential';
import { ConfigError } from '../../../src/config/settings';

const CLIENT_ID = '5d1a5c3e-0f0e-4b8a-9a57-0c2d6f2b9e11';

const saved = { ...process.env };
const identity = new AppServiceIdentityStandIn();
const tempDirs: string[] = [];

beforeAll(async () => {
  await identity.start();
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = IDENTITY_HEADER;
});

afterAll(async () => {
  process.env = saved;
  await identity.stop();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

beforeEach(() => {
  identity.requests.length = 0;
});

describe('createCredential: managed identity where IDENTITY_ENDPOINT is set', () => {
  it('user-assigned (AZURE_CLIENT_ID): asks the App Service endpoint for the resource with client_id and the identity header', async () => {
    const chosen = createCredential({ azureClientId: CLIENT_ID }, process.env);
    expect(chosen.kind).toBe('managedIdentity');
    expect(chosen.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(chosen.description).toBe(
      `managed identity (user-assigned, client id ${CLIENT_ID}) through the App Service identity endpoint ${identity.endpoint}`,
    );
    const token = await chosen.credential.getToken('https://monitor.azure.com/.default');
    expect(token?.token).toBe(`mi-token for https://monitor.azure.com as ${CLIENT_ID}`);
    expect(identity.requests).toHaveLength(1);
    const [req] = identity.requests;
    expect(req).toMatchObject({
      method: 'GET',
      path: '/msi/token',
      query: { 'api-version': '2019-08-01', resource: 'https://monitor.azure.com', client_id: CLIENT_ID },
    });
    expect(req.headers['x-identity-header']).toBe(IDENTITY_HEADER);
  });

  it('system-assigned (no AZURE_CLIENT_ID): no client id in the request', async () => {
    const chosen = createCredential({ azureClientId: undefined }, process.env);
    expect(chosen.description).toContain('managed identity (system-assigned)');
    const token = await chosen.credential.getToken('https://api.loganalytics.io/.default');
    expect(token?.token).toBe('mi-token for https://api.loganalytics.io as system');
    expect(identity.requests.map((r) => r.query)).toEqual([
      { 'api-version': '2019-08-01', resource: 'https://api.loganalytics.io' },
    ]);
  });

  it('is the managed identity even when service principal variables are set too', async () => {
    const env = { ...process.env, AZURE_TENANT_ID: 'contoso.onmicrosoft.com', AZURE_CLIENT_SECRET: 'stray-secret' };
    const chosen = createCredential({ azureClientId: CLIENT_ID }, env);
    expect(chosen.kind).toBe('managedIdentity');
    await chosen.credential.getToken('https://management.azure.com/.default');
    expect(identity.requests.map((r) => r.query.resource)).toEqual(['https://management.azure.com']);
  });

  it('refuses IDENTITY_ENDPOINT without IDENTITY_HEADER, and an App Service instance without IDENTITY_ENDPOINT', () => {
    const problemOf = (env: NodeJS.ProcessEnv) => {
      try {
        createCredential({ azureClientId: CLIENT_ID }, env);
      } catch (e) {
        if (e instanceof ConfigError) return e.problems.map((p) => `${p.setting}: ${p.problem}`);
        throw e;
      }
      return [];
    };
    expect(problemOf({ IDENTITY_ENDPOINT: identity.endpoint })).toEqual([
      'IDENTITY_HEADER: missing, although IDENTITY_ENDPOINT is set',
    ]);
    expect(problemOf({ WEBSITE_INSTANCE_ID: 'f00d', PATH: '/usr/bin' })).toEqual([
      'IDENTITY_ENDPOINT: missing, although this is an App Service / Functions instance (WEBSITE_INSTANCE_ID is set)',
    ]);
    // Azure Arc's variant of the protocol (IDENTITY_ENDPOINT with IMDS_ENDPOINT) is a managed identity too.
    expect(
      createCredential(
        { azureClientId: undefined },
        {
          IDENTITY_ENDPOINT: 'http://localhost:40342/metadata/identity/oauth2/token',
          IMDS_ENDPOINT: 'http://localhost:40342',
        },
      ).description,
    ).toContain('through the Azure Arc identity endpoint');
  });
});

describe('createCredential: developer sign-in elsewhere', () => {
  const REPO = join(__dirname, '..', '..', '..');
  /**
   * The Azure CLI credentials run `az` / `azd` from the real process environment, which a
   * jest test cannot change (it sees a copy), so these run createCredential in a child
   * node process whose PATH holds only stand-in executables: no real az or azd of this
   * machine is reached.
   */
  const CHILD = `
    const fs = require('node:fs');
    const ts = require('typescript');
    require.extensions['.ts'] = (m, file) => m._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText, file);
    const { createCredential } = require(${JSON.stringify(join(REPO, 'src', 'config', 'credential.ts'))});
    const [config, scope] = JSON.parse(process.argv[1]);
    const chosen = createCredential(config, process.env);
    chosen.credential.getToken(scope).then(
      (t) => console.log(JSON.stringify({ kind: chosen.kind, description: chosen.description, token: t.token })),
      (e) => console.log(JSON.stringify({ kind: chosen.kind, description: chosen.description, error: e.message })),
    );`;

  interface ChildResult {
    kind: string;
    description: string;
    token?: string;
    error?: string;
  }

  /** A folder of stand-in executables, each printing its `stdout` and recording its arguments. */
  function binWith(tools: Record<string, string>): { dir: string; calls: () => string[] } {
    const dir = mkdtempSync(join(tmpdir(), 'rcd-cred-'));
    tempDirs.push(dir);
    const log = join(dir, 'calls.log');
    writeFileSync(log, '');
    for (const [name, stdout] of Object.entries(tools)) {
      const file = join(dir, name);
      // Shell builtins only: PATH holds nothing but this folder.
      writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> '${log}'\necho '${stdout}'\n`);
      chmodSync(file, 0o755);
    }
    return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  }

  function signIn(bin: string, azureClientId: string | undefined, scope: string): ChildResult {
    const out = execFileSync(process.execPath, ['-e', CHILD, JSON.stringify([{ azureClientId }, scope])], {
      cwd: REPO,
      encoding: 'utf8',
      env: {
        PATH: bin,
        // What DefaultAzureCredential would have tried first: must not be tried.
        AZURE_TENANT_ID: 'contoso.onmicrosoft.com',
        AZURE_CLIENT_ID: CLIENT_ID,
        AZURE_CLIENT_SECRET: 'stray-secret',
      },
    });
    return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
  }

  it('uses the Azure CLI sign-in first, whatever service principal variables say', () => {
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    const bin = binWith({
      az: JSON.stringify({ accessToken: 'az-token', expires_on: expiresOn, tokenType: 'Bearer' }),
      azd: JSON.stringify({ token: 'azd-token', expiresOn: new Date(expiresOn * 1000).toISOString() }),
    });
    const result = signIn(bin.dir, CLIENT_ID, 'https://monitor.azure.com/.default');
    expect(result).toEqual({
      kind: 'developerSignIn',
      description: `developer sign-in: Azure CLI (az login), then Azure Developer CLI (azd auth login); no managed identity here (IDENTITY_ENDPOINT is not set); AZURE_CLIENT_ID ${CLIENT_ID} is not used outside Azure`,
      token: 'az-token',
    });
    expect(bin.calls()).toEqual(['az account get-access-token --output json --resource https://monitor.azure.com']);
  });

  it('falls back to the Azure Developer CLI sign-in when the Azure CLI is not installed', () => {
    const bin = binWith({
      azd: JSON.stringify({ token: 'azd-token', expiresOn: new Date(Date.now() + 3600_000).toISOString() }),
    });
    const result = signIn(bin.dir, undefined, 'https://api.loganalytics.io/.default');
    expect(result.token).toBe('azd-token');
    expect(bin.calls()).toEqual([
      'azd auth token --output json --no-prompt --scope https://api.loganalytics.io/.default',
    ]);
  });

  it('fails naming both sign-ins, and nothing else, when neither tool is there', () => {
    const result = signIn(binWith({}).dir, undefined, 'https://management.azure.com/.default');
    // One line per credential tried, in order: the two sign-ins, nothing else.
    expect(result.error?.split('\n')).toEqual([
      'ChainedTokenCredential authentication failed.',
      expect.stringContaining('Azure CLI could not be found'),
      expect.stringContaining("Azure Developer CLI couldn't be found"),
    ]);
  });
});
