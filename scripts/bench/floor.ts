#!/usr/bin/env node
/**
 * `node dist/scripts/bench/floor.js read|scan FILE...`: the floor under any `detect`
 * written for Node on this machine, timed by the bench beside detect and DuckDB.
 *
 *   read  start Node, start one worker thread, and read every byte of FILEs once: the
 *         main thread the first half of their bytes, the worker the second half, in
 *         64 KiB reads (the fastest read size measured here: 512 KiB reads cost about
 *         a fifth more system time, their copy no longer landing in the L2 cache);
 *   scan  the same in detect's chunk size (src/io/chunks.ts), each chunk read into the
 *         pre-filter's WebAssembly memory and scanned there by its kernel
 *         (src/io/byteScan.ts) for the file's table's anchor (by its name, `<Table>.…`;
 *         AzureActivity's for other names), candidates only counted.
 *
 * Neither parses a line, loads the engine, runs the rule or writes a finding, and the
 * halves are exact byte halves (detect splits by files, at line boundaries), so no
 * detect can be faster than `read`, nor faster than `scan` while it looks at every
 * byte with that kernel. Prints `{"bytes":N,"candidates":N}`.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { byteScanner } from '../../src/io/byteScan';
import { TABLE_NAMES, type RuleTableName } from '../../src/detection/schema';
import { DEFAULT_CHUNK_BYTES } from '../../src/io/chunks';
import { kernelAnchorOf } from '../../src/io/prefilter';

export type FloorKind = 'read' | 'scan';

export interface Part {
  kind: FloorKind;
  /** [file, from, to) byte ranges, in order. */
  ranges: Array<[string, number, number]>;
}

const READ_BYTES = 64 << 10;

export function readPart(part: Part): { bytes: number; candidates: number } {
  let bytes = 0;
  let candidates = 0;
  let scan: ((chunk: Buffer, table: RuleTableName) => void) | undefined;
  let buffer: Buffer;
  if (part.kind === 'scan') {
    const scanner = byteScanner();
    if (!scanner) throw new Error('WebAssembly SIMD is not available: no scan floor');
    buffer = scanner.reserve(DEFAULT_CHUNK_BYTES).subarray(0, DEFAULT_CHUNK_BYTES);
    scan = (chunk, table) => scanner.forEachCandidate(chunk, kernelAnchorOf(table), () => candidates++);
  } else {
    buffer = Buffer.allocUnsafe(READ_BYTES);
  }
  for (const [file, from, to] of part.ranges) {
    const named = basename(file).split('.')[0];
    const table = TABLE_NAMES.find((t) => t === named) ?? 'AzureActivity';
    const fd = openSync(file, 'r');
    try {
      for (let at = from; at < to;) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, to - at), at);
        if (n === 0) break;
        scan?.(buffer.subarray(0, n), table);
        at += n;
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return { bytes, candidates };
}

/** The files' bytes cut in two halves, as byte ranges. */
export function halves(files: string[]): [Part['ranges'], Part['ranges']] {
  const sizes = files.map((f) => statSync(f).size);
  const half = Math.floor(sizes.reduce((a, b) => a + b, 0) / 2);
  const first: Part['ranges'] = [];
  const second: Part['ranges'] = [];
  let at = 0;
  files.forEach((file, i) => {
    const start = at;
    const end = at + sizes[i];
    if (start < half) first.push([file, 0, Math.min(end, half) - start]);
    if (end > half) second.push([file, Math.max(start, half) - start, sizes[i]]);
    at = end;
  });
  return [first, second];
}

function main(argv: string[]): number {
  const [kind, ...files] = argv;
  if ((kind !== 'read' && kind !== 'scan') || files.length === 0) {
    process.stderr.write('usage: floor read|scan FILE...\n');
    return 2;
  }
  const [mine, theirs] = halves(files);
  const worker = new Worker(__filename, { workerData: { floorPart: { kind, ranges: theirs } satisfies Part } });
  worker.once('error', (err) => {
    process.stderr.write(`floor: the worker failed: ${err.message}\n`);
    process.exitCode = 1;
  });
  const theirsRead = new Promise<{ bytes: number; candidates: number }>((resolve) => worker.once('message', resolve));
  const own = readPart({ kind, ranges: mine });
  void theirsRead.then((other) => {
    process.stdout.write(
      JSON.stringify({ bytes: own.bytes + other.bytes, candidates: own.candidates + other.candidates }) + '\n',
    );
    return worker.terminate();
  });
  return 0;
}

/** The worker this file starts for the second half (and not any other worker that imports it). */
const part = isMainThread ? undefined : (workerData as { floorPart?: Part } | null)?.floorPart;
if (part) parentPort?.postMessage(readPart(part));
else if (isMainThread && require.main === module) process.exitCode = main(process.argv.slice(2));
