/**
 * Deadlines for any number of keys on one timer: a binary min-heap ordered by time and a single setTimeout armed
 * for the earliest entry, instead of a timer per key. Setting or moving a deadline costs O(log n) and no timer
 * call unless it became the earliest; a moved or cleared deadline leaves its old entry in the heap to be skipped
 * when it surfaces (each entry carries the time it was set for, checked against the current one), and the heap
 * is rebuilt when skipped entries outnumber live ones, so memory stays proportional to the keys. Node's timers
 * would cope with a timer each, but a timer object and a clearTimeout/setTimeout pair per renewal buy nothing
 * here. Used by presentities (heartbeats, expiries) and notify (escalation steps); each stores its deadlines
 * and sets them again after a restart, when anything already due fires at once.
 */

/** The longest a single timer waits (Node's limit is 2^31-1 ms); it re-arms after that. */
const MAX_WAIT = 2_000_000_000;

interface Entry<K> {
  at: number;
  key: K;
}

/** Runs `fire(key)` once when a key's deadline has passed, unless it was moved or cleared first. */
export class Deadlines<K> {
  private heap: Entry<K>[] = [];
  /** The deadline currently set per key (heap entries with another time are stale). */
  private readonly current = new Map<K, number>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly fire: (key: K) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many deadlines are set. */
  get size(): number {
    return this.current.size;
  }

  /** Sets or moves the deadline of `key` (one in the past fires on the next turn); null clears it. */
  set(key: K, at: number | null): void {
    if (this.stopped) return;
    if (at === null) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === at) return;
    this.current.set(key, at);
    this.push({ at, key });
    if (this.heap.length > 64 && this.heap.length > 2 * this.current.size) this.compact();
    if (at < this.armedFor) this.arm();
  }

  /** Clears the deadline of `key`. */
  cancel(key: K): void {
    this.set(key, null);
  }

  /** Stops for good (shutdown): nothing fires any more. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.heap = [];
    this.current.clear();
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
    const top = this.heap[0];
    if (!top) return;
    this.armedFor = top.at;
    this.timer = setTimeout(() => this.run(), Math.min(MAX_WAIT, Math.max(0, top.at - this.now())));
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const t = this.now();
    while (!this.stopped && this.heap.length > 0 && this.heap[0]!.at <= t) {
      const e = this.pop()!;
      if (this.current.get(e.key) !== e.at) continue;
      this.current.delete(e.key);
      this.fire(e.key);
    }
    this.arm();
  }

  /** Rebuilds the heap from the live deadlines only. */
  private compact(): void {
    this.heap = [];
    for (const [key, at] of this.current) this.push({ at, key });
  }

  private push(e: Entry<K>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry<K> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
