/**
 * Who the job runs as. Exactly one kind of credential, chosen from where it runs, and
 * nothing else tried silently (no environment or workload identity credential: a stray
 * AZURE_CLIENT_SECRET must not change who reads the workspace):
 *
 * - In Azure, and wherever IDENTITY_ENDPOINT is set: the managed identity
 *   (`ManagedIdentityCredential`). Functions and App Service serve it on IDENTITY_ENDPOINT,
 *   authenticated by the IDENTITY_HEADER secret (the App Service managed identity protocol:
 *   GET IDENTITY_ENDPOINT?resource=…&api-version=2019-08-01 with header X-IDENTITY-HEADER).
 *   AZURE_CLIENT_ID picks a user-assigned identity; unset means the system-assigned one.
 * - Elsewhere (a workstation): the developer's sign-in, Azure CLI (`az login`) first, then
 *   Azure Developer CLI (`azd auth login`).
 *
 * Note: the managed identity credential (MSAL) reads IDENTITY_ENDPOINT and IDENTITY_HEADER
 * from `process.env` itself and keeps the source it found for the life of the process; pass
 * `process.env` as `env` outside tests.
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  ChainedTokenCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { ConfigError, type JobConfig } from './settings';

export interface ChosenCredential {
  credential: TokenCredential;
  kind: 'managedIdentity' | 'developerSignIn';
  /** One line for the log: which credential, and why. */
  description: string;
}

const set = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * The credential for `config` where `env` says the job runs. Throws a `ConfigError` when
 * the environment is Azure but offers no usable managed identity (rather than falling back
 * to something else).
 */
export function createCredential(
  config: Pick<JobConfig, 'azureClientId'>,
  env: NodeJS.ProcessEnv = process.env,
): ChosenCredential {
  const identityEndpoint = set(env.IDENTITY_ENDPOINT);
  // App Service / Functions set WEBSITE_INSTANCE_ID on every instance; Core Tools do not.
  const appServiceInstance = set(env.WEBSITE_INSTANCE_ID) !== undefined;
  const clientId = config.azureClientId;

  if (identityEndpoint === undefined && appServiceInstance) {
    throw new ConfigError([
      {
        setting: 'IDENTITY_ENDPOINT',
        problem: 'missing, although this is an App Service / Functions instance (WEBSITE_INSTANCE_ID is set)',
        expected:
          'the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER once the Function App has a managed identity: assign it one (the Bicep template assigns a user-assigned identity) and set AZURE_CLIENT_ID to its Client ID',
      },
    ]);
  }
  if (identityEndpoint !== undefined) {
    // IDENTITY_ENDPOINT without IDENTITY_HEADER is Azure Arc's protocol when IMDS_ENDPOINT is set too.
    const arc = set(env.IDENTITY_HEADER) === undefined && set(env.IMDS_ENDPOINT) !== undefined;
    if (set(env.IDENTITY_HEADER) === undefined && !arc) {
      throw new ConfigError([
        {
          setting: 'IDENTITY_HEADER',
          problem: 'missing, although IDENTITY_ENDPOINT is set',
          expected:
            'the secret the App Service managed identity endpoint expects; the platform sets it with IDENTITY_ENDPOINT. Unset IDENTITY_ENDPOINT to use your developer sign-in instead',
        },
      ]);
    }
    const who = clientId ? `user-assigned, client id ${clientId}` : 'system-assigned';
    return {
      credential: new ManagedIdentityCredential(clientId ? { clientId } : {}),
      kind: 'managedIdentity',
      description: `managed identity (${who}) through ${arc ? 'the Azure Arc' : 'the App Service'} identity endpoint ${identityEndpoint}`,
    };
  }
  const unused = clientId ? `; AZURE_CLIENT_ID ${clientId} is not used outside Azure` : '';
  return {
    credential: new ChainedTokenCredential(new AzureCliCredential(), new AzureDeveloperCliCredential()),
    kind: 'developerSignIn',
    description: `developer sign-in: Azure CLI (az login), then Azure Developer CLI (azd auth login); no managed identity here (IDENTITY_ENDPOINT is not set)${unused}`,
  };
}
