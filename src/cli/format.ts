/**
 * Findings as text: `ndjson` (one JSON object a line, for machines and for
 * `expected.ndjson`-style comparisons), `json` (one array), `table` (fixed-width, for
 * people). The JSON forms hold exactly the rule's 14 output columns, in the order of
 * its final `project` (FINDING_COLUMNS).
 *
 * `Prevalence` is shown where it means something (docs/engine.md, "Prevalence"): in
 * corrected mode it is the share of the window's executions that carry the finding's
 * fingerprint, a column of the table; in parity mode it is the rule's
 * `toreal(HashCount) / toreal(totals) * 100` with HashCount always 1, the same number on
 * every finding of a day (trap 6), so the table prints it once, in a note, and the JSON
 * forms keep it as the rule returns it.
 */
import { FINDING_COLUMNS, type DetectionMode, type RunCommandFinding } from '../detection/schema';
import { UsageError } from './args';

export type FindingsFormat = 'ndjson' | 'json' | 'table';
/** The choices of `--format` on every command that prints findings; ndjson is the default everywhere. */
export const FINDINGS_FORMATS: readonly FindingsFormat[] = ['ndjson', 'json', 'table'];

/** `--format F`, checked: one of FINDINGS_FORMATS, else a UsageError. */
export function parseFormat(text: string): FindingsFormat {
  if (!(FINDINGS_FORMATS as readonly string[]).includes(text))
    throw new UsageError(`--format must be one of ${FINDINGS_FORMATS.join(', ')}, not '${text}'`);
  return text as FindingsFormat;
}

/** The finding with exactly the 14 output columns, in project order. */
export function projectFinding(finding: RunCommandFinding): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name] of FINDING_COLUMNS) out[name] = finding[name];
  return out;
}

export function formatFindings(
  findings: readonly RunCommandFinding[],
  format: FindingsFormat,
  mode: DetectionMode = 'parity',
): string {
  switch (format) {
    case 'ndjson':
      return findings.map((f) => JSON.stringify(projectFinding(f)) + '\n').join('');
    case 'json':
      return JSON.stringify(findings.map(projectFinding), null, 2) + '\n';
    case 'table':
      return formatFindingsTable(findings, mode);
  }
}

/** The columns a person scans first; `--format json` has them all. */
const TABLE_COLUMNS: ReadonlyArray<readonly [string, number, (f: RunCommandFinding) => string]> = [
  ['StartTime', 28, (f) => f.StartTime],
  ['VirtualMachineName', 20, (f) => f.VirtualMachineName],
  ['PowershellFileName', 20, (f) => f.PowershellFileName],
  ['Caller', 40, (f) => f.Caller], // fits a UPN or an object id (36)
  ['CallerIpAddress', 24, (f) => f.CallerIpAddress],
  ['Size', 6, (f) => (f.PowershellFileSize === null ? '' : String(f.PowershellFileSize))],
  // Corrected mode only (see the module comment); empty for a control-plane finding (no fingerprint).
  ['Prevalence', 10, (f) => (f.ScriptFingerprintHash === '' ? '' : formatPrevalence(f.Prevalence))],
  ['Hash', 12, (f) => f.ScriptFingerprintHash.slice(0, 12)],
  ['PowershellScriptCommands', 60, (f) => f.PowershellScriptCommands.join(', ')],
];

function formatPrevalence(p: number): string {
  return `${Number.isInteger(p) ? p : p.toFixed(2)}%`;
}

/** One cell: control characters shown as spaces, cut to `width` with an ellipsis. */
function cell(text: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  const chars = Array.from(flat);
  return chars.length > width
    ? chars.slice(0, width - 1).join('') + '…'
    : flat.padEnd(width - chars.length + flat.length);
}

/** The findings of `mode` as a fixed-width table (Prevalence a column in corrected mode, a note in parity mode). */
export function formatFindingsTable(findings: readonly RunCommandFinding[], mode: DetectionMode = 'parity'): string {
  const columns = mode === 'corrected' ? TABLE_COLUMNS : TABLE_COLUMNS.filter(([name]) => name !== 'Prevalence');
  const header = columns.map(([name, width]) => cell(name, width)).join('  ');
  const rule = columns.map(([, width]) => '-'.repeat(width)).join('  ');
  const rows = findings.map((f) => columns.map(([, width, get]) => cell(get(f), width)).join('  '));
  const footer = `${findings.length} finding${findings.length === 1 ? '' : 's'}`;
  const note = mode === 'parity' ? parityPrevalenceNote(findings) : [];
  return [header.trimEnd(), rule, ...rows.map((r) => r.trimEnd()), footer, ...note].join('\n') + '\n';
}

/**
 * `| extend Prevalence = toreal(HashCount) / toreal(totals) * 100` after `where HashCount
 * == 1`: 100 / totals, one value per day, said once instead of on every row.
 */
function parityPrevalenceNote(findings: readonly RunCommandFinding[]): string[] {
  if (findings.length === 0) return [];
  const values = [...new Set(findings.map((f) => f.Prevalence))].sort((a, b) => a - b);
  const shown =
    values.length === 1
      ? `${formatPrevalence(values[0]!)} on every finding (100 / ${Math.round(100 / values[0]!)} RunCommandData rows)`
      : `${formatPrevalence(values[0]!)} to ${formatPrevalence(values[values.length - 1]!)} (100 / each day's RunCommandData rows)`;
  return [
    `Prevalence: ${shown}: the rule's arithmetic (HashCount is 1 on every finding), not how common the script is;`,
    'see docs/engine.md, trap 6. --format ndjson and json carry it as the rule returns it.',
  ];
}
