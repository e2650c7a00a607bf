/**
 * The detection engine's public API. Pure TypeScript, no I/O.
 *
 * - {@link RULE} and {@link entityMappings}: the published rule's metadata.
 * - {@link coerceRow}: a parsed input record → the typed row the engine reads.
 * - {@link ParityDetection} / {@link detectParity}: the rule, exactly as Log Analytics runs it.
 */
export { RULE, entityMappings, type FindingEntities } from './rule';
export { coerceRow, coerceCell, columnNames, type CellProblem } from './rows';
export { ParityDetection, detectParity, STAGE_LABELS, type ParityResult, type StageCounts } from './parity/detection';
export { isRunCommandActivity } from './parity/azureActivity';
export { isRunCommandExtensionFile } from './parity/deviceFileEvents';
export { toScriptCommand } from './parity/deviceEvents';
export { compareFindings } from './parity/uniqueness';
export * from './schema';
export * from './datetime';
export * as corrected from './corrected';
export {
  CorrectedDetection,
  detectCorrected,
  MemoryBaseline,
  type BaselineEntry,
  type CorrectedFinding,
} from './corrected';
