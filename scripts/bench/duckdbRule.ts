/**
 * The rule as DuckDB SQL over the exported NDJSON files: an independent baseline for the
 * benchmark and a cross-check of the TypeScript engine. Each CTE names the KQL it does.
 *
 * Faithful to docs/kql-semantics.md, with these known limits of the SQL dialect (none is
 * reached by the generator): strings order by UTF-8 bytes (= code points) where KQL
 * orders UTF-16 code units (they differ only between astral characters and U+E000-U+FFFF);
 * `tostring` of a non-string `Command` (a number, an object) prints DuckDB's JSON text;
 * upper-casing is DuckDB's `upper` with `ß` kept (as .NET does); datetimes that DuckDB
 * cannot cast to TIMESTAMP_NS read as null.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import type { RunCommandFinding } from '../../src/detection/schema';

/** Regex of KQL `has` for `needle` (alternatives allowed): a whole term, case-insensitive. */
function hasPattern(needles: string[]): string {
  const notAlnum = '[^\\p{L}\\p{Nd}]';
  const parts = needles.map((n) => {
    const escaped = n.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
    const before = /^[\p{L}\p{Nd}]/u.test(n) ? `(^|${notAlnum})` : '';
    const after = /[\p{L}\p{Nd}]$/u.test(n) ? `(${notAlnum}|$)` : '';
    return `${before}${escaped}${after}`;
  });
  return `(?i)(${parts.join('|')})`;
}

/** Rust regex `\s` (Unicode White_Space), written out for RE2. */
const RUST_WHITE_SPACE =
  '[\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}]';

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** JSON string escaping as JavaScript's JSON.stringify does it (\uXXXX in lowercase). */
function jsonEscapeExpression(x: string): string {
  let e = `replace(replace(${x}, '\\', '\\\\'), '"', '\\"')`;
  const named: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
  for (let c = 0; c < 32; c++) {
    const escaped = named[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    e = `replace(${e}, chr(${c}), '${escaped}')`;
  }
  return e;
}

function readJson(file: string, columns: Record<string, string>): string {
  const cols = Object.entries(columns)
    .map(([k, v]) => `"${k}": '${v}'`)
    .join(', ');
  return `read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${cols}})`;
}

/** The whole rule as one SQL statement over `<dir>/<Table>.ndjson`. */
export function ruleSql(dir: string): string {
  const activity = readJson(join(dir, 'AzureActivity.ndjson'), {
    TimeGenerated: 'TIMESTAMP_NS',
    OperationNameValue: 'VARCHAR',
    Authorization: 'VARCHAR',
    CorrelationId: 'VARCHAR',
    Caller: 'VARCHAR',
    CallerIpAddress: 'VARCHAR',
    ActivityStatusValue: 'VARCHAR',
  });
  const files = readJson(join(dir, 'DeviceFileEvents.ndjson'), {
    TimeGenerated: 'TIMESTAMP_NS',
    DeviceName: 'VARCHAR',
    InitiatingProcessFileName: 'VARCHAR',
    FileName: 'VARCHAR',
    FileSize: 'BIGINT',
  });
  const events = readJson(join(dir, 'DeviceEvents.ndjson'), {
    TimeGenerated: 'TIMESTAMP_NS',
    DeviceName: 'VARCHAR',
    InitiatingProcessCommandLine: 'VARCHAR',
    AdditionalFields: 'JSON',
  });
  const kqlTime = (c: string) => `substr(strftime(${c}, '%Y-%m-%dT%H:%M:%S.%n'), 1, 27) || 'Z'`;
  const jsonList = (l: string) =>
    `'[' || array_to_string(list_transform(${l}, x -> '"' || ${jsonEscapeExpression('x')} || '"'), ',') || ']'`;
  const upperInvariant = (x: string) => `replace(upper(replace(${x}, 'ß', chr(57344))), chr(57344), 'ß')`;
  const scriptName = `-File${RUST_WHITE_SPACE}(script[0-9]{1,9}\\.ps1)`;
  return `
WITH
-- AzureActivity | where OperationNameValue =~ "Microsoft.Compute/virtualMachines/runCommand/action"
-- | where Authorization has "virtualMachines"
run_command_activity AS (
  SELECT TimeGenerated, coalesce("Authorization", '') AS "Authorization", coalesce(CorrelationId, '') AS CorrelationId,
         coalesce(Caller, '') AS Caller, coalesce(CallerIpAddress, '') AS CallerIpAddress,
         coalesce(ActivityStatusValue, '') AS ActivityStatusValue
  FROM ${activity}
  WHERE lower(coalesce(OperationNameValue, '')) = 'microsoft.compute/virtualmachines/runcommand/action'
    AND regexp_matches(coalesce("Authorization", ''), ${sqlString(hasPattern(['virtualMachines']))})
),
-- | summarize StartTime=min(TimeGenerated), EndTime=max(TimeGenerated), max(CallerIpAddress),
--   make_list(ActivityStatusValue) by CorrelationId, Authorization, Caller
operations AS (
  SELECT CorrelationId, "Authorization", Caller, min(TimeGenerated) AS StartTime, max(TimeGenerated) AS EndTime,
         max(CallerIpAddress) AS CallerIpAddress, list(ActivityStatusValue) AS list_ActivityStatusValue
  FROM run_command_activity GROUP BY CorrelationId, "Authorization", Caller
),
-- | where list_ActivityStatusValue has_any ("Succeeded", "Success")
-- | extend Scope = parse_json(Authorization).scope, VirtualMachineName = tostring(split(Scope, "/")[-1])
succeeded AS (
  SELECT *, list_last(string_split(Scope, '/')) AS VirtualMachineName
  FROM (
    SELECT StartTime, EndTime, Caller, CallerIpAddress,
           CASE
             WHEN NOT json_valid("Authorization") OR json_type("Authorization") <> 'OBJECT' THEN ''
             WHEN json_extract("Authorization", '$.scope') IS NULL OR json_type(json_extract("Authorization", '$.scope')) = 'NULL' THEN ''
             WHEN json_type(json_extract("Authorization", '$.scope')) = 'VARCHAR' THEN json_extract_string("Authorization", '$.scope')
             ELSE json_extract("Authorization", '$.scope')::VARCHAR
           END AS Scope
    FROM operations
    WHERE regexp_matches(${jsonList('list_ActivityStatusValue')}, ${sqlString(hasPattern(['Succeeded', 'Success']))})
  )
),
-- DeviceFileEvents | where InitiatingProcessFileName == "RunCommandExtension.exe"
-- | extend VirtualMachineName = tostring(split(DeviceName, ".")[0])
script_files AS (
  SELECT split_part(coalesce(DeviceName, ''), '.', 1) AS VirtualMachineName,
         TimeGenerated AS PowershellFileCreatedTimestamp, coalesce(FileName, '') AS FileName, FileSize
  FROM ${files}
  WHERE InitiatingProcessFileName = 'RunCommandExtension.exe'
),
-- join kind=leftouter (...) on VirtualMachineName | where PowershellFileCreatedTimestamp between (StartTime .. EndTime)
operations_with_file AS (
  SELECT s.StartTime, s.EndTime, s.VirtualMachineName, s.Caller, s.CallerIpAddress, s.Scope, f.FileName, f.FileSize
  FROM succeeded s JOIN script_files f ON s.VirtualMachineName = f.VirtualMachineName
  WHERE f.PowershellFileCreatedTimestamp BETWEEN s.StartTime AND s.EndTime
),
-- DeviceEvents | where InitiatingProcessCommandLine has "-File"
-- | extend PowershellFileName = extract(@"\\-File\\s(script[0-9]{1,9}\\.ps1)", 1, InitiatingProcessCommandLine)
-- | extend PSCommand = tostring(parse_json(AdditionalFields).Command)
script_events AS (
  SELECT regexp_extract(cmd, ${sqlString(scriptName)}, 1) AS PowershellFileName, cmd AS InitiatingProcessCommandLine,
         CASE
           WHEN af IS NULL OR json_type(af) <> 'OBJECT' OR json_extract(af, '$.Command') IS NULL
                OR json_type(json_extract(af, '$.Command')) = 'NULL' THEN ''
           WHEN json_type(json_extract(af, '$.Command')) = 'VARCHAR' THEN json_extract_string(af, '$.Command')
           ELSE json_extract(af, '$.Command')::VARCHAR
         END AS PSCommand
  FROM (
    SELECT coalesce(InitiatingProcessCommandLine, '') AS cmd,
           CASE
             WHEN AdditionalFields IS NULL THEN NULL
             WHEN json_type(AdditionalFields) = 'VARCHAR' THEN
               CASE WHEN json_valid(AdditionalFields->>'$') THEN json(AdditionalFields->>'$') END
             ELSE AdditionalFields
           END AS af
    FROM ${events}
    WHERE regexp_matches(coalesce(InitiatingProcessCommandLine, ''), ${sqlString(hasPattern(['-File']))})
  )
),
-- | where isnotempty(PowershellFileName) | where PSCommand != PowershellFileName
-- | extend PSCommand = toupper(PSCommand) | order by PSCommand asc
-- | summarize make_list(PSCommand) by PowershellFileName, InitiatingProcessCommandLine
-- (the fingerprint depends on the list only, so it is hashed here, once per list)
command_lists AS (
  SELECT PowershellFileName, InitiatingProcessCommandLine, list_PSCommand,
         sha256(${jsonList('list_PSCommand')}) AS ScriptFingerprintHash
  FROM (
    SELECT PowershellFileName, InitiatingProcessCommandLine,
           list(${upperInvariant('PSCommand')} ORDER BY ${upperInvariant('PSCommand')}) AS list_PSCommand
    FROM script_events
    WHERE PowershellFileName <> '' AND PSCommand <> PowershellFileName
    GROUP BY PowershellFileName, InitiatingProcessCommandLine
  )
),
-- join kind=inner (...) on $left.FileName == $right.PowershellFileName  => RunCommandData
run_command_data AS (
  SELECT o.*, c.PowershellFileName, c.ScriptFingerprintHash, c.list_PSCommand AS PowershellScriptCommands
  FROM operations_with_file o JOIN command_lists c ON o.FileName = c.PowershellFileName
),
-- totals, hashTotals, Prevalence, where HashCount == 1
counted AS (
  SELECT *, count(*) OVER (PARTITION BY ScriptFingerprintHash) AS HashCount, count(*) OVER () AS totals
  FROM run_command_data
)
SELECT ${kqlTime('StartTime')} AS timestamp, ${kqlTime('StartTime')} AS StartTime, ${kqlTime('EndTime')} AS EndTime,
       PowershellFileName, VirtualMachineName, Caller,
       split_part(Caller, '@', 1) AS CallerName, split_part(Caller, '@', 2) AS CallerUPNSuffix,
       CallerIpAddress, PowershellScriptCommands, FileSize AS PowershellFileSize, ScriptFingerprintHash,
       (HashCount::DOUBLE / totals::DOUBLE) * 100 AS Prevalence, Scope,
       totals
FROM counted
WHERE HashCount = 1
ORDER BY StartTime, ScriptFingerprintHash`;
}

export interface DuckDbRuleResult {
  findings: RunCommandFinding[];
  /** Rows of RunCommandData (the rule's `totals`). */
  totals: number | null;
}

/** Runs {@link ruleSql} over `dir` in an in-memory DuckDB. */
export async function runDuckDbRule(dir: string, threads?: number): Promise<DuckDbRuleResult> {
  const instance = await DuckDBInstance.create(':memory:', threads ? { threads: String(threads) } : undefined);
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(ruleSql(dir));
    const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
    let totals: number | null = null;
    const findings = rows.map((r) => {
      totals = Number(r.totals);
      const size = r.PowershellFileSize;
      return {
        timestamp: r.timestamp,
        StartTime: r.StartTime,
        EndTime: r.EndTime,
        PowershellFileName: r.PowershellFileName,
        VirtualMachineName: r.VirtualMachineName,
        Caller: r.Caller,
        CallerName: r.CallerName,
        CallerUPNSuffix: r.CallerUPNSuffix,
        CallerIpAddress: r.CallerIpAddress,
        PowershellScriptCommands: r.PowershellScriptCommands,
        PowershellFileSize: size === null || size === undefined ? null : Number(size),
        ScriptFingerprintHash: r.ScriptFingerprintHash,
        Prevalence: Number(r.Prevalence),
        Scope: r.Scope,
      } as RunCommandFinding;
    });
    return { findings, totals };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
