/**
 * The conversations module's storage area (imported on the store's thread; the memory store runs the same code
 * on an in-memory database). Three tables:
 *
 * - conv_messages: one slim row per message with a body (conversation key, seq, id, sender, time, a short
 *   preview), whatever the number of readers, so a room message costs one row, not one per member;
 * - conv_entries: a user's conversations (a 1:1 peer or a room) with the user's read position (a seq, never
 *   moved backwards) and, for a room the user left, the position after which nothing counts (`until_seq`);
 * - conv_mentions: (user, conversation, seq) for each room message that mentions a member.
 *
 * Unread and mention counts are not kept as counters but counted over the rows after the read position, so a
 * read position that moves to the middle of the unread messages leaves exactly the rest unread, and a retracted
 * message stops counting. conv_meta keeps the log position the tables reflect, written in the same transaction
 * as what the batch changed, so a list comes with the position its counts are exact at.
 */
import type Database from 'better-sqlite3';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';
import type { ConversationDeparture as Departure, ConversationPage, ConversationSummary, ConversationLast as LastMessage } from '../../../client/conversations.js';

/** The area's tables: migration 1. */
export const CONVERSATIONS_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'conversations, read positions and mentions',
    sql: `
      CREATE TABLE conv_messages (
        conv      TEXT NOT NULL,      -- conversationKey(): dm:<a> <b> or room:<room>
        seq       INTEGER NOT NULL,
        id        TEXT NOT NULL,
        from_addr TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        preview   TEXT NOT NULL,
        PRIMARY KEY (conv, seq)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX conv_messages_id ON conv_messages (id);
      CREATE TABLE conv_entries (
        user      TEXT NOT NULL,
        peer      TEXT NOT NULL,      -- the other person, or the room
        kind      TEXT NOT NULL CHECK (kind IN ('chat', 'room')),
        conv      TEXT NOT NULL,
        read_seq  INTEGER NOT NULL DEFAULT 0,
        until_seq INTEGER,            -- a room the user left: nothing after this position counts or shows
        PRIMARY KEY (user, peer)
      ) WITHOUT ROWID;
      CREATE INDEX conv_entries_conv ON conv_entries (conv);
      CREATE TABLE conv_mentions (
        user TEXT NOT NULL,
        conv TEXT NOT NULL,
        seq  INTEGER NOT NULL,
        PRIMARY KEY (user, conv, seq)
      ) WITHOUT ROWID;
      CREATE TABLE conv_meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'how a member left a room',
    sql: `
      ALTER TABLE conv_entries ADD COLUMN left_how TEXT;     -- left, removed or banned (until_seq set)
      ALTER TABLE conv_entries ADD COLUMN left_by TEXT;      -- who removed or banned the member
      ALTER TABLE conv_entries ADD COLUMN left_reason TEXT;  -- the moderator's reason, if any
    `,
  },
];


/** What the consumer hands the area for one record (structured-clonable). */
export type AreaItem =
  | { t: 'msg'; kind: 'chat' | 'room'; conv: string; seq: number; id: string; from: string; to: string; ts: number; preview: string; mentions: string[]; parties: string[] }
  | { t: 'edit'; ref: string; preview: string }
  | { t: 'retract'; ref: string }
  | { t: 'read'; reader: string; ref: string };

/** A user's conversation whose counts a batch changed: its read position moved past others' messages, or a mention. */
export interface Touched {
  user: string;
  peer: string;
}

// The wire shapes of the list are the SDK's (client/conversations.ts): one definition for the server and its
// clients.
export type { ConversationPage, ConversationSummary, ConversationLast as LastMessage } from '../../../client/conversations.js';
export type { ConversationDeparture as Departure } from '../../../client/conversations.js';

/** The area's methods (async: they cross threads). */
export interface ConversationsArea {
  /** Applies a batch of the log in order and records `position`; idempotent. Returns the conversations touched. */
  apply(position: number, items: AreaItem[]): Promise<Touched[]>;
  /** A page of `user`'s conversations: its 1:1 ones, and `rooms` (its rooms now) with those it left. */
  list(user: string, rooms: string[], limit: number, before: number | null): Promise<ConversationPage>;
  /** One conversation now, with the position its counts are exact at (null when the user has none with `peer`). */
  summary(user: string, peer: string): Promise<{ summary: ConversationSummary | null; position: number }>;
  /** Moves a read position forward (never back) to `upTo`, or to the newest message when null; the result. */
  markRead(user: string, peer: string, kind: 'chat' | 'room', conv: string, upTo: number | null): Promise<{ summary: ConversationSummary; position: number; moved: boolean }>;
  /** The kind of `user`'s conversation with `peer`, if it has one. */
  kindOf(user: string, peer: string): Promise<'chat' | 'room' | null>;
  /** The user joined a room (or joined it again): listed from now, with nothing before now unread. */
  joined(user: string, room: string): Promise<void>;
  /**
   * The user left a room (or was removed) when the log was at `at`: its past up to there stays listed and
   * readable, nothing after it counts.
   */
  left(user: string, room: string, how: Departure, at: number): Promise<void>;
  /** Where `user` left `room` (the last position it may read), or null when it is a member or has no such entry. */
  leftAt(user: string, room: string): Promise<number | null>;
  /** Every room `user` left and still lists, with where it left (leftAt of each), sorted by room. */
  leftRooms(user: string): Promise<Array<{ room: string; until: number }>>;
  /** Removes a room the user left from its list (its past is no longer readable); false when there is none. */
  forget(user: string, room: string): Promise<boolean>;
  /** A room destroyed: its conversation leaves every list. */
  dropRoom(room: string): Promise<void>;
  /** A removed account: its conversations, and others' with it, go. */
  dropAccount(address: string): Promise<void>;
}

/** Ids of mentioning messages a summary carries, at most (for highlighting; the count is exact). */
export const MENTION_IDS = 20;
const FOREVER = Number.MAX_SAFE_INTEGER;

interface EntryRow {
  peer: string;
  kind: 'chat' | 'room';
  conv: string;
  read_seq: number;
  until_seq: number | null;
  left_how: Departure['how'] | null;
  left_by: string | null;
  left_reason: string | null;
}

const ENTRY = 'peer, kind, conv, read_seq, until_seq, left_how, left_by, left_reason';

function open(db: Database.Database, ctx: { write<T>(fn: () => T): T; read<T>(fn: () => T): T }): ConversationsArea {
  const getPosition = db.prepare<[], number>(`SELECT value FROM conv_meta WHERE key = 'position'`).pluck();
  const setPosition = db.prepare<[number]>(`INSERT INTO conv_meta (key, value) VALUES ('position', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`);
  const insertMessage = db.prepare<[string, number, string, string, number, string]>('INSERT OR IGNORE INTO conv_messages (conv, seq, id, from_addr, ts, preview) VALUES (?, ?, ?, ?, ?, ?)');
  const messageById = db.prepare<[string], { conv: string; seq: number; from: string }>('SELECT conv, seq, from_addr AS "from" FROM conv_messages WHERE id = ?');
  const setPreview = db.prepare<[string, string]>('UPDATE conv_messages SET preview = ? WHERE id = ?');
  const deleteMessage = db.prepare<[string, number]>('DELETE FROM conv_messages WHERE conv = ? AND seq = ?');
  const deleteMentionsAt = db.prepare<[string, number]>('DELETE FROM conv_mentions WHERE conv = ? AND seq = ?');
  const insertMention = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO conv_mentions (user, conv, seq) VALUES (?, ?, ?)');
  const ensureEntry = db.prepare<[string, string, string, string, number]>('INSERT OR IGNORE INTO conv_entries (user, peer, kind, conv, read_seq) VALUES (?, ?, ?, ?, ?)');
  const entry = db.prepare<[string, string], EntryRow>(`SELECT ${ENTRY} FROM conv_entries WHERE user = ? AND peer = ?`);
  const entries = db.prepare<[string], EntryRow>(`SELECT ${ENTRY} FROM conv_entries WHERE user = ?`);
  // A page of a user's conversations by their newest message (the key), in one statement: one index seek per
  // conversation in SQLite, no row per conversation crossing into JavaScript beyond the page (and one more row).
  const page = db.prepare<{ user: string; before: number; limit: number }, EntryRow & { key: number }>(
    `SELECT * FROM (
       SELECT e.peer, e.kind, e.conv, e.read_seq, e.until_seq, e.left_how, e.left_by, e.left_reason,
         coalesce((SELECT m.seq FROM conv_messages m WHERE m.conv = e.conv AND m.seq <= coalesce(e.until_seq, ${FOREVER}) ORDER BY m.seq DESC LIMIT 1), 0) AS key
       FROM conv_entries e WHERE e.user = :user
     ) WHERE key < :before AND (key > 0 OR kind = 'room') ORDER BY key DESC, peer LIMIT :limit`,
  );
  const leftRooms = db.prepare<[string], { room: string; until: number }>(`SELECT peer AS room, until_seq AS until FROM conv_entries WHERE user = ? AND kind = 'room' AND until_seq IS NOT NULL ORDER BY peer`);
  const unnoticedLeft = db.prepare<[string], { peer: string; read_seq: number }>(`SELECT peer, read_seq FROM conv_entries WHERE user = ? AND kind = 'room' AND until_seq IS NULL`);
  const moveRead = db.prepare<[number, string, string, number]>('UPDATE conv_entries SET read_seq = ? WHERE user = ? AND peer = ? AND read_seq < ?');
  const setUntil = db.prepare<[number | null, number, string, string]>('UPDATE conv_entries SET until_seq = ?, read_seq = max(read_seq, ?), left_how = NULL, left_by = NULL, left_reason = NULL WHERE user = ? AND peer = ?');
  const setDeparture = db.prepare<[string, string | null, string | null, string, string]>('UPDATE conv_entries SET left_how = ?, left_by = ?, left_reason = ? WHERE user = ? AND peer = ?');
  const deleteEntry = db.prepare<[string, string]>('DELETE FROM conv_entries WHERE user = ? AND peer = ? AND until_seq IS NOT NULL');
  const deleteMentionsIn = db.prepare<[string, string]>('DELETE FROM conv_mentions WHERE user = ? AND conv = ?');
  const othersBetween = db.prepare<[string, number, number, string], number>('SELECT EXISTS (SELECT 1 FROM conv_messages WHERE conv = ? AND seq > ? AND seq <= ? AND from_addr != ?)').pluck();
  const lastIn = db.prepare<[string, number], LastMessage>('SELECT id, seq, ts, from_addr AS "from", preview FROM conv_messages WHERE conv = ? AND seq <= ? ORDER BY seq DESC LIMIT 1');
  const lastSeqIn = db.prepare<[string, number], number>('SELECT seq FROM conv_messages WHERE conv = ? AND seq <= ? ORDER BY seq DESC LIMIT 1').pluck();
  const unread = db.prepare<[string, number, number, string], number>('SELECT count(*) FROM conv_messages WHERE conv = ? AND seq > ? AND seq <= ? AND from_addr != ?').pluck();
  const mentionCount = db.prepare<[string, string, number, number], number>('SELECT count(*) FROM conv_mentions WHERE user = ? AND conv = ? AND seq > ? AND seq <= ?').pluck();
  const mentionIds = db.prepare<[string, string, number, number, number], string>(
    'SELECT m.id FROM conv_mentions x JOIN conv_messages m ON m.conv = x.conv AND m.seq = x.seq WHERE x.user = ? AND x.conv = ? AND x.seq > ? AND x.seq <= ? ORDER BY x.seq DESC LIMIT ?',
  ).pluck();
  const entriesOfConv = db.prepare<[string], { user: string; peer: string }>('SELECT user, peer FROM conv_entries WHERE conv = ?');
  const deleteEntriesOfConv = db.prepare<[string]>('DELETE FROM conv_entries WHERE conv = ?');
  const deleteMessagesOfConv = db.prepare<[string]>('DELETE FROM conv_messages WHERE conv = ?');
  const deleteMentionsOfConv = db.prepare<[string]>('DELETE FROM conv_mentions WHERE conv = ?');
  const deleteEntriesOf = db.prepare<[string, string]>('DELETE FROM conv_entries WHERE user = ? OR (peer = ? AND kind = \'chat\')');
  const deleteMentionsOf = db.prepare<[string]>('DELETE FROM conv_mentions WHERE user = ?');

  const position = (): number => getPosition.get() ?? 0;

  /** Moves a read position forward; true when messages from others lay between the old and the new one. */
  const advance = (user: string, peer: string, to: number): boolean => {
    const e = entry.get(user, peer);
    if (e === undefined || e.read_seq >= to) return false;
    moveRead.run(to, user, peer, to);
    return othersBetween.get(e.conv, e.read_seq, Math.min(to, e.until_seq ?? FOREVER), user) === 1;
  };

  const summarize = (user: string, e: EntryRow): ConversationSummary => {
    const hi = e.until_seq ?? FOREVER;
    const lo = e.read_seq;
    const left = e.until_seq !== null;
    return {
      with: e.peer,
      kind: e.kind,
      // A room left: its newest message up to the leaving (history reads the room up to there).
      last: lastIn.get(e.conv, hi) ?? null,
      unread: unread.get(e.conv, lo, hi, user) ?? 0,
      mentions: e.kind === 'room' ? (mentionCount.get(user, e.conv, lo, hi) ?? 0) : 0,
      mentionIds: e.kind === 'room' ? mentionIds.all(user, e.conv, lo, hi, MENTION_IDS) : [],
      readUpTo: e.read_seq,
      left,
      departure: left ? { how: e.left_how ?? 'left', by: e.left_by, reason: e.left_reason } : null,
      rejoin: false,
    };
  };

  const apply = (items: AreaItem[]): Touched[] => {
    const touched = new Map<string, Touched>();
    const touch = (user: string, peer: string): void => {
      touched.set(`${user}\n${peer}`, { user, peer });
    };
    for (const it of items) {
      switch (it.t) {
        case 'msg': {
          if (insertMessage.run(it.conv, it.seq, it.id, it.from, it.ts, it.preview).changes === 0) break;
          if (it.kind === 'chat') {
            // Both parties list the conversation (each with the other as its peer); the sender has read it.
            for (const p of it.parties) ensureEntry.run(p, p === it.from ? it.to : it.from, 'chat', it.conv, 0);
          } else {
            ensureEntry.run(it.from, it.to, 'room', it.conv, 0);
            for (const m of it.mentions) {
              insertMention.run(m, it.conv, it.seq);
              touch(m, it.to);
            }
          }
          // One's own message moves one's read position to it (one has read what one answers).
          if (advance(it.from, it.to, it.seq)) touch(it.from, it.to);
          break;
        }
        case 'edit':
          setPreview.run(it.preview, it.ref);
          break;
        case 'retract': {
          const m = messageById.get(it.ref);
          if (m === undefined) break;
          deleteMessage.run(m.conv, m.seq);
          deleteMentionsAt.run(m.conv, m.seq);
          for (const e of entriesOfConv.all(m.conv)) if (e.user !== m.from) touch(e.user, e.peer);
          break;
        }
        case 'read': {
          // XEP-0333 §4 (and Parley's read receipts): everything up to the message read is read.
          const m = messageById.get(it.ref);
          if (m === undefined || m.from === it.reader) break;
          const peer = m.conv.startsWith('room:') ? m.conv.slice(5) : m.from;
          if (advance(it.reader, peer, m.seq)) touch(it.reader, peer);
          break;
        }
      }
    }
    return [...touched.values()];
  };

  return {
    async apply(pos, items) {
      return ctx.write(() => {
        const out = apply(items);
        setPosition.run(pos);
        return out;
      });
    },
    async list(user, rooms, limit, before) {
      return ctx.write(() => {
        const pos = position();
        // Rooms joined while the module was off (or before it saw the join): listed, nothing before now unread.
        for (const room of rooms) ensureEntry.run(user, room, 'room', `room:${room}`, pos);
        const now = new Set(rooms);
        for (const e of unnoticedLeft.all(user)) {
          // A room left without the module hearing of it: nothing after what the user had read counts.
          if (!now.has(e.peer)) setUntil.run(e.read_seq, e.read_seq, user, e.peer);
        }
        let rows = page.all({ user, before: before ?? FOREVER, limit: limit + 1 });
        // Rooms without a message (key 0) have no cursor to page on: a page that reaches them lists them all
        // (a user's rooms are bounded by rooms.maxMembershipsPerUser) and is the last.
        if (rows.length > limit && rows[limit - 1]!.key === 0) rows = page.all({ user, before: before ?? FOREVER, limit: -1 });
        const shown = rows.length > limit && rows[limit - 1]!.key > 0 ? rows.slice(0, limit) : rows;
        const next = shown.length < rows.length ? shown[shown.length - 1]!.key : null;
        return { conversations: shown.map((e) => summarize(user, e)), next, position: pos };
      });
    },
    async summary(user, peer) {
      return ctx.read(() => {
        const e = entry.get(user, peer);
        return { summary: e === undefined ? null : summarize(user, e), position: position() };
      });
    },
    async markRead(user, peer, kind, conv, upTo) {
      return ctx.write(() => {
        // A 1:1 conversation without a message is no conversation: nothing is kept for it (no row per address
        // tried), unless the reader names a message the consumer has not reached yet (a first message just in).
        const ahead = upTo !== null && upTo > position();
        if (kind === 'chat' && !ahead && entry.get(user, peer) === undefined && lastSeqIn.get(conv, FOREVER) === undefined) {
          const none: ConversationSummary = { with: peer, kind, last: null, unread: 0, mentions: 0, mentionIds: [], readUpTo: 0, left: false, departure: null, rejoin: false };
          return { summary: none, position: position(), moved: false };
        }
        ensureEntry.run(user, peer, kind, conv, 0);
        const e = entry.get(user, peer)!;
        const to = upTo ?? lastSeqIn.get(e.conv, e.until_seq ?? FOREVER) ?? 0;
        const moved = to > e.read_seq;
        if (moved) moveRead.run(to, user, peer, to);
        return { summary: summarize(user, entry.get(user, peer)!), position: position(), moved };
      });
    },
    async kindOf(user, peer) {
      return ctx.read(() => entry.get(user, peer)?.kind ?? null);
    },
    async joined(user, room) {
      ctx.write(() => {
        const pos = position();
        ensureEntry.run(user, room, 'room', `room:${room}`, pos);
        const e = entry.get(user, room)!;
        if (e.until_seq !== null) setUntil.run(null, pos, user, room);
      });
    },
    async left(user, room, how, at) {
      ctx.write(() => {
        const e = entry.get(user, room);
        if (e === undefined || e.until_seq !== null) return;
        // The log's position at the leaving, not the consumer's (which may be behind it): what was said before
        // the leaving stays readable and counted, however late the consumer applies it.
        setUntil.run(Math.max(at, e.read_seq), 0, user, room);
        setDeparture.run(how.how, how.by, how.reason, user, room);
      });
    },
    async leftAt(user, room) {
      return ctx.read(() => entry.get(user, room)?.until_seq ?? null);
    },
    async leftRooms(user) {
      return ctx.read(() => leftRooms.all(user));
    },
    async forget(user, room) {
      return ctx.write(() => {
        if (deleteEntry.run(user, room).changes === 0) return false;
        deleteMentionsIn.run(user, `room:${room}`);
        return true;
      });
    },
    async dropRoom(room) {
      const conv = `room:${room}`;
      ctx.write(() => {
        deleteEntriesOfConv.run(conv);
        deleteMessagesOfConv.run(conv);
        deleteMentionsOfConv.run(conv);
      });
    },
    async dropAccount(address) {
      ctx.write(() => {
        for (const e of entries.all(address)) {
          if (e.kind !== 'chat') continue;
          deleteMessagesOfConv.run(e.conv);
        }
        deleteEntriesOf.run(address, address);
        deleteMentionsOf.run(address);
      });
    },
  };
}

/** The SQLite half of the module's storage. */
export const area: SqliteArea<ConversationsArea> = { migrations: CONVERSATIONS_MIGRATIONS, open };
