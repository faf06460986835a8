/**
 * Byte-bounded pages of message history. A page holds at most `limit` rows and stops at the first row with
 * which its bodies reach `maxBytes`, so it is never empty and never much larger than the budget (by at most
 * one body). The store reads one row beyond the page (the look-ahead) and stops, which keeps `more` exact;
 * store adapters and the engine cut pages with this one rule.
 */
import { utf8Length } from './address.js';

/** Measures a body in UTF-8 bytes; Node's Buffer.byteLength gives the same numbers faster. */
export type Utf8Measure = (s: string) => number;

/** How many of `rows` (in paging direction) form the page; any row after them is the look-ahead. */
export function pageLength(
  rows: readonly { body: string | null }[],
  limit: number,
  maxBytes: number,
  utf8: Utf8Measure = utf8Length,
): number {
  const n = Math.min(rows.length, limit);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const body = rows[i]!.body;
    bytes += body === null ? 0 : utf8(body);
    if (bytes >= maxBytes) return i + 1;
  }
  return n;
}

/**
 * The store side of the rule, for adapters that read rows one at a time in paging direction: returns a
 * function to call after taking each row, false once reading must stop (`limit` rows taken, or the look-ahead
 * row after the one that reached `maxBytes`). Without `maxBytes` only `limit` stops it.
 */
export function pageReader(limit: number, maxBytes: number | undefined, utf8: Utf8Measure = utf8Length): (row: { body: string | null }) => boolean {
  let taken = 0;
  let bytes = 0;
  let reached = false;
  return (row) => {
    taken++;
    if (taken >= limit || reached) return false;
    if (maxBytes !== undefined) {
      bytes += row.body === null ? 0 : utf8(row.body);
      reached = bytes >= maxBytes;
    }
    return true;
  };
}
