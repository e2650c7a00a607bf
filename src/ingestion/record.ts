/**
 * One row of the findings table (infra/findings-table.json, the single definition of
 * RunCommandFindings_CL) built from one row of the rule's output:
 *
 *   TimeGenerated, the rule's 14 output columns (`| project timestamp, StartTime, …, Scope`),
 *   FindingId, rule id/name/version, DetectionMode, WindowStart/WindowEnd, Severity,
 *   Tactics, Techniques, Entities (SecurityAlert.Entities shape), TruncatedColumns,
 *   the VM enrichment columns and ExtendedProperties.
 *
 * `toFindingRecord` is pure. FindingId comes from the rule, the mode and the finding's
 * identity (src/detection/schema.ts FindingIdentity), never from the day's aggregates,
 * the window, TimeGenerated or enrichment: a day that grows keeps its FindingIds.
 */
import { createHash } from 'node:crypto';
import table from '../../infra/findings-table.json';
import type { KqlDateTime } from '../detection/datetime';
import { RULE, entityMappings } from '../detection';
import type { RuleMetadata } from '../detection/rule';
import { FINDING_COLUMNS, type DetectionMode, type FindingIdentity, type RunCommandFinding } from '../detection/schema';
import { fitToFieldLimit } from './fieldLimit';

/** The findings table as infra/findings-table.json defines it (read once, at load). */
export const FINDINGS_TABLE: {
  tableName: string;
  streamName: string;
  columns: ReadonlyArray<{ name: string; type: string; description: string }>;
} = table;

/** The Sentinel rule reproduced (`RULE` of src/detection carries these). */
export type RuleIdentity = Pick<RuleMetadata, 'id' | 'name' | 'version' | 'severity' | 'tactics' | 'techniques'>;

/** An entity of SecurityAlert.Entities: `$id`, `Type` and the entity's identifiers. */
export type AlertEntity =
  | { $id: string; Type: 'account'; FullName?: string; Name?: string; UPNSuffix?: string }
  | { $id: string; Type: 'ip'; Address: string }
  | { $id: string; Type: 'host'; HostName?: string; AzureID?: string };

/** The VM details F's ARM enrichment found (src/arm VmEnrichment has this shape). */
export interface FindingEnrichment {
  status: string;
  location?: string;
  resourceGroup?: string;
  tags?: Record<string, string>;
  vmId?: string;
  osType?: string;
}

/**
 * One row of RunCommandFindings_CL: TimeGenerated, the rule's 14 output columns
 * (`RunCommandFinding`), then ours. `toFindingRecord` writes the keys in the table's
 * column order.
 */
export type FindingRecord = { TimeGenerated: KqlDateTime } & {
  [C in keyof RunCommandFinding]: RunCommandFinding[C];
} & {
  FindingId: string;
  RuleId: string;
  RuleName: string;
  RuleVersion: string;
  DetectionMode: DetectionMode;
  WindowStart: KqlDateTime;
  WindowEnd: KqlDateTime;
  Severity: string;
  Tactics: string[];
  Techniques: string[];
  Entities: AlertEntity[];
  TruncatedColumns: string[];
  VmLocation: string | null;
  VmResourceGroup: string | null;
  VmTags: Record<string, string> | null;
  VmId: string | null;
  VmOsType: string | null;
  EnrichmentStatus: string;
  ExtendedProperties: Record<string, unknown> | null;
  /** The Run Command operation(s) behind the finding: the way back to AzureActivity. */
  CorrelationIds: string[];
  /** The script file's folder and SHA256, where the endpoint telemetry has them. */
  ScriptFolderPath: string | null;
  ScriptSha256: string | null;
  /** 'script' (a script ran: the rule's kind) or 'control-plane' (a run with no endpoint evidence). */
  FindingKind: string;
};

export interface FindingRecordContext {
  /** The query window [start, end) the finding came from. Not part of FindingId. */
  window: { start: KqlDateTime; end: KqlDateTime };
  /** What identifies the finding's event (the Detector's `DetectedFinding.identity`): FindingId is made from it. */
  identity: FindingIdentity;
  mode: DetectionMode;
  /** When the record is written (TimeGenerated). Not part of FindingId. */
  timeGenerated: KqlDateTime;
  /** The rule reproduced; default `RULE` of src/detection. */
  rule?: RuleIdentity;
  /** VM details; absent = enrichment disabled (EnrichmentStatus "disabled", VM columns null). */
  enrichment?: FindingEnrichment;
  /** Mode-specific details for ExtendedProperties (corrected mode). Not part of FindingId. */
  extended?: Record<string, unknown>;
  /** What the endpoint telemetry adds (corrected mode), and the finding's kind (default 'script'). */
  evidence?: { ScriptFolderPath?: string; ScriptSha256?: string; FindingKind?: string };
  /** The finding's severity when not the rule's (corrected mode's control-plane findings are Low). */
  severity?: string;
}

/** Bumped if the identity formula ever changes again (then add the previous one as a legacy id). */
export const FINDING_ID_VERSION = 'v2';

/**
 * FindingId = sha256 (hex) of the canonical JSON array
 *   ["v2", rule id, detection mode, CorrelationId, VirtualMachineName, PowershellFileName,
 *    PowershellFileCreatedTimestamp, InitiatingProcessCommandLine]
 * — the rule, the mode and what identifies the event (FindingIdentity). The day's
 * aggregates (Prevalence, the command list and its hash, HashCount) and the window are
 * attributes, not identity. Datetimes are canonical 7-digit text.
 */
export function findingId(identity: FindingIdentity, ruleId: string, mode: DetectionMode): string {
  const canonical = JSON.stringify([
    FINDING_ID_VERSION,
    ruleId,
    mode,
    identity.CorrelationId,
    identity.VirtualMachineName,
    identity.PowershellFileName,
    identity.PowershellFileCreatedTimestamp,
    identity.InitiatingProcessCommandLine,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * The FindingId of releases before the stable identity: sha256 (hex) of the rule id,
 * detection mode, window start and end, and the canonical JSON of the rule's 14 output
 * columns in `project` order, joined by newlines. Kept so that the writer can tell that a
 * finding was already sent under it (the ledger holds those ids for LEDGER_MARGIN_DAYS).
 */
export function legacyFindingId(
  finding: RunCommandFinding,
  ruleId: string,
  mode: DetectionMode,
  window: { start: KqlDateTime; end: KqlDateTime },
): string {
  const columns = FINDING_COLUMNS.map(([name]) => finding[name]);
  const canonical = [ruleId, mode, window.start, window.end, JSON.stringify(columns)].join('\n');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** A record on its way to the writer, with the id earlier releases gave the same finding. */
export interface OutgoingFinding {
  record: FindingRecord;
  /** `legacyFindingId` of the finding: if the ledger says it was sent, the record is not sent again. */
  legacyFindingId?: string;
}

/** `toFindingRecord` plus the finding's legacy id (computed from the whole, untruncated finding). */
export function toOutgoingFinding(finding: RunCommandFinding, context: FindingRecordContext): OutgoingFinding {
  const { rule = RULE, window, mode } = context;
  return {
    record: toFindingRecord(finding, context),
    legacyFindingId: legacyFindingId(finding, rule.id, mode, window),
  };
}

/**
 * The published rule's entityMappings, in SecurityAlert.Entities shape:
 *   Account: FullName ← Caller, Name ← CallerName, UPNSuffix ← CallerUPNSuffix
 *   IP:      Address ← CallerIpAddress
 *   Host:    HostName ← VirtualMachineName, AzureID ← Scope
 * As in Sentinel, an empty identifier is left out, and an entity with no identifier is
 * not emitted. `$id` numbers the entities from "1" within the record.
 */
export function alertEntities(finding: RunCommandFinding): AlertEntity[] {
  const { Account, IP, Host } = entityMappings(finding);
  const entities: AlertEntity[] = [];
  const nextId = (): string => String(entities.length + 1);
  const account = pick(Account);
  if (account) entities.push({ $id: nextId(), Type: 'account', ...account });
  if (IP.Address) entities.push({ $id: nextId(), Type: 'ip', Address: IP.Address });
  const host = pick(Host);
  if (host) entities.push({ $id: nextId(), Type: 'host', ...host });
  return entities;
}

function pick<T extends Record<string, string>>(identifiers: T): Partial<T> | undefined {
  const kept = Object.fromEntries(Object.entries(identifiers).filter(([, v]) => v !== '')) as Partial<T>;
  return Object.keys(kept).length ? kept : undefined;
}

/** The rule's 14 output columns of a finding, in `project` order (FINDING_COLUMNS), arrays copied. */
function ruleColumnsOf(finding: RunCommandFinding): RunCommandFinding {
  const columns: Record<string, unknown> = {};
  for (const [name] of FINDING_COLUMNS) {
    const value = finding[name];
    columns[name] = Array.isArray(value) ? [...value] : value;
  }
  return columns as unknown as RunCommandFinding;
}

/** Builds the findings-table row for one finding. Pure. */
export function toFindingRecord(finding: RunCommandFinding, context: FindingRecordContext): FindingRecord {
  const { rule = RULE, window, mode, enrichment } = context;
  const full: FindingRecord = {
    TimeGenerated: context.timeGenerated,
    ...ruleColumnsOf(finding),
    FindingId: findingId(context.identity, rule.id, mode),
    RuleId: rule.id,
    RuleName: rule.name,
    RuleVersion: rule.version,
    DetectionMode: mode,
    WindowStart: window.start,
    WindowEnd: window.end,
    Severity: context.severity ?? rule.severity,
    Tactics: [...rule.tactics],
    Techniques: [...rule.techniques],
    Entities: alertEntities(finding),
    TruncatedColumns: [],
    VmLocation: enrichment?.location ?? null,
    VmResourceGroup: enrichment?.resourceGroup ?? null,
    VmTags: enrichment?.tags ? { ...enrichment.tags } : null,
    VmId: enrichment?.vmId ?? null,
    VmOsType: enrichment?.osType ?? null,
    EnrichmentStatus: enrichment?.status ?? 'disabled',
    ExtendedProperties: context.extended ? { ...context.extended } : null,
    CorrelationIds: context.identity.CorrelationId ? [context.identity.CorrelationId] : [],
    ScriptFolderPath: context.evidence?.ScriptFolderPath || null,
    ScriptSha256: context.evidence?.ScriptSha256 || null,
    FindingKind: context.evidence?.FindingKind ?? 'script',
  };
  return inTableOrder(fitToFieldLimit(full));
}

/** The record with exactly the table's columns, in the table's order. */
function inTableOrder(record: FindingRecord): FindingRecord {
  const ordered: Record<string, unknown> = {};
  for (const { name } of FINDINGS_TABLE.columns) ordered[name] = (record as Record<string, unknown>)[name] ?? null;
  return ordered as FindingRecord;
}
