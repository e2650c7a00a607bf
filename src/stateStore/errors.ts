/**
 * Typed errors of the state store (Azure Table Storage). Each message names the table
 * and says what to do; callers match on the class, never on the text.
 */
import { AppError, type AppErrorOptions } from '../shared/errors';

/** Base class: anything the state store could not do. */
export interface StateStoreErrorOptions extends AppErrorOptions {
  /** HTTP status from Table Storage, when there was one. */
  statusCode?: number;
}

export class StateStoreError extends AppError {
  /** HTTP status from Table Storage, when there was one. */
  readonly statusCode: number | undefined;

  constructor(message: string, options: StateStoreErrorOptions = {}) {
    super(message, options);
    this.statusCode = options.statusCode;
  }
}

/**
 * An ETag-conditional write lost a race: the entity was changed (412) or created (409)
 * by another writer since it was read. Re-read and decide again; never retry blindly.
 */
export class ConcurrencyConflictError extends StateStoreError {
  constructor(
    readonly table: string,
    readonly partitionKey: string,
    readonly rowKey: string,
    statusCode: 409 | 412,
    options?: { cause?: unknown },
  ) {
    super(
      statusCode === 409
        ? `State store table '${table}': entity '${partitionKey}/${rowKey}' already exists (another writer created it first).`
        : `State store table '${table}': entity '${partitionKey}/${rowKey}' was changed by another writer (ETag mismatch).`,
      { ...options, statusCode },
    );
  }
}

/** The identity may not read or write the table (401/403). */
export class StateStoreAccessError extends StateStoreError {
  constructor(table: string, statusCode: number, detail: string, options?: { cause?: unknown }) {
    super(
      `State store table '${table}': access denied (${statusCode}: ${detail}). Grant the function's identity the ` +
        `'Storage Table Data Contributor' role on the storage account (role changes can take a few minutes), ` +
        `or check STATE_STORE_CONNECTION_STRING / STATE_STORE_ENDPOINT.`,
      { ...options, statusCode },
    );
  }
}

/** A value too large for the state store even after splitting. */
export class StateStoreValueTooLargeError extends StateStoreError {}
