/**
 * `parley archive verify`: recomputes the journal from its stored bytes and checks it against every signed
 * checkpoint, without trusting anything derived (leaf hashes, subtrees, the stored tree). It reports the first
 * problem with a stable code and the entry it concerns:
 *
 * - `missing-entry`: a leaf index has no row (an entry was deleted);
 * - `entry-changed`: an entry's bytes do not hash to its leaf (edited in place; for a log record, whose bytes are
 *   re-created from the log row it names, that row was changed or the entry made to name another);
 * - `record-missing`: the log record an entry names is gone from the log;
 * - `entry-moved`: an entry names another index than its position (entries swapped or reordered);
 * - `expired-without-record`: content is gone but the entry was never expired by retention;
 * - `leaf-missing`: a log record's leaf is the placeholder of a leaf not sealed yet, though the stored tree covers
 *   the entry or retention expired it (both seal it first); entries after the stored tree may still have it, and
 *   their leaves are computed from the log;
 * - `bad-signature`, `checkpoint-mismatch`: a checkpoint's note does not verify, or says other than its row;
 * - `root-mismatch`: the entries up to a checkpoint's size do not give its root (leaf hashes were rewritten too);
 * - `subtree-mismatch`, `tree-mismatch`: a stored subtree or the stored tree differs from the recomputed one
 *   (proofs served from them would be wrong).
 */
import type Database from 'better-sqlite3';
import { recordLeafHex } from './entry.js';
import { readAhead, unsealed, type EntrySource, type LogReader } from './journal.js';
import { CompactRange, leafHash, type CompactRangeState } from './merkle.js';
import { SUBTREE_MIN_LEVEL } from './subtrees.js';
import { NoteError, openNote, parseCheckpoint, parseVerifierKey, type NoteVerifier } from './note.js';

/** Options of a verification. */
export interface VerifyOptions {
  /** The log's origin (the key name). */
  origin: string;
  /** The verifier key to trust; when absent, the one stored with the key pair (the auditor should pass theirs). */
  verifierKey?: string;
  /** Called every PROGRESS_EVERY entries and at the end. */
  onProgress?: (done: number, total: number) => void;
}

/** One problem found. */
export interface VerifyProblem {
  code: string;
  message: string;
  /** The entry's leaf index, where one is concerned. */
  index?: number;
  /** The checkpoint's size, where one is concerned. */
  size?: number;
}

/** What a verification found. */
export interface VerifyReport {
  ok: boolean;
  entries: number;
  expired: number;
  checkpoints: number;
  /** The first problem (null when ok). */
  problem: VerifyProblem | null;
}

const PROGRESS_EVERY = 50_000;
/** Rows read per statement: log records are read between them (a connection runs no statement while one iterates). */
const CHUNK = 10_000;

type Row = EntrySource & { leaf: Buffer };
type Cp = { size: number; root: Buffer; note: string };

/** Verifies the whole journal in `db`, with the log records read by `log` (see the header for the checks). */
export function verifyJournal(db: Database.Database, opts: VerifyOptions, log: LogReader): VerifyReport {
  const total = db.prepare<[], number>('SELECT COALESCE(MAX(idx), 0) FROM archive_journal').pluck().get() ?? 0;
  const checkpoints = db.prepare<[], Cp>('SELECT size, root, note FROM archive_checkpoints ORDER BY size').all();
  const report: VerifyReport = { ok: true, entries: 0, expired: 0, checkpoints: checkpoints.length, problem: null };
  const fail = (p: VerifyProblem): VerifyReport => ({ ...report, ok: false, problem: p });

  let verifier: NoteVerifier | null = null;
  try {
    const key = opts.verifierKey ?? db.prepare<[string], string>('SELECT verifier FROM archive_keys WHERE name = ?').pluck().get(opts.origin);
    if (key !== undefined) verifier = parseVerifierKey(key);
  } catch (e) {
    return fail({ code: 'bad-key', message: `the verifier key is malformed: ${(e as Error).message}` });
  }
  if (verifier === null && checkpoints.length > 0) return fail({ code: 'bad-signature', message: `no verifier key for ${opts.origin}` });
  // Every checkpoint's note, before the entries: a rewritten tree head fails here, whatever the entries say.
  for (const c of checkpoints) {
    try {
      const opened = openNote(c.note, [verifier!]);
      const body = parseCheckpoint(opened.text);
      if (body.origin !== opts.origin || body.size !== BigInt(c.size) || !body.rootHash.equals(c.root)) {
        return fail({ code: 'checkpoint-mismatch', size: c.size, message: `the checkpoint of size ${c.size} says origin ${body.origin}, size ${body.size}` });
      }
    } catch (e) {
      const why = e instanceof NoteError ? e.message : String(e);
      return fail({ code: 'bad-signature', size: c.size, message: `the checkpoint of size ${c.size} does not verify: ${why}` });
    }
  }

  const subtree = db.prepare<[number, number], Buffer>('SELECT hash FROM archive_subtrees WHERE level = ? AND idx = ?').pluck();
  const storedTree = db.prepare<[], string>('SELECT state FROM archive_tree WHERE id = 1').pluck().get();
  const tree = storedTree === undefined ? null : (JSON.parse(storedTree) as CompactRangeState);
  let treeSeen = tree === null || tree.size === 0;
  const computed: Array<[number, number, Buffer]> = [];
  const range = new CompactRange();
  let next = 0;
  let expected = 0;
  // A checkpoint of the empty journal (signed at the first start) has the empty tree's root.
  for (; next < checkpoints.length && checkpoints[next]!.size === 0; next++) {
    if (!range.root().equals(checkpoints[next]!.root)) return fail({ code: 'root-mismatch', size: 0, index: 0, message: 'the checkpoint of the empty journal has another root' });
  }
  const chunk = db.prepare<[number, number], Row>('SELECT idx, seq, entry, leaf, expired_at AS expired FROM archive_journal WHERE idx > ? ORDER BY idx LIMIT ?');
  // Every row with the reader of its chunk's log records, read in one run (readAhead).
  const rows = function* (): Generator<[Row, LogReader]> {
    for (let after = 0; ; ) {
      const page = chunk.all(after, CHUNK);
      const records = readAhead(page, log);
      for (const r of page) yield [r, records];
      if (page.length < CHUNK) return;
      after = page[page.length - 1]!.idx;
    }
  };
  for (const [r, records] of rows()) {
    const index = r.idx - 1;
    if (index !== expected) return fail({ code: 'missing-entry', index: expected, message: `entry ${expected} is missing (the next is ${index})` });
    expected++;
    // A log record's leaf is sealed off the delivery path, and always before the stored tree covers it or
    // retention expires it (journal.ts, UNSEALED_LEAF): a placeholder there was put back.
    const placeholder = r.entry === null && r.seq !== null && unsealed(r.leaf);
    if (placeholder && (r.expired !== null || index < (tree?.size ?? 0))) {
      return fail({ code: 'leaf-missing', index, message: `entry ${index} has no leaf hash, though ${r.expired !== null ? 'it expired' : 'the stored tree covers it'}: its leaf was removed` });
    }
    if (r.entry === null && (r.expired !== null || r.seq === null)) {
      if (r.expired === null) return fail({ code: 'expired-without-record', index, message: `entry ${index} has no content and was never expired` });
      report.expired++;
    } else if (placeholder) {
      // Journaled after the tree was last extended: its leaf is computed here; there is none stored to compare.
      const record = records.logRecord(r.seq!);
      if (record === undefined) return fail({ code: 'record-missing', index, message: `entry ${index} is the log record at position ${r.seq}, which the log no longer holds` });
      r.leaf = Buffer.from(recordLeafHex(index, record), 'hex');
    } else if (r.entry === null) {
      // A log record: its bytes are re-created from the log row at its position.
      const record = records.logRecord(r.seq!);
      if (record === undefined) return fail({ code: 'record-missing', index, message: `entry ${index} is the log record at position ${r.seq}, which the log no longer holds` });
      if (recordLeafHex(index, record) !== r.leaf.toString('hex')) {
        return fail({ code: 'entry-changed', index, message: `entry ${index} does not hash to its leaf: the log record at position ${r.seq} it names was changed, or it was made to name another` });
      }
    } else {
      const leaf = leafHash(r.entry);
      if (!leaf.equals(r.leaf)) return fail({ code: 'entry-changed', index, message: `entry ${index} does not hash to its leaf: its bytes were changed` });
      if (entryIndex(r.entry) !== index) return fail({ code: 'entry-moved', index, message: `entry ${index} names index ${entryIndex(r.entry)}: entries were moved` });
    }
    range.append(r.leaf, (level, i, hash) => {
      if (level >= SUBTREE_MIN_LEVEL) computed.push([level, i, hash]);
    });
    report.entries++;
    if (tree !== null && range.size === tree.size) {
      treeSeen = true;
      if (JSON.stringify(range.toState()) !== JSON.stringify(tree)) return fail({ code: 'tree-mismatch', size: tree.size, message: 'the stored tree differs from the one the entries give' });
    }
    while (next < checkpoints.length && checkpoints[next]!.size === range.size) {
      if (!range.root().equals(checkpoints[next]!.root)) {
        const from = next === 0 ? 0 : checkpoints[next - 1]!.size;
        return fail({ code: 'root-mismatch', size: range.size, index: from, message: `entries ${from}..${range.size - 1} do not give the signed root of size ${range.size}: leaves were rewritten` });
      }
      next++;
    }
    if (report.entries % PROGRESS_EVERY === 0) opts.onProgress?.(report.entries, total);
  }
  opts.onProgress?.(report.entries, total);
  // A checkpoint beyond the entries: trailing entries were deleted.
  if (next < checkpoints.length) {
    const c = checkpoints[next]!;
    return fail({ code: 'missing-entry', index: report.entries, size: c.size, message: `a checkpoint covers ${c.size} entries; the journal has ${report.entries}` });
  }
  // Compared after the scan: the connection runs no other statement while one iterates.
  for (const [level, i, hash] of computed) {
    const stored = subtree.get(level, i);
    if (stored !== undefined && !stored.equals(hash)) return fail({ code: 'subtree-mismatch', index: i * 2 ** level, message: `the stored subtree ${level}/${i} is wrong` });
  }
  if (!treeSeen) return fail({ code: 'tree-mismatch', size: tree!.size, message: `the stored tree covers ${tree!.size} entries; the journal has ${report.entries}` });
  return report;
}

/** The `index` an entry names (null when it is not JSON or names none). */
function entryIndex(bytes: Buffer): number | null {
  try {
    const v = (JSON.parse(bytes.toString('utf8')) as { index?: unknown }).index;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}
