/**
 * A WebAssembly SIMD kernel that scans a chunk of bytes 32 at a time for the byte
 * pre-filter (./prefilter): it is what lets every byte of a 1 GB day be looked at
 * without a JavaScript loop over the bytes. (`Buffer.indexOf` is as fast for one
 * needle with a rare first byte, but `runcommand` must be found in any case mix, and
 * the first bytes of `-File` and of `\u` are common in these tables.)
 *
 * The module is assembled here, from the instruction lists below, so that what runs is
 * what a reader of this file sees; there is no binary blob and no build step. It has
 * one function over its own linear memory:
 *
 *   pairs(start, end, a, b, folds, out, cap) → n
 *     writes to out[0..n) (i32s), in ascending order, every position p in [start, end)
 *     where   ((mem[p] | foldA) == a  and  (mem[p + 1] | foldB) == b)
 *        or   (mem[p] == '\'  and  mem[p + 1] == 'u'),
 *     with foldA the low byte of `folds` and foldB the next one (`| 0x20` folds an ASCII
 *     letter's case; `| 0x0f` with b = 0x3f admits the ten digits, among 16 bytes),
 *     stopping early when n reaches cap (the caller then goes on from out[n - 1] + 1);
 *     and writes to out[cap] the number of `\n` bytes in [start, counted), to out[cap + 1]
 *     `counted`: `end`, or on an early stop the end of the vectors looked at so far (the
 *     caller then takes off the `\n`s in [out[n - 1] + 1, counted), which the next call
 *     counts again). So a chunk's lines are counted in the same pass that scans it.
 *
 * Both tests read the same two vectors (the bytes at p and at p + 1), so a needle's
 * anchor is two adjacent bytes at the position reported for it.
 *
 * A vector may read up to 31 bytes past `end` (SLACK below is kept free for that);
 * those bytes are never reported as positions (p < end), but they may make a position
 * near `end` look like a pair: callers verify each position within `end`, so that only
 * widens the candidates. A pair inside [start, end) is always reported, so the
 * candidates are a superset of the true occurrences, which is all the pre-filter's
 * soundness argument needs of them (see ./prefilter).
 *
 * Chunks are read straight into this memory (`ByteScanner.buffer`), so a byte is copied
 * once, by the kernel's read, and scanned where it lies.
 */

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Value types, and the instructions used (WebAssembly core spec 2.0, binary format 5.4).
const I32 = 0x7f;
const V128 = 0x7b;
const VOID = 0x40;
const block = [0x02, VOID];
const loop = [0x03, VOID];
const if_ = [0x04, VOID];
const end = [0x0b];
const br = (depth: number): number[] => [0x0c, ...uleb(depth)];
const brIf = (depth: number): number[] => [0x0d, ...uleb(depth)];
const ret = [0x0f];
const get = (local: number): number[] => [0x20, ...uleb(local)];
const set = (local: number): number[] => [0x21, ...uleb(local)];
const tee = (local: number): number[] => [0x22, ...uleb(local)];
const i32Store = [0x36, 2, 0]; // align 4, offset 0
const i32Const = (n: number): number[] => [0x41, ...sleb(n)];
const i32Eqz = [0x45];
const i32LtU = [0x49];
const i32GeU = [0x4f];
const i32GtU = [0x4b];
const i32Ctz = [0x68];
const i32Popcnt = [0x69];
const i32Add = [0x6a];
const i32Sub = [0x6b];
const i32And = [0x71];
const i32Or = [0x72];
const i32Shl = [0x74];
const i32ShrU = [0x76];
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const v128Load = (offset: number): number[] => simd(0x00, 0, ...uleb(offset)); // align 1
const i8x16Splat = simd(0x0f);
const i8x16Eq = simd(0x23);
const v128And = simd(0x4e);
const v128Or = simd(0x50);
const i8x16Bitmask = simd(0x64);
const v128AnyTrue = simd(0x53);

// pairs: params 0 start, 1 end, 2 a, 3 b, 4 folds, 5 out, 6 cap;
// locals 7 i, 8 bits, 9 n (i32), 10 vA, 11 vB, 12 vFoldA, 13 vBackslash, 14 vU, 15 m1, 16 m2, 17 vFoldB, 18 x, 19 y,
// 20 vNewline (v128), 21 newlines, 22 newline bits (i32).

/**
 * The vector at i + off, from the two vectors x = mem[i+off..] and y = mem[i+off+1..]:
 * ((x | foldA) == a & (y | foldB) == b) | (x == '\\' & y == 'u'); and the bits of x's
 * `\n` bytes in local 22.
 */
// prettier-ignore
const pairsVector = (off: number): number[] => [
  ...get(7), ...v128Load(off), ...set(18),
  ...get(18), ...get(20), ...i8x16Eq, ...i8x16Bitmask, ...set(22),
  ...get(7), ...v128Load(off + 1), ...set(19),
  ...get(18), ...get(12), ...v128Or, ...get(10), ...i8x16Eq,
  ...get(19), ...get(17), ...v128Or, ...get(11), ...i8x16Eq,
  ...v128And,
  ...get(18), ...get(13), ...i8x16Eq,
  ...get(19), ...get(14), ...i8x16Eq,
  ...v128And,
  ...v128Or,
];

/** newlines += popcount(local 22) */
// prettier-ignore
const COUNT_NEWLINES = [...get(21), ...get(22), ...i32Popcnt, ...i32Add, ...set(21)];

/** out[cap] = newlines, out[cap + 1] = `counted` (the i32 the instructions `counted` leave). */
// prettier-ignore
const storeCount = (counted: number[]): number[] => [
  ...get(5), ...get(6), ...i32Const(2), ...i32Shl, ...i32Add, ...get(21), ...i32Store,
  ...get(5), ...get(6), ...i32Const(1), ...i32Add, ...i32Const(2), ...i32Shl, ...i32Add, ...counted, ...i32Store,
];

/**
 * For each set bit of `bits` (lowest first): out[n++] = i + bit; when n reaches cap,
 * store the count up to i + `step` (the vectors looked at) and return n.
 */
// prettier-ignore
const pairsEmit = (step: number): number[] => [
  ...block,
  ...loop,
  ...get(8), ...i32Eqz, ...brIf(1),
  ...get(5), ...get(9), ...i32Const(2), ...i32Shl, ...i32Add,
  ...get(7), ...get(8), ...i32Ctz, ...i32Add,
  ...i32Store,
  ...get(8), ...get(8), ...i32Const(1), ...i32Sub, ...i32And, ...set(8),
  ...get(9), ...i32Const(1), ...i32Add, ...tee(9), ...get(6), ...i32GeU,
  ...if_, ...storeCount([...get(7), ...i32Const(step), ...i32Add]), ...get(9), ...ret, ...end,
  ...br(0),
  ...end,
  ...end,
];

// prettier-ignore
const PAIRS_BODY = [
  ...vec([
    [3, I32],
    [11, V128],
    [2, I32],
  ]),
  ...get(2), ...i8x16Splat, ...set(10),
  ...get(3), ...i8x16Splat, ...set(11),
  ...get(4), ...i8x16Splat, ...set(12),
  ...get(4), ...i32Const(8), ...i32ShrU, ...i8x16Splat, ...set(17),
  ...i32Const(0x5c), ...i8x16Splat, ...set(13),
  ...i32Const(0x75), ...i8x16Splat, ...set(14),
  ...i32Const(0x0a), ...i8x16Splat, ...set(20),
  ...get(0), ...set(7),
  // Two vectors at a time while (i + 32 <= end), the common case being no bit set at all.
  ...block,
  ...loop,
  ...get(7), ...i32Const(32), ...i32Add, ...get(1), ...i32GtU, ...brIf(1),
  ...pairsVector(0), ...set(15), ...COUNT_NEWLINES,
  ...pairsVector(16), ...set(16), ...COUNT_NEWLINES,
  ...get(15), ...get(16), ...v128Or, ...v128AnyTrue,
  ...if_,
  ...get(15), ...i8x16Bitmask, ...get(16), ...i8x16Bitmask, ...i32Const(16), ...i32Shl, ...i32Or, ...set(8),
  ...pairsEmit(32),
  ...end,
  ...get(7), ...i32Const(32), ...i32Add, ...set(7),
  ...br(0),
  ...end,
  ...end,
  // Then one vector at a time, the last one cut at `end` (only the bits of positions before it).
  ...block,
  ...loop,
  ...get(7), ...get(1), ...i32GeU, ...brIf(1),
  ...pairsVector(0), ...i8x16Bitmask, ...set(8),
  ...get(1), ...get(7), ...i32Sub, ...i32Const(16), ...i32LtU,
  ...if_,
  ...get(8), ...i32Const(1), ...get(1), ...get(7), ...i32Sub, ...i32Shl, ...i32Const(1), ...i32Sub, ...i32And,
  ...set(8),
  ...get(22), ...i32Const(1), ...get(1), ...get(7), ...i32Sub, ...i32Shl, ...i32Const(1), ...i32Sub, ...i32And,
  ...set(22),
  ...end,
  ...COUNT_NEWLINES,
  ...pairsEmit(16),
  ...get(7), ...i32Const(16), ...i32Add, ...set(7),
  ...br(0),
  ...end,
  ...end,
  ...storeCount(get(1)),
  ...get(9),
  ...end,
];

const PAGE = 64 << 10;

/** The module's bytes: one function, one memory of `pages` pages, all exported. */
function moduleBytes(pages: number): Uint8Array {
  const funcType = (params: number, results: number): number[] => [
    0x60,
    ...vec(Array.from({ length: params }, () => [I32])),
    ...vec(Array.from({ length: results }, () => [I32])),
  ];
  const code = (body: number[]): number[] => [...uleb(body.length), ...body];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([funcType(7, 1)])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('pairs'), 0x00, 0],
      ]),
    ),
    ...section(10, vec([code(PAIRS_BODY)])),
  ]);
}

/** Where in memory the positions are written. */
const OUT_OFFSET = 0;
/** Bytes kept past a chunk's capacity for the vectors that read past `end` (up to 17). */
const SLACK = 64;

/** The part of the WebAssembly JS API used here (the compiler's ES2022 + Node libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Kernel {
  memory: WasmMemory;
  pairs(start: number, end: number, a: number, b: number, folds: number, out: number, cap: number): number;
}

/**
 * Two adjacent bytes that every occurrence of a needle has at the position reported
 * for it: `a` there, compared after `| fold`, and `b` right after it, compared after
 * `| foldB` (default: `fold`).
 */
export interface PairAnchor {
  a: number;
  b: number;
  fold: number;
  foldB?: number;
}

/**
 * One kernel instance and the memory chunks are read into. One per thread (the
 * module-level instance from `byteScanner()`): not reentrant, and `buffer` moves when
 * `reserve` grows the memory.
 */
export class ByteScanner {
  private readonly kernel: Kernel;
  /** Chunks start after the positions and the newline count. */
  private readonly dataOffset: number;
  private view: Buffer;
  /** The kernel's out[0..capacity), then out[capacity] (its `\n`s) and out[capacity + 1] (up to where). */
  private positions: Int32Array;

  /**
   * `initialBytes`: the first size of `buffer`; `capacity`: how many positions one
   * kernel call may report (tests make it small, to reach the calls that go on).
   */
  constructor(
    initialBytes = 1 << 20,
    private readonly capacity = 4096,
  ) {
    this.dataOffset = OUT_OFFSET + 4 * capacity + 16;
    const pages = Math.ceil((this.dataOffset + initialBytes + SLACK) / PAGE);
    const instance = new wasm.Instance(new wasm.Module(moduleBytes(pages)));
    this.kernel = instance.exports as unknown as Kernel;
    this.view = this.refresh();
    this.positions = new Int32Array(this.kernel.memory.buffer, OUT_OFFSET, this.capacity + 2);
  }

  private refresh(): Buffer {
    const memory = this.kernel.memory.buffer;
    this.view = Buffer.from(memory, this.dataOffset, memory.byteLength - this.dataOffset - SLACK);
    this.positions = new Int32Array(memory, OUT_OFFSET, this.capacity + 2);
    return this.view;
  }

  /** Where chunks are read: `buffer.length` bytes, scanned in place by `forEachCandidate`. */
  get buffer(): Buffer {
    return this.view;
  }

  /** Makes `buffer` at least `bytes` long, keeping its contents; returns the (new) buffer. */
  reserve(bytes: number): Buffer {
    if (bytes <= this.view.length) return this.view;
    const needed = Math.ceil((this.dataOffset + bytes + SLACK - this.kernel.memory.buffer.byteLength) / PAGE);
    this.kernel.memory.grow(needed);
    return this.refresh();
  }

  /** Whether `chunk` lies in this scanner's memory (then it is scanned in place). */
  holds(chunk: Buffer): boolean {
    return chunk.buffer === this.kernel.memory.buffer;
  }

  /** `chunk` in this scanner's memory: itself, or a copy at the start of `buffer`. */
  private place(chunk: Buffer): number {
    if (this.holds(chunk)) return chunk.byteOffset;
    this.reserve(chunk.length).set(chunk, 0);
    return this.dataOffset;
  }

  /**
   * Calls `each(p)` (p relative to `chunk`), in ascending order, for every position of
   * `chunk` where `anchor`'s pair or `\u` stands (a superset: see the file's header), and
   * returns the number of `\n` bytes in `chunk`, counted in the same pass.
   */
  forEachCandidate(chunk: Buffer, anchor: PairAnchor, each: (p: number) => void): number {
    const base = this.place(chunk);
    const end = base + chunk.length;
    const { a, b, fold } = anchor;
    const folds = (fold & 0xff) | (((anchor.foldB ?? fold) & 0xff) << 8);
    const capacity = this.capacity;
    let newlines = 0;
    for (let from = base; from < end;) {
      const n = this.kernel.pairs(from, end, a, b, folds, OUT_OFFSET, capacity);
      const positions = this.positions;
      newlines += positions[capacity];
      const counted = Math.min(positions[capacity + 1], end);
      for (let k = 0; k < n; k++) each(positions[k] - base);
      if (n < capacity) return newlines;
      // Stopped early: the next call counts the `\n`s from `from` on, some of which this one did.
      from = positions[n - 1] + 1;
      newlines -= countNewlinesIn(this.view, from - this.dataOffset, counted - this.dataOffset);
    }
    return newlines;
  }
}

/** The `\n` bytes in `bytes[start, end)` (a few bytes at most here). */
function countNewlinesIn(bytes: Buffer, start: number, end: number): number {
  let n = 0;
  for (let p = start; p < end; p++) if (bytes[p] === 10) n++;
  return n;
}

let shared: ByteScanner | null | undefined;

/**
 * This thread's scanner, or null where the engine cannot run WebAssembly SIMD (then
 * the callers use their plain `Buffer.indexOf` forms, which find the same lines).
 */
export function byteScanner(): ByteScanner | null {
  if (shared === undefined) shared = wasm.validate(moduleBytes(1)) ? new ByteScanner() : null;
  return shared;
}
