/**
 * Reads a file in large chunks that end on a line boundary, reusing one buffer, so
 * that readers can search many lines at once with native `Buffer` searches and memory
 * stays flat whatever the file size.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** 4 MiB: large enough that per-chunk overhead vanishes, small next to the RSS budget. */
export const DEFAULT_CHUNK_BYTES = 4 << 20;

export interface LineChunk {
  /** The bytes; only `[0, length)` is valid. Reused after the callback returns. */
  buffer: Buffer;
  length: number;
  /** Byte offset of `buffer[0]` in the file. */
  fileOffset: number;
  /** True for the final chunk; only it may end without a `\n`. */
  last: boolean;
}

/**
 * Calls `onChunk` with consecutive chunks of `path` that each hold whole lines (every
 * chunk but the last ends with `\n`). A line longer than the buffer grows the buffer.
 */
export function forEachLineChunk(
  path: string,
  onChunk: (chunk: LineChunk) => void,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): void {
  const fd = openSync(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(chunkBytes);
    let filled = 0; // bytes carried over from the previous read (a partial line)
    let fileOffset = 0; // file offset of buffer[0]
    for (;;) {
      if (filled === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, filled, buffer.length - filled, null);
      const length = filled + n;
      if (n === 0) {
        if (length > 0) onChunk({ buffer, length, fileOffset, last: true });
        return;
      }
      const lastNewline = buffer.lastIndexOf(10, length - 1);
      if (lastNewline < 0) {
        filled = length; // no complete line yet: read more
        continue;
      }
      const whole = lastNewline + 1;
      onChunk({ buffer, length: whole, fileOffset, last: false });
      buffer.copy(buffer, 0, whole, length);
      fileOffset += whole;
      filled = length - whole;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The 1-based line number of the byte at `offset`, counted by reading the file again.
 * Used only to name the line of an error, so the fast path never counts lines.
 */
export function lineNumberAt(path: string, offset: number): number {
  let line = 1;
  forEachLineChunk(path, (c) => {
    if (c.fileOffset >= offset) return;
    const end = Math.min(c.length, offset - c.fileOffset);
    for (let p = c.buffer.indexOf(10, 0); p >= 0 && p < end; p = c.buffer.indexOf(10, p + 1)) line++;
  });
  return line;
}

/** Counts the `\n` in `buffer[0, length)`. */
export function countNewlines(buffer: Buffer, length: number): number {
  let n = 0;
  for (let p = buffer.indexOf(10, 0); p >= 0 && p < length; p = buffer.indexOf(10, p + 1)) n++;
  return n;
}
