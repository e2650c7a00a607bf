/**
 * Findings out: the findings-table record, the sinks (Logs Ingestion API, NDJSON file),
 * and the FindingsWriter that makes writing loss-free (spool) and idempotent (ledger).
 */
export * from './record';
export * from './errors';
export * from './sink';
export { MAX_FIELD_BYTES, fitToFieldLimit } from './fieldLimit';
export { LEDGER_PARTITION, type LedgerState } from './ledger';
export { SPOOL_PARTITION } from './spool';
export * from './writer';
