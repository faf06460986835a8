/**
 * Heartbeat and expiry deadlines of every thing and process: one binary min-heap ordered by time and one timer
 * armed for the earliest entry, instead of a timer per thing. Adding or moving a deadline costs O(log n) and
 * no timer call unless it became the earliest; a renewed heartbeat pushes a new entry and leaves the old one to
 * be skipped when it surfaces (each entry carries the value it was set for, checked against the current one),
 * and the heap is rebuilt when skipped entries outnumber live ones, so memory stays proportional to the things.
 * Node's timers are themselves a list per duration and would cope with one timer each, but a timer object per
 * thing (about 100 bytes plus a closure) and a clearTimeout/setTimeout pair per heartbeat buy nothing here.
 * The deadlines are stored with each thing, so after a restart the heap is rebuilt from the store and anything
 * already due fires at once.
 */

/** What a deadline is for. */
export type DeadlineKind = 'heartbeat' | 'expiry';

interface Entry {
  at: number;
  key: string;
  kind: DeadlineKind;
}

/** The longest a single timer waits (Node's limit is 2^31-1 ms); it re-arms after that. */
const MAX_WAIT = 2_000_000_000;

/** A set of deadlines keyed by (key, kind), each firing `fire` once when due unless moved or cleared first. */
export class Deadlines {
  private heap: Entry[] = [];
  /** The deadline currently set per `kind key` (entries with another time are stale). */
  private readonly current = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly fire: (key: string, kind: DeadlineKind) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many deadlines are set. */
  get size(): number {
    return this.current.size;
  }

  /** Sets (or, with null, clears) the deadline of `key` for `kind`. */
  set(key: string, kind: DeadlineKind, at: number | null): void {
    const id = `${kind} ${key}`;
    if (at === null) {
      this.current.delete(id);
      return;
    }
    if (this.current.get(id) === at) return;
    this.current.set(id, at);
    this.push({ at, key, kind });
    if (this.heap.length > 64 && this.heap.length > 2 * this.current.size) this.compact();
    if (at < this.armedFor) this.arm();
  }

  /** Stops the timer (shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
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
    while (this.heap.length > 0 && this.heap[0]!.at <= t) {
      const e = this.pop()!;
      const id = `${e.kind} ${e.key}`;
      if (this.current.get(id) !== e.at) continue;
      this.current.delete(id);
      this.fire(e.key, e.kind);
    }
    this.arm();
  }

  /** Rebuilds the heap from the live deadlines only. */
  private compact(): void {
    this.heap = [];
    for (const [id, at] of this.current) {
      const sp = id.indexOf(' ');
      this.push({ at, kind: id.slice(0, sp) as DeadlineKind, key: id.slice(sp + 1) });
    }
  }

  private push(e: Entry): void {
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

  private pop(): Entry | undefined {
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
