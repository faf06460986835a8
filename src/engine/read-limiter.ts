/**
 * Per-user admission of heavy reads: requests whose cost grows with the data (history and MAM pages, rosters,
 * room lists and member lists). Each is bounded on its own (pages in rows and bytes); this bounds how many one
 * user has at once, so that one account cannot take the store thread, the server's memory and its event loop
 * from everyone else by asking many times in parallel (over one WebSocket, many HTTP requests or many sessions).
 */
import { ParleyError } from '../core/errors.js';

interface UserReads {
  running: number;
  /** Reads waiting for a turn, oldest first: each resolves when it may start. */
  waiting: Array<() => void>;
}

/** At most `inFlight` reads per user run at once, `queued` more wait in arrival order, the rest are refused. */
export class ReadLimiter {
  private readonly users = new Map<string, UserReads>();

  constructor(
    readonly inFlight: number,
    readonly queued: number,
    /** Told of each refused read (for /metrics). */
    private readonly onRefused: () => void = () => undefined,
  ) {}

  /**
   * Runs `read` for `user` now, after the user's earlier reads, or not at all: beyond the queue it is refused
   * with rate-limited (XMPP: resource-constraint, a "wait" error, RFC 6120 §8.3.3.18: retry later). With
   * `refuse` false it always waits its turn: for the pages of a replay, which a session cannot do without (their
   * number is bounded by the user's sessions).
   */
  run<T>(user: string, read: () => Promise<T>, refuse = true): Promise<T> {
    let u = this.users.get(user);
    if (!u) this.users.set(user, (u = { running: 0, waiting: [] }));
    if (u.running < this.inFlight) {
      u.running++;
      return this.start(user, u, read);
    }
    if (refuse && u.waiting.length >= this.queued) {
      this.onRefused();
      return Promise.reject(
        new ParleyError('rate-limited', `at most ${this.inFlight} heavy reads at once and ${this.queued} waiting per user; retry once one is answered`),
      );
    }
    const entry = u;
    return new Promise<void>((resolve) => entry.waiting.push(resolve)).then(() => this.start(user, entry, read));
  }

  /** Reads running or waiting for `user` (tests and metrics). */
  pending(user: string): number {
    const u = this.users.get(user);
    return u ? u.running + u.waiting.length : 0;
  }

  private async start<T>(user: string, u: UserReads, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } finally {
      // The turn passes to the oldest waiting read; the user's entry goes once nothing runs or waits.
      const next = u.waiting.shift();
      if (next) next();
      else if (--u.running === 0) this.users.delete(user);
    }
  }
}
