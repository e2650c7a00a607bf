/** Findings for the ingestion tests: the example days' expected rows, and generated ones. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FindingIdentity, RunCommandFinding } from '../../../src/detection/schema';
import {
  toFindingRecord,
  type FindingRecord,
  type FindingRecordContext,
  type RuleIdentity,
} from '../../../src/ingestion';

export const TEST_RULE: RuleIdentity = {
  id: '5239248b-abfb-4c6a-8177-b104ade5db56',
  name: 'Azure VM Run Command operations executing a unique PowerShell script',
  version: '1.0.8',
  severity: 'Medium',
  tactics: ['LateralMovement', 'Execution'],
  techniques: ['T1570', 'T1059.001'],
};

export const WINDOW = { start: '2026-11-25T00:00:00.0000000Z', end: '2026-11-26T00:00:00.0000000Z' };

/** A record's context but its identity (which `recordOf` makes per finding). */
export type SampleContext = Omit<FindingRecordContext, 'identity'>;

export const CONTEXT: SampleContext = {
  window: WINDOW,
  mode: 'parity',
  timeGenerated: '2026-11-26T00:15:03.1230000Z',
  rule: TEST_RULE,
};

export function exampleFindings(): RunCommandFinding[] {
  const dir = join(__dirname, '../../fixtures/examples');
  return ['plain-day', 'tricky-day'].flatMap((day) =>
    readFileSync(join(dir, day, 'expected.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as RunCommandFinding),
  );
}

/** `count` distinct findings; each carries about `commandBytes` of PowerShell commands. */
export function generatedFindings(count: number, commandBytes = 200): RunCommandFinding[] {
  const base = exampleFindings()[0]!;
  return Array.from({ length: count }, (_, i) => {
    const commands: string[] = [];
    let size = 0;
    for (let c = 0; size < commandBytes; c++) {
      const cmd = `INVOKE-STEP${String(c).padStart(5, '0')}-OF-FINDING-${i}`;
      commands.push(cmd);
      size += cmd.length + 3;
    }
    const seconds = String(i % 60).padStart(2, '0');
    return {
      ...base,
      timestamp: `2026-11-25T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${seconds}.0000001Z`,
      StartTime: `2026-11-25T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${seconds}.0000001Z`,
      PowershellFileName: `script${i}.ps1`,
      VirtualMachineName: `vm${i}`,
      PowershellScriptCommands: commands,
      ScriptFingerprintHash: `hash-${i}`,
      Scope: base.Scope.replace(/[^/]+$/, `vm${i}`),
    };
  });
}

/**
 * An identity for a sample finding (a finding of the example days' expected rows has no
 * identity of its own): one Run Command operation per VM and start time, the file and
 * command line of its script.
 */
export function identityOf(finding: RunCommandFinding): FindingIdentity {
  return {
    CorrelationId: `op-${finding.VirtualMachineName}-${finding.StartTime}`,
    VirtualMachineName: finding.VirtualMachineName,
    PowershellFileName: finding.PowershellFileName,
    PowershellFileCreatedTimestamp: finding.StartTime,
    InitiatingProcessCommandLine: `powershell -ExecutionPolicy Unrestricted -File ${finding.PowershellFileName}`,
  };
}

/** `toFindingRecord` of a sample finding, with its `identityOf`. */
export function recordOf(finding: RunCommandFinding, context: SampleContext = CONTEXT): FindingRecord {
  return toFindingRecord(finding, { ...context, identity: identityOf(finding) });
}
