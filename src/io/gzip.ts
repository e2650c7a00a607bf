/**
 * gzip-compressed table files (`DeviceEvents.ndjson.gz`, or any table file starting
 * with gzip's magic bytes `1F 8B`). The readers read files by byte offset (chunks, the
 * pre-filter, the worker thread, line numbers counted again on an error), which a gzip
 * stream cannot give, so a compressed file is first streamed through `node:zlib`'s
 * gunzip into a private temporary folder (constant memory), and that copy is read
 * exactly as an uncompressed file would be: the same rows, the same errors (named after
 * the `.gz` file, lines counted in its decompressed text). The copy is removed when the
 * read is done (`DecompressedFiles.remove`).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from './errors';

/** A private temporary folder holding decompressed copies. */
export interface DecompressedFiles {
  /** Decompresses `source` into the folder as `name`; returns the copy's path. */
  gunzip(source: string, name: string): Promise<string>;
  /** Removes the folder and every copy in it. */
  remove(): void;
}

export function decompressedFiles(): DecompressedFiles {
  let dir: string | undefined;
  return {
    async gunzip(source, name) {
      dir ??= mkdtempSync(join(tmpdir(), 'runcommand-detect-gunzip-'));
      const target = join(dir, name);
      try {
        await pipeline(createReadStream(source), createGunzip(), createWriteStream(target));
      } catch (err) {
        throw gunzipError(source, err);
      }
      return target;
    },
    remove() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

/** What went wrong decompressing `source`, as an input error naming it. */
function gunzipError(source: string, err: unknown): InputError | unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return err;
  if (code === 'Z_BUF_ERROR')
    return new InputError(
      source,
      undefined,
      'the gzip stream ends early: the file is cut off; copy or export it again',
    );
  if (code.startsWith('Z_'))
    return new InputError(
      source,
      undefined,
      `is not a valid gzip file (${(err as Error).message}); copy or export it again, or remove the .gz extension if it is not compressed`,
    );
  if (code === 'ENOSPC')
    return new InputError(
      source,
      undefined,
      `no space left to decompress it into ${tmpdir()} (a .gz table file is decompressed to a temporary file); ` +
        'free some space, point TMPDIR elsewhere, or decompress it yourself',
    );
  return new InputError(source, undefined, `cannot read this file (${code}); check that it exists and is readable`);
}
