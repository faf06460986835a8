/**
 * How the journal's readers find the log records whose bytes its rows do not store: one run for rows journaled
 * together, one by one for rows far apart, never a record for a row that keeps its bytes, nor for an expired one
 * unless who and where are wanted.
 */
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../core/types.js';
import { entryBytes, readAhead, type EntrySource, type LogReader } from './journal.js';
import { recordBytes } from './entry.js';

const record = (seq: number): LogRecord => ({
  seq, id: `m${seq}`, kind: 'message', type: 'chat', conv: 'dm:a@x b@x', from: 'a@x', fromResource: null, to: 'b@x',
  toResource: null, clientId: null, body: `body ${seq}`, ref: null, receipt: null, ts: seq, xml: null,
});

/** A log of records 1..100 that counts its reads. */
function countingLog(): LogReader & { singles: number; runs: Array<[number, number]> } {
  const log = {
    singles: 0,
    runs: [] as Array<[number, number]>,
    logRecord(seq: number) {
      log.singles++;
      return seq >= 1 && seq <= 100 ? record(seq) : undefined;
    },
    logRecords(from: number, to: number) {
      log.runs.push([from, to]);
      const out: LogRecord[] = [];
      for (let s = Math.max(from, 1); s <= Math.min(to, 100); s++) out.push(record(s));
      return out;
    },
  };
  return log;
}

const lean = (idx: number, seq: number): EntrySource => ({ idx, seq, entry: null, expired: null });

describe('readAhead', () => {
  it('reads the records of rows journaled together in one run', () => {
    const log = countingLog();
    // Positions 10..14 with one event between them (no seq) and one gap (a record logged while the archive was off).
    const rows = [lean(1, 10), lean(2, 11), { idx: 3, seq: null, entry: Buffer.from('{}'), expired: null }, lean(4, 13), lean(5, 14)];
    const reader = readAhead(rows, log);
    expect(log.runs).toEqual([[10, 14]]);
    for (const r of rows) expect(entryBytes(r, reader)?.equals(r.entry ?? recordBytes(r.idx - 1, record(r.seq!)))).toBe(true);
    expect(log.singles).toBe(0);
  });

  it('reads rows far apart one by one, and leaves out rows that keep their bytes or expired', () => {
    const log = countingLog();
    const rows = [lean(1, 5), { idx: 2, seq: 40, entry: null, expired: 7 }, { idx: 3, seq: 41, entry: Buffer.from('{}'), expired: null }, lean(4, 90)];
    const reader = readAhead(rows, log);
    expect(log.runs).toEqual([]);
    expect(entryBytes(rows[0]!, reader)?.equals(recordBytes(0, record(5)))).toBe(true);
    expect(entryBytes(rows[1]!, reader)).toBeNull();
    expect(entryBytes(rows[2]!, reader)?.toString()).toBe('{}');
    expect(entryBytes(rows[3]!, reader)?.equals(recordBytes(3, record(90)))).toBe(true);
    expect(log.singles).toBe(2);
  });

  it("reads expired entries' records only for who and where", () => {
    // Two live entries and, between them, three expired ones: their records are content no reader re-creates.
    const rows = [lean(1, 20), ...[21, 22, 23].map((seq, i) => ({ idx: 2 + i, seq, entry: null, expired: 7 })), lean(5, 24)];
    const content = countingLog();
    readAhead(rows, content);
    expect(content.runs).toEqual([]);
    const parties = countingLog();
    const reader = readAhead(rows, parties, 'parties');
    expect(parties.runs).toEqual([[20, 24]]);
    expect(reader.logRecord(22)?.from).toBe('a@x');
    expect(parties.singles).toBe(0);
  });

  it('names the entry whose log record is gone', () => {
    const log = countingLog();
    const rows = [lean(7, 99), lean(8, 101)];
    const reader = readAhead(rows, log);
    expect(entryBytes(rows[0]!, reader)).not.toBeNull();
    expect(() => entryBytes(rows[1]!, reader)).toThrow(/journal entry 7 is the log record at position 101/);
  });
});
