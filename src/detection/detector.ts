/**
 * The Detector: one object per window that owns the detection mode. Rows go in as they
 * arrive (`add`, any table, any order); `finish` returns the findings, each with what
 * identifies its event and its mode's details, and, in corrected mode, the observations
 * the baseline must store. The job, replay and the CLI run the rule through this and
 * nothing else, so a mode is chosen in one place:
 *
 *   parity     the published rule, exactly (./parity)
 *   corrected  the rule with its traps fixed, against a cross-day baseline (./corrected)
 *
 * Findings of both modes are in the same shape (`DetectedFinding`); only `details`
 * differ (null in parity mode, `CorrectedFindingDetails` in corrected mode).
 */
import type { KqlDateTime } from './datetime';
import type { ScriptFileEvidence } from './evidence';
import {
  CorrectedDetection,
  type CorrectedFindingDetails,
  type CorrectedStageCounts,
  type FindingKind,
} from './corrected/detection';
import type { ScaleSetNaming, WindowsManagedHandler } from './corrected/paths';
import type { Baseline, BaselineEntry } from './corrected/baseline';
import { ParityDetection, type StageCounts } from './parity/detection';
import {
  CORRECTED_TABLE_NAMES,
  type TableRecord,
  type DetectionMode,
  type FindingIdentity,
  type RunCommandFinding,
  type TableName,
  type TableRows,
} from './schema';

/** Where rows go as they arrive (a source streams pulled slices into a Detector). */
export interface RowSink {
  add<T extends TableName>(table: T, row: TableRows[T]): void;
}

/** One finding of either mode: the rule's 14 columns, the identity of its event, and the mode's details. */
export interface DetectedFinding {
  /**
   * `script` (a script that ran: the rule's kind, and every parity finding) or
   * `control-plane` (corrected mode: a successful Run Command with no endpoint evidence,
   * of lower severity; see CONTROL_PLANE_SEVERITY). Absent means `script` (detectors
   * that predate kinds); the findings table's FindingKind column is read from this.
   */
  kind?: FindingKind;
  finding: RunCommandFinding;
  identity: FindingIdentity;
  /** Corrected mode's details (the findings table's ExtendedProperties); null in parity mode. */
  details: CorrectedFindingDetails | null;
  /**
   * Both modes: the folder and SHA256 of the DeviceFileEvents row the finding joined to
   * ('' where the telemetry has none), for the findings table's ScriptFolderPath and
   * ScriptSha256 (src/detection/evidence.ts). Never part of the rule's 14 columns.
   * Absent means none (detectors that predate it).
   */
  evidence?: ScriptFileEvidence;
}

/** One row the engine could not evaluate, set aside so that the rest of the window is processed. */
export interface QuarantinedRow {
  table: TableName;
  /** The row's TimeGenerated (null when it has none). */
  TimeGenerated: string | null;
  /** The start of the row's JSON text, at most QUARANTINE_EXCERPT_CHARS characters. */
  excerpt: string;
  /** What the engine threw. */
  error: string;
}

/** Rows set aside in a window: how many per table, and the first few of them. */
export interface Quarantine {
  /** The rule's three tables always; DeviceProcessEvents when a row of it was set aside. */
  count: TableRecord<number>;
  /** The first QUARANTINE_SAMPLES rows (the count has them all). */
  samples: QuarantinedRow[];
}

export const QUARANTINE_SAMPLES = 10;
export const QUARANTINE_EXCERPT_CHARS = 200;

export type DetectorResult = (
  | { mode: 'parity'; findings: DetectedFinding[]; stages: StageCounts; observations: readonly BaselineEntry[] }
  | {
      mode: 'corrected';
      findings: DetectedFinding[];
      stages: CorrectedStageCounts;
      /** One entry per fingerprint seen in the window, for the baseline (stored after the findings are written). */
      observations: readonly BaselineEntry[];
    }
) & {
  /** Rows `add` could not evaluate; absent or all counts 0 when there were none. */
  quarantine?: Quarantine;
};

export interface Detector extends RowSink {
  readonly mode: DetectionMode;
  /** Whether a row can change this mode's result (a source may drop the others early). */
  isRelevant<T extends TableName>(table: T, row: TableRows[T]): boolean;
  /** Runs the joins and the uniqueness (parity) or baseline (corrected) test over what was added. */
  finish(): DetectorResult;
}

/** What corrected mode needs to know of the window and the days before it. */
export interface CorrectedDetectorOptions {
  /** The window's start: the baseline counts what was seen in the `baselineDays` before it. */
  windowStart: KqlDateTime;
  baselineDays: number;
  /** Fingerprints and (caller, target) pairs seen by earlier windows (empty on a first run). */
  baseline: Baseline;
  /** How scale-set instances are named on the machine (default: prefix = scale set name). */
  scaleSetNaming?: ScaleSetNaming;
  /** How the Windows managed handler is recognised (default: the unverified defaults, MANAGED_HANDLER_* settings). */
  windowsManagedHandler?: WindowsManagedHandler;
}

export function createDetector(mode: 'parity'): Detector;
export function createDetector(mode: DetectionMode, corrected: CorrectedDetectorOptions): Detector;
export function createDetector(mode: DetectionMode, corrected?: CorrectedDetectorOptions): Detector {
  switch (mode) {
    case 'parity':
      return parityDetector();
    case 'corrected':
      if (!corrected) throw new TypeError('corrected mode needs the window start, BASELINE_DAYS and the baseline');
      return correctedDetector(corrected);
    default:
      throw new TypeError(`unknown detection mode '${String(mode)}'`);
  }
}

function parityDetector(): Detector {
  const detection = new ParityDetection();
  const quarantine = new QuarantineKeeper();
  return {
    mode: 'parity',
    isRelevant: (table, row) => ParityDetection.isRelevant(table, row),
    add: (table, row) => quarantine.guard(table, row, () => detection.add(table, row)),
    finish() {
      const { identified, stages } = detection.finish();
      return {
        mode: 'parity',
        findings: identified.map((f) => ({ ...f, details: null })),
        stages,
        observations: [],
        quarantine: quarantine.report(),
      };
    },
  };
}

function correctedDetector(options: CorrectedDetectorOptions): Detector {
  const detection = new CorrectedDetection(options.scaleSetNaming, options.windowsManagedHandler);
  const quarantine = new QuarantineKeeper();
  return {
    mode: 'corrected',
    isRelevant: (table, row) => detection.isRelevant(table, row),
    add: (table, row) => quarantine.guard(table, row, () => detection.add(table, row)),
    finish() {
      const { findings, stages, observations } = detection.finish(options);
      return { mode: 'corrected', findings, stages, observations, quarantine: quarantine.report() };
    },
  };
}

/**
 * One bad row never fails a window: a row whose evaluation throws (a value the engine
 * cannot handle) is counted and set aside, and the window goes on without it. Its
 * table, time and the start of its text are kept for the health event (the first
 * QUARANTINE_SAMPLES rows; the count has them all).
 */
class QuarantineKeeper {
  private readonly count: TableRecord<number> = { AzureActivity: 0, DeviceFileEvents: 0, DeviceEvents: 0 };
  private readonly samples: QuarantinedRow[] = [];

  guard<T extends TableName>(table: T, row: TableRows[T], add: () => void): void {
    try {
      add();
    } catch (error) {
      this.count[table] = (this.count[table] ?? 0) + 1;
      if (this.samples.length < QUARANTINE_SAMPLES) {
        this.samples.push({
          table,
          TimeGenerated: safely(() => row.TimeGenerated ?? null, null),
          excerpt: safely(() => excerptOf(row), '(the row cannot be read)'),
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      }
    }
  }

  report(): Quarantine {
    return { count: { ...this.count }, samples: [...this.samples] };
  }
}

function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The first QUARANTINE_EXCERPT_CHARS characters of a row's text, built without recursion. */
function excerptOf(row: object): string {
  const parts: string[] = [];
  let length = 0;
  for (const key of Object.keys(row)) {
    const value = safely(() => (row as Record<string, unknown>)[key], '(unreadable)');
    const text =
      typeof value === 'string'
        ? JSON.stringify(value.slice(0, QUARANTINE_EXCERPT_CHARS))
        : typeof value === 'object' && value !== null
          ? Array.isArray(value)
            ? '[…]'
            : '{…}'
          : String(value);
    parts.push(`${JSON.stringify(key)}:${text}`);
    length += text.length + key.length + 3;
    if (length > QUARANTINE_EXCERPT_CHARS) break;
  }
  const text = `{${parts.join(',')}}`;
  return text.length > QUARANTINE_EXCERPT_CHARS ? text.slice(0, QUARANTINE_EXCERPT_CHARS - 1) + '…' : text;
}

/** Adds every row of whole tables to a detector (tables given in memory: files, replay, tests). */
export function addTables(detector: RowSink, tables: { readonly [T in TableName]?: Iterable<TableRows[T]> }): void {
  for (const table of CORRECTED_TABLE_NAMES) {
    const rows = tables[table] as Iterable<TableRows[TableName]> | undefined;
    if (rows) for (const row of rows) detector.add(table, row);
  }
}
