/**
 * History reads (MessageStore.history, userMessages): a conversation's pages and a user's own 1:1 archive, with
 * the paging every front door shares (cursors, times, the look-ahead row, the byte budget) within the caller's
 * heavy-read allowance (ReadLimiter), and what a user may read of the log at all (readScope). The Engine facade
 * (engine.ts) hands these calls here.
 */
import { domainOf, parseBare } from '../core/address.js';
import { ParleyError } from '../core/errors.js';
import { pageLength } from '../core/page.js';
import { conversationKey, type MessageView } from '../core/types.js';
import type { HistoryQuery, ReadMarker } from '../ports/store.js';
import type { Ctx } from './context.js';
import type { RoomService } from './room-service.js';

/** Default of limits.historyPageMaxBytes (src/app/config.ts), for engines built without it. */
const HISTORY_PAGE_MAX_BYTES = 262_144;

/** UTF-8 size of a body, natively (the same numbers as core/address.ts utf8Length, which the store may use). */
const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Paged reads of what users wrote. */
export class HistoryReads {
  constructor(
    private readonly ctx: Ctx,
    private readonly rooms: RoomService,
  ) {}

  /**
   * History of the caller's conversation with a user or in a room (members only), paged by seq cursor. The
   * conversation is always the caller's own, so nobody can read another pair's messages. A page holds at most
   * `limit` messages and stops at the first one with which the bodies reach historyPageMaxBytes; `more` is exact
   * (the store reads one row past the page). `start` and `end` (epoch ms, inclusive) narrow the range to the
   * messages written between them (XEP-0313 §4.1.1). Runs within the caller's heavy-read allowance (ReadLimiter).
   */
  async history(user: string, q: HistoryPaging & { with: string }): Promise<{ messages: MessageView[]; more: boolean; read?: ReadMarker | null }> {
    let p = q;
    const other = parseBare(p.with);
    const isRoom = this.ctx.directory.isRoomDomain(domainOf(other));
    if (isRoom) {
      try {
        await this.rooms.requireMember(other, user);
      } catch (e) {
        // A room the user left (or was removed from): readable up to its leaving, when a module remembers it.
        const until = e instanceof ParleyError && e.code === 'forbidden' && this.leftRooms !== null ? await this.leftRooms.leftAt(user, other) : null;
        if (until === null) throw e;
        p = { ...p, before: minOf(p.before, until + 1) };
      }
    }
    const conv = conversationKey(isRoom ? 'groupchat' : 'chat', user, other);
    const { store, metrics } = this.ctx;
    const page = await this.page(user, p, (q) => metrics.storage('history', store.messages.history(conv, q)));
    // The newest page of a 1:1 conversation says how far the other person has read (XEP-0333 §3.2: their last
    // displayed marker), so a client opened later shows it without waiting for their next receipt.
    if (isRoom || p.before !== undefined || p.after !== undefined) return page;
    return { ...page, read: await metrics.storage('history', store.messages.lastRead(conv, other)) };
  }

  /** Where users left rooms (LeftRooms), or null when no module remembers it. */
  private leftRooms: LeftRooms | null = null;

  /**
   * Lets users read the history of rooms they left, up to the position the provider gives (the conversations
   * module remembers where each member left). One provider at most.
   */
  readLeftRooms(provider: LeftRooms): void {
    if (this.leftRooms !== null) throw new Error('a provider of left rooms\' positions is registered already');
    this.leftRooms = provider;
  }

  /**
   * The user's 1:1 messages of every conversation (XEP-0313 without "with"), paged like history: backwards with
   * `before` (or neither), forwards with `after`, narrowed by `start` and `end`. Runs within the caller's
   * heavy-read allowance (ReadLimiter).
   */
  async archive(user: string, p: HistoryPaging): Promise<{ messages: MessageView[]; more: boolean }> {
    const { store, metrics } = this.ctx;
    return this.page(user, p, (q) => metrics.storage('history', store.messages.userMessages(user, q)));
  }

  /**
   * What `user` may read of the log now, by the rules history applies (MessageStore.history, userMessages): its
   * own 1:1 messages after its account's createdSeq, and the messages of each room it is a member of now after
   * the room's createdSeq, and of each room it left and may still read (LeftRooms) up to its leaving. For
   * indexes modules keep over the log (the search module), so that they answer no more than history would.
   * `own` is null when the account does not exist (nothing is readable).
   */
  async readScope(user: string, withLeft = true): Promise<ReadScope> {
    const [own, rooms, left] = await Promise.all([
      this.ctx.directory.createdSeq(user),
      this.ctx.store.rooms.floorsOf(user),
      this.leftRooms === null || !withLeft ? [] : this.leftRooms.leftRooms(user),
    ]);
    const scope: ReadScope = { own, rooms: new Map(rooms.map((r) => [r.room, r.createdSeq])), left: new Map() };
    // Rooms the user left, as history reads them: after the room's createdSeq, up to the leaving. A room that no
    // longer exists is not readable (history answers item-not-found), and a member's own rooms are read whole.
    const gone = left.filter((l) => !scope.rooms.has(l.room));
    if (gone.length === 0) return scope;
    const floors = new Map((await this.ctx.store.rooms.floorsOfRooms(gone.map((l) => l.room))).map((r) => [r.room, r.createdSeq]));
    for (const l of gone) {
      const floor = floors.get(l.room);
      if (floor !== undefined && l.until > floor) scope.left.set(l.room, { floor, until: l.until });
    }
    return scope;
  }

  /** One page of a history read: the bounds from the cursors and times, the look-ahead row, the byte budget. */
  private async page(
    user: string,
    p: HistoryPaging,
    read: (q: HistoryQuery) => Promise<MessageView[]>,
  ): Promise<{ messages: MessageView[]; more: boolean }> {
    if (p.before !== undefined && p.after !== undefined) throw new ParleyError('bad-request', 'give before or after, not both');
    if (p.start !== undefined && p.end !== undefined && p.start > p.end) throw new ParleyError('bad-request', 'start is after end');
    const limit = Math.min(p.limit ?? 50, this.ctx.opts.historyPageMax);
    const maxBytes = this.ctx.opts.historyPageMaxBytes ?? HISTORY_PAGE_MAX_BYTES;
    const { store, reads } = this.ctx;
    const forward = p.after !== undefined;
    return reads.run(user, async () => {
      // Times become positions (records take their time in log order): after the last one before `start`,
      // before the first one after `end`.
      const floor = p.start === undefined ? undefined : (await store.messages.seqAtTime(p.start)) - 1;
      const ceiling = p.end === undefined ? undefined : await store.messages.seqAtTime(p.end + 1);
      const after = maxOf(p.after, floor);
      const before = minOf(p.before, ceiling);
      const rows = await read({ after, before, limit: limit + 1, maxBytes, from: forward ? 'oldest' : 'newest' });
      // The store returns ascending; in paging direction (newest first when paging backwards) it read the page
      // and then at most one look-ahead row, the far end of the page.
      const inOrder = forward ? rows : [...rows].reverse();
      const n = pageLength(inOrder, limit, maxBytes, utf8Bytes);
      const page = inOrder.slice(0, n);
      return { messages: forward ? page : page.reverse(), more: rows.length > n };
    });
  }
}

/** Where users left rooms whose history they may still read (the conversations module remembers it). */
export interface LeftRooms {
  /**
   * The position up to which `user` may still read `room`, a room it was a member of and left (or was removed
   * from), or null when it may not (never a member, the room gone, the conversation removed from its list).
   */
  leftAt(user: string, room: string): Promise<number | null>;
  /** Every room `user` left and may still read, each with that position (what leftAt gives for it). */
  leftRooms(user: string): Promise<Array<{ room: string; until: number }>>;
}

/** What a user may read of the log (Engine.readScope): positions after which each part is readable. */
export interface ReadScope {
  /** The account's createdSeq: its 1:1 messages after it; null when the account does not exist. */
  own: number | null;
  /** Each room the user is a member of now, with the room's createdSeq. */
  rooms: Map<string, number>;
  /**
   * Each room the user left and may still read (LeftRooms), not a member of now: its messages after `floor`
   * (the room's createdSeq) up to `until` (inclusive), as `history` reads it. Empty without a LeftRooms provider.
   */
  left: Map<string, { floor: number; until: number }>;
}

/** How a history read pages: a cursor (before or after a position), a time range and a page size. */
export interface HistoryPaging {
  /** Page backwards from this position (exclusive). */
  before?: number | undefined;
  /** Page forwards from this position (exclusive). */
  after?: number | undefined;
  /** Only messages written at or after this time (epoch ms). */
  start?: number | undefined;
  /** Only messages written at or before this time (epoch ms). */
  end?: number | undefined;
  limit?: number | undefined;
}

const maxOf = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.max(a, b));
const minOf = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
