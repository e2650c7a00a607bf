/**
 * The managed identity endpoint of App Service / Azure Functions, as the platform
 * serves it to the app on IDENTITY_ENDPOINT (plain http on the instance's loopback):
 * `GET IDENTITY_ENDPOINT?resource=…&api-version=2019-08-01[&client_id=…]` with the
 * header `X-IDENTITY-HEADER: <IDENTITY_HEADER>` answers a token. Requests are recorded.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export const IDENTITY_HEADER = 'stand-in-identity-header-secret';

export interface IdentityRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
}

export class AppServiceIdentityStandIn {
  readonly requests: IdentityRequest[] = [];
  private server!: Server;
  endpoint = '';

  /** `token(resource, clientId)`: the access token to hand out (default names both). */
  constructor(
    private readonly token: (resource: string, clientId: string | undefined) => string = (resource, clientId) =>
      `mi-token for ${resource} as ${clientId ?? 'system'}`,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query = Object.fromEntries(url.searchParams);
      this.requests.push({ method: req.method ?? '', path: url.pathname, query, headers: req.headers });
      if (req.headers['x-identity-header'] !== IDENTITY_HEADER) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 401, message: 'Unauthorized' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: this.token(query.resource ?? '', query.client_id),
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource: query.resource,
          token_type: 'Bearer',
          client_id: query.client_id ?? '00000000-1111-2222-3333-444444444444',
        }),
      );
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.endpoint = `http://127.0.0.1:${port}/msi/token`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
