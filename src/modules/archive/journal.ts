/**
 * The archive's journal on SQLite, opened on the store's thread beside the core's tables. Messages are journaled
 * inside the transaction that appends them to the log (AppendParticipant), so a message exists if and only if
 * its journal entry does; other entries (membership, accounts, the officers' own actions) share the store's
 * group commit. A log record's bytes are not stored a second time: its row keeps the record's type, position and
 * time, and readers re-create the bytes, and who and where (withParties), from the log, which is append-only
 * (AreaContext.logRecord). Its leaf hash is computed off the delivery path (sealing, below): by the search index
 * as it takes the entry in, and at the latest when a checkpoint's tree is extended over it; `parley archive
 * verify` checks the bytes against the leaf.
 * The tree (RFC 9162 §2.1) is extended from the stored leaf hashes when a checkpoint is signed, and complete
 * subtrees from level SUBTREE_MIN_LEVEL up are kept, so a proof reads O(log n) rows. The message's transaction
 * updates one index besides the table's own (by log position, for review); entry times are found through the hours
 * the search part keeps off the delivery path (migration 6 dropped the index on them; search.ts, archive_hours).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { LogRecord } from '../../core/types.js';
import type { AreaContext, ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { storageError } from '../../storage/sqlite/db.js';
import { recordBytes, recordLeafHex, sealEntry, type EntryDraft } from './entry.js';
import { CompactRange, consistencyProof, inclusionProof, leafHash, SubtreeHasher, type CompactRangeState, type SubtreeCache } from './merkle.js';
import { checkpointBody, generateSignerKey, parseSignerKey, signNote } from './note.js';
import { SUBTREE_MIN_LEVEL } from './subtrees.js';
import { verifyJournal, type VerifyOptions, type VerifyReport } from './verify.js';


/** The journal's tables: migration 1 of the archive's storage. */
export const JOURNAL_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'journal, tree, checkpoints, signing key, officers',
    sql: `
      CREATE TABLE archive_journal (
        idx        INTEGER PRIMARY KEY,   -- leaf index + 1 (rowid: dense, never reused)
        type       TEXT NOT NULL,
        seq        INTEGER,               -- the log record's position; NULL for other entries
        ts         INTEGER NOT NULL,
        conv       TEXT,
        actor      TEXT,
        subject    TEXT,
        entry      BLOB,                  -- the entry's canonical bytes; NULL once retention expired it, and
                                          -- NULL for a log record (its bytes are re-created from the log row)
        leaf       BLOB NOT NULL,         -- SHA-256(0x00 || entry), kept forever
        expired_at INTEGER
      );
      -- Only what must be found at once is indexed in the message's transaction: who took part is indexed by
      -- the search part off the delivery path (archive_who), which halved the journal's cost per message.
      CREATE INDEX archive_journal_ts ON archive_journal (ts);
      CREATE INDEX archive_journal_seq ON archive_journal (seq) WHERE seq IS NOT NULL;
      CREATE TABLE archive_subtrees (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) WITHOUT ROWID;
      CREATE TABLE archive_tree (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL               -- CompactRangeState as JSON
      );
      CREATE TABLE archive_checkpoints (
        size      INTEGER PRIMARY KEY,
        root      BLOB NOT NULL,
        note      TEXT NOT NULL,
        signed_at INTEGER NOT NULL
      );
      CREATE TABLE archive_keys (
        name       TEXT PRIMARY KEY,
        signer     TEXT NOT NULL,
        verifier   TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE archive_officers (
        address  TEXT PRIMARY KEY,
        added_at INTEGER NOT NULL,
        added_by TEXT
      );
    `,
  },
];

/** A signed checkpoint. */
export interface SignedCheckpoint {
  size: number;
  /** Root hash, base64. */
  root: string;
  /** The signed note, verbatim (C2SP signed-note of a tlog-checkpoint body). */
  note: string;
  signedAt: number;
}

/** One stored entry. */
export interface StoredEntry {
  index: number;
  type: string;
  ts: number;
  /** The canonical bytes as UTF-8 text (null once expired). */
  entry: string | null;
  /** Leaf hash, hex. */
  leaf: string;
}

/** The journal's part of the archive's storage area: every method runs on the store's thread. */
export interface JournalArea {
  /** Journals entries (one shared commit per turn); resolves with their leaf indices once durable. */
  journal(drafts: EntryDraft[]): Promise<number[]>;
  /** Number of entries. */
  size(): Promise<number>;
  /** The entry at a leaf index, or null. */
  entry(index: number): Promise<StoredEntry | null>;
  /**
   * Extends the tree to every entry journaled so far ('all', the default) and signs a checkpoint of it with the
   * key `origin` names (generated on first use), unless the latest checkpoint already has this size. Returns the
   * latest. 'sealed' (the periodic checkpoint) extends it over the entries whose leaves are sealed, and seals at
   * most TREE_CHUNK more itself.
   */
  checkpoint(origin: string, now: number, scope?: 'all' | 'sealed'): Promise<SignedCheckpoint>;
  /** The latest checkpoint (null before the first). */
  latestCheckpoint(): Promise<SignedCheckpoint | null>;
  /** The checkpoint of exactly `size` entries, or null. */
  checkpointAt(size: number): Promise<SignedCheckpoint | null>;
  /** The verifier key of `origin` (`<name>+<hex id>+<base64 key>`), generating the key pair on first use. */
  verifierKey(origin: string, now: number): Promise<string>;
  /** RFC 9162 §2.1.3 inclusion proof of leaf `index` in the tree of `size` entries (base64 hashes). */
  inclusionProof(index: number, size: number): Promise<string[]>;
  /** RFC 9162 §2.1.4 consistency proof between tree sizes m and n (base64 hashes). */
  consistencyProof(m: number, n: number): Promise<string[]>;
  /** Recomputes everything and names the first bad entry (in-process only: the callback does not cross threads). */
  verify(opts: VerifyOptions): Promise<VerifyReport>;
}

/** The columns of a journal row that say where its entry's bytes are (SELECT … ENTRY_COLUMNS). */
export interface EntrySource {
  idx: number;
  seq: number | null;
  entry: Buffer | null;
  expired: number | null;
}

/** The columns of EntrySource, for journal alias `j`. */
export const ENTRY_COLUMNS = 'j.idx, j.seq, j.entry, j.expired_at AS expired';

/** Reads log records by position (AreaContext). */
export type LogReader = Pick<AreaContext, 'logRecord' | 'logRecords'>;

/**
 * `log` for the log records that `rows` stand for: read in one run when their positions lie close together (a
 * run of the journal's rows does: they were journaled in log order), else one by one. `want`: 'content' reads the
 * records of entries not expired (their bytes); 'parties' those of expired entries too, whose who and where are
 * still read from the log (withParties).
 */
export function readAhead(rows: readonly EntrySource[], log: LogReader, want: 'content' | 'parties' = 'content'): LogReader {
  let from = Number.POSITIVE_INFINITY;
  let to = 0;
  let n = 0;
  for (const r of rows) {
    if (r.entry !== null || r.seq === null || (r.expired !== null && want === 'content')) continue;
    from = Math.min(from, r.seq);
    to = Math.max(to, r.seq);
    n++;
  }
  // Records logged while the archive was off lie between them too: read a run only when it is mostly theirs.
  if (n < 2 || to - from + 1 > 2 * n) return log;
  const read = new Map<number, LogRecord>();
  for (const record of log.logRecords(from, to)) read.set(record.seq, record);
  return { logRecord: (seq) => (seq >= from && seq <= to ? read.get(seq) : log.logRecord(seq)), logRecords: log.logRecords };
}

/**
 * The leaf a log record's row holds until it is sealed: 32 zero bytes, the size of the hash that later overwrites
 * it in place. Computing the entry's canonical bytes and their hash took most of the archive's instructions
 * on the message's path (docs/PERFORMANCE.md, "Leaves sealed off the delivery path"); a leaf fixed
 * then protects nothing a leaf fixed later does not, since until a signed checkpoint covers an entry whoever can
 * write the database can rewrite its leaf as easily as its log row. No SHA-256 output is all zeros in practice.
 */
export const UNSEALED_LEAF = Buffer.alloc(32);

/** Whether a row's leaf is still the placeholder (UNSEALED_LEAF). */
export const unsealed = (leaf: Buffer): boolean => leaf.equals(UNSEALED_LEAF);

/** A journal row with its leaf. */
export type LeafRow = EntrySource & { leaf: Buffer };

/**
 * Returns `seal(rows, log)`: computes the leaf of every log record's row among `rows` that has none yet, from its
 * log record (read by `log`, best a read-ahead of those rows), stores it and sets it on the row. Returns how many
 * it sealed. Runs inside a write transaction.
 */
export function leafSealer(db: Database.Database): (rows: readonly LeafRow[], log: LogReader) => number {
  const put = db.prepare<[Buffer, number]>('UPDATE archive_journal SET leaf = ? WHERE idx = ?');
  return (rows, log) => {
    let n = 0;
    for (const r of rows) {
      if (r.seq === null || r.entry !== null || !unsealed(r.leaf)) continue;
      // Decoded once, for the row and for the caller.
      r.leaf = Buffer.from(recordLeafHex(r.idx - 1, logRecordOf(r, r.seq, log)), 'hex');
      put.run(r.leaf, r.idx);
      n++;
    }
    return n;
  };
}

/** The log record at a journal row's position; throws when the log no longer holds it (verify names that entry). */
function logRecordOf(r: EntrySource, seq: number, log: LogReader): Readonly<LogRecord> {
  const record = log.logRecord(seq);
  if (record === undefined || record.seq !== seq) {
    throw new ParleyError('internal-server-error', `journal entry ${r.idx - 1} is the log record at position ${seq}, which the log no longer holds: run parley archive verify`);
  }
  return record;
}

/**
 * The log record a journal row stands for when its bytes are not stored (a log record not expired), else null.
 * Throws when the log no longer holds it: verify names that entry.
 */
export function journaledRecord(r: EntrySource, log: LogReader): Readonly<LogRecord> | null {
  if (r.entry !== null || r.expired !== null || r.seq === null) return null;
  return logRecordOf(r, r.seq, log);
}

/** The columns of a journal row that say who and where: the conversation, who acted, whom it concerns. */
export interface Parties {
  conv: string | null;
  actor: string | null;
  subject: string | null;
}

/**
 * Fills in who and where for the rows of log records, which keep none of it (the record's log row does, for good,
 * expired or not: journal.ts writes only a record's type, position, time and leaf in the message's transaction).
 * Rows written before that, and events, keep their own. Changes `rows` in place and returns them; `log` should
 * read them in one run (readAhead, 'parties').
 */
export function withParties<R extends EntrySource & Parties>(rows: R[], log: LogReader): R[] {
  for (const r of rows) {
    if (r.seq === null || r.entry !== null || r.actor !== null) continue;
    const record = logRecordOf(r, r.seq, log);
    r.conv = record.conv;
    r.actor = record.from;
    r.subject = record.to;
  }
  return rows;
}

/** The text members of an entry its readers look into: from its log record, or its stored bytes; null once expired. */
export function entryFields(r: EntrySource, log: LogReader): { id: string | null; ref: string | null; body: string | null } {
  const record = journaledRecord(r, log);
  if (record !== null) return { id: record.id, ref: record.ref, body: record.body };
  const o = r.entry === null ? {} : (JSON.parse(r.entry.toString('utf8')) as Record<string, unknown>);
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return { id: text(o.id), ref: text(o.ref), body: text(o.body) };
}

/** An entry's canonical bytes: stored, or re-created from its log record; null once retention expired it. */
export function entryBytes(r: EntrySource, log: LogReader): Buffer | null {
  if (r.entry !== null) return r.entry;
  const record = journaledRecord(r, log);
  return record === null ? null : recordBytes(r.idx - 1, record);
}

type Row = EntrySource & { type: string; ts: number; leaf: Buffer };

/**
 * Writes one entry at the next leaf index and returns the index; the caller holds a write transaction (the
 * other parts of the archive journal their own actions in the transaction that performs them).
 */
export type AppendEntry = (d: EntryDraft) => number;

/** Opens the journal on a database whose migrations ran. */
export function openJournal(db: Database.Database, ctx: SqliteAreaContext): { area: JournalArea; append: AppendEntry } {
  const insert = db.prepare<[string, number | null, number, string | null, string | null, string | null, Buffer, Buffer]>(
    'INSERT INTO archive_journal (type, seq, ts, conv, actor, subject, entry, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  // A log record's row: its type, position and time, and the placeholder of its leaf (UNSEALED_LEAF); no bytes,
  // and not who and where (withParties), which its log row keeps.
  const insertRecord = db.prepare<[string, number, number]>('INSERT INTO archive_journal (type, seq, ts, leaf) VALUES (?, ?, ?, zeroblob(32))');
  const count = db.prepare<[], number>('SELECT COALESCE(MAX(idx), 0) FROM archive_journal').pluck();
  const leafAt = db.prepare<[number], Buffer>('SELECT leaf FROM archive_journal WHERE idx = ?').pluck();
  const rowAt = db.prepare<[number], Row>(`SELECT ${ENTRY_COLUMNS}, j.type, j.ts, j.leaf FROM archive_journal j WHERE j.idx = ?`);
  const leavesAfter = db.prepare<[number, number], LeafRow>(`SELECT ${ENTRY_COLUMNS}, j.leaf FROM archive_journal j WHERE j.idx > ? ORDER BY j.idx LIMIT ?`);
  const seal = leafSealer(db);
  const subtreeGet = db.prepare<[number, number], Buffer>('SELECT hash FROM archive_subtrees WHERE level = ? AND idx = ?').pluck();
  const subtreePut = db.prepare<[number, number, Buffer]>('INSERT OR REPLACE INTO archive_subtrees (level, idx, hash) VALUES (?, ?, ?)');
  const treeGet = db.prepare<[], string>('SELECT state FROM archive_tree WHERE id = 1').pluck();
  const treePut = db.prepare<[string]>('INSERT INTO archive_tree (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state');
  const cpLatest = db.prepare<[], CpRow>('SELECT size, root, note, signed_at AS signedAt FROM archive_checkpoints ORDER BY size DESC LIMIT 1');
  const cpAt = db.prepare<[number], CpRow>('SELECT size, root, note, signed_at AS signedAt FROM archive_checkpoints WHERE size = ?');
  const cpPut = db.prepare<[number, Buffer, string, number]>('INSERT INTO archive_checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)');
  const keyGet = db.prepare<[string], { signer: string; verifier: string }>('SELECT signer, verifier FROM archive_keys WHERE name = ?');
  const keyPut = db.prepare<[string, string, string, number]>('INSERT INTO archive_keys (name, signer, verifier, created_at) VALUES (?, ?, ?, ?)');

  /** Writes `d` at leaf index `index`, which must be the next one; runs inside a write transaction. */
  const write = (index: number, d: EntryDraft): number => {
    const { bytes, leaf } = sealEntry(index, d);
    insert.run(d.type, d.seq, d.ts, d.conv, d.actor, d.subject, bytes, leaf);
    return index;
  };
  const append = (d: EntryDraft): number => write(count.get()!, d);

  // Journaled with the log records, inside their transaction: refusing here refuses the message. Each row takes
  // the next index (the table's rowid), so none is read here.
  ctx.onAppend((records) => {
    try {
      for (const r of records) {
        // The entry's bytes are the log row's, and so are who and where: the row keeps what finds it (type,
        // position, time), and its leaf is sealed off the delivery path. Storing the bytes again cost about a
        // third of the journal's time per message, who and where made every commit write more pages, and computing
        // the bytes and their hash was most of what was left (docs/PERFORMANCE.md).
        insertRecord.run(r.kind, r.seq, r.ts);
      }
    } catch (e) {
      // A full or failing disk is the store's stable refusal (reason storage-full); anything else a clear
      // refusal of the journal's own, with the store's error kept in the message for the operator.
      const mapped = storageError(e);
      if (mapped !== e) throw mapped;
      throw new ParleyError('service-unavailable', `the compliance journal could not record the message, so it was not sent (${(e as Error).message})`);
    }
  });

  // Read-only: proofs never write (they run in read transactions); extendChunk stores the subtrees.
  const cache: SubtreeCache = {
    get: (level, index) => (level >= SUBTREE_MIN_LEVEL ? subtreeGet.get(level, index) : undefined),
    set: () => undefined,
  };
  const hasher = new SubtreeHasher((i) => {
    const leaf = leafAt.get(i + 1);
    if (!leaf) throw new RangeError(`no entry ${i}`);
    return leaf;
  }, cache);

  /**
   * Extends the stored tree by one chunk (up to TREE_CHUNK entries), sealing at most `sealMax` of the leaves the
   * search index has not sealed yet (it stops before the next); returns it and how many entries it added and
   * sealed (fewer than a chunk added: it reached the end, or stopped at an unsealed leaf). Runs inside a write
   * transaction.
   */
  const extendChunk = (sealMax: number): { range: CompactRange; added: number; sealed: number } => {
    const stored = treeGet.get();
    const range = stored === undefined ? new CompactRange() : CompactRange.fromState(JSON.parse(stored) as CompactRangeState);
    let rows = leavesAfter.all(range.size, TREE_CHUNK);
    // Only the unsealed rows' log records are read (one run when they lie together, as the newest do).
    let todo = rows.filter((r) => r.seq !== null && r.entry === null && unsealed(r.leaf));
    if (todo.length > sealMax) {
      rows = rows.slice(0, rows.indexOf(todo[sealMax]!));
      todo = todo.slice(0, sealMax);
    }
    if (todo.length > 0) seal(todo, readAhead(todo, ctx, 'parties'));
    const done: Array<[number, number, Buffer]> = [];
    for (const r of rows) {
      range.append(r.leaf, (level, index, hash) => {
        if (level >= SUBTREE_MIN_LEVEL) done.push([level, index, hash]);
      });
    }
    for (const [level, index, hash] of done) subtreePut.run(level, index, hash);
    treePut.run(JSON.stringify(range.toState()));
    return { range, added: rows.length, sealed: todo.length };
  };

  const signer = (origin: string, now: number): { signer: string; verifier: string } => {
    let k = keyGet.get(origin);
    if (!k) {
      const g = generateSignerKey(origin);
      keyPut.run(origin, g.signerKey, g.verifierKey, now);
      k = { signer: g.signerKey, verifier: g.verifierKey };
    }
    return k;
  };

  /** Proofs are for trees a checkpoint covered (whose subtrees are stored), so each reads O(log n) rows. */
  const proofSize = (size: number): void => {
    const stored = treeGet.get();
    const n = stored === undefined ? 0 : (JSON.parse(stored) as CompactRangeState).size;
    if (!Number.isSafeInteger(size) || size < 0 || size > n) {
      throw new ParleyError('item-not-found', `no checkpoint covers ${size} entries (the latest covers ${n})`);
    }
  };

  const area: JournalArea = {
    async journal(drafts) {
      const out: number[] = [];
      await ctx.batched(() => {
        for (const d of drafts) out.push(append(d));
      });
      return out;
    },
    async size() {
      return count.get()!;
    },
    async entry(index) {
      const r = rowAt.get(index + 1);
      if (!r) return null;
      const bytes = entryBytes(r, ctx);
      // A leaf not sealed yet is the hash of the bytes (nothing is stored by a read).
      const leaf = bytes !== null && unsealed(r.leaf) ? leafHash(bytes) : r.leaf;
      return { index, type: r.type, ts: r.ts, entry: bytes === null ? null : bytes.toString('utf8'), leaf: leaf.toString('hex') };
    },
    async checkpoint(origin, now, scope = 'all') {
      // A tree far behind (entries journaled faster than the search index seals them) is extended a chunk per
      // transaction, so messages are stored between them; the last chunk and the signature share one. A periodic
      // checkpoint ('sealed') seals at most one chunk itself and covers what is sealed: during a burst the index
      // waits, and sealing its backlog would take the store's thread it left to the messages.
      let sealMax = scope === 'all' ? Number.POSITIVE_INFINITY : TREE_CHUNK;
      for (;;) {
        const signed = ctx.write(() => {
          const { range, added, sealed } = extendChunk(sealMax);
          sealMax -= sealed;
          if (added === TREE_CHUNK) return null;
          const latest = cpLatest.get();
          if (latest && latest.size === range.size) return cp(latest);
          const root = range.root();
          const key = parseSignerKey(signer(origin, now).signer);
          const note = signNote(checkpointBody(origin, range.size, root), [key]);
          cpPut.run(range.size, root, note, now);
          return { size: range.size, root: root.toString('base64'), note, signedAt: now };
        });
        if (signed !== null) return signed;
        await nextTurn();
      }
    },
    async latestCheckpoint() {
      const r = cpLatest.get();
      return r ? cp(r) : null;
    },
    async checkpointAt(size) {
      const r = cpAt.get(size);
      return r ? cp(r) : null;
    },
    async verifierKey(origin, now) {
      return ctx.write(() => signer(origin, now).verifier);
    },
    async inclusionProof(index, size) {
      proofSize(size);
      return ctx.read(() => badRange(() => inclusionProof(index, size, hasher).map((h) => h.toString('base64'))));
    },
    async consistencyProof(m, n) {
      proofSize(n);
      return ctx.read(() => badRange(() => consistencyProof(m, n, hasher).map((h) => h.toString('base64'))));
    },
    async verify(opts) {
      return verifyJournal(db, opts, ctx);
    },
  };
  return { area, append };
}

/**
 * Journal rows read per statement when the tree is extended, and most entries one checkpoint transaction seals:
 * about 45 ms of the store's thread when none is sealed yet (11 µs an entry with its log row read and the tree
 * extended, bench/archive-search.ts), no longer than one of the search index's batches holds it.
 */
const TREE_CHUNK = 4_000;

/** A proof asked for positions outside the tree is the caller's mistake: bad-request with the reason. */
function badRange<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) throw new ParleyError('bad-request', e.message);
    throw e;
  }
}

type CpRow = { size: number; root: Buffer; note: string; signedAt: number };
const cp = (r: CpRow): SignedCheckpoint => ({ size: r.size, root: r.root.toString('base64'), note: r.note, signedAt: r.signedAt });
