/**
 * Replays of the log to a session that (re)connects: what it missed since a position (1:1 and its rooms), or
 * its offline queue. Paced by the client (Sink.pressure) and bounded in rows and bytes per page, so a backlog of
 * large messages, or many sessions replaying at once, never hold more than a page each.
 */
import type { LogRecord } from '../core/types.js';
import { recordBytes } from '../ports/store.js';
import type { Ctx } from './context.js';
import { recordEvent } from './outbound.js';
import { ReadLimiter } from './read-limiter.js';
import type { Session } from './session.js';

/** Most records per replay page. */
const REPLAY_PAGE = 500;
/** Rows of a replay's first page, before the size of the records is known. */
const REPLAY_FIRST_ROWS = 32;
/** Target size of a replay page (record bodies), so pages of large messages stay small. */
const REPLAY_PAGE_BYTES = 256 * 1024;

/** The replays of one engine. */
export class LogReplay {
  /**
   * Replay pages, one at a time per user: a page read waits in the store thread's queue ahead of everyone's
   * writes, so however many sessions of one user replay at once, another user's message waits behind at most one
   * of them (measured: with four at a time, twenty replays of one user put the control pair's p50 near 30 ms).
   */
  private readonly pages = new ReadLimiter(1, 0);

  constructor(private readonly ctx: Ctx) {}

  /** Replays the log after `since` for the user (1:1 and rooms); returns the last seq sent. */
  async since(session: Session, since: number): Promise<number> {
    const rooms = await this.ctx.store.rooms.roomsOf(session.user);
    return this.replay(session, since, (after, limit) => this.ctx.store.messages.since(session.user, rooms, after, limit));
  }

  /** Replays the user's offline queue; returns the last seq sent (0 when empty). */
  offline(session: Session): Promise<number> {
    return this.replay(session, 0, (after, limit) => this.ctx.store.messages.offline(session.user, after, limit));
  }

  /**
   * Sends the records `read` returns after `from`, page by page, at the pace the client reads: before each page
   * it waits until the session's connection has taken what it was given (Sink.pressure). Pages are bounded in
   * bytes as well as in rows (REPLAY_PAGE_BYTES), so neither a backlog of large messages nor many sessions
   * replaying at once hold more than a page each in memory, and no page keeps the server thread for long.
   * Stops early when the session closes. Returns the last seq sent.
   */
  private async replay(session: Session, from: number, read: (after: number, limit: number) => Promise<LogRecord[]>): Promise<number> {
    const { router } = this.ctx;
    let cursor = from;
    let rows = REPLAY_FIRST_ROWS;
    for (;;) {
      for (let wait = session.sink.pressure?.(); wait && !session.closed; wait = session.sink.pressure?.()) await wait;
      if (session.closed) return cursor;
      // One page at a time per user (pages), waiting its turn rather than refused: a session needs it.
      const page = await this.pages.run(session.user, () => read(cursor, rows), false);
      let bytes = 0;
      for (const r of page) {
        bytes += recordBytes(r);
        router.replay(session, router.outbound(recordEvent(r, true)));
      }
      if (page.length > 0) cursor = page[page.length - 1]!.seq;
      if (page.length < rows) return cursor;
      // The next page's rows, from this page's average size (the first page is small, so one of giant messages
      // cannot blow the budget before the size is known).
      rows = Math.max(1, Math.min(REPLAY_PAGE, Math.floor((REPLAY_PAGE_BYTES * page.length) / Math.max(1, bytes))));
    }
  }
}
