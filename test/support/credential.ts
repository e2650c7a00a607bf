import type { AccessToken, TokenCredential } from '@azure/core-auth';

/** A TokenCredential that hands out a fixed bearer token and records the scopes asked for. */
export class FakeCredential implements TokenCredential {
  readonly scopesAsked: string[] = [];
  constructor(private readonly token = 'fake-token') {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopesAsked.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: this.token, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}
