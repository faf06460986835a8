/**
 * The search language: terms cut into words where FTS5's unicode61 tokenizer cuts, every term an FTS5 string
 * literal (so no user input is syntax), and the match ranges clients mark, in UTF-16 offsets of the body.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { matchRanges, normalise, parseQuery, wordsOf } from './query.js';

describe('the search language', () => {
  it('folds case and accents as the index does, whether the accent is composed or not', () => {
    expect(normalise('Zürich')).toBe('zurich');
    expect(normalise('e\u0301cole')).toBe('ecole');
    expect(wordsOf("l'été 2026, don't!").map((w) => w.word)).toEqual(['l', 'ete', '2026', 'don', 't']);
  });

  it('compiles words, phrases and prefixes to an AND of string literals, whatever else the user typed', () => {
    expect(parseQuery('budget "Q3 review" rev*').match).toBe('"budget" AND "q3 review" AND "rev" *');
    expect(parseQuery('a OR b NOT c').match).toBe('"a" AND "or" AND "b" AND "not" AND "c"');
    expect(parseQuery('NEAR(x y) col:z -w ^v').match).toBe('"near x" AND "y" AND "col z" AND "w" AND "v"');
    expect(parseQuery('"unclosed phrase').match).toBe('"unclosed phrase"');
    expect(parseQuery('"two words"*').terms).toEqual([{ words: ['two', 'words'], prefix: true }]);
    expect(() => parseQuery('*** "" ()')).toThrow(/at least one word/);
    expect(() => parseQuery(Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '))).toThrow(/at most 16/);
  });

  it('never gives FTS5 an expression it cannot parse', () => {
    const db = new Database(':memory:');
    db.exec("CREATE VIRTUAL TABLE t USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2')");
    db.prepare('INSERT INTO t (body) VALUES (?)').run('Le café du Zürich');
    const find = db.prepare<[string], { body: string }>('SELECT body FROM t WHERE t MATCH ?');
    for (const q of ['café', 'ZURICH*', '"du zürich"', 'AND', 'OR OR', '*a', 'a**', 'x:y', '{body}', 'NEAR/2', '"a" "b', 'a\u0000b', '😀 cafe']) {
      expect(() => find.all(parseQuery(q).match), q).not.toThrow();
    }
    // Input without a word is refused before the index sees it, as bad-request.
    for (const q of ['"', '(((', '😀', '*']) expect(() => parseQuery(q), q).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(find.all(parseQuery('cafe zur*').match)).toHaveLength(1);
  });

  it('marks every match, merged and sorted, phrases from their first word to their last', () => {
    const body = 'Budget: the café budget and the CAFE\u0301 budgets';
    const ranges = matchRanges(body, parseQuery('budget cafe').terms);
    expect(ranges.map(([s, e]) => body.slice(s, e))).toEqual(['Budget', 'café', 'budget', 'CAFE\u0301']);
    expect(matchRanges(body, parseQuery('budget*').terms).map(([s, e]) => body.slice(s, e))).toEqual(['Budget', 'budget', 'budgets']);
    expect(matchRanges(body, parseQuery('"the café budget"').terms).map(([s, e]) => body.slice(s, e))).toEqual(['the café budget']);
    // Offsets count UTF-16 code units, as JavaScript strings do (an emoji is two).
    expect(matchRanges('😀 zurich', parseQuery('zurich').terms)).toEqual([[3, 9]]);
  });
});
