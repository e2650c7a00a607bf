/**
 * Findings as text: `ndjson` (one JSON object a line, for machines and for
 * `expected.ndjson`-style comparisons), `json` (one array), `table` (fixed-width, for
 * people). The JSON forms hold exactly the rule's 14 output columns, in the order of
 * its final `project` (FINDING_COLUMNS).
 */
import { FINDING_COLUMNS, type RunCommandFinding } from '../detection/schema';
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

export function formatFindings(findings: readonly RunCommandFinding[], format: FindingsFormat): string {
  switch (format) {
    case 'ndjson':
      return findings.map((f) => JSON.stringify(projectFinding(f)) + '\n').join('');
    case 'json':
      return JSON.stringify(findings.map(projectFinding), null, 2) + '\n';
    case 'table':
      return formatFindingsTable(findings);
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
  ['Prevalence', 10, (f) => formatPrevalence(f.Prevalence)],
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

export function formatFindingsTable(findings: readonly RunCommandFinding[]): string {
  const header = TABLE_COLUMNS.map(([name, width]) => cell(name, width)).join('  ');
  const rule = TABLE_COLUMNS.map(([, width]) => '-'.repeat(width)).join('  ');
  const rows = findings.map((f) => TABLE_COLUMNS.map(([, width, get]) => cell(get(f), width)).join('  '));
  const footer = `${findings.length} finding${findings.length === 1 ? '' : 's'}`;
  return [header.trimEnd(), rule, ...rows.map((r) => r.trimEnd()), footer].join('\n') + '\n';
}
