/**
 * Supervision (docs/archive-retention.md): lexicon policies flag matching messages into a review queue, and a
 * sampling share sends a set fraction of all messages there too, for risk-based review of communications
 * (FINRA Rule 3110). Supervision reviewers (roles.ts) review each item (reviewed or escalated, with a comment);
 * every action is a journal entry, so the audit log of supervision is the tamper-evident journal itself.
 *
 * Matching runs in a log consumer on the server's thread, outside the delivery path; the queue's storage runs on
 * the store's thread. Sampling is decided from the entry's leaf hash (uniform, fixed once journaled), so a rerun
 * samples the same messages.
 */
import type Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { LogRecord } from '../../core/types.js';
import type { ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { eventDraft } from './entry.js';
import { normaliseDomain } from './holds.js';
import { ENTRY_COLUMNS, entryBytes, leafSealer, type AppendEntry, type LeafRow, type LogReader } from './journal.js';

/** Lexicon policies and the review queue: the archive's migration 4. */
export const REVIEW_MIGRATION: ModuleMigration = {
  version: 4,
  name: 'supervision: lexicon policies and the review queue',
  sql: `
    CREATE TABLE archive_lexicons (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      name       TEXT NOT NULL,
      scope_kind TEXT NOT NULL CHECK (scope_kind IN ('all', 'domain', 'group')),
      scope      TEXT,                 -- the domain or shared group; NULL for all
      terms      TEXT NOT NULL,        -- LexiconTerms as JSON
      created_by TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE archive_review (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      idx        INTEGER NOT NULL UNIQUE, -- the journal entry (leaf index + 1): one item per message
      seq        INTEGER NOT NULL,
      reasons    TEXT NOT NULL,        -- ReviewReason[] as JSON
      state      TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'reviewed', 'escalated')),
      reviewer   TEXT,
      comment    TEXT,
      decided_at INTEGER,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX archive_review_state ON archive_review (state, id);
  `,
};

/** Longest regular expression a lexicon accepts. */
export const MAX_PATTERN_LENGTH = 200;

/** The terms of a lexicon. */
export interface LexiconTerms {
  /** Whole words, case-insensitive. */
  words: string[];
  /** Word sequences, case-insensitive, any whitespace between the words, on word boundaries. */
  phrases: string[];
  /** Regular expressions (JavaScript syntax), case-insensitive, Unicode. */
  patterns: string[];
}

/** Whom a lexicon supervises: everyone, a domain's participants, or a shared group's members. */
export type LexiconScope = { kind: 'all' } | { kind: 'domain'; domain: string } | { kind: 'group'; group: string };

/** A lexicon policy. */
export interface Lexicon {
  id: number;
  name: string;
  scope: LexiconScope;
  terms: LexiconTerms;
  createdBy: string | null;
  createdAt: number;
}

/** Why an item is in the queue. */
export type ReviewReason = { kind: 'lexicon'; lexicon: number; name: string; term: string } | { kind: 'sample' };

/** A review state. */
export type ReviewState = 'new' | 'reviewed' | 'escalated';

/** An item of the review queue. */
export interface ReviewItem {
  id: number;
  /** The journal entry's leaf index. */
  index: number;
  seq: number;
  reasons: ReviewReason[];
  state: ReviewState;
  reviewer: string | null;
  comment: string | null;
  decidedAt: number | null;
  createdAt: number;
  /** The entry's canonical JSON (null once retention expired it). */
  entry: string | null;
}

/** What the consumer hands the queue for one message. */
export interface ReviewCandidate {
  seq: number;
  reasons: ReviewReason[];
}

/** The supervision part of the archive's storage area. */
export interface ReviewArea {
  /** Adds a lexicon (journaled `archive.review.lexicon.add`); bad-request for a malformed or risky pattern. */
  lexiconAdd(p: { name: string; scope: LexiconScope; terms: Partial<LexiconTerms> }, actor: string, now: number): Promise<Lexicon>;
  lexiconList(): Promise<Lexicon[]>;
  /** Removes a lexicon (journaled); item-not-found for an unknown id. */
  lexiconRemove(id: number, actor: string, now: number): Promise<Lexicon>;
  /**
   * Queues the candidates that have a reason or fall in the sample (`samplePercent` of all messages, chosen
   * from the leaf hash); idempotent: a message already queued is left alone. Returns how many were queued.
   */
  reviewIngest(candidates: ReviewCandidate[], samplePercent: number, now: number): Promise<number>;
  /** The queue, oldest first (journaled `archive.review.list`: reading content is an officer action). */
  reviewList(q: { state?: ReviewState; after?: number; limit?: number }, actor: string, now: number): Promise<ReviewItem[]>;
  /** Marks an item (journaled `archive.review.mark`); item-not-found for an unknown id. */
  reviewMark(id: number, state: 'reviewed' | 'escalated', comment: string, actor: string, now: number): Promise<ReviewItem>;
}

// ---------------------------------------------------------------------------------------------------------
// Terms: validation and matching (pure; used on both threads)

/**
 * Refuses patterns that can take exponential time on a crafted message (ReDoS): nested quantifiers such as
 * `(a+)+` or `(\w*)*`, and backreferences. The check is conservative and syntactic; it runs before compiling.
 */
export function riskyPattern(source: string): string | null {
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not allowed';
  // A stack of groups: whether each contains a quantifier.
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = source[i + 1];
      // `?` repeats at most once, so it cannot nest a blow-up; `*`, `+` and `{n,m}` can.
      const quantified = next === '*' || next === '+' || next === '{';
      if (inner && quantified) return 'nested quantifiers (a repeated group that repeats inside) are not allowed';
      if ((inner || quantified) && stack.length > 0) stack[stack.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{') && stack.length > 0) stack[stack.length - 1] = true;
  }
  return null;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Word boundaries that know letters beyond ASCII (\b does not with the u flag).
const wordRe = (inner: string): RegExp => new RegExp(`(?<![\\p{L}\\p{N}_])${inner}(?![\\p{L}\\p{N}_])`, 'iu');

/** Validates a lexicon's terms; bad-request names the first bad one. */
export function validateTerms(t: Partial<LexiconTerms>): LexiconTerms {
  const terms: LexiconTerms = { words: [], phrases: [], patterns: [] };
  for (const key of ['words', 'phrases', 'patterns'] as const) {
    const list = t[key] ?? [];
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.trim().length === 0)) throw new ParleyError('bad-request', `${key} is a list of non-empty strings`);
    // Phrases are stored with single spaces: they match any whitespace between their words anyway.
    terms[key] = list.map((s) => (key === 'phrases' ? s.trim().split(/\s+/).join(' ') : s.trim()));
  }
  if (terms.words.length + terms.phrases.length + terms.patterns.length === 0) throw new ParleyError('bad-request', 'a lexicon needs at least one word, phrase or pattern');
  if (terms.words.length + terms.phrases.length + terms.patterns.length > 1000) throw new ParleyError('bad-request', 'a lexicon has at most 1000 terms');
  for (const w of terms.words) if (/\s/.test(w)) throw new ParleyError('bad-request', `"${w}" is not one word (add it as a phrase)`);
  for (const p of terms.patterns) {
    if (p.length > MAX_PATTERN_LENGTH) throw new ParleyError('bad-request', `a pattern has at most ${MAX_PATTERN_LENGTH} characters`);
    try {
      new RegExp(p, 'iu');
    } catch (e) {
      throw new ParleyError('bad-request', `the pattern ${JSON.stringify(p)} is not a valid regular expression: ${(e as Error).message}`);
    }
    const risk = riskyPattern(p);
    if (risk !== null) throw new ParleyError('bad-request', `the pattern ${JSON.stringify(p)} is refused: ${risk}`);
  }
  return terms;
}

/** A lexicon compiled for matching. */
export interface CompiledLexicon {
  lexicon: Lexicon;
  tests: Array<{ term: string; re: RegExp }>;
}

/** Compiles a lexicon's terms once (the consumer reuses them for a batch). */
export function compileLexicon(l: Lexicon): CompiledLexicon {
  const tests = [
    ...l.terms.words.map((w) => ({ term: w, re: wordRe(escape(w)) })),
    ...l.terms.phrases.map((p) => ({ term: p, re: wordRe(p.split(/\s+/).map(escape).join('\\s+')) })),
    ...l.terms.patterns.map((p) => ({ term: p, re: new RegExp(p, 'iu') })),
  ];
  return { lexicon: l, tests };
}

/** The reasons `body` matches the lexicons (one per lexicon: its first matching term). */
export function matchLexicons(body: string, lexicons: readonly CompiledLexicon[]): ReviewReason[] {
  const out: ReviewReason[] = [];
  for (const c of lexicons) {
    const hit = c.tests.find((t) => t.re.test(body));
    if (hit) out.push({ kind: 'lexicon', lexicon: c.lexicon.id, name: c.lexicon.name, term: hit.term });
  }
  return out;
}

/** Whether a leaf hash falls in a `percent` sample: its first 32 bits, as a fraction, below the share. */
export function sampled(leaf: Buffer, percent: number): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return leaf.readUInt32BE(0) < (percent / 100) * 0x1_0000_0000;
}

// ---------------------------------------------------------------------------------------------------------
// Storage (the store's thread)

type LexiconRow = { id: number; name: string; scopeKind: 'all' | 'domain' | 'group'; scope: string | null; terms: string; createdBy: string | null; createdAt: number };
type ItemRow = Omit<ReviewItem, 'index' | 'reasons' | 'entry'> & { idx: number; reasons: string; entry: Buffer | null; entrySeq: number | null; expired: number | null };

const toLexicon = (r: LexiconRow): Lexicon => ({
  id: r.id,
  name: r.name,
  scope: r.scopeKind === 'all' ? { kind: 'all' } : r.scopeKind === 'domain' ? { kind: 'domain', domain: r.scope! } : { kind: 'group', group: r.scope! },
  terms: JSON.parse(r.terms) as LexiconTerms,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
});
/** A review item with its entry's text (re-created from the log for a log record; null once expired). */
const toItem = ({ idx, reasons, entry, entrySeq, expired, ...r }: ItemRow, log: LogReader): ReviewItem => {
  const bytes = entryBytes({ idx, seq: entrySeq, entry, expired }, log);
  return { ...r, index: idx - 1, reasons: JSON.parse(reasons) as ReviewReason[], entry: bytes === null ? null : bytes.toString('utf8') };
};

/** Opens the supervision part; `append` journals inside the caller's write transaction. */
export function openReview(db: Database.Database, ctx: SqliteAreaContext, append: AppendEntry): ReviewArea {
  const lexCols = 'id, name, scope_kind AS scopeKind, scope, terms, created_by AS createdBy, created_at AS createdAt';
  const lexAll = db.prepare<[], LexiconRow>(`SELECT ${lexCols} FROM archive_lexicons ORDER BY id`);
  const lexGet = db.prepare<[number], LexiconRow>(`SELECT ${lexCols} FROM archive_lexicons WHERE id = ?`);
  const lexPut = db.prepare<[string, string, string | null, string, string, number]>('INSERT INTO archive_lexicons (name, scope_kind, scope, terms, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const lexDel = db.prepare<[number]>('DELETE FROM archive_lexicons WHERE id = ?');
  const bySeq = db.prepare<[number], LeafRow>(`SELECT ${ENTRY_COLUMNS}, j.leaf FROM archive_journal j WHERE j.seq = ? AND j.type IN ('message', 'edit') ORDER BY j.idx LIMIT 1`);
  const seal = leafSealer(db);
  const itemPut = db.prepare<[number, number, string, number]>('INSERT INTO archive_review (idx, seq, reasons, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (idx) DO NOTHING');
  const itemCols = 'r.id, r.idx, r.seq, r.reasons, r.state, r.reviewer, r.comment, r.decided_at AS decidedAt, r.created_at AS createdAt, j.entry, j.seq AS entrySeq, j.expired_at AS expired';
  const itemGet = db.prepare<[number], ItemRow>(`SELECT ${itemCols} FROM archive_review r JOIN archive_journal j ON j.idx = r.idx WHERE r.id = ?`);
  const itemsAll = db.prepare<[number, number], ItemRow>(`SELECT ${itemCols} FROM archive_review r JOIN archive_journal j ON j.idx = r.idx WHERE r.id > ? ORDER BY r.id LIMIT ?`);
  const itemsIn = db.prepare<[string, number, number], ItemRow>(`SELECT ${itemCols} FROM archive_review r JOIN archive_journal j ON j.idx = r.idx WHERE r.state = ? AND r.id > ? ORDER BY r.id LIMIT ?`);
  const itemMark = db.prepare<[string, string, string, number, number]>('UPDATE archive_review SET state = ?, reviewer = ?, comment = ?, decided_at = ? WHERE id = ?');

  return {
    async lexiconAdd(p, actor, now) {
      const name = typeof p.name === 'string' ? p.name.trim() : '';
      if (name.length === 0 || name.length > 200) throw new ParleyError('bad-request', 'a lexicon needs a name (1-200 characters)');
      const terms = validateTerms(p.terms);
      let scope: LexiconScope;
      if (p.scope.kind === 'all') scope = { kind: 'all' };
      else if (p.scope.kind === 'domain') scope = { kind: 'domain', domain: normaliseDomain(p.scope.domain) };
      else if (p.scope.kind === 'group' && typeof p.scope.group === 'string' && p.scope.group.length > 0) scope = { kind: 'group', group: p.scope.group };
      else throw new ParleyError('bad-request', 'a lexicon\'s scope is all, a domain or a shared group');
      const value = scope.kind === 'all' ? null : scope.kind === 'domain' ? scope.domain : scope.group;
      return ctx.write(() => {
        const id = Number(lexPut.run(name, scope.kind, value, JSON.stringify(terms), actor, now).lastInsertRowid);
        append(eventDraft('archive.review.lexicon.add', now, { actor, subject: String(id), data: { lexicon: id, name, scope, terms } }));
        return toLexicon(lexGet.get(id)!);
      });
    },
    async lexiconList() {
      return lexAll.all().map(toLexicon);
    },
    async lexiconRemove(id, actor, now) {
      return ctx.write(() => {
        const r = Number.isSafeInteger(id) ? lexGet.get(id) : undefined;
        if (!r) throw new ParleyError('item-not-found', `no lexicon ${id}`);
        lexDel.run(id);
        append(eventDraft('archive.review.lexicon.remove', now, { actor, subject: String(id), data: { lexicon: id, name: r.name } }));
        return toLexicon(r);
      });
    },
    async reviewIngest(candidates, samplePercent, now) {
      let queued = 0;
      await ctx.batched(() => {
        for (const c of candidates) {
          const j = bySeq.get(c.seq);
          if (!j) continue;
          // The sample is drawn from the leaf: sealed here when the search index has not reached the entry yet.
          if (samplePercent > 0) seal([j], ctx);
          const reasons = sampled(j.leaf, samplePercent) ? [...c.reasons, { kind: 'sample' } as const] : c.reasons;
          if (reasons.length === 0) continue;
          queued += itemPut.run(j.idx, c.seq, JSON.stringify(reasons), now).changes;
        }
      });
      return queued;
    },
    async reviewList(q, actor, now) {
      const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
      return ctx.write(() => {
        const rows = q.state === undefined ? itemsAll.all(q.after ?? 0, limit) : itemsIn.all(q.state, q.after ?? 0, limit);
        append(eventDraft('archive.review.list', now, { actor, data: { state: q.state ?? null, after: q.after ?? 0, items: rows.map((r) => r.id) } }));
        return rows.map((r) => toItem(r, ctx));
      });
    },
    async reviewMark(id, state, comment, actor, now) {
      const text = typeof comment === 'string' ? comment.trim() : '';
      if (state !== 'reviewed' && state !== 'escalated') throw new ParleyError('bad-request', 'an item is marked reviewed or escalated');
      if (text.length === 0 || text.length > 4000) throw new ParleyError('bad-request', 'a review decision needs a comment (1-4000 characters)');
      return ctx.write(() => {
        const r = Number.isSafeInteger(id) ? itemGet.get(id) : undefined;
        if (!r) throw new ParleyError('item-not-found', `no review item ${id}`);
        itemMark.run(state, actor, text, now, id);
        append(eventDraft('archive.review.mark', now, { actor, subject: String(id), data: { item: id, index: r.idx - 1, state, previous: r.state, comment: text } }));
        return toItem(itemGet.get(id)!, ctx);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The consumer (the server's thread)

/**
 * Turns a batch of log records into review candidates: messages and edits with a body, matched against the
 * lexicons whose scope covers a participant (the sender, and for 1:1 the recipient; a domain scope also
 * matches a room in that domain). Shared groups are looked up once per user per batch.
 */
export async function reviewCandidates(
  records: readonly LogRecord[],
  lexicons: readonly CompiledLexicon[],
  groupNames: (user: string) => Promise<string[]>,
): Promise<ReviewCandidate[]> {
  const groups = new Map<string, Set<string>>();
  const groupsOf = async (user: string): Promise<Set<string>> => {
    let g = groups.get(user);
    if (!g) {
      g = new Set(await groupNames(user));
      groups.set(user, g);
    }
    return g;
  };
  const needGroups = lexicons.some((l) => l.lexicon.scope.kind === 'group');
  const out: ReviewCandidate[] = [];
  for (const r of records) {
    if ((r.kind !== 'message' && r.kind !== 'edit') || r.body === null) continue;
    const people = r.type === 'chat' ? [r.from, r.to] : [r.from];
    const domains = new Set([r.from, r.to].map((a) => a.slice(a.lastIndexOf('@') + 1)));
    const memberOf = new Set<string>();
    if (needGroups) for (const p of people) for (const g of await groupsOf(p)) memberOf.add(g);
    const applicable = lexicons.filter(({ lexicon: { scope } }) =>
      scope.kind === 'all' ? true : scope.kind === 'domain' ? domains.has(scope.domain) : memberOf.has(scope.group),
    );
    out.push({ seq: r.seq, reasons: matchLexicons(r.body, applicable) });
  }
  return out;
}
