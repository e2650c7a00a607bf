/**
 * The detection engine's most used names, gathered in one place. Pure TypeScript, no
 * I/O: the lint rule (eslint.config.js) keeps src/detection from importing anything
 * outside itself, the Azure SDK or I/O modules. Callers may import this file or the
 * engine's modules directly; the way to run the rule is {@link createDetector}.
 *
 * - {@link createDetector}: the rule in either mode, rows in as they arrive, findings out.
 * - {@link RULE} and {@link entityMappings}: the published rule's metadata.
 * - {@link coerceRow}: a parsed input record → the typed row the engine reads.
 * - {@link ParityDetection} / {@link CorrectedDetection}: the two modes stage by stage (tests, threads).
 */
export { RULE, entityMappings, type FindingEntities } from './rule';
export {
  createDetector,
  addTables,
  type Detector,
  type DetectedFinding,
  type DetectorResult,
  type RowSink,
  type CorrectedDetectorOptions,
} from './detector';
export { coerceRow, coerceCell, columnNames, type CellProblem } from './rows';
export { sha256Of, scriptFolderOf, scriptFileEvidence, type ScriptFileEvidence } from './evidence';
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
