/**
 * eDiscovery over the compliance journal (docs/archive-search.md): a full-text index of message and edit
 * bodies, filled from the journal outside the delivery path, and searches by participant, room, domain, time
 * and keywords. Every search and export is journaled (`archive.search`, `archive.export`) in the transaction
 * that runs it, so the audit trail of the officers' reads is itself tamper-evident.
 *
 * Keywords use a small query language that this file compiles to an FTS5 MATCH expression with every term
 * quoted: user text never reaches MATCH unquoted, so FTS5 operators, column filters and `NEAR` typed by a
 * caller are plain words.
 */
import type Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { eventDraft } from './entry.js';
import { ENTRY_COLUMNS, entryBytes, entryFields, readAhead, type AppendEntry, type EntrySource, type JournalArea, type LogReader, type SignedCheckpoint } from './journal.js';
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

/** Most hits per search page. */
export const SEARCH_LIMIT_MAX = 1000;
/** Most records one export may hold (a larger one must be split by time range). */
export const EXPORT_MAX = 1_000_000;
/** Journal entries indexed per write transaction. */
const INDEX_BATCH = 20_000;
const DEFAULT_TYPES = ['message', 'edit', 'retract'];
const MAX_KEYWORD_CHARS = 1000;
const MAX_TERMS = 32;

/** A search as callers give it (HTTP query, CLI flags); checkQuery validates it. */
export interface SearchQuery {
  /** A bare address: entries it sent or received (its 1:1 conversations and its messages in rooms). */
  participant?: string | undefined;
  /** A room's bare address: its messages and its membership events. */
  room?: string | undefined;
  /** Entries whose sender or recipient is at this domain or one of its subdomains. */
  domain?: string | undefined;
  /** Inclusive lower bound of the entry time, ms since the epoch. */
  from?: number | undefined;
  /** Inclusive upper bound of the entry time, ms since the epoch. */
  to?: number | undefined;
  /** The keyword language (docs/archive-search.md). */
  keywords?: string | undefined;
  /** Entry types (default message, edit, retract). */
  types?: string[] | undefined;
  /** Hits per page, 1..1000 (default 100). */
  limit?: number | undefined;
  /** Paging cursor: only entries with a smaller leaf index (results run newest first). */
  before?: number | undefined;
}

/** A validated query, with the compiled MATCH expression. */
export interface CheckedQuery {
  participant: string | null;
  room: string | null;
  domain: string | null;
  from: number | null;
  to: number | null;
  keywords: string | null;
  match: string | null;
  types: string[];
  limit: number;
  before: number | null;
}

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
  /** Runs a search for `actor` and journals it (archive.search) in the same transaction. */
  search(query: SearchQuery, actor: string, now: number): Promise<SearchPage>;
  /** Fixes what an export holds, journals it (archive.export) and signs a checkpoint covering it. */
  exportPlan(query: SearchQuery, actor: string, now: number, origin: string): Promise<ExportPlan>;
  /** The entries at `indices` with inclusion proofs in the tree of `size` entries (one read transaction). */
  exportRecords(indices: number[], size: number): Promise<ExportRecord[]>;
}

// ---------------------------------------------------------------------------------------------------------
// The keyword language

type Term = { text: string; phrase: boolean; prefix: boolean };

const bad = (message: string): ParleyError => new ParleyError('bad-request', message);

/** An FTS5 string literal: double quotes, inner quotes doubled (FTS5 query syntax §3.1). */
const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;

function termExpr(t: Term): string {
  return t.prefix ? `${quote(t.text)} *` : quote(t.text);
}

/**
 * Compiles the keyword language to an FTS5 MATCH expression:
 * - words are AND-ed: `budget review`;
 * - `"quoted phrase"` matches the words in that order;
 * - `-word` or `-"phrase"` excludes;
 * - `OR` (upper case) between two terms matches either, and binds tighter than the implicit AND: `a b OR c`
 *   is a AND (b OR c);
 * - `word*` matches words starting with `word`.
 * Throws bad-request naming the problem; at least one term must be positive.
 */
export function compileKeywords(input: string): string {
  if (input.length > MAX_KEYWORD_CHARS) throw bad(`keywords: longer than ${MAX_KEYWORD_CHARS} characters`);
  type Token = { kind: 'term'; term: Term; negated: boolean; at: number } | { kind: 'or'; at: number };
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    const at = i;
    let negated = false;
    if (c === '-') {
      negated = true;
      i++;
      if (i >= input.length || /\s/u.test(input[i]!)) throw bad(`keywords: "-" at ${at + 1} must be followed by a word or phrase`);
    }
    if (input[i] === '"') {
      const end = input.indexOf('"', i + 1);
      if (end < 0) throw bad(`keywords: the quote at ${i + 1} is not closed`);
      const text = input.slice(i + 1, end).trim().replace(/\s+/gu, ' ');
      if (!/[\p{L}\p{N}]/u.test(text)) throw bad(`keywords: the phrase at ${i + 1} has no letters or digits`);
      i = end + 1;
      if (i < input.length && !/\s/u.test(input[i]!)) throw bad(`keywords: put a space after the phrase ending at ${i}`);
      tokens.push({ kind: 'term', term: { text, phrase: true, prefix: false }, negated, at });
      continue;
    }
    let end = i;
    while (end < input.length && !/\s/u.test(input[end]!)) end++;
    let word = input.slice(i, end);
    i = end;
    if (word === 'OR' && !negated) {
      tokens.push({ kind: 'or', at });
      continue;
    }
    if (word.includes('"')) throw bad(`keywords: a quote inside the word at ${at + 1}; quote whole phrases`);
    let prefix = false;
    if (word.endsWith('*')) {
      prefix = true;
      word = word.slice(0, -1);
    }
    if (word.includes('*')) throw bad(`keywords: "*" is only allowed at the end of a word (at ${at + 1})`);
    if (!/[\p{L}\p{N}]/u.test(word)) throw bad(`keywords: the term at ${at + 1} has no letters or digits`);
    tokens.push({ kind: 'term', term: { text: word, phrase: false, prefix }, negated, at });
  }
  // Groups of OR-ed terms, AND-ed together; exclusions apart.
  const groups: Term[][] = [];
  const excluded: Term[] = [];
  let pendingOr = false;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'or') {
      const prev = tokens[k - 1];
      if (prev === undefined || prev.kind !== 'term' || pendingOr) throw bad(`keywords: OR at ${t.at + 1} needs a term before it`);
      if (prev.negated) throw bad(`keywords: OR at ${t.at + 1} cannot join an exclusion`);
      const next = tokens[k + 1];
      if (next === undefined || next.kind !== 'term') throw bad(`keywords: OR at ${t.at + 1} needs a term after it`);
      if (next.negated) throw bad(`keywords: OR at ${t.at + 1} cannot join an exclusion`);
      pendingOr = true;
      continue;
    }
    if (t.negated) excluded.push(t.term);
    else if (pendingOr) groups[groups.length - 1]!.push(t.term);
    else groups.push([t.term]);
    pendingOr = false;
  }
  const count = groups.reduce((n, g) => n + g.length, 0) + excluded.length;
  if (count === 0) throw bad('keywords: no terms');
  if (count > MAX_TERMS) throw bad(`keywords: more than ${MAX_TERMS} terms`);
  if (groups.length === 0) throw bad('keywords: only exclusions; add a word to search for');
  const positive = groups.map((g) => (g.length === 1 ? termExpr(g[0]!) : `(${g.map(termExpr).join(' OR ')})`)).join(' AND ');
  if (excluded.length === 0) return positive;
  return `(${positive}) NOT (${excluded.map(termExpr).join(' OR ')})`;
}

// ---------------------------------------------------------------------------------------------------------
// Query validation

const ADDRESS = /^[^\s@/"]+@[^\s@/"]+$/u;
const DOMAIN = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;
const TYPE = /^[a-z][a-z0-9.-]{0,63}$/;

const optString = (v: unknown, field: string): string | null => {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw bad(`${field}: expected a string`);
  return v;
};
const optTime = (v: unknown, field: string): number | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${field}: expected a time in ms since the epoch`);
  return v;
};

/** Validates a query (both sides of the store's thread call it); throws bad-request naming the field. */
export function checkQuery(q: SearchQuery): CheckedQuery {
  const participant = optString(q.participant, 'participant')?.toLowerCase() ?? null;
  if (participant !== null && !ADDRESS.test(participant)) throw bad('participant: expected a bare address local@domain');
  const room = optString(q.room, 'room')?.toLowerCase() ?? null;
  if (room !== null && !ADDRESS.test(room)) throw bad('room: expected a room address room@service');
  const domain = optString(q.domain, 'domain')?.toLowerCase() ?? null;
  if (domain !== null && (!DOMAIN.test(domain) || domain.length > 253)) throw bad('domain: expected a domain name');
  const from = optTime(q.from, 'from');
  const to = optTime(q.to, 'to');
  if (from !== null && to !== null && from > to) throw bad('impossible time range: from is after to');
  const keywords = optString(q.keywords, 'keywords')?.trim() || null;
  const match = keywords === null ? null : compileKeywords(keywords);
  let types = DEFAULT_TYPES;
  if (q.types !== undefined && q.types.length > 0) {
    if (!Array.isArray(q.types) || q.types.some((t) => typeof t !== 'string' || !TYPE.test(t))) throw bad('types: expected entry type names');
    types = [...new Set(q.types)].sort();
  }
  const limit = q.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > SEARCH_LIMIT_MAX) throw bad(`limit: expected 1 to ${SEARCH_LIMIT_MAX}`);
  const before = q.before ?? null;
  if (before !== null && (!Number.isSafeInteger(before) || before < 0)) throw bad('before: expected a leaf index');
  return { participant, room, domain, from, to, keywords, match, types, limit, before };
}

/** The query as journaled in an audit entry (I-JSON: no undefined, no compiled form). */
export function auditQuery(q: CheckedQuery): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['participant', 'room', 'domain', 'from', 'to', 'keywords', 'types', 'before'] as const) {
    if (q[k] !== null) out[k] = q[k];
  }
  return out;
}

/** LIKE pattern text with its wildcards escaped (ESCAPE '\'). */
const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE clause (over journal alias j) for a checked query's filters, with its parameters. */
function filters(q: CheckedQuery): { sql: string; params: Array<string | number> } {
  const parts: string[] = [];
  const params: Array<string | number> = [];
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
    const d = likeEscape(q.domain);
    parts.push(`(j.actor LIKE ? ESCAPE '\\' OR j.actor LIKE ? ESCAPE '\\' OR j.subject LIKE ? ESCAPE '\\' OR j.subject LIKE ? ESCAPE '\\')`);
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

/** A conversation key that adds nothing to the entry's actor and subject: `dm:<a> <b>`, or `room:<subject>`. */
const derivedConv = (conv: string, subject: string | null): boolean => conv.startsWith('dm:') || (subject !== null && conv === `room:${subject}`);

type JournalRow = EntrySource & { type: string; ts: number; conv: string | null; actor: string | null; subject: string | null };

/** Opens the search part; `journal` is the journal part it audits into and signs checkpoints with. */
export function openSearch(db: Database.Database, ctx: SqliteAreaContext, journal: { area: JournalArea; append: AppendEntry }): SearchArea {
  const statePos = db.prepare<[], number>('SELECT indexed FROM archive_index_state WHERE id = 1').pluck();
  const stateSet = db.prepare<[number]>('UPDATE archive_index_state SET indexed = ? WHERE id = 1');
  const lastIdx = db.prepare<[], number>('SELECT COALESCE(MAX(idx), 0) FROM archive_journal').pluck();
  const scan = db.prepare<[number, number], JournalRow>(
    `SELECT ${ENTRY_COLUMNS}, j.type, j.ts, j.conv, j.actor, j.subject FROM archive_journal j WHERE j.idx > ? ORDER BY j.idx LIMIT ?`,
  );
  const whoPut = db.prepare<[string, number]>('INSERT OR IGNORE INTO archive_who (who, idx) VALUES (?, ?)');
  const ftsPut = db.prepare<[number, string]>('INSERT INTO archive_fts (rowid, body) VALUES (?, ?)');
  const refPut = db.prepare<[string, number]>('INSERT OR IGNORE INTO archive_refs (ref, idx) VALUES (?, ?)');
  // Every later version of a page's messages in one statement: the refs come as one JSON array.
  const laterOfAll = db.prepare<[string], EntrySource & { ref: string; type: string; ts: number; conv: string | null }>(
    `SELECT r.ref, ${ENTRY_COLUMNS}, j.type, j.ts, j.conv FROM archive_refs r JOIN archive_journal j ON j.idx = r.idx WHERE r.ref IN (SELECT value FROM json_each(?)) ORDER BY r.idx`,
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
    const pos = statePos.get()!;
    const rows = scan.all(pos, max);
    const records = readAhead(rows, log);
    for (const r of rows) {
      // Who took part is kept for every entry, expired ones too (the entry's row still names them). A 1:1
      // conversation's key names only its two parties, already the actor and the subject, and a room message's
      // key is its room, already the subject: neither is indexed twice.
      if (r.actor !== null) whoPut.run(r.actor, r.idx);
      if (r.subject !== null && r.subject !== r.actor) whoPut.run(r.subject, r.idx);
      if (r.conv !== null && !derivedConv(r.conv, r.subject)) whoPut.run(r.conv, r.idx);
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
  const pendingCount = (): number => lastIdx.get()! - statePos.get()!;

  /** The page's hits, each with its later versions (edits and retractions of it in its conversation). */
  const hitsOf = (rows: readonly JournalRow[]): SearchHit[] => {
    const parsed = rows.map((r) => ({ r, f: entryFields(r, log) }));
    const ids = parsed.flatMap(({ r, f }) => (r.type === 'message' && typeof f.id === 'string' ? [f.id] : []));
    const later = new Map<string, LaterVersion[]>();
    if (ids.length > 0) {
      for (const l of laterOfAll.all(JSON.stringify(ids))) {
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
    const f = filters(q);
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

  /** Indexes everything pending in batches, each its own transaction, so writers are never held up long. */
  const catchUp = (): void => {
    while (ctx.write(() => indexSome(INDEX_BATCH)) === INDEX_BATCH);
  };

  return {
    async indexPending(max = INDEX_BATCH) {
      const scanned = ctx.write(() => indexSome(max));
      return { scanned, pending: pendingCount() };
    },
    async search(query, actor, now) {
      const q = checkQuery(query);
      catchUp();
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
      catchUp();
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
        const records = readAhead(rows, log);
        return rows.map((r) => {
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

/**
 * A time bound as given by a person or a URL: milliseconds since the epoch (digits) or an ISO 8601 date or
 * date-time (a date alone is midnight UTC; `to` of a date alone means the end of that day).
 */
export function parseTime(input: string, field: 'from' | 'to'): number {
  const s = input.trim();
  if (/^\d{1,15}$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) throw bad(`${field}: expected an ISO 8601 date or time, or ms since the epoch`);
  const dateOnly = s.length === 10;
  const ms = Date.parse(dateOnly ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(ms)) throw bad(`${field}: not a valid date: ${s}`);
  return dateOnly && field === 'to' ? ms + 86_400_000 - 1 : ms;
}
