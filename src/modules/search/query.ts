/**
 * The search language of the `search` operation and of XEP-0431 full-text fields: words (all must match),
 * "quoted phrases" (the words in that order) and `word*` (words starting with it). Everything else is text:
 * a term is cut into words exactly where the index's tokenizer (FTS5 unicode61) cuts, and each reaches FTS5
 * only inside a string literal of those words, so no user query can be an FTS5 syntax error or use its
 * operators (OR, NOT, NEAR, column filters). The same words mark the matches in a hit's body (snippet ranges).
 */
import { ParleyError } from '../../core/errors.js';

/** Longest query, in characters. */
export const QUERY_MAX_CHARS = 500;
/** Most terms (words and phrases) in one query. */
export const QUERY_MAX_TERMS = 16;

/** One term: its words (normalised), and whether the last one is a prefix. */
export interface Term {
  words: string[];
  prefix: boolean;
}

/** A parsed query: its terms and the FTS5 MATCH expression that ANDs them. */
export interface ParsedQuery {
  terms: Term[];
  match: string;
}

/**
 * The characters of a word as FTS5's unicode61 tokenizer sees them (categories L*, N*, Co and the combining
 * marks that remove_diacritics folds away): every other character separates words.
 */
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/** A word as the index compares it: diacritics removed (remove_diacritics 2), case folded. */
export function normalise(word: string): string {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words of a text with their places in it (UTF-16 offsets, end exclusive). */
export function wordsOf(text: string): Array<{ word: string; start: number; end: number }> {
  const out: Array<{ word: string; start: number; end: number }> = [];
  for (const m of text.matchAll(WORD)) {
    const word = normalise(m[0]);
    // A run of marks alone (no base letter) folds to nothing, as in the tokenizer.
    if (word !== '') out.push({ word, start: m.index, end: m.index + m[0].length });
  }
  return out;
}

const bad = (message: string): ParleyError => new ParleyError('bad-request', message);

/** Parses a user's query; bad-request when it is empty of words, too long or has too many terms. */
export function parseQuery(input: string): ParsedQuery {
  if (input.length > QUERY_MAX_CHARS) throw bad(`q: at most ${QUERY_MAX_CHARS} characters`);
  const terms: Term[] = [];
  const add = (text: string, prefix: boolean): void => {
    const words = wordsOf(text).map((w) => w.word);
    if (words.length > 0) terms.push({ words, prefix });
  };
  let i = 0;
  while (i < input.length) {
    if (/\s/u.test(input[i]!)) {
      i++;
      continue;
    }
    if (input[i] === '"') {
      // A phrase runs to the closing quote; an unclosed one runs to the end (typing is still going on).
      const close = input.indexOf('"', i + 1);
      const end = close < 0 ? input.length : close;
      const prefix = input[end + 1] === '*';
      add(input.slice(i + 1, end), prefix);
      i = end + (close < 0 ? 0 : 1) + (prefix ? 1 : 0);
      continue;
    }
    let end = i;
    while (end < input.length && !/\s/u.test(input[end]!) && input[end] !== '"') end++;
    const word = input.slice(i, end);
    // `word*`: a prefix; a star anywhere else is a separator like any punctuation.
    add(word, word.endsWith('*'));
    i = end;
  }
  if (terms.length === 0) throw bad('q: give at least one word to search for (letters or digits)');
  if (terms.length > QUERY_MAX_TERMS) throw bad(`q: at most ${QUERY_MAX_TERMS} words and phrases`);
  // Each term is an FTS5 string of plain words (no quote can be in them), so MATCH sees no operator.
  const match = terms.map((t) => `"${t.words.join(' ')}"${t.prefix ? ' *' : ''}`).join(' AND ');
  return { terms, match };
}

/**
 * Where `terms` match in `body`: sorted, merged [start, end) ranges in UTF-16 code units, for clients to mark
 * as text (never as markup). A phrase marks its words from the first one's start to the last one's end.
 */
export function matchRanges(body: string, terms: readonly Term[]): Array<[number, number]> {
  const words = wordsOf(body);
  const found: Array<[number, number]> = [];
  for (const t of terms) {
    const n = t.words.length;
    for (let i = 0; i + n <= words.length; i++) {
      let ok = true;
      for (let k = 0; k < n && ok; k++) {
        const w = words[i + k]!.word;
        const want = t.words[k]!;
        ok = k === n - 1 && t.prefix ? w.startsWith(want) : w === want;
      }
      if (ok) found.push([words[i]!.start, words[i + n - 1]!.end]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}
