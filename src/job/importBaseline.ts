/**
 * `runcommand-detect job --import-baseline FILE`: seeds the deployed job's corrected-mode
 * baseline (the state store's `baseline` partition) from a baseline file that
 * `replay --mode corrected --seed-baseline FILE` or `detect --mode corrected
 * --save-baseline FILE` wrote (src/io/baselineFile.ts), so that the job's first
 * corrected window judges its scripts against the weeks before it instead of reporting
 * every script as new.
 *
 * The entries are merged as a window's observations are (`mergeObservations`: the
 * earliest FirstSeen, the latest LastSeen), and pruned behind the file's horizon
 * (`observedThrough - BASELINE_DAYS`) exactly as the job prunes after a window. An entry
 * the store already holds keeps its Count (the file may cover days the job saw too), so
 * importing the same file twice changes nothing.
 */
import type { JobConfig } from '../config/settings';
import { fromDate } from '../detection/datetime';
import type { BaselineFile } from '../io/baselineFile';
import { AppError } from '../shared/errors';
import type { BaselineStore } from '../stateStore';

/** The settings cannot take a baseline (parity mode reads none). */
export class BaselineImportRefusedError extends AppError {}

export interface BaselineImport {
  /** Entries in the file. */
  imported: number;
  /** Entities written (new or changed) and deleted (behind the horizon). */
  written: number;
  pruned: number;
  /** Entries in the state store after the import. */
  entries: number;
  /** The end of the last window the file observed: the horizon is reckoned from it. */
  observedThrough: string;
}

export async function importBaseline(
  config: JobConfig,
  file: BaselineFile,
  store: BaselineStore,
  now: Date,
): Promise<BaselineImport> {
  if (config.detectionMode !== 'corrected')
    throw new BaselineImportRefusedError(
      `DETECTION_MODE is ${config.detectionMode}: only corrected mode reads a baseline. ` +
        'Set DETECTION_MODE=corrected (the app setting, or the environment) before importing one.',
    );
  const observedThrough = file.observedThrough ?? fromDate(now);
  const current = await store.load();
  const { baseline, written, pruned } = await store.record(
    current,
    file.entries.map((e) => (current.has(e.fingerprint) ? { ...e, count: 0 } : e)),
    observedThrough,
    config.baselineDays,
  );
  return { imported: file.entries.length, written, pruned, entries: baseline.size, observedThrough };
}
