/**
 * The one concurrency pool. `WorkQueue` runs `work` over a queue with at most `limit`
 * calls in flight; `work` may put more items on the queue (the Log Analytics source
 * halves a slice into two), and idle capacity takes them at once. `run` resolves when
 * the queue is empty and nothing is in flight. After the first failure no new item is
 * started; `run` rejects with it once the calls already started have settled, so no
 * work is left running behind the caller's back.
 */
export class WorkQueue<T> {
  private readonly queue: T[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failed = false;
  private failure: unknown;

  constructor(
    private readonly limit: number,
    private readonly work: (item: T, queue: WorkQueue<T>) => Promise<void>,
  ) {}

  /** Puts items at the back of the queue. */
  push(...items: T[]): void {
    this.queue.push(...items);
    this.fill();
  }

  /** Puts items at the front of the queue (taken next). */
  unshift(...items: T[]): void {
    this.queue.unshift(...items);
    this.fill();
  }

  /** Whether a call has failed (work in flight may stop early). */
  get hasFailed(): boolean {
    return this.failed;
  }

  async run(items: readonly T[] = []): Promise<void> {
    this.push(...items);
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failed) throw this.failure;
  }

  private fill(): void {
    while (!this.failed && this.queue.length > 0 && this.inFlight.size < Math.max(1, this.limit)) {
      const item = this.queue.shift()!;
      const call: Promise<void> = this.work(item, this)
        .catch((error: unknown) => {
          if (!this.failed) this.failure = error;
          this.failed = true;
        })
        .finally(() => {
          this.inFlight.delete(call);
          this.fill();
        });
      this.inFlight.add(call);
    }
  }
}

/** `work` over `items`, at most `limit` at once; results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const queue = new WorkQueue<number>(limit, async (index) => {
    results[index] = await work(items[index]!, index);
  });
  await queue.run(items.map((_, i) => i));
  return results;
}
