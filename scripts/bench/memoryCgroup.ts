/**
 * A memory cgroup of a given limit, for running a benchmark child as it runs on a Flex
 * Consumption instance of that much memory.
 *
 * Why it matters: Node sizes V8's heap from the memory it may use, the machine's or its
 * cgroup's, whichever is smaller (`process.constrainedMemory()`; measured here: heap
 * limit 4,144 MB on this 24 GB machine, 1,048 MB in a 2,048 MB cgroup, 259 MB in a
 * 512 MB cgroup), and V8 lets the heap grow further past what is live before a full
 * collection when its limit is large. A peak measured on a large machine is therefore
 * not the peak on the instance; a child started inside a cgroup of the instance's
 * memory is sized as there.
 *
 * Needs a writable cgroup file system (root, cgroup v1 `memory` controller or cgroup v2
 * with `memory` enabled); otherwise `createMemoryCgroup` says why not, and the bench
 * prints that as its reason to skip the runs.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  limitMb: number;
  /** The command line that runs `command args` inside the cgroup (from its first instruction). */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Removes the cgroup (once no process is left in it). */
  remove(): void;
}

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

/** A new memory cgroup of `limitMb`, or the reason there can be none here. */
export function createMemoryCgroup(limitMb: number, name: string): MemoryCgroup | { unavailable: string } {
  const bytes = String(limitMb * 1024 * 1024);
  let dir: string;
  let limitFile: string;
  if (existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) {
    dir = join(V1_ROOT, name);
    limitFile = 'memory.limit_in_bytes';
  } else if (
    existsSync(join(V2_ROOT, 'cgroup.subtree_control')) &&
    readFileSync(join(V2_ROOT, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')
  ) {
    dir = join(V2_ROOT, name);
    limitFile = 'memory.max';
  } else {
    return { unavailable: 'no cgroup memory controller is writable here (cgroup v1 memory or v2 with memory enabled)' };
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, limitFile), bytes);
  } catch (err) {
    return {
      unavailable: `cannot create the memory cgroup ${dir} (${(err as Error).message}); run as root to measure`,
    };
  }
  return {
    limitMb,
    // The shell joins the cgroup, then becomes the command: Node starts inside it.
    wrap: (command, args) => ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, command, ...args]],
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // Still busy (a child that did not exit): left for the system to clean up.
      }
    },
  };
}
