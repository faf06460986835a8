import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pageLength, pageReader } from './page.js';

const rows = (...sizes: Array<number | null>) => sizes.map((n) => ({ body: n === null ? null : 'x'.repeat(n) }));

describe('byte-bounded pages', () => {
  it('a page ends at the limit or at the first row with which the bodies reach the budget', () => {
    expect(pageLength(rows(10, 20, 30), 10, 25)).toBe(2);
    expect(pageLength(rows(10, 20, 30), 10, 30)).toBe(2);
    expect(pageLength(rows(10, 20, 30), 10, 31)).toBe(3);
    expect(pageLength(rows(10, 20, 30), 2, 1000)).toBe(2);
    // Never empty: a first row over the budget is a page by itself. A retracted body weighs nothing.
    expect(pageLength(rows(500, 1), 10, 1)).toBe(1);
    expect(pageLength(rows(null, null, 5), 10, 5)).toBe(3);
    expect(pageLength([], 10, 5)).toBe(0);
    // UTF-8 bytes, not characters.
    expect(pageLength([{ body: 'é'.repeat(5) }, { body: 'x' }], 10, 10)).toBe(1);
  });

  it("the store's reader takes the page and exactly one row more, so `more` is exact", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.nat(50), { nil: null }), { maxLength: 30 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 200 }), (sizes, limit, maxBytes) => {
        const all = rows(...sizes);
        // The engine asks for limit + 1 rows; the store reads until its reader says stop.
        const goOn = pageReader(limit + 1, maxBytes);
        const taken: typeof all = [];
        for (const r of all) {
          taken.push(r);
          if (!goOn(r)) break;
        }
        const n = pageLength(taken, limit, maxBytes);
        // The page is what the rule gives over everything, and there is more exactly when rows follow it.
        expect(n).toBe(pageLength(all, limit, maxBytes));
        expect(taken.length > n).toBe(all.length > n);
        expect(taken.length - n).toBeLessThanOrEqual(1);
      }),
    );
  });
});
