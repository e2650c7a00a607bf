/**
 * `EntityStore` on Azure Table Storage (`@azure/data-tables`): a connection string for
 * Azurite and local runs, or the table service endpoint plus a TokenCredential
 * (managed identity) in Azure.
 */
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { TokenCredential } from '@azure/core-auth';
import { isRestError } from '@azure/core-rest-pipeline';
import { transactionGroups, type EntityProperties, type EntityStore, type StoredEntity } from './entityStore';
import { ConcurrencyConflictError, StateStoreAccessError, StateStoreError } from './errors';
import { messageOf } from '../shared/errors';

export type TableStoreOptions = TableServiceClientOptions;

/** Properties the service adds to every entity; they are not ours. */
const SYSTEM_PROPERTIES = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'timeStamp']);

export class TableEntityStore implements EntityStore {
  readonly description: string;

  constructor(
    readonly client: TableClient,
    readonly tableName: string = client.tableName,
  ) {
    this.description = `table '${tableName}'`;
  }

  /** Local development and Azurite. `allowInsecureConnection` is set for http endpoints. */
  static fromConnectionString(
    connectionString: string,
    tableName: string,
    options: TableStoreOptions = {},
  ): TableEntityStore {
    const insecure =
      /(^|;)\s*TableEndpoint\s*=\s*http:/i.test(connectionString) ||
      /UseDevelopmentStorage=true/i.test(connectionString);
    const client = TableClient.fromConnectionString(connectionString, tableName, {
      ...(insecure ? { allowInsecureConnection: true } : {}),
      ...options,
    });
    return new TableEntityStore(client, tableName);
  }

  /** Managed identity: `endpoint` is the table service URL, e.g. https://<account>.table.core.windows.net. */
  static fromEndpoint(
    endpoint: string,
    tableName: string,
    credential: TokenCredential,
    options: TableStoreOptions = {},
  ): TableEntityStore {
    return new TableEntityStore(new TableClient(endpoint, tableName, credential, options), tableName);
  }

  async ensureReady(): Promise<void> {
    await this.call('create the table', '', '', () => this.client.createTable());
  }

  async get<P extends EntityProperties = EntityProperties>(
    partitionKey: string,
    rowKey: string,
  ): Promise<StoredEntity<P> | undefined> {
    try {
      const entity = await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      return toStored<P>(entity);
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404) return undefined;
      throw this.translate(e, 'read', partitionKey, rowKey);
    }
  }

  async insert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string> {
    const res = await this.call('insert', partitionKey, rowKey, () =>
      this.client.createEntity({ ...properties, partitionKey, rowKey }),
    );
    return requireEtag(res.etag, this.tableName, partitionKey, rowKey);
  }

  async replace(partitionKey: string, rowKey: string, properties: EntityProperties, etag: string): Promise<string> {
    const res = await this.call('replace', partitionKey, rowKey, () =>
      this.client.updateEntity({ ...properties, partitionKey, rowKey }, 'Replace', { etag }),
    );
    return requireEtag(res.etag, this.tableName, partitionKey, rowKey);
  }

  async upsert(partitionKey: string, rowKey: string, properties: EntityProperties): Promise<string> {
    const res = await this.call('upsert', partitionKey, rowKey, () =>
      this.client.upsertEntity({ ...properties, partitionKey, rowKey }, 'Replace'),
    );
    return requireEtag(res.etag, this.tableName, partitionKey, rowKey);
  }

  async upsertMany(
    partitionKey: string,
    rows: ReadonlyArray<{ rowKey: string; properties: EntityProperties }>,
  ): Promise<void> {
    for (const group of transactionGroups(rows)) {
      await this.call('upsert a batch into', partitionKey, `${group[0]!.rowKey}…`, () =>
        this.client.submitTransaction(
          group.map((r) => ['upsert', { ...r.properties, partitionKey, rowKey: r.rowKey }, 'Replace'] as const),
        ),
      );
    }
  }

  async delete(partitionKey: string, rowKey: string, etag?: string): Promise<void> {
    try {
      await this.client.deleteEntity(partitionKey, rowKey, etag ? { etag } : {});
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404) return;
      throw this.translate(e, 'delete', partitionKey, rowKey);
    }
  }

  async *listPartition<P extends EntityProperties = EntityProperties>(
    partitionKey: string,
  ): AsyncIterable<StoredEntity<P>> {
    const filter = `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'`;
    try {
      for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        yield toStored<P>(entity);
      }
    } catch (e) {
      throw this.translate(e, 'list', partitionKey, '*');
    }
  }

  private async call<T>(what: string, partitionKey: string, rowKey: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw this.translate(e, what, partitionKey, rowKey);
    }
  }

  private translate(e: unknown, what: string, partitionKey: string, rowKey: string): Error {
    if (e instanceof StateStoreError) return e;
    const code = isRestError(e) ? e.code : (e as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined && UNREACHABLE_CODES.has(code)) return this.unreachable(e, what, partitionKey, rowKey);
    if (isRestError(e)) {
      const status = e.statusCode;
      if (status === 409 || status === 412) {
        return new ConcurrencyConflictError(this.tableName, partitionKey, rowKey, status, { cause: e });
      }
      if (status === 401 || status === 403) {
        return new StateStoreAccessError(this.tableName, status, firstLine(e.message), { cause: e });
      }
      return new StateStoreError(
        `State store table '${this.tableName}': could not ${what}${entityText(partitionKey, rowKey)}` +
          `${status ? ` (HTTP ${status})` : ''}: ${firstLine(e.message)}`,
        {
          statusCode: status,
          cause: e,
          retriable: status === undefined || status === 408 || status === 429 || status >= 500,
        },
      );
    }
    return new StateStoreError(
      `State store table '${this.tableName}': could not ${what}${entityText(partitionKey, rowKey)}: ${firstLine(messageOf(e))}. ` +
        `Check that the table service is reachable (STATE_STORE_ENDPOINT / STATE_STORE_CONNECTION_STRING).`,
      { cause: e, retriable: true },
    );
  }

  /**
   * The table service did not answer at all: which endpoint, and what to do. On a
   * loopback endpoint that is Azurite not running (`npm run azurite`).
   */
  private unreachable(e: unknown, what: string, partitionKey: string, rowKey: string): StateStoreError {
    const endpoint = this.client.url;
    let local = false;
    try {
      local = LOOPBACK_HOSTS.has(new URL(endpoint).hostname);
    } catch {
      // Not a URL: say nothing about Azurite.
    }
    const todo = local
      ? 'Is Azurite running? Start it with `npm run azurite` (from the repository; or `npx azurite`) and run again'
      : 'Check STATE_STORE_ENDPOINT / STATE_STORE_CONNECTION_STRING (the account name) and that this machine can reach it';
    return new StateStoreError(
      `State store table '${this.tableName}': could not ${what}${entityText(partitionKey, rowKey)}: ` +
        `the table service at ${endpoint} cannot be reached (${firstLine(messageOf(e))}). ${todo}.`,
      { cause: e, retriable: true },
    );
  }
}

/** Connection-level failures: nothing answered at the endpoint. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
]);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** ` 'pk/rk'`, or nothing for a table-level call (creating the table). */
function entityText(partitionKey: string, rowKey: string): string {
  return partitionKey === '' && rowKey === '' ? '' : ` '${partitionKey}/${rowKey}'`;
}

function toStored<P extends EntityProperties>(entity: Record<string, unknown>): StoredEntity<P> {
  const properties: EntityProperties = {};
  for (const [key, value] of Object.entries(entity)) {
    if (SYSTEM_PROPERTIES.has(key) || key.startsWith('odata.') || key.startsWith('@odata.')) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') properties[key] = value;
  }
  return {
    partitionKey: String(entity.partitionKey),
    rowKey: String(entity.rowKey),
    properties: properties as P,
    etag: String(entity.etag),
  };
}

function requireEtag(etag: string | undefined, table: string, partitionKey: string, rowKey: string): string {
  if (!etag)
    throw new StateStoreError(`State store table '${table}': no ETag returned for '${partitionKey}/${rowKey}'.`);
  return etag;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}
