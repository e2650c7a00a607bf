/** Corrected mode: the rule with its traps fixed and a cross-day baseline (see ./detection). */
export {
  CorrectedDetection,
  detectCorrected,
  correctedFingerprint,
  scriptFingerprintOf,
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
export {
  callerTargetKey,
  CONTROL_PLANE_IDENTITY_MARKER,
  CONTROL_PLANE_SEVERITY,
  MISSING_EVIDENCE_TEXT,
  type ControlPlaneFindingDetails,
  type FindingKind,
  type MissingEvidence,
  type ScriptFindingDetails,
} from './detection';
export {
  hostKey,
  isRunCommandExtensionFileAnyCase,
  runCommandHandlerOf,
  toCorrectedScriptCommand,
  toManagedScriptCommand,
} from './devices';
export {
  handlerOfPath,
  managedScriptNameOf,
  parseRunCommandTarget,
  runCommandOperationKind,
  RUN_COMMAND_OPERATIONS,
  RUN_COMMAND_PATHS,
  scaleSetComputerName,
  WINDOWS_MANAGED_HANDLER,
  type RunCommandPath,
  type RunCommandTarget,
  type ScaleSetNaming,
} from './paths';
