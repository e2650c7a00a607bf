/** Corrected mode: the rule with its traps fixed and a cross-day baseline (see ./detection). */
export {
  CorrectedDetection,
  detectCorrected,
  correctedFingerprint,
  compareCorrectedFindings,
  type CorrectedFinding,
  type CorrectedFindingDetails,
  type CorrectedOptions,
  type CorrectedResult,
  type CorrectedStageCounts,
  type ScriptExecution,
} from './detection';
export {
  MemoryBaseline,
  expiredFingerprints,
  horizonStart,
  isKnown,
  mergeObservations,
  type Baseline,
  type BaselineEntry,
} from './baseline';
export { hostKey, isRunCommandExtensionFileAnyCase, toCorrectedScriptCommand } from './devices';
