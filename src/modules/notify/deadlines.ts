/**
 * Escalation deadlines: one timer for any number of open notifications. A binary min-heap orders the deadlines
 * and a single setTimeout is armed for the earliest, so scheduling and firing cost O(log n) and the event loop
 * holds one timer whatever n is. A rescheduled or cancelled deadline stays in the heap until it comes up and is
 * skipped then (its id maps to a different time, or to none).
 */

/** Longest setTimeout delay Node accepts (2^31-1 ms); later deadlines re-arm when it fires. */
const MAX_DELAY = 2_147_483_647;

/** Runs `fire(id)` once each id's deadline has passed. */
export class Deadlines {
  private heap: Array<{ at: number; id: number }> = [];
  private readonly due = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly fire: (id: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many deadlines are pending. */
  get size(): number {
    return this.due.size;
  }

  /** Sets (or moves) the deadline of `id`; one in the past fires on the next turn. */
  set(id: number, at: number): void {
    if (this.stopped) return;
    this.due.set(id, at);
    this.push({ at, id });
    // Garbage from moved deadlines: rebuild when it outweighs the live entries.
    if (this.heap.length > 64 && this.heap.length > 4 * this.due.size) this.rebuild();
    this.arm();
  }

  /** Forgets the deadline of `id`. */
  cancel(id: number): void {
    this.due.delete(id);
  }

  /** Stops: nothing fires any more. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.heap = [];
    this.due.clear();
  }

  private arm(): void {
    const top = this.heap[0];
    if (top === undefined || this.stopped) return;
    if (this.timer !== null && this.armedFor <= top.at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedFor = top.at;
    this.timer = setTimeout(() => this.run(), Math.min(MAX_DELAY, Math.max(0, top.at - this.now())));
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const { at, id } = this.pop();
      if (this.due.get(id) !== at) continue;
      this.due.delete(id);
      this.fire(id);
    }
    this.arm();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [id, at] of this.due) this.push({ at, id });
  }

  private push(e: { at: number; id: number }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): { at: number; id: number } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
