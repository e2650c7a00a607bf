import { TableClient } from '@azure/data-tables';
import { startAzuriteTables, type RunningAzurite } from './azurite';
import { testCertificate } from './tls';
import { createServer } from 'node:https';

describe('test support', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
  });
  afterAll(async () => azurite?.stop());

  it('starts a real Azurite that the Tables SDK can write to and read from', async () => {
    const client = TableClient.fromConnectionString(azurite.connectionString, 'supportcheck', {
      allowInsecureConnection: true,
    });
    await client.createTable();
    await client.createEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
    const e = await client.getEntity<{ value: number }>('p', 'r');
    expect(e.value).toBe(42);
  });

  it('makes a certificate that a client can trust by its ca', async () => {
    const { key, cert, ca } = testCertificate();
    const server = createServer({ key, cert }, (_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const https = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/', ca }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    server.close();
    expect(body).toBe('hello');
  });
});
