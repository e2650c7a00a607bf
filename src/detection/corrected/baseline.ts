/**
 * The corrected mode's memory between runs (trap 5 of the rule: "nothing is remembered
 * between runs"). Pure data and arithmetic: the job loads the entries from the state
 * store, passes them in, and stores what the window observed.
 *
 * One entry per script fingerprint: when it was first and last seen (the StartTime of
 * the Run Command operation that ran it), how many executions carried it, and one VM it
 * ran on, for responders. A fingerprint is *known* to a window when an entry was first
 * seen before the window started and last seen within the BASELINE_DAYS before it.
 * Entries whose last sighting falls behind the horizon are pruned.
 */
import { fromUnixTicks, toUnixTicks, type KqlDateTime } from '../datetime';

export interface BaselineEntry {
  /** `ScriptFingerprintHash` of corrected mode (commands and file size). */
  fingerprint: string;
  firstSeen: KqlDateTime;
  lastSeen: KqlDateTime;
  /** Executions with this fingerprint observed so far. */
  count: number;
  /** A VM it ran on (ARM name) and its scope, for the finding's details. */
  exampleVirtualMachine: string;
  exampleScope: string;
}

/** The baseline as the detection reads it: fingerprint → entry. */
export type Baseline = ReadonlyMap<string, BaselineEntry>;

const TICKS_PER_DAY = 864_000_000_000n;

/** The start of the horizon of a window starting at `windowStart`: `windowStart - baselineDays`. */
export function horizonStart(windowStart: KqlDateTime, baselineDays: number): KqlDateTime {
  if (!Number.isInteger(baselineDays) || baselineDays < 1) {
    throw new RangeError(`baselineDays must be a whole number of days >= 1, got ${baselineDays}`);
  }
  return fromUnixTicks(toUnixTicks(windowStart) - BigInt(baselineDays) * TICKS_PER_DAY);
}

/**
 * Whether the baseline has seen `fingerprint` in the BASELINE_DAYS before `windowStart`.
 * An entry first seen inside this window (a re-run of the same window after its
 * observations were stored) does not make it known: re-running a window gives the same
 * findings.
 */
export function isKnown(entry: BaselineEntry | undefined, windowStart: KqlDateTime, baselineDays: number): boolean {
  if (!entry) return false;
  return entry.firstSeen < windowStart && entry.lastSeen >= horizonStart(windowStart, baselineDays);
}

/** The baseline after a window's observations: first seen kept, last seen moved on, counts added. */
export function mergeObservations(
  baseline: Baseline,
  observations: readonly BaselineEntry[],
): Map<string, BaselineEntry> {
  const merged = new Map<string, BaselineEntry>(baseline);
  for (const seen of observations) {
    const before = merged.get(seen.fingerprint);
    if (!before) {
      merged.set(seen.fingerprint, { ...seen });
      continue;
    }
    merged.set(seen.fingerprint, {
      fingerprint: seen.fingerprint,
      firstSeen: seen.firstSeen < before.firstSeen ? seen.firstSeen : before.firstSeen,
      lastSeen: seen.lastSeen > before.lastSeen ? seen.lastSeen : before.lastSeen,
      count: before.count + seen.count,
      exampleVirtualMachine: before.exampleVirtualMachine,
      exampleScope: before.exampleScope,
    });
  }
  return merged;
}

/**
 * The fingerprints to forget once the window ending at `windowEnd` is done: those last
 * seen before the next window's horizon (`windowEnd - baselineDays`).
 */
export function expiredFingerprints(baseline: Baseline, windowEnd: KqlDateTime, baselineDays: number): string[] {
  const horizon = horizonStart(windowEnd, baselineDays);
  const out: string[] = [];
  for (const entry of baseline.values()) if (entry.lastSeen < horizon) out.push(entry.fingerprint);
  return out;
}

/** A baseline kept in memory (replay, tests): merge and prune in one step per window. */
export class MemoryBaseline {
  private entries: Map<string, BaselineEntry>;

  /** `initial`: entries recorded before (a baseline file), else empty. */
  constructor(initial: Iterable<BaselineEntry> = []) {
    this.entries = new Map([...initial].map((e) => [e.fingerprint, { ...e }]));
  }

  get current(): Baseline {
    return this.entries;
  }

  /** Records a window's observations and forgets what fell behind the next window's horizon. */
  record(observations: readonly BaselineEntry[], windowEnd: KqlDateTime, baselineDays: number): void {
    const merged = mergeObservations(this.entries, observations);
    for (const fingerprint of expiredFingerprints(merged, windowEnd, baselineDays)) merged.delete(fingerprint);
    this.entries = merged;
  }
}
