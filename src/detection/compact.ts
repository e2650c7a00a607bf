/**
 * What a detection keeps of a window, kept small. A day's state holds hundreds of
 * thousands of short lists and of texts that repeat (a Caller, a script's command, a
 * folder path): each row arrives as its own copy of every text, and an array grown by
 * `push` reserves room for 17 elements at its first push. Measured on bench:job's day
 * of 500,000 push-down rows (heap snapshot at `finish`), this was half of the state:
 * 31 MB of 62 MB of strings were copies of another, and 29 MB were arrays, most of
 * them holding one to four elements.
 *
 * Neither changes a value: an interned text is the same text, and a compact list holds
 * the same elements in the same order.
 */

/** One copy of each text kept (per detection: the pool goes when the window's detection does). */
export class StringPool {
  private readonly pool = new Map<string, string>();

  /** `text` itself, or the equal text kept before it. */
  intern(text: string): string {
    const kept = this.pool.get(text);
    if (kept !== undefined) return kept;
    this.pool.set(text, text);
    return text;
  }

  get size(): number {
    return this.pool.size;
  }

  /**
   * Like `intern`, for a text cut out of a longer one (`slice`): V8 may hold such a
   * text as a view of the whole, which would keep the whole alive; the text kept is a
   * copy of its own (JSON text and back, which is exact for every string).
   */
  internSlice(text: string): string {
    return this.pool.get(text) ?? this.intern(JSON.parse(JSON.stringify(text)) as string);
  }

  /** Forgets every text kept (they stay whatever holds them; later texts are kept anew). */
  clear(): void {
    this.pool.clear();
  }
}

/** Lists up to this long are copied at their exact length on each append. */
const EXACT_UP_TO = 16;

/**
 * `list` with `item` appended, for a list that is mostly short: below EXACT_UP_TO
 * elements a new array of the exact length (a short list costs its elements, not the
 * 17 slots a first `push` reserves); longer lists grow in place (amortised, so a long
 * list never costs a copy per element). Use as `x.list = append(x.list, item)`.
 */
export function append<T>(list: T[], item: T): T[] {
  const n = list.length;
  if (n >= EXACT_UP_TO) {
    list.push(item);
    return list;
  }
  const out = new Array<T>(n + 1);
  for (let i = 0; i < n; i++) out[i] = list[i]!;
  out[n] = item;
  return out;
}
