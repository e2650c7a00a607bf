/**
 * Corrected mode, Linux machines: how the two Linux Run Command extensions write and
 * start a script, and how Defender for Endpoint records it (docs/corrected-mode-paths.md
 * has the table with its sources). The ARM operations are the same as on Windows (the
 * operation does not say which OS ran it), so an action operation is met by either the
 * RunCommandWindows or the RunCommandLinux extension's evidence, a managed one by either
 * RunCommandHandlerWindows or RunCommandHandlerLinux.
 *
 * - Action Run Command, extension `Microsoft.CPlat.Core.RunCommandLinux`
 *   (github.com/Azure/run-command-extension-linux): the binary `run-command-extension`
 *   (`run-command-extension-arm64` on Arm; misc/run-command-shim) writes the script to
 *   `/var/lib/waagent/run-command/download/<seqnum>/script.sh` (main/main.go `dataDir`,
 *   `downloadDir`; main/cmds.go `writeTempScript`) and runs it with
 *   `/bin/sh -c <that path>` (main/exec.go `Exec`), as root.
 * - Managed Run Command, extension `Microsoft.CPlat.Core.RunCommandHandlerLinux`
 *   (github.com/Azure/run-command-handler-linux): the binary `run-command-handler`
 *   (`run-command-handler-arm64`; misc/run-command-shim), or its immediate service
 *   `immediate-run-command-handler` (internal/service/serviceinstall.go), writes
 *   `/var/lib/waagent/run-command-handler/download/<run command>/<seqnum>/script.sh`
 *   (`immediateDownload/` for the immediate service; internal/constants/constants.go
 *   `DataDir`, `DownloadFolder`, `ImmediateDownloadFolder`; internal/cmds/cmds.go
 *   `runCmd`) and runs it with `/bin/bash -c <that path>[ args]`
 *   (internal/exec/exec.go); with RunAsUser, a copy under
 *   `/home/<user>/waagent/run-command-handler-runas/download/…/script.sh` is run
 *   through `sudo -u <user>` (internal/constants/constants.go `RunAsDir`).
 *
 * Defender side: the script file is a DeviceFileEvents row (FileName `script.sh`,
 * InitiatingProcessFileName the extension's binary, compared `==`: Linux file names are
 * case-sensitive); there is no PowerShell log, so the script's commands are the
 * DeviceProcessEvents rows of the processes it starts: a process whose
 * InitiatingProcessCommandLine names the script's path. The shell that runs the script
 * itself (its own ProcessCommandLine names the path: `/bin/sh -c …/script.sh`, or
 * `/bin/bash …/script.sh` started by it) is the script, not one of its commands, as the
 * rule drops the script's own first PowerShell event.
 */
import type { DeviceFileEventsRow, DeviceProcessEventsRow } from '../schema';
import type { LinuxHandler } from './paths';

/** What identifies each Linux extension's files and processes (sources in the module comment). */
export const LINUX_RUN_COMMAND: Readonly<
  Record<LinuxHandler, { processFileNames: readonly string[]; scriptPath: RegExp }>
> = {
  RunCommandLinux: {
    processFileNames: ['run-command-extension', 'run-command-extension-arm64'],
    scriptPath: /\/var\/lib\/waagent\/run-command\/download\/[0-9]+\/script\.sh/,
  },
  RunCommandHandlerLinux: {
    processFileNames: ['run-command-handler', 'run-command-handler-arm64', 'immediate-run-command-handler'],
    scriptPath:
      /(?:\/var\/lib\/waagent\/run-command-handler|\/home\/[^/\s"']+\/waagent\/run-command-handler-runas)\/(?:download|immediateDownload)\/[^/\s"']+\/[0-9]+\/script\.sh/,
  },
};

/** The file name both Linux extensions give an inline script. */
export const LINUX_SCRIPT_FILE_NAME = 'script.sh';

const LINUX_HANDLERS: readonly LinuxHandler[] = ['RunCommandLinux', 'RunCommandHandlerLinux'];

/** The Linux extension that wrote a DeviceFileEvents row, if it wrote a Run Command script (`script.sh`). */
export function linuxHandlerOfFile(row: DeviceFileEventsRow): LinuxHandler | null {
  if (row.FileName !== LINUX_SCRIPT_FILE_NAME) return null;
  return (
    LINUX_HANDLERS.find((h) => LINUX_RUN_COMMAND[h].processFileNames.includes(row.InitiatingProcessFileName)) ?? null
  );
}

/** One command of a Linux Run Command script: a process the script started. */
export interface LinuxScriptCommand {
  handler: LinuxHandler;
  /** The script's path, as the parent's command line names it (`…/download/<n>/script.sh`). */
  scriptPath: string;
  /** The process's command line (ProcessCommandLine), as is: Linux commands are case-sensitive. */
  command: string;
}

/**
 * A DeviceProcessEvents row as a command of a Linux Run Command script: its
 * InitiatingProcessCommandLine names a script path of one of the extensions, and its
 * own ProcessCommandLine does not (that is the shell running the script itself). null
 * otherwise.
 */
export function toLinuxScriptCommand(row: DeviceProcessEventsRow): LinuxScriptCommand | null {
  for (const handler of LINUX_HANDLERS) {
    const scriptPath = LINUX_RUN_COMMAND[handler].scriptPath.exec(row.InitiatingProcessCommandLine)?.[0];
    if (scriptPath === undefined) continue;
    if (row.ProcessCommandLine.includes(scriptPath)) return null;
    return { handler, scriptPath, command: row.ProcessCommandLine };
  }
  return null;
}
