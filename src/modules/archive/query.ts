/**
 * What an archive search asks (docs/archive-search.md): the query as callers give it, its validation, the time
 * bounds people type, and the keyword language, compiled to an FTS5 MATCH expression with every term quoted:
 * user text never reaches MATCH unquoted, so FTS5 operators, column filters and `NEAR` typed by a caller are plain
 * words. search.ts runs the checked query against the index.
 */
import { ParleyError } from '../../core/errors.js';

/** Most hits per search page. */
export const SEARCH_LIMIT_MAX = 1000;
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

// ---------------------------------------------------------------------------------------------------------
// The keyword language

type Term = { text: string; phrase: boolean; prefix: boolean };

/** A bad-request error naming what is wrong with the query. */
export const bad = (message: string): ParleyError => new ParleyError('bad-request', message);

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
