/**
 * Corrected mode's baseline in a file, for `detect --mode corrected --baseline FILE`
 * and `replay --seed-baseline FILE`: the same entries the job keeps in its state store
 * (src/detection/corrected/baseline.ts), one per script fingerprint and per (caller,
 * target machine) pair, as versioned JSON (docs/cli.md, "The baseline file"):
 *
 * ```json
 * { "format": "runcommand-detection/baseline", "version": 1, "baselineDays": 14,
 *   "observedThrough": "2026-11-26T00:00:00.0000000Z",
 *   "entries": [ { "fingerprint": "<64 hex>", "firstSeen": "…Z", "lastSeen": "…Z", "count": 3,
 *                  "exampleVirtualMachine": "vm1", "exampleScope": "/subscriptions/…" } ] }
 * ```
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { parseKqlDateTime, type KqlDateTime } from '../detection/datetime';
import type { BaselineEntry } from '../detection/corrected/baseline';
import { InputError } from './errors';

export const BASELINE_FILE_FORMAT = 'runcommand-detection/baseline';
export const BASELINE_FILE_VERSION = 1;

export interface BaselineFile {
  /** The BASELINE_DAYS the entries were pruned with. */
  baselineDays: number;
  /** The end of the last window whose observations it holds (null: none recorded yet). */
  observedThrough: KqlDateTime | null;
  entries: BaselineEntry[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads and checks a baseline file; every fault is an input error naming the file and what to do. */
export function readBaselineFile(path: string): BaselineFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError(
      path,
      undefined,
      code === 'ENOENT'
        ? 'no such baseline file; seed one with `runcommand-detect replay --mode corrected --seed-baseline FILE`, or leave out --baseline'
        : `cannot read this baseline file (${code}); check its permissions`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, undefined, `not valid JSON (${(err as Error).message}); seed the baseline again`);
  }
  const d = (doc ?? {}) as Record<string, unknown>;
  if (d.format !== BASELINE_FILE_FORMAT)
    throw new InputError(path, undefined, `not a baseline file ("format" must be "${BASELINE_FILE_FORMAT}")`);
  if (d.version !== BASELINE_FILE_VERSION)
    throw new InputError(
      path,
      undefined,
      `baseline file version ${JSON.stringify(d.version)}, and this runcommand-detect reads version ${BASELINE_FILE_VERSION}; ` +
        'use the version that wrote it, or seed the baseline again',
    );
  if (!Number.isInteger(d.baselineDays) || (d.baselineDays as number) < 1)
    throw new InputError(path, undefined, '"baselineDays" must be a whole number of days >= 1');
  const observedThrough = d.observedThrough === null ? null : datetime(path, 'observedThrough', d.observedThrough);
  if (!Array.isArray(d.entries)) throw new InputError(path, undefined, '"entries" must be an array');
  const entries = d.entries.map((e: unknown, i: number) => entryOf(path, i, e));
  return { baselineDays: d.baselineDays as number, observedThrough, entries };
}

function datetime(path: string, what: string, value: unknown): KqlDateTime {
  const t = typeof value === 'string' ? parseKqlDateTime(value) : null;
  if (t === null)
    throw new InputError(path, undefined, `${what} must be an ISO 8601 UTC datetime, not ${JSON.stringify(value)}`);
  return t;
}

function entryOf(path: string, index: number, value: unknown): BaselineEntry {
  const e = (value ?? {}) as Record<string, unknown>;
  const where = `entries[${index}]`;
  if (typeof e.fingerprint !== 'string' || !HEX64.test(e.fingerprint))
    throw new InputError(path, undefined, `${where}.fingerprint must be 64 lower-case hex digits (a SHA-256)`);
  if (!Number.isInteger(e.count) || (e.count as number) < 1)
    throw new InputError(path, undefined, `${where}.count must be a whole number >= 1`);
  for (const name of ['exampleVirtualMachine', 'exampleScope'] as const)
    if (typeof e[name] !== 'string') throw new InputError(path, undefined, `${where}.${name} must be a string`);
  const firstSeen = datetime(path, `${where}.firstSeen`, e.firstSeen);
  const lastSeen = datetime(path, `${where}.lastSeen`, e.lastSeen);
  if (lastSeen < firstSeen) throw new InputError(path, undefined, `${where}.lastSeen is before its firstSeen`);
  return {
    fingerprint: e.fingerprint,
    firstSeen,
    lastSeen,
    count: e.count as number,
    exampleVirtualMachine: e.exampleVirtualMachine as string,
    exampleScope: e.exampleScope as string,
  };
}

/** The file's text: entries in fingerprint order, one a line, so that two baselines diff well. */
export function baselineFileText(baseline: BaselineFile): string {
  const entries = [...baseline.entries]
    .sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
    .map((e) =>
      JSON.stringify({
        fingerprint: e.fingerprint,
        firstSeen: e.firstSeen,
        lastSeen: e.lastSeen,
        count: e.count,
        exampleVirtualMachine: e.exampleVirtualMachine,
        exampleScope: e.exampleScope,
      }),
    );
  const head = {
    format: BASELINE_FILE_FORMAT,
    version: BASELINE_FILE_VERSION,
    baselineDays: baseline.baselineDays,
    observedThrough: baseline.observedThrough,
  };
  const top = JSON.stringify(head).slice(0, -1);
  return `${top},"entries":[${entries.length === 0 ? '' : '\n  ' + entries.join(',\n  ') + '\n'}]}\n`;
}

/** Writes the baseline to `path` whole or not at all (a temporary file renamed over it). */
export function writeBaselineFile(path: string, baseline: BaselineFile): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, baselineFileText(baseline));
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError(path, undefined, `cannot write the baseline (${code}); check the path and its permissions`);
  }
}
