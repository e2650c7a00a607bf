/**
 * A state store nobody answers at: the message names the endpoint and, on this
 * machine (a loopback endpoint: Azurite), says how to start Azurite.
 */
import { createServer } from 'node:net';
import { TableEntityStore } from '../../../src/stateStore/tableEntityStore';

/** A loopback port with nothing listening on it (taken, then freed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Azurite's well-known development account key (published in its documentation; not a secret).
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

it('a loopback state store that refuses connections: the endpoint, and `npm run azurite`', async () => {
  const port = await closedPort();
  const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
  const store = TableEntityStore.fromConnectionString(
    `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};TableEndpoint=${endpoint};`,
    'runcommanddetection',
    { retryOptions: { maxRetries: 0 } },
  );
  const failure = await store.ensureReady().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(failure?.message).toMatch(
    new RegExp(
      `^State store table 'runcommanddetection': could not create the table: the table service at ${endpoint} ` +
        'cannot be reached \\(.*ECONNREFUSED.*\\)\\. Is Azurite running\\? Start it with `npm run azurite`',
    ),
  );
  expect(failure?.message).not.toContain("'/'");
});
