/** The message log in SQLite: appends go through group commit, reads are single indexed queries. */
import { pageReader } from '../../core/page.js';
import type { LogRecord, MessageView, NewRecord } from '../../core/types.js';
import { recordBytes, type AppendResult, type MessageStore, type OfflineSize, type ReadMarker } from '../../ports/store.js';
import { clampLimit, convParties, roomConv } from '../rules.js';
import type { Batched, Db, Transactor } from './db.js';
import type { GroupCommit } from './group-commit.js';
import { LOG_COLUMNS } from './log-writer.js';

/** UTF-8 size of a body, natively (the same numbers as core/address.ts utf8Length). */
const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Largest seq a query bound can take; seqs are far below it. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

// A retracted message shows neither its body nor its extension elements (the log keeps both).
// history: log_by_conv serves both directions (filtering the rare edit/retract rows); message_state is joined by key.
const VIEW_COLUMNS = `l.seq, l.id, l.type, l.conv, l.from_addr AS "from", l.from_resource AS fromResource, l.to_addr AS "to",
  l.client_id AS clientId, CASE WHEN s.id IS NULL THEN l.body ELSE s.body END AS body,
  CASE WHEN s.retracted_at IS NULL THEN l.xml END AS xml, l.ts,
  s.edited_at AS editedAt, s.retracted_at AS retractedAt`;
const VIEW_JOIN = 'FROM log l LEFT JOIN message_state s ON s.id = l.id';
const HISTORY_FROM = `${VIEW_JOIN}
  WHERE l.conv = :conv AND l.kind = 'message' AND l.seq > :after AND l.seq < :before`;

/** The read queries of the log, exported so a test can check that each one is an index search, not a scan. */
export const MESSAGE_QUERIES = {
  getById: `SELECT ${LOG_COLUMNS} FROM log l WHERE l.id = ?`,
  // view: one history row by id, through the unique index on log(id).
  view: `SELECT ${VIEW_COLUMNS} ${VIEW_JOIN} WHERE l.id = ? AND l.kind = 'message'`,
  historyNewest: `SELECT ${VIEW_COLUMNS} ${HISTORY_FROM} ORDER BY l.seq DESC LIMIT :limit`,
  historyOldest: `SELECT ${VIEW_COLUMNS} ${HISTORY_FROM} ORDER BY l.seq ASC LIMIT :limit`,
  // since: one bounded index range per branch, merged in JS (see since() below).
  sinceTo: `SELECT ${LOG_COLUMNS} FROM log l WHERE l.to_addr = ? AND l.type = 'chat' AND l.seq > ? ORDER BY l.seq LIMIT ?`,
  sinceFrom: `SELECT ${LOG_COLUMNS} FROM log l WHERE l.from_addr = ? AND l.type = 'chat' AND l.seq > ? ORDER BY l.seq LIMIT ?`,
  sinceConv: `SELECT ${LOG_COLUMNS} FROM log l WHERE l.conv = ? AND l.seq > ? ORDER BY l.seq LIMIT ?`,
  // userMessages: the account's 1:1 messages, one bounded range of log_by_to and one of log_by_from, merged.
  userTo: `SELECT ${VIEW_COLUMNS} ${VIEW_JOIN} WHERE l.to_addr = :user AND l.type = 'chat' AND l.kind = 'message' AND l.seq > :after AND l.seq < :before ORDER BY l.seq DESC LIMIT :limit`,
  userFrom: `SELECT ${VIEW_COLUMNS} ${VIEW_JOIN} WHERE l.from_addr = :user AND l.type = 'chat' AND l.kind = 'message' AND l.seq > :after AND l.seq < :before ORDER BY l.seq DESC LIMIT :limit`,
  userToOldest: `SELECT ${VIEW_COLUMNS} ${VIEW_JOIN} WHERE l.to_addr = :user AND l.type = 'chat' AND l.kind = 'message' AND l.seq > :after AND l.seq < :before ORDER BY l.seq ASC LIMIT :limit`,
  userFromOldest: `SELECT ${VIEW_COLUMNS} ${VIEW_JOIN} WHERE l.from_addr = :user AND l.type = 'chat' AND l.kind = 'message' AND l.seq > :after AND l.seq < :before ORDER BY l.seq ASC LIMIT :limit`,
  // seqAtTime: one step of a binary search over positions, along the primary key.
  firstAtOrAfter: 'SELECT l.seq, l.ts FROM log l WHERE l.seq >= ? ORDER BY l.seq LIMIT 1',
  // after: the log in order, along its primary key (log consumers).
  after: `SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq > ? ORDER BY l.seq LIMIT ?`,
  // lastRead: the newest row of the partial index log_read_receipts for (conv, reader), and the message it names.
  lastRead: `SELECT m.id, m.seq, r.ts FROM log r JOIN log m ON m.id = r.ref
    WHERE r.conv = ? AND r.from_addr = ? AND r.kind = 'receipt' AND r.receipt = 'read' AND r.seq > ? ORDER BY r.seq DESC LIMIT 1`,
  offline: `SELECT ${LOG_COLUMNS} FROM offline o JOIN log l ON l.seq = o.seq WHERE o.user = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`,
  // octet_length() takes a text's size from the record header, without reading the (overflow) pages of the body.
  // A record's size is its body and its extension elements.
  offlineSize: `SELECT COUNT(*) AS count, COALESCE(SUM(octet_length(l.body)), 0) + COALESCE(SUM(octet_length(l.xml)), 0) AS bytes FROM offline o JOIN log l ON l.seq = o.seq WHERE o.user = ?`,
  offlineUpTo: `SELECT COUNT(*) AS count, COALESCE(SUM(octet_length(l.body)), 0) + COALESCE(SUM(octet_length(l.xml)), 0) AS bytes FROM offline o JOIN log l ON l.seq = o.seq WHERE o.user = ? AND o.seq <= ?`,
} as const;

type HistoryParams = { conv: string; after: number; before: number; limit: number };
type UserParams = { user: string; after: number; before: number; limit: number };

/** Creates the SQLite MessageStore; `appends` is the group-commit queue in front of the log writer. */
export function createSqliteMessages(
  db: Db,
  tx: Transactor,
  appends: GroupCommit<NewRecord[], AppendResult[]>,
  batched: Batched,
): MessageStore {
  const Q = MESSAGE_QUERIES;
  const getById = db.prepare<[string], LogRecord>(Q.getById);
  const view = db.prepare<[string], MessageView>(Q.view);
  const newest = db.prepare<HistoryParams, MessageView>(Q.historyNewest);
  const oldest = db.prepare<HistoryParams, MessageView>(Q.historyOldest);
  const sinceTo = db.prepare<[string, number, number], LogRecord>(Q.sinceTo);
  const sinceFrom = db.prepare<[string, number, number], LogRecord>(Q.sinceFrom);
  const sinceConv = db.prepare<[string, number, number], LogRecord>(Q.sinceConv);
  const offline = db.prepare<[string, number, number], LogRecord>(Q.offline);
  const after = db.prepare<[number, number], LogRecord>(Q.after);
  const ackOffline = db.prepare<[string, number]>('DELETE FROM offline WHERE user = ? AND seq <= ?');
  const offlineSize = db.prepare<[string], OfflineSize>(Q.offlineSize);
  const offlineUpTo = db.prepare<[string, number], OfflineSize>(Q.offlineUpTo);
  const lastSeq = db.prepare<[], number>('SELECT COALESCE(MAX(seq), 0) FROM log').pluck();
  const userNewest = [db.prepare<UserParams, MessageView>(Q.userTo), db.prepare<UserParams, MessageView>(Q.userFrom)];
  const userOldest = [db.prepare<UserParams, MessageView>(Q.userToOldest), db.prepare<UserParams, MessageView>(Q.userFromOldest)];
  const firstAtOrAfter = db.prepare<[number], { seq: number; ts: number }>(Q.firstAtOrAfter);
  const queueOffline = db.prepare<[string, number]>('INSERT INTO offline (user, seq) SELECT ?, seq FROM log WHERE seq = ? ON CONFLICT DO NOTHING');
  const lastRead = db.prepare<[string, string, number], ReadMarker>(Q.lastRead);
  const idByClientId = db.prepare<[string, string], string>('SELECT id FROM log WHERE from_addr = ? AND client_id = ?').pluck();
  // Where the current incarnation of an account or room begins (migration 5); 0 when it does not exist.
  const accountFloor = db.prepare<[string], number>('SELECT created_seq FROM accounts WHERE address = ?').pluck();
  const roomFloor = db.prepare<[string], number>('SELECT created_seq FROM rooms WHERE address = ?').pluck();
  const userFloor = (user: string): number => accountFloor.get(user) ?? 0;
  /** The first seq a conversation's current parties may see (see MessageStore.history). */
  const convFloor = (conv: string): number => {
    const who = convParties(conv);
    if (who === null) return 0;
    if ('room' in who) return roomFloor.get(who.room) ?? 0;
    return Math.max(userFloor(who.users[0]), userFloor(who.users[1]));
  };

  return {
    async append(records) {
      // Copy now: the caller may reuse its objects before the flush on the next turn. (A malformed offlineFor
      // is passed through as is, for the writer's validation to reject with a proper error.)
      return appends.submit(records.map((r) => ({ ...r, offlineFor: Array.isArray(r.offlineFor) ? [...r.offlineFor] : r.offlineFor })));
    },
    async getById(id) {
      return getById.get(id) ?? null;
    },
    async view(id) {
      return view.get(id) ?? null;
    },
    async history(conv, q) {
      const limit = clampLimit(q.limit);
      if (limit === 0) return [];
      // The floor and the rows come from one snapshot, so a re-creation in between cannot mix incarnations.
      return tx.read(() => {
        const params = { conv, after: Math.max(q.after ?? 0, convFloor(conv)), before: q.before ?? MAX_SEQ, limit };
        // Forward paging (after given) takes the oldest page; otherwise the newest. Both return ascending.
        const forward = (q.from ?? (q.after !== undefined ? 'oldest' : 'newest')) === 'oldest';
        const stmt = forward ? oldest : newest;
        let rows: MessageView[];
        if (q.maxBytes === undefined) rows = stmt.all(params);
        else {
          // Row by row, so reading stops at the byte budget (plus the look-ahead row) instead of at `limit`.
          rows = [];
          const goOn = pageReader(limit, q.maxBytes, utf8Bytes);
          for (const row of stmt.iterate(params)) {
            rows.push(row);
            if (!goOn(row)) break;
          }
        }
        return forward ? rows : rows.reverse();
      });
    },
    async userMessages(user, q) {
      const limit = clampLimit(q.limit);
      if (limit === 0) return [];
      const forward = (q.from ?? (q.after !== undefined ? 'oldest' : 'newest')) === 'oldest';
      return tx.read(() => {
        const params = { user, after: Math.max(q.after ?? 0, userFloor(user)), before: q.before ?? MAX_SEQ, limit };
        // Each branch holds at most `limit` rows of the page's end, so the merge holds the page and its look-ahead.
        const merged = (forward ? userOldest : userNewest).flatMap((stmt) => stmt.all(params));
        merged.sort((a, b) => (forward ? a.seq - b.seq : b.seq - a.seq));
        const rows: MessageView[] = [];
        const goOn = q.maxBytes === undefined ? null : pageReader(limit, q.maxBytes, utf8Bytes);
        for (const row of merged) {
          if (rows.length > 0 && rows[rows.length - 1]!.seq === row.seq) continue; // a message to oneself
          if (rows.length >= limit) break;
          rows.push(row);
          if (goOn && !goOn(row)) break;
        }
        return forward ? rows : rows.reverse();
      });
    },
    async seqAtTime(ts) {
      return tx.read(() => {
        // The smallest k whose first record at or after k was written at or after ts (or that has none).
        let lo = 0;
        let hi = (lastSeq.get() ?? 0) + 1;
        while (lo < hi) {
          const mid = Math.floor((lo + hi) / 2);
          const r = firstAtOrAfter.get(mid);
          if (r === undefined || r.ts >= ts) hi = mid;
          else lo = r.seq + 1;
        }
        return firstAtOrAfter.get(lo)?.seq ?? (lastSeq.get() ?? 0) + 1;
      });
    },
    async since(user, rooms, after, limit) {
      const n = clampLimit(limit);
      if (n === 0) return [];
      // Each branch returns at most n rows, so the merge is bounded by (2 + rooms) * n whatever the backlog.
      // One read transaction: all branches see the same snapshot, so no seq can slip between them. Each branch
      // starts at the current incarnation of its account or room, so a re-created address sees no predecessor's.
      const rows = tx.read(() => {
        const mine = Math.max(after, userFloor(user));
        return [
          ...sinceTo.all(user, mine, n),
          ...sinceFrom.all(user, mine, n),
          ...[...new Set(rooms)].flatMap((room) => sinceConv.all(roomConv(room), Math.max(after, roomFloor.get(room) ?? 0), n)),
        ];
      });
      const bySeq = new Map<number, LogRecord>();
      for (const r of rows) bySeq.set(r.seq, r);
      return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, n);
    },
    async offline(user, after, limit) {
      const n = clampLimit(limit);
      // Entries queued for a removed predecessor (a send or requeue racing the removal) stay invisible.
      return n === 0 ? [] : tx.read(() => offline.all(user, Math.max(after, userFloor(user)), n));
    },
    async ackOffline(user, upTo) {
      let dropped: OfflineSize = { count: 0, bytes: 0 };
      // Measured and deleted in the same transaction, so the size is exactly what went away.
      await batched(() => {
        dropped = offlineUpTo.get(user, upTo) ?? { count: 0, bytes: 0 };
        if (dropped.count > 0) ackOffline.run(user, upTo);
      });
      return dropped;
    },
    async offlineSize(user) {
      return offlineSize.get(user) ?? { count: 0, bytes: 0 };
    },
    async lastSeq() {
      return lastSeq.get() ?? 0;
    },
    queueOffline(user, seqs) {
      const list = [...seqs];
      return batched(() => {
        for (const seq of list) queueOffline.run(user, seq);
      });
    },
    async after(seq, limit, maxBytes = Infinity) {
      const n = clampLimit(limit);
      if (n === 0) return [];
      if (maxBytes === Infinity) return after.all(seq, n);
      // Stepping through the rows stops reading (and copying) as soon as the budget is spent.
      const out: LogRecord[] = [];
      let bytes = 0;
      for (const r of after.iterate(seq, n)) {
        out.push(r);
        bytes += recordBytes(r);
        if (bytes >= maxBytes) break;
      }
      return out;
    },
    async lastRead(conv, reader) {
      return lastRead.get(conv, reader, convFloor(conv)) ?? null;
    },
    async byClientId(from, clientId) {
      const id = idByClientId.get(from, clientId);
      return id === undefined ? null : (view.get(id) ?? null);
    },
  };
}
