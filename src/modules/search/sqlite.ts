/**
 * The search module's storage area (imported on the store's thread; the memory store runs the same code on an
 * in-memory database): an FTS5 index of message bodies whose rowid is the message's seq, beside the message's
 * current text and addresses. Edits replace the indexed text, retractions remove it. Who may read a hit is
 * decided from the caller's scope (Engine.readScope) at each search, so a change of membership takes effect at
 * the next one. The scope narrows the index itself: each row carries its owners (the two parties of a 1:1
 * message, the room of a room message) as tokens of a second column, and a search matches only rows of the
 * caller's owners, so FTS5 intersects the two posting lists instead of Parley reading everyone's matches.
 * The scope is checked again exactly on every row found (floors included); the tokens only make it fast.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { conversationKey } from '../../core/types.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** The index's tables: migration 1. */
export const SEARCH_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'full-text index of message bodies',
    sql: `
      -- rowid = the message's seq. Contentless (search_docs keeps the text); rows deletable for edits and retractions.
      -- owners: ownerToken() of each party of a 1:1 message, or of the room.
      CREATE VIRTUAL TABLE search_fts USING fts5 (
        body,
        owners,
        content = '',
        contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
      );
      CREATE TABLE search_docs (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL,
        type       TEXT NOT NULL CHECK (type IN ('chat', 'groupchat')),
        conv       TEXT NOT NULL,
        from_addr  TEXT NOT NULL,
        from_res   TEXT,
        to_addr    TEXT NOT NULL,     -- the recipient, or the room
        client_id  TEXT,
        ts         INTEGER NOT NULL,
        body       TEXT NOT NULL      -- the current text (after edits)
      );
      CREATE UNIQUE INDEX search_docs_id ON search_docs (id);
    `,
  },
];

/** What the index takes of a log record (structured-clonable, no more than it needs). */
export interface IndexRecord {
  kind: 'message' | 'edit' | 'retract';
  type: 'chat' | 'groupchat';
  seq: number;
  id: string;
  conv: string;
  from: string;
  fromResource: string | null;
  to: string;
  clientId: string | null;
  body: string | null;
  ref: string | null;
  ts: number;
}

/** One indexed message as it reads now. */
export interface IndexedMessage {
  seq: number;
  id: string;
  type: 'chat' | 'groupchat';
  from: string;
  fromResource: string | null;
  to: string;
  clientId: string | null;
  ts: number;
  body: string;
}

/** What a caller may read (Engine.readScope), as it crosses threads. */
export interface AreaScope {
  user: string;
  /** The account's createdSeq; null: no 1:1 message is readable. */
  own: number | null;
  /** [room, createdSeq] of each room the user is a member of now. */
  rooms: Array<[string, number]>;
  /** [room, createdSeq, until] of each room the user left and may still read: after createdSeq, up to until. */
  left?: Array<[string, number, number]> | undefined;
}

/** A search as the service hands it to the area. */
export interface AreaQuery {
  match: string;
  scope: AreaScope;
  /** Only the 1:1 conversation with this user. */
  peer?: string | undefined;
  /** Only this room (which must be in the scope). */
  room?: string | undefined;
  /** Newest first below this seq (the default), or oldest first above `after`. */
  before?: number | undefined;
  after?: number | undefined;
  /** Inclusive time bounds, epoch ms. */
  start?: number | undefined;
  end?: number | undefined;
  limit: number;
  /** Most index matches looked at (readable or not) before the page ends with `more`. */
  scanMax: number;
}

/** One page: hits in paging order; `next` the seq to page on from when `more`. */
export interface AreaPage {
  hits: IndexedMessage[];
  more: boolean;
  next: number | null;
}

/** The area's methods (async: they cross threads). */
export interface SearchArea {
  /** Applies records in log order: messages indexed, edits replace the text, retractions remove it. Idempotent. */
  index(records: IndexRecord[]): Promise<void>;
  /** Runs a search (see AreaQuery). */
  search(q: AreaQuery): Promise<AreaPage>;
  /** How many messages are indexed (health). */
  count(): Promise<number>;
}

/**
 * An address as one token of the owners column: letters and digits only, so the tokenizer keeps it whole and
 * no address can be read as FTS5 syntax; 80 bits of SHA-256, and every row found is checked exactly anyway.
 */
export function ownerToken(address: string): string {
  return `o${createHash('sha256').update(address).digest('hex').slice(0, 20)}`;
}

/** The owners column of a message. */
const ownersOf = (type: string, from: string, to: string): string => (type === 'groupchat' || from === to ? ownerToken(to) : `${ownerToken(from)} ${ownerToken(to)}`);

const COLS = `d.seq, d.id, d.type, d.from_addr AS "from", d.from_res AS fromResource, d.to_addr AS "to", d.client_id AS clientId, d.ts, d.body, d.conv`;

type Row = IndexedMessage & { conv: string };

function open(db: Database.Database, ctx: { write<T>(fn: () => T): T; read<T>(fn: () => T): T }): SearchArea {
  const insertDoc = db.prepare<[number, string, string, string, string, string | null, string, string | null, number, string]>(
    'INSERT OR IGNORE INTO search_docs (seq, id, type, conv, from_addr, from_res, to_addr, client_id, ts, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertFts = db.prepare<[number, string, string]>('INSERT INTO search_fts (rowid, body, owners) VALUES (?, ?, ?)');
  const deleteFts = db.prepare<[number]>('DELETE FROM search_fts WHERE rowid = ?');
  const docOf = db.prepare<[string], { seq: number; type: string; from: string; to: string }>('SELECT seq, type, from_addr AS "from", to_addr AS "to" FROM search_docs WHERE id = ?');
  const setBody = db.prepare<[string, number]>('UPDATE search_docs SET body = ? WHERE seq = ?');
  const deleteDoc = db.prepare<[number]>('DELETE FROM search_docs WHERE seq = ?');
  const count = db.prepare<[], number>('SELECT count(*) FROM search_docs').pluck();
  // FTS5 walks its matches in rowid order and takes the rowid bounds itself, so a page reads from its cursor.
  const from = `FROM search_fts JOIN search_docs d ON d.seq = search_fts.rowid WHERE search_fts MATCH ? AND search_fts.rowid > ? AND search_fts.rowid < ?`;
  const newest = db.prepare<[string, number, number], Row>(`SELECT ${COLS} ${from} ORDER BY search_fts.rowid DESC`);
  const oldest = db.prepare<[string, number, number], Row>(`SELECT ${COLS} ${from} ORDER BY search_fts.rowid ASC`);

  const remove = (seq: number): void => {
    deleteFts.run(seq);
    deleteDoc.run(seq);
  };
  const apply = (r: IndexRecord): void => {
    if (r.kind === 'message') {
      if (r.body === null || r.body === '') return;
      if (insertDoc.run(r.seq, r.id, r.type, r.conv, r.from, r.fromResource, r.to, r.clientId, r.ts, r.body).changes === 1) {
        insertFts.run(r.seq, r.body, ownersOf(r.type, r.from, r.to));
      }
      return;
    }
    const doc = r.ref === null ? undefined : docOf.get(r.ref);
    if (doc === undefined) return;
    if (r.kind === 'retract' || r.body === null || r.body === '') {
      remove(doc.seq);
      return;
    }
    deleteFts.run(doc.seq);
    insertFts.run(doc.seq, r.body, ownersOf(doc.type, doc.from, doc.to));
    setBody.run(r.body, doc.seq);
  };

  return {
    async index(records) {
      ctx.write(() => {
        for (const r of records) apply(r);
      });
    },
    async search(q) {
      const rooms = new Map(q.scope.rooms);
      const left = new Map((q.scope.left ?? []).map(([room, floor, until]) => [room, { floor, until }]));
      const readable = (r: Row): boolean => {
        if (r.type === 'groupchat') {
          const floor = rooms.get(r.to);
          if (floor !== undefined) return r.seq > floor;
          // A room the user left: up to the leaving, never after it.
          const gone = left.get(r.to);
          return gone !== undefined && r.seq > gone.floor && r.seq <= gone.until;
        }
        return q.scope.own !== null && r.seq > q.scope.own && (r.from === q.scope.user || r.to === q.scope.user);
      };
      const user = q.scope.own === null ? [] : [ownerToken(q.scope.user)];
      let owners: string;
      let conv: string | undefined;
      if (q.room !== undefined) {
        conv = conversationKey('groupchat', q.scope.user, q.room);
        owners = `"${ownerToken(q.room)}"`;
      } else if (q.peer !== undefined) {
        conv = conversationKey('chat', q.scope.user, q.peer);
        owners = q.peer === q.scope.user ? `"${ownerToken(q.peer)}"` : `"${user[0]}" AND "${ownerToken(q.peer)}"`;
        if (user.length === 0) return { hits: [], more: false, next: null };
      } else {
        const all = [...user, ...q.scope.rooms.map(([room]) => ownerToken(room)), ...[...left.keys()].map(ownerToken)];
        if (all.length === 0) return { hits: [], more: false, next: null };
        owners = all.map((t) => `"${t}"`).join(' OR ');
      }
      // The caller's query (already a safe AND of string literals, query.ts) on the text, its owners on the other.
      const match = `body : (${q.match}) AND owners : (${owners})`;
      const forward = q.after !== undefined;
      const stmt = forward ? oldest : newest;
      return ctx.read(() => {
        const hits: IndexedMessage[] = [];
        let scanned = 0;
        let last: number | null = null;
        for (const r of stmt.iterate(match, q.after ?? 0, q.before ?? Number.MAX_SAFE_INTEGER)) {
          if (scanned >= q.scanMax) return { hits, more: true, next: last };
          scanned++;
          last = r.seq;
          if (conv !== undefined && r.conv !== conv) continue;
          if ((q.start !== undefined && r.ts < q.start) || (q.end !== undefined && r.ts > q.end)) continue;
          if (!readable(r)) continue;
          if (hits.length === q.limit) return { hits, more: true, next: hits[hits.length - 1]!.seq };
          const { conv: _conv, ...hit } = r;
          hits.push(hit);
        }
        return { hits, more: false, next: null };
      });
    },
    async count() {
      return count.get() ?? 0;
    },
  };
}

/** The SQLite half of the module's storage. */
export const area: SqliteArea<SearchArea> = { migrations: SEARCH_MIGRATIONS, open };
