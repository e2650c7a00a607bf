/**
 * Findings out: the findings-table record, the sinks (Logs Ingestion API, NDJSON file),
 * the read-back of the findings table, and the FindingsWriter that makes writing
 * loss-free (spool) and exactly-once (ledger, read-back).
 */
export * from './record';
export * from './errors';
export * from './sink';
export * from './readBack';
export { MAX_FIELD_BYTES, fitToFieldLimit } from './fieldLimit';
export { LEDGER_PARTITION, type LedgerState, type LedgerEntry, type AttemptHistory } from './ledger';
export { SPOOL_PARTITION } from './spool';
export * from './writer';
