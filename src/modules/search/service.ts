/**
 * Searches of a user's own history over the module's index: what the caller may read comes from the engine
 * (Engine.readScope: the user's own 1:1 messages and the rooms it is a member of now, each from where history
 * starts, and the rooms it left and may still read, up to the leaving), never from the index, so a search shows
 * no more than history would. Every search runs within the user's heavy-read allowance (Engine.heavyRead), like
 * history pages.
 */
import { parseBare } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { matchRanges, parseQuery } from './query.js';
import type { AreaQuery, AreaScope, IndexedMessage, SearchArea } from './sqlite.js';

/** Index matches one search looks at, at most, before it ends its page early (`next` goes on from there). */
export const SCAN_MAX = 20_000;

/** One hit as the JSON API shows it (docs/protocol.md `search`). */
export interface SearchHit {
  id: string;
  seq: number;
  ts: number;
  from: string;
  to: string;
  /** The room, for a room message. */
  room?: string;
  body: string;
  /** Where the query matches in `body`: [start, end) in UTF-16 code units, sorted, not overlapping. */
  snippet: Array<[number, number]>;
}

/** A search's parameters (the JSON operation's and the HTTP route's). */
export interface SearchParams {
  q: string;
  /** A conversation partner (a user's bare address) or a room. */
  with?: string | undefined;
  room?: string | undefined;
  /** Page on: hits older than this seq. */
  before?: number | undefined;
  limit?: number | undefined;
}

/** A page of hits, newest first; `next` is the `before` of the next page, null on the last. */
export interface SearchResult {
  hits: SearchHit[];
  next: number | null;
}

/** An XEP-0431 search inside a MAM query: the archive's filters and RSM paging around the text. */
export interface ArchiveSearch {
  text: string;
  with?: string | undefined;
  room?: string | undefined;
  start?: number | undefined;
  end?: number | undefined;
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
}

/** The `search` service the module offers other modules (the mam module's XEP-0431 field). */
export interface SearchServiceApi {
  /** Matching messages the user may read, in log order (ascending), and whether more lie beyond the page. */
  archive(user: string, q: ArchiveSearch): Promise<{ messages: IndexedMessage[]; more: boolean }>;
}

/** The module's searches. */
export class SearchService implements SearchServiceApi {
  constructor(
    private readonly engine: Engine,
    private readonly area: SearchArea,
    private readonly maxResults: number,
  ) {}

  /** The JSON `search` operation and GET /api/v1/search. */
  async search(user: string, p: SearchParams): Promise<SearchResult> {
    const query = parseQuery(p.q);
    const limit = Math.min(p.limit ?? this.maxResults, this.maxResults);
    const page = await this.run(user, { text: p.q, with: p.with, room: p.room, before: p.before, limit }, query.match);
    return {
      hits: page.hits.map((m) => ({
        id: m.id,
        seq: m.seq,
        ts: m.ts,
        from: m.from,
        to: m.to,
        ...(m.type === 'groupchat' ? { room: m.to } : {}),
        body: m.body,
        snippet: matchRanges(m.body, query.terms),
      })),
      next: page.more ? page.next : null,
    };
  }

  async archive(user: string, q: ArchiveSearch): Promise<{ messages: IndexedMessage[]; more: boolean }> {
    const page = await this.run(user, q, parseQuery(q.text).match);
    return { messages: q.after !== undefined ? page.hits : page.hits.reverse(), more: page.more };
  }

  private async run(user: string, q: ArchiveSearch, match: string): Promise<{ hits: IndexedMessage[]; more: boolean; next: number | null }> {
    if (q.with !== undefined && q.room !== undefined) throw new ParleyError('bad-request', 'give with or room, not both');
    if (q.start !== undefined && q.end !== undefined && q.start > q.end) throw new ParleyError('bad-request', 'start is after end');
    if (q.limit === 0) return { hits: [], more: true, next: null };
    return this.engine.heavyRead(user, async () => {
      const scope = await this.engine.readScope(user);
      const area: AreaScope = { user, own: scope.own, rooms: [...scope.rooms], left: [...scope.left].map(([room, l]) => [room, l.floor, l.until]) };
      let only: { room?: string; peer?: string } = {};
      let before = q.before;
      const partner = q.room ?? q.with;
      if (partner !== undefined) {
        const other = parseBare(partner);
        const roomFloor = scope.rooms.get(other);
        const left = scope.left.get(other);
        if (roomFloor !== undefined) {
          only = { room: other };
          area.rooms = [[other, roomFloor]];
          area.left = [];
        } else if (left !== undefined) {
          // A room the user left: its history up to the leaving (history reads it so), so the index is read
          // from there down.
          only = { room: other };
          area.rooms = [];
          area.left = [[other, left.floor, left.until]];
          before = Math.min(before ?? Number.MAX_SAFE_INTEGER, left.until + 1);
        } else if (q.room !== undefined) {
          // The same answer whether the room exists or not: a search tells a non-member nothing.
          throw new ParleyError('forbidden', `you are not a member of ${other}`);
        } else {
          only = { peer: other };
          area.rooms = [];
          area.left = [];
          // A conversation's history starts at the later of its two accounts (MessageStore.history).
          const peer = await this.engine.accountFloor(other);
          if (area.own !== null) area.own = Math.max(area.own, peer ?? 0);
        }
      }
      const aq: AreaQuery = { match, scope: area, ...only, before, after: q.after, start: q.start, end: q.end, limit: q.limit, scanMax: SCAN_MAX };
      return this.area.search(aq);
    });
  }
}
