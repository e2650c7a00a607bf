/**
 * What a table file's first bytes say about how it is stored, before any reader looks
 * at it: gzip-compressed (magic bytes `1F 8B`, RFC 1952 section 2.3.1), UTF-16 text
 * (a byte order mark `FF FE` / `FE FF`, or ASCII interleaved with NUL bytes, which is
 * what Windows PowerShell 5's `>` and `Out-File` write), or plain bytes (UTF-8, with or
 * without its BOM `EF BB BF`, which the readers skip).
 *
 * The readers read UTF-8 only: a UTF-16 file is refused with how to convert it, rather
 * than being reported as invalid JSON on its first line.
 *
 * Sources: `>` is Out-File with no parameters
 * (https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/out-file),
 * whose Windows PowerShell 5.1 default is "Unicode" (UTF-16LE) with a BOM, while
 * PowerShell 6+ writes utf8NoBOM
 * (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_character_encoding?view=powershell-5.1).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { InputError } from './errors';

export type FileEncoding = 'gzip' | 'utf-16le' | 'utf-16be' | 'plain';

/** Bytes looked at: enough for a BOM and a few characters of interleaved NULs. */
const SNIFF_BYTES = 64;

/** The storage of `buffer`'s first bytes (the start of a file). */
export function encodingOf(head: Buffer): FileEncoding {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  // No BOM: ASCII text in UTF-16 has a NUL in every other byte. UTF-8 JSON or CSV text
  // never holds a NUL byte (JSON escapes it as \u0000), so a NUL among the first bytes
  // in the odd (LE) or even (BE) positions is UTF-16.
  const pairs = Math.floor(head.length / 2);
  if (pairs < 2) return 'plain';
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (head[i] === 0) evenNul++;
    if (head[i + 1] === 0) oddNul++;
  }
  if (oddNul >= pairs / 2 && evenNul === 0) return 'utf-16le';
  if (evenNul >= pairs / 2 && oddNul === 0) return 'utf-16be';
  return 'plain';
}

/** The storage of the file at `path`, from its first bytes. */
export function fileEncoding(path: string): FileEncoding {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const n = readSync(fd, head, 0, SNIFF_BYTES, 0);
    return encodingOf(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The input error for a UTF-16 file: names it and says how to write it as UTF-8. */
export function utf16Error(path: string, encoding: 'utf-16le' | 'utf-16be'): InputError {
  return new InputError(
    path,
    undefined,
    `is UTF-16 text (${encoding === 'utf-16le' ? 'little' : 'big'}-endian; Windows PowerShell 5's ">" and Out-File ` +
      'write it), and table files must be UTF-8 (a BOM is fine). Convert it and put the copy in its place, e.g. ' +
      `PowerShell: Get-Content '${path}' | Set-Content -Encoding utf8 '${path}.utf8'; Move-Item -Force '${path}.utf8' '${path}' ` +
      `(or iconv -f UTF-16 -t UTF-8 '${path}' > '${path}.utf8' && mv '${path}.utf8' '${path}')`,
  );
}
