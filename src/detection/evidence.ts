/**
 * What the endpoint telemetry says about a finding's script file, beside the rule's 14
 * columns: its folder and, where Defender computed it, its SHA256. Both come from the
 * DeviceFileEvents row the finding joined to (in parity mode the row the rule's
 * `join kind=leftouter (...) on VirtualMachineName` matched, in corrected mode the
 * script file of the operation), from the columns `FolderPath` and `SHA256`, which the
 * rule does not read (RULE_COLUMNS marks them OPTIONAL: a file or an answer without
 * them gives no evidence, never an error).
 *
 * Defender's table reference (learn.microsoft.com/defender-xdr/advanced-hunting-devicefileevents-table):
 * `FolderPath` is the "folder containing the file that the recorded action was applied
 * to"; `SHA256` is the "SHA-256 of the file that the recorded action was applied to.
 * This field is usually not populated — use the SHA1 column when available." So a
 * missing hash is the common case, and corrected mode falls back to the command list
 * and size (./corrected/detection.ts `scriptFingerprintOf`).
 */

/** The script file's evidence: '' where the telemetry has none. */
export interface ScriptFileEvidence {
  /** The folder the script file was written to (Defender's FolderPath without the file name). */
  ScriptFolderPath: string;
  /** The file's SHA256, 64 lower-case hex digits, or ''. */
  ScriptSha256: string;
}

export const NO_EVIDENCE: ScriptFileEvidence = Object.freeze({ ScriptFolderPath: '', ScriptSha256: '' });

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * A DeviceFileEvents `SHA256` cell as a script identity: 64 hex digits, lower-cased
 * (KQL compares hashes as text; Defender writes lower case, an export may not). Anything
 * else (empty, a placeholder, a truncated value) is no hash.
 */
export function sha256Of(cell: string): string {
  const text = cell.trim();
  return SHA256_HEX.test(text) ? text.toLowerCase() : '';
}

/**
 * The folder of a script file from Defender's `FolderPath`. The reference calls it the
 * folder containing the file; recorded rows often carry the full path, file name
 * included (an observation, not documented), so a trailing `\<FileName>` or
 * `/<FileName>` (any case) is cut off. Either way the result is the folder.
 */
export function scriptFolderOf(folderPath: string, fileName: string): string {
  const path = folderPath.trim();
  if (fileName === '' || path.length <= fileName.length) return path;
  const separator = path.charAt(path.length - fileName.length - 1);
  const tail = path.slice(path.length - fileName.length);
  if ((separator === '\\' || separator === '/') && tail.toLowerCase() === fileName.toLowerCase())
    return path.slice(0, path.length - fileName.length - 1);
  return path;
}

/** The evidence of one DeviceFileEvents script file (its FolderPath, FileName and SHA256 cells). */
export function scriptFileEvidence(file: { FolderPath: string; FileName: string; SHA256: string }): ScriptFileEvidence {
  return { ScriptFolderPath: scriptFolderOf(file.FolderPath, file.FileName), ScriptSha256: sha256Of(file.SHA256) };
}
