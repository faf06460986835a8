/**
 * Byte-bounded pages of message history. A page holds at most `limit` rows and stops at the first row with
 * which its bodies reach `maxBytes`, so it is never empty and never much larger than the budget (by at most
 * one body). The store reads one row beyond the page (the look-ahead) and stops, which keeps `more` exact;
 * store adapters and the engine cut pages with this one rule.
 */
import { utf8Length } from './address.js';

/** Measures a body in UTF-8 bytes; Node's Buffer.byteLength gives the same numbers faster. */
export type Utf8Measure = (s: string) => number;

/** What a page counts of a row: its body and its extension elements (MessageView.xml). */
export interface PageRow {
  body: string | null;
  xml?: string | null;
}

const rowBytes = (row: PageRow, utf8: Utf8Measure): number =>
  (row.body === null ? 0 : utf8(row.body)) + (row.xml === null || row.xml === undefined ? 0 : utf8(row.xml));

/** How many of `rows` (in paging direction) form the page; any row after them is the look-ahead. */
export function pageLength(
  rows: readonly PageRow[],
  limit: number,
  maxBytes: number,
  utf8: Utf8Measure = utf8Length,
): number {
  const n = Math.min(rows.length, limit);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    bytes += rowBytes(rows[i]!, utf8);
    if (bytes >= maxBytes) return i + 1;
  }
  return n;
}

/**
 * The store side of the rule, for adapters that read rows one at a time in paging direction: returns a
 * function to call after taking each row, false once reading must stop (`limit` rows taken, or the look-ahead
 * row after the one that reached `maxBytes`). Without `maxBytes` only `limit` stops it.
 */
export function pageReader(limit: number, maxBytes: number | undefined, utf8: Utf8Measure = utf8Length): (row: PageRow) => boolean {
  let taken = 0;
  let bytes = 0;
  let reached = false;
  return (row) => {
    taken++;
    if (taken >= limit || reached) return false;
    if (maxBytes !== undefined) {
      bytes += rowBytes(row, utf8);
      reached = bytes >= maxBytes;
    }
    return true;
  };
}
