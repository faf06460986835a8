/**
 * eDiscovery over the compliance journal (docs/archive-search.md): a full-text index of message and edit
 * bodies, filled from the journal outside the delivery path, and searches by participant, room, domain, time
 * and keywords (the query and its keyword language: query.ts). Every search and export is journaled
 * (`archive.search`, `archive.export`) in the transaction that runs it, so the audit trail of the officers'
 * reads is itself tamper-evident.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { eventDraft } from './entry.js';
import { auditQuery, bad, checkQuery, type CheckedQuery, type SearchQuery } from './query.js';
import { ENTRY_COLUMNS, entryBytes, entryFields, leafSealer, readAhead, withParties, type AppendEntry, type EntrySource, type JournalArea, type LeafRow, type LogReader, type Parties, type SignedCheckpoint } from './journal.js';
import { inclusionProof, SubtreeHasher, type SubtreeCache } from './merkle.js';
import { SUBTREE_MIN_LEVEL } from './subtrees.js';

/** The search index: migration 2 of the archive's storage. */
export const SEARCH_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 2,
    name: 'full-text index of message bodies, who took part, references between entries',
    sql: `
      -- rowid = archive_journal.idx; contentless (the journal holds the text), rows deletable when retention expires them.
      CREATE VIRTUAL TABLE archive_fts USING fts5 (
        body,
        content = '',
        contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
      );
      -- Every entry under each address or conversation it names (actor, subject, conv): the participant and room
      -- filters. Filled with the full-text index, outside the message's transaction.
      CREATE TABLE archive_who (
        who  TEXT NOT NULL,
        idx  INTEGER NOT NULL,
        PRIMARY KEY (who, idx)
      ) WITHOUT ROWID;
      -- Edits and retractions by the id of the message they refer to (data.ref).
      CREATE TABLE archive_refs (
        ref  TEXT NOT NULL,
        idx  INTEGER NOT NULL,
        PRIMARY KEY (ref, idx)
      ) WITHOUT ROWID;
      CREATE TABLE archive_index_state (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        indexed INTEGER NOT NULL          -- every journal idx up to this one is indexed
      );
      INSERT INTO archive_index_state (id, indexed) VALUES (1, 0);
    `,
  },
];

/** One hour in ms: the journal's entry times are kept by the hour (archive_hours). */
export const HOUR_MS = 3_600_000;

/**
 * The hour an entry time falls in, rounded down (also for times before 1970, as the migration's SQL computes it).
 */
export const hourOf = (ts: number): number => Math.floor(ts / HOUR_MS);

/**
 * Migration 6: where the journal's entries of each hour lie, filled by the search index outside the message's
 * transaction, instead of an index on every entry's time, which the message's transaction had to update (what
 * that cost: docs/PERFORMANCE.md, "The journal without an index on entry times"). A time filter reads the span
 * of journal positions of the hours it covers and then checks each entry's own time, so it is exact whatever
 * order the times were journaled in; it is only narrow because they are journaled nearly in time order.
 */
export const HOURS_MIGRATION: ModuleMigration = {
  version: 6,
  name: 'journal positions by hour of entry time, in place of the index on every entry\'s time',
  sql: `
    CREATE TABLE archive_hours (
      hour INTEGER PRIMARY KEY,          -- hours since 1970, rounded down (hourOf)
      lo   INTEGER NOT NULL,             -- the smallest and largest journal idx of an indexed entry of this hour
      hi   INTEGER NOT NULL
    );
    INSERT INTO archive_hours (hour, lo, hi)
      SELECT CASE WHEN ts >= 0 THEN ts / ${HOUR_MS} ELSE -((-ts - 1) / ${HOUR_MS}) - 1 END AS h, MIN(idx), MAX(idx)
      FROM archive_journal WHERE idx <= (SELECT indexed FROM archive_index_state WHERE id = 1) GROUP BY h;
    DROP INDEX archive_journal_ts;
  `,
};

/** Where the search index stands among the journal's positions, read at each call (the indexer moves it). */
export interface IndexPosition {
  /** The last journal idx the search index has taken in. */
  indexed(): number;
  /** The journal's last idx (0 when it is empty). */
  last(): number;
  /**
   * The journal positions that can hold entries of hours `fromHour` to `toHour`: the span the indexed hours give,
   * and every entry the search index has not reached yet (its hour is not known before). Null: none can.
   */
  span(fromHour: number, toHour: number): { lo: number; hi: number } | null;
  /** The last position of an indexed entry of an hour up to `hour` (0: none); later entries may be older still. */
  lastUpTo(hour: number): number;
}

/** The one reader of the search index's position, for the search part, its time filters and retention. */
export function indexPosition(db: Database.Database): IndexPosition {
  const spanGet = db.prepare<[number, number], { lo: number | null; hi: number | null }>('SELECT MIN(lo) AS lo, MAX(hi) AS hi FROM archive_hours WHERE hour BETWEEN ? AND ?');
  const indexedGet = db.prepare<[], number>('SELECT indexed FROM archive_index_state WHERE id = 1').pluck();
  const lastGet = db.prepare<[], number>('SELECT COALESCE(MAX(idx), 0) FROM archive_journal').pluck();
  const upTo = db.prepare<[number], number>('SELECT COALESCE(MAX(hi), 0) FROM archive_hours WHERE hour <= ?').pluck();
  const indexed = (): number => indexedGet.get()!;
  const last = (): number => lastGet.get()!;
  return {
    indexed,
    last,
    span(fromHour, toHour) {
      const s = spanGet.get(fromHour, toHour)!;
      const pos = indexed();
      const end = last();
      if (pos >= end) return s.lo === null || s.hi === null ? null : { lo: s.lo, hi: s.hi };
      return { lo: s.lo ?? pos + 1, hi: end };
    },
    lastUpTo: (hour) => upTo.get(hour)!,
  };
}

/** Most records one export may hold (a larger one must be split by time range). */
export const EXPORT_MAX = 1_000_000;
/** Journal entries indexed per write transaction. */
const INDEX_BATCH = 20_000;
/**
 * Journal entries a search or an export indexes per transaction before it runs, when the index is behind (as many
 * as one of the background index's batches); messages are stored between them. Measured on an archive of a
 * million entries (bench/archive-search.ts, docs/PERFORMANCE.md): 150 ms a batch, and appends waited at most 0.3 s;
 * with batches of 5,000 the catch-up took a fifth less time but appends waited up to 0.5 s.
 */
const CATCH_UP_BATCH = 2_000;
/** A later entry referring to a hit (an edit or retraction of it). */
export interface LaterVersion {
  index: number;
  type: string;
  ts: number;
  /** The new body of an edit (null for a retraction or once expired). */
  body: string | null;
}

/** One search result. */
export interface SearchHit {
  index: number;
  type: string;
  ts: number;
  conv: string | null;
  actor: string | null;
  subject: string | null;
  /** The message id (log records). */
  id: string | null;
  /** The message an edit or retraction refers to. */
  ref: string | null;
  /** Null once retention expired the entry's content. */
  body: string | null;
  /** Edits and retractions referring to this message, oldest first: every interim version. */
  later: LaterVersion[];
}

/** One page of results. */
export interface SearchPage {
  hits: SearchHit[];
  /** Pass as `before` for the next page; null on the last. */
  next: number | null;
  /** Leaf index of the `archive.search` entry that journaled this search. */
  audit: number;
}

/** What an export will contain, fixed when it starts. */
export interface ExportPlan {
  /** Leaf indices of the exported entries, ascending. */
  indices: number[];
  /** The checkpoint signed for this export (it covers the export's own audit entry). */
  checkpoint: SignedCheckpoint;
  verifierKey: string;
  /** Leaf index of the `archive.export` entry. */
  audit: number;
}

/** One exported entry with its proof in the export's checkpoint. */
export interface ExportRecord {
  index: number;
  /** The journal's columns (kept when the content expires). */
  type: string;
  ts: number;
  conv: string | null;
  actor: string | null;
  subject: string | null;
  /** Canonical bytes as UTF-8 (null once expired: such entries are listed but carry no record). */
  entry: string | null;
  /** Leaf hash, hex. */
  leaf: string;
  /** RFC 9162 §2.1.3 audit path, base64, leaf upwards (empty for expired entries). */
  proof: string[];
}

/** The search part of the archive's storage area. */
export interface SearchArea {
  /** Indexes up to `max` journal entries not yet indexed; returns how many were scanned and how many remain. */
  indexPending(max?: number): Promise<{ scanned: number; pending: number }>;
  /** Journal entries not indexed yet. */
  indexLag(): Promise<number>;
  /** Runs a search for `actor` and journals it (archive.search) in the same transaction. */
  search(query: SearchQuery, actor: string, now: number): Promise<SearchPage>;
  /** Fixes what an export holds, journals it (archive.export) and signs a checkpoint covering it. */
  exportPlan(query: SearchQuery, actor: string, now: number, origin: string): Promise<ExportPlan>;
  /** The entries at `indices` with inclusion proofs in the tree of `size` entries (one read transaction). */
  exportRecords(indices: number[], size: number): Promise<ExportRecord[]>;
}

/** LIKE pattern text with its wildcards escaped (ESCAPE '\'). */
const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The WHERE clause (over journal alias j) for a checked query's filters, with its parameters. `span`: the journal
 * positions that can hold entries of the query's time range (IndexPosition.span), null when none can. `domainKeys`: the
 * archive_who keys in use of the query's domain and its subdomains.
 */
function filters(q: CheckedQuery, span: { lo: number; hi: number } | null, domainKeys: readonly string[]): { sql: string; params: Array<string | number> } {
  const parts: string[] = [];
  const params: Array<string | number> = [];
  if (q.from !== null || q.to !== null) {
    parts.push('j.idx BETWEEN ? AND ?');
    params.push(span?.lo ?? 1, span?.hi ?? 0);
  }
  parts.push(`j.type IN (${q.types.map(() => '?').join(', ')})`);
  params.push(...q.types);
  if (q.participant !== null) {
    // Log records carry both parties of a 1:1 conversation as actor and subject, so the dm:<a> <b> key adds nothing.
    // A set from archive_who: the cost follows the participant's volume, not the journal's.
    parts.push('j.idx IN (SELECT idx FROM archive_who WHERE who = ?)');
    params.push(q.participant);
  }
  if (q.room !== null) {
    // Messages in a room name it as their subject; events about the room carry it as subject or conversation.
    // (`room:<room>` keys indexed by earlier versions are still matched.)
    parts.push('j.idx IN (SELECT idx FROM archive_who WHERE who IN (?, ?))');
    params.push(`room:${q.room}`, q.room);
  }
  if (q.domain !== null) {
    // Rows that keep their sender and recipient (events, and records journaled before their rows stopped keeping
    // them) by those columns; the others by the keys of the domain and its subdomains in archive_who (domainKey),
    // looked up for each row scanned (a seek per key), as the columns are: a scan newest first stops after a page
    // of a common domain's entries, where gathering all of its entries first would not.
    const d = likeEscape(q.domain);
    const keys = domainKeys.length > 0 ? `EXISTS (SELECT 1 FROM archive_who w WHERE w.who IN (SELECT value FROM json_each(?)) AND w.idx = j.idx) OR ` : '';
    parts.push(`(${keys}j.actor LIKE ? ESCAPE '\\' OR j.actor LIKE ? ESCAPE '\\' OR j.subject LIKE ? ESCAPE '\\' OR j.subject LIKE ? ESCAPE '\\')`);
    if (domainKeys.length > 0) params.push(JSON.stringify(domainKeys));
    params.push(`%@${d}`, `%@%.${d}`, `%@${d}`, `%@%.${d}`);
  }
  if (q.from !== null) {
    parts.push('j.ts >= ?');
    params.push(q.from);
  }
  if (q.to !== null) {
    parts.push('j.ts <= ?');
    params.push(q.to);
  }
  return { sql: parts.join(' AND '), params };
}

// ---------------------------------------------------------------------------------------------------------
// The area

/**
 * The archive_who key of a domain: `@` and its labels in reverse order (`@org.partner.sub` for sub.partner.org),
 * so a domain's key and its subdomains' lie together (from `@org.partner` up to `@org.partner/`, `/` following `.`).
 * An address never starts with `@`.
 */
export const domainKey = (domain: string): string => `@${domain.split('.').reverse().join('.')}`;

/** The domains of an entry's actor and subject that are addresses (`local@domain`), each once. */
function domainsOf(actor: string | null, subject: string | null): string[] {
  const out: string[] = [];
  for (const a of [actor, subject]) {
    if (a === null) continue;
    const at = a.lastIndexOf('@');
    if (at <= 0 || at === a.length - 1) continue;
    const d = a.slice(at + 1).toLowerCase();
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

/** A conversation key that adds nothing to the entry's actor and subject: `dm:<a> <b>`, or `room:<subject>`. */
const derivedConv = (conv: string, subject: string | null): boolean => conv.startsWith('dm:') || (subject !== null && conv === `room:${subject}`);

type JournalRow = EntrySource & Parties & { type: string; ts: number };

/** Opens the search part; `journal` is the journal part it audits into and signs checkpoints with. */
export function openSearch(db: Database.Database, ctx: SqliteAreaContext, journal: { area: JournalArea; append: AppendEntry }): SearchArea {
  const position = indexPosition(db);
  const stateSet = db.prepare<[number]>('UPDATE archive_index_state SET indexed = ? WHERE id = 1');
  const scan = db.prepare<[number, number], JournalRow & LeafRow>(
    `SELECT ${ENTRY_COLUMNS}, j.type, j.ts, j.conv, j.actor, j.subject, j.leaf FROM archive_journal j WHERE j.idx > ? ORDER BY j.idx LIMIT ?`,
  );
  const seal = leafSealer(db);
  const whoPut = db.prepare<[string, number]>('INSERT OR IGNORE INTO archive_who (who, idx) VALUES (?, ?)');
  const hourPut = db.prepare<[number, number, number]>(
    'INSERT INTO archive_hours (hour, lo, hi) VALUES (?, ?, ?) ON CONFLICT (hour) DO UPDATE SET lo = MIN(lo, excluded.lo), hi = MAX(hi, excluded.hi)',
  );
  const whoUsed = db.prepare<[string], number>('SELECT 1 FROM archive_who WHERE who = ? LIMIT 1').pluck();
  const whoNext = db.prepare<[string, string], string>('SELECT who FROM archive_who WHERE who > ? AND who < ? ORDER BY who LIMIT 1').pluck();
  /** The keys in use of `domain` and its subdomains: one seek per key, however many entries each has. */
  const domainKeysOf = (domain: string): string[] => {
    const key = domainKey(domain);
    const keys = whoUsed.get(key) === undefined ? [] : [key];
    // Subdomains' keys follow `<key>.` and come before `<key>/`.
    for (let k = whoNext.get(`${key}.`, `${key}/`); k !== undefined; k = whoNext.get(k, `${key}/`)) keys.push(k);
    return keys;
  };
  const ftsPut = db.prepare<[number, string]>('INSERT INTO archive_fts (rowid, body) VALUES (?, ?)');
  const refPut = db.prepare<[string, number]>('INSERT OR IGNORE INTO archive_refs (ref, idx) VALUES (?, ?)');
  // Every later version of a page's messages in one statement: the refs come as one JSON array.
  const laterOfAll = db.prepare<[string], JournalRow & { ref: string }>(
    `SELECT r.ref, ${ENTRY_COLUMNS}, j.type, j.ts, j.conv, j.actor, j.subject FROM archive_refs r JOIN archive_journal j ON j.idx = r.idx WHERE r.ref IN (SELECT value FROM json_each(?)) ORDER BY r.idx`,
  );
  const rowAt = db.prepare<[number], JournalRow & { leaf: Buffer }>(`SELECT ${ENTRY_COLUMNS}, j.type, j.ts, j.conv, j.actor, j.subject, j.leaf FROM archive_journal j WHERE j.idx = ?`);
  const log: LogReader = ctx;
  const leafAt = db.prepare<[number], Buffer>('SELECT leaf FROM archive_journal WHERE idx = ?').pluck();
  const subtreeGet = db.prepare<[number, number], Buffer>('SELECT hash FROM archive_subtrees WHERE level = ? AND idx = ?').pluck();
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };

  /** Indexes up to `max` entries after the stored position; runs inside a write transaction. */
  const indexSome = (max: number): number => {
    const pos = position.indexed();
    const rows = scan.all(pos, max);
    const records = readAhead(rows, log, 'parties');
    withParties(rows, records);
    // The leaves of the records journaled since (journal.ts, UNSEALED_LEAF), from the log rows just read.
    seal(rows, records);
    // One row per hour the batch touches (usually one or two), not one per entry.
    const hours = new Map<number, { lo: number; hi: number }>();
    for (const r of rows) {
      const h = hourOf(r.ts);
      const span = hours.get(h);
      if (span === undefined) hours.set(h, { lo: r.idx, hi: r.idx });
      else span.hi = r.idx;
    }
    for (const [h, { lo, hi }] of hours) hourPut.run(h, lo, hi);
    // Who took part is kept for every entry, expired ones too (the entry's row still names them). A 1:1
    // conversation's key names only its two parties, already the actor and the subject, and a room message's
    // key is its room, already the subject: neither is indexed twice.
    const who: Array<[string, number]> = [];
    for (const r of rows) {
      if (r.actor !== null) who.push([r.actor, r.idx]);
      if (r.subject !== null && r.subject !== r.actor) who.push([r.subject, r.idx]);
      if (r.conv !== null && !derivedConv(r.conv, r.subject)) who.push([r.conv, r.idx]);
      for (const d of domainsOf(r.actor, r.subject)) who.push([domainKey(d), r.idx]);
    }
    // In key order, so consecutive inserts land on the same pages of archive_who instead of one page each.
    who.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    for (const [key, idx] of who) whoPut.run(key, idx);
    for (const r of rows) {
      if (r.expired !== null) continue;
      if (r.type !== 'message' && r.type !== 'edit' && r.type !== 'retract') continue;
      const f = entryFields(r, records);
      const body = f.body;
      if (body !== null && body.length > 0 && r.type !== 'retract') ftsPut.run(r.idx, body);
      const ref = f.ref;
      if (ref !== null && r.type !== 'message') refPut.run(ref, r.idx);
    }
    if (rows.length > 0) stateSet.run(rows[rows.length - 1]!.idx);
    return rows.length;
  };
  const pendingCount = (): number => position.last() - position.indexed();

  /** The page's hits, each with its later versions (edits and retractions of it in its conversation). */
  const hitsOf = (rows: JournalRow[]): SearchHit[] => {
    const records = readAhead(rows, log, 'parties');
    const parsed = withParties(rows, records).map((r) => ({ r, f: entryFields(r, records) }));
    const ids = parsed.flatMap(({ r, f }) => (r.type === 'message' && typeof f.id === 'string' ? [f.id] : []));
    const later = new Map<string, LaterVersion[]>();
    if (ids.length > 0) {
      const laterRows = laterOfAll.all(JSON.stringify(ids));
      for (const l of withParties(laterRows, readAhead(laterRows, log, 'parties'))) {
        const key = `${l.conv ?? ''}\n${l.ref}`;
        let list = later.get(key);
        if (list === undefined) later.set(key, (list = []));
        list.push({ index: l.idx - 1, type: l.type, ts: l.ts, body: l.type === 'edit' ? entryFields(l, log).body : null });
      }
    }
    return parsed.map(({ r, f }) => {
      const id = f.id;
      const versions = r.type === 'message' && id !== null ? (later.get(`${r.conv ?? ''}\n${id}`) ?? []) : [];
      return { index: r.idx - 1, type: r.type, ts: r.ts, conv: r.conv, actor: r.actor, subject: r.subject, id, ref: f.ref, body: f.body, later: versions };
    });
  };

  /** Journal rows matching `q`, newest first (search) or oldest first (export), below `before` (a journal idx). */
  const select = (q: CheckedQuery, order: 'DESC' | 'ASC', limit: number, cols = `${ENTRY_COLUMNS}, j.type, j.ts, j.conv, j.actor, j.subject`): JournalRow[] => {
    const span = q.from === null && q.to === null ? null : position.span(q.from === null ? Number.MIN_SAFE_INTEGER : hourOf(q.from), q.to === null ? Number.MAX_SAFE_INTEGER : hourOf(q.to));
    const f = filters(q, span, q.domain === null ? [] : domainKeysOf(q.domain));
    const before = q.before === null ? Number.MAX_SAFE_INTEGER : q.before + 1;
    if (q.match !== null && (q.participant !== null || q.room !== null)) {
      // A participant's or room's entries are few beside a common word's: they drive, newest first, and
      // each is checked against the index by rowid (an FTS5 seek, not a scan of the word's matches).
      const sql = `SELECT ${cols} FROM archive_journal j CROSS JOIN archive_fts ON archive_fts.rowid = j.idx
        WHERE archive_fts MATCH ? AND j.idx < ? AND j.expired_at IS NULL AND ${f.sql} ORDER BY j.idx ${order} LIMIT ?`;
      return prepared(sql).all(q.match, before, ...f.params, limit) as JournalRow[];
    }
    if (q.match !== null) {
      // The index drives (CROSS JOIN keeps it outer), in rowid order, so a page stops after `limit` hits.
      // Expired entries are left out: their words must not be inferable from a match.
      const sql = `SELECT ${cols} FROM archive_fts CROSS JOIN archive_journal j ON j.idx = archive_fts.rowid
        WHERE archive_fts MATCH ? AND archive_fts.rowid < ? AND j.expired_at IS NULL AND ${f.sql}
        ORDER BY archive_fts.rowid ${order} LIMIT ?`;
      return prepared(sql).all(q.match, before, ...f.params, limit) as JournalRow[];
    }
    const sql = `SELECT ${cols} FROM archive_journal j WHERE j.idx < ? AND ${f.sql} ORDER BY j.idx ${order} LIMIT ?`;
    return prepared(sql).all(before, ...f.params, limit) as JournalRow[];
  };

  /**
   * Indexes everything pending in batches, each its own transaction, and lets the store's thread take other
   * calls between them (appends wait at most one batch).
   */
  const catchUp = async (): Promise<void> => {
    while (ctx.write(() => indexSome(CATCH_UP_BATCH)) === CATCH_UP_BATCH) await nextTurn();
  };

  return {
    async indexPending(max = INDEX_BATCH) {
      const scanned = ctx.write(() => indexSome(max));
      return { scanned, pending: pendingCount() };
    },
    async indexLag() {
      return pendingCount();
    },
    async search(query, actor, now) {
      const q = checkQuery(query);
      await catchUp();
      return ctx.write(() => {
        indexSome(INDEX_BATCH);
        const rows = select(q, 'DESC', q.limit + 1);
        const more = rows.length > q.limit;
        const hits = hitsOf(rows.slice(0, q.limit));
        const audit = journal.append(eventDraft('archive.search', now, { actor, data: { query: auditQuery(q), hits: hits.length } }));
        return { hits, next: more ? hits[hits.length - 1]!.index : null, audit };
      });
    },
    async exportPlan(query, actor, now, origin) {
      const q = checkQuery({ ...query, limit: 1, before: undefined });
      await catchUp();
      const { indices, audit } = ctx.write(() => {
        indexSome(INDEX_BATCH);
        // Positions only: the entries are read with their proofs, chunk by chunk.
        const rows = select(q, 'ASC', EXPORT_MAX + 1, 'j.idx');
        if (rows.length > EXPORT_MAX) throw bad(`the export would hold more than ${EXPORT_MAX} records; narrow the time range`);
        const indices = rows.map((r) => r.idx - 1);
        const audit = journal.append(eventDraft('archive.export', now, { actor, data: { query: auditQuery(q), records: indices.length } }));
        return { indices, audit };
      });
      // Signed after the audit entry, so the export's checkpoint also commits to who exported what.
      const checkpoint = await journal.area.checkpoint(origin, now);
      const verifierKey = await journal.area.verifierKey(origin, now);
      return { indices, checkpoint, verifierKey, audit };
    },
    async exportRecords(indices, size) {
      return ctx.read(() => {
        // Neighbouring records share most of their audit paths: remember the nodes this batch computed.
        const memo = new Map<string, Buffer>();
        const cache: SubtreeCache = {
          get: (level, index) => {
            const key = `${level}/${index}`;
            let h = memo.get(key);
            if (h === undefined && level >= SUBTREE_MIN_LEVEL) {
              h = subtreeGet.get(level, index);
              if (h !== undefined) memo.set(key, h);
            }
            return h;
          },
          set: (level, index, hash) => void memo.set(`${level}/${index}`, hash),
        };
        const hasher = new SubtreeHasher((i) => {
          const leaf = leafAt.get(i + 1);
          if (leaf === undefined) throw new ParleyError('item-not-found', `no entry ${i}`);
          return leaf;
        }, cache);
        const rows = indices.map((index) => {
          if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw bad(`entry ${index} is not under the checkpoint of size ${size}`);
          const r = rowAt.get(index + 1);
          if (r === undefined) throw new ParleyError('item-not-found', `no entry ${index}`);
          return r;
        });
        // A chunk of an export is mostly neighbours in the journal: their log records are read in one run.
        const records = readAhead(rows, log, 'parties');
        return withParties(rows, records).map((r) => {
          const index = r.idx - 1;
          const cols = { index, type: r.type, ts: r.ts, conv: r.conv, actor: r.actor, subject: r.subject, leaf: r.leaf.toString('hex') };
          const bytes = entryBytes(r, records);
          if (bytes === null) return { ...cols, entry: null, proof: [] };
          return { ...cols, entry: bytes.toString('utf8'), proof: inclusionProof(index, size, hasher).map((h) => h.toString('base64')) };
        });
      });
    },
  };
}
