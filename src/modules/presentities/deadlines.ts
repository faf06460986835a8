/**
 * Heartbeat and expiry deadlines of every thing and process, on the modules' one-timer heap (../deadlines.ts).
 * The deadlines are stored with each thing, so after a restart the heap is rebuilt from the store and anything
 * already due fires at once.
 */
import { Deadlines as Heap } from '../deadlines.js';

/** What a deadline is for. */
export type DeadlineKind = 'heartbeat' | 'expiry';

/** A set of deadlines keyed by (key, kind), each firing `fire` once when due unless moved or cleared first. */
export class Deadlines {
  private readonly heap: Heap<string>;

  constructor(fire: (key: string, kind: DeadlineKind) => void, now: () => number = Date.now) {
    // One heap key per (kind, key): the kind's word, a space, the address (which has no space).
    this.heap = new Heap((id) => {
      const sp = id.indexOf(' ');
      fire(id.slice(sp + 1), id.slice(0, sp) as DeadlineKind);
    }, now);
  }

  /** How many deadlines are set. */
  get size(): number {
    return this.heap.size;
  }

  /** Sets (or, with null, clears) the deadline of `key` for `kind`. */
  set(key: string, kind: DeadlineKind, at: number | null): void {
    this.heap.set(`${kind} ${key}`, at);
  }

  /** Stops the timer (shutdown). */
  stop(): void {
    this.heap.stop();
  }
}
