/**
 * eDiscovery export bundles (docs/archive-format.md "Export bundles", docs/archive-search.md): the entries a
 * query selects, as
 * - `records.jsonl`: each entry's canonical bytes exactly as journaled, one per line;
 * - `manifest.json`: origin, the checkpoint signed for this export (verbatim), the verifier key, and per record
 *   its line, leaf hash and RFC 9162 inclusion proof, so `tools/verify-bundle.mjs` checks it offline;
 * - `messages.jsonl` and `messages.csv` (RFC 4180): readable views;
 * - `eml/`: one RFC 5322 message per conversation per day, threaded (eml.ts).
 * Records are fetched with their proofs in chunks, each in one read transaction; the checkpoint is fixed
 * before the first, so every proof is against the same tree.
 */
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ParleyError } from '../../core/errors.js';
import { ConversationThread, idHost, utcDay, type TranscriptItem } from './eml.js';
import type { SearchQuery } from './query.js';
import type { ExportRecord, SearchArea, SearchHit } from './search.js';
import { summarizeExtensions } from './extensions.js';
import { FileBatchWriter } from './file-writer.js';

/** Records fetched (with proofs) per call to the store. */
const CHUNK = 5000;
/**
 * Transcript text held in memory before it is spooled to disk, per export. A conversation-day's EML can only
 * be written once the whole export was read (entries of one day may come in any order of conversations), so
 * the transcripts wait in spool files beside the bundle rather than in memory.
 */
const SPOOL_BYTES = 8 * 1024 * 1024;

/** What writeBundle needs of the archive's storage area. */
export type ExportSource = Pick<SearchArea, 'exportPlan' | 'exportRecords'>;

/** What an export wrote. */
export interface ExportSummary {
  /** Entries the query selected (expired ones included). */
  entries: number;
  /** Records with canonical bytes and proofs (entries not expired). */
  records: number;
  /** Size of the checkpoint the proofs lead to. */
  size: number;
  /** Files written, relative to the bundle directory. */
  files: string[];
  /** Leaf index of the export's audit entry. */
  audit: number;
}

/** Options of writeBundle. */
export interface BundleOptions {
  dir: string;
  actor: string;
  origin: string;
  now: number;
  /** Called after each chunk with the entries done and the total. */
  progress?: (done: number, total: number) => void;
  /** Transcript bytes held in memory before spooling to disk (default SPOOL_BYTES). */
  spoolBytes?: number;
}

/** The fields of an entry object the readable views show: a search hit's, without the later versions. */
type EntryView = Omit<SearchHit, 'later'> & {
  /** The message's extension elements (journal member `xml`), null for none or once expired. */
  xml: string | null;
};

// links and xml last, so readers of the earlier columns are undisturbed.
const CSV_COLUMNS = ['index', 'time', 'type', 'conversation', 'from', 'to', 'body', 'ref', 'id', 'links', 'xml'];

/**
 * One CSV field (RFC 4180 §2): quoted when it holds a comma, quote, CR or LF, inner quotes doubled. A text
 * cell starting with =, +, -, @ (or a tab or CR) gets a leading apostrophe so spreadsheets do not run it as a
 * formula (CSV injection).
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV record, CRLF-terminated (RFC 4180 §2 rule 1). */
export function csvRow(values: ReadonlyArray<string | number | null>): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The readable fields of an exported entry (the journal's columns only, once expired). */
function viewOf(r: ExportRecord): EntryView {
  const cols = { index: r.index, type: r.type, ts: r.ts, conv: r.conv, actor: r.actor, subject: r.subject };
  if (r.entry === null) return { ...cols, id: null, ref: null, body: null, xml: null };
  const o = JSON.parse(r.entry) as Record<string, unknown>;
  return {
    ...cols,
    id: strOrNull(o['id']),
    ref: strOrNull(o['ref']),
    body: strOrNull(o['body']),
    xml: strOrNull(o['xml']),
  };
}

/**
 * Writes the bundle for `query` into `opts.dir` (created if missing); journals the export first. A file it cannot
 * write (a full disk, a directory it may not write to) fails it with service-unavailable, details `reason:
 * "export-files"` and the file system's code as `errno`.
 */
export async function writeBundle(area: ExportSource, query: SearchQuery, opts: BundleOptions): Promise<ExportSummary> {
  try {
    return await bundle(area, query, opts);
  } catch (e) {
    throw fileError(e);
  }
}

/** A file system's error (ENOSPC, EACCES...) as the stable error the export's callers get; others as they are. */
function fileError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  // Errno codes only: Parley's own codes are lower case, SQLite's start with SQLITE_.
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return e;
  return new ParleyError('service-unavailable', `the export could not write its files (${code}), so the bundle is incomplete`, {
    reason: 'export-files',
    errno: code,
  });
}

async function bundle(area: ExportSource, query: SearchQuery, opts: BundleOptions): Promise<ExportSummary> {
  const plan = await area.exportPlan(query, opts.actor, opts.now, opts.origin);
  const size = plan.checkpoint.size;
  await mkdir(join(opts.dir, 'eml'), { recursive: true });
  const handles: FileHandle[] = [];
  const openFile = async (name: string): Promise<FileHandle> => {
    const h = await open(join(opts.dir, name), 'w');
    handles.push(h);
    return h;
  };
  const spool = new TranscriptSpool(join(opts.dir, '.spool'), opts.spoolBytes ?? SPOOL_BYTES);
  let records = 0;
  try {
    const recordsFile = await openFile('records.jsonl');
    const jsonl = await openFile('messages.jsonl');
    const csv = await openFile('messages.csv');
    const manifest = await openFile('manifest.json');
    // The manifest is written as it goes (one record per line) so a large export is never one huge string.
    const head = { origin: opts.origin, checkpoint: plan.checkpoint.note, verifierKey: plan.verifierKey };
    await manifest.write(`${JSON.stringify(head).slice(0, -1)},"records":[\n`);
    await csv.write(csvRow(CSV_COLUMNS));
    for (let start = 0; start < plan.indices.length; start += CHUNK) {
      const chunk = await area.exportRecords(plan.indices.slice(start, start + CHUNK), size);
      let recordText = '';
      let manifestText = '';
      let jsonlText = '';
      let csvText = '';
      for (const r of chunk) {
        const v = viewOf(r);
        if (r.entry !== null) {
          records++;
          recordText += `${r.entry}\n`;
          const m = { index: r.index, file: 'records.jsonl', line: records, leafHash: r.leaf, inclusionProof: r.proof };
          manifestText += `${records > 1 ? ',\n' : ''}${JSON.stringify(m)}`;
        }
        const time = new Date(v.ts).toISOString();
        // Extension elements: the XML as journaled, plus the links it shares and a note per element (extensions.ts).
        const ext = summarizeExtensions(v.xml);
        const line: Record<string, unknown> = { index: v.index, time, type: v.type, conv: v.conv, from: v.actor, to: v.subject, id: v.id, ref: v.ref, body: v.body, expired: r.entry === null };
        if (ext !== null) Object.assign(line, { xml: v.xml, links: ext.links, extensions: ext.notes });
        jsonlText += `${JSON.stringify(line)}\n`;
        csvText += csvRow([v.index, time, v.type, v.conv, v.actor, v.subject, v.body, v.ref, v.id, ext === null ? null : ext.links.join(' '), v.xml]);
        if (v.conv !== null && (v.conv.startsWith('dm:') || v.conv.startsWith('room:'))) {
          const item: TranscriptItem = { index: v.index, type: v.type, ts: v.ts, from: v.actor, id: v.id, ref: v.ref, body: v.body, expired: r.entry === null };
          if (ext !== null) item.notes = [...ext.notes, ...ext.links.map((url) => `link: ${url}`)];
          spool.add(v.conv, utcDay(v.ts), item);
        }
      }
      await recordsFile.write(recordText);
      await manifest.write(manifestText);
      await jsonl.write(jsonlText);
      await csv.write(csvText);
      await spool.flushIfFull();
      opts.progress?.(Math.min(start + CHUNK, plan.indices.length), plan.indices.length);
    }
    await manifest.write('\n]}\n');
  } finally {
    for (const h of handles) await h.close();
  }
  const files = ['manifest.json', 'records.jsonl', 'messages.jsonl', 'messages.csv'];
  // A conversation's days in order, so each day's message replies to the one before; one day in memory at a
  // time. The files are written in batches on a thread of their own (file-writer.ts) while the next are made.
  const writer = new FileBatchWriter();
  try {
    const host = idHost(opts.origin);
    for (const [conv, days] of spool.conversations()) {
      const thread = new ConversationThread(host);
      for (const day of days) {
        const name = `eml/${emlName(conv, day)}`;
        await writer.write(join(opts.dir, name), thread.render({ conv, day, items: await spool.take(conv, day) }));
        files.push(name);
      }
    }
    await writer.close();
  } finally {
    // Stops the thread when a transcript failed before close() (close() has stopped it otherwise).
    await writer.abort();
    await spool.remove();
  }
  return { entries: plan.indices.length, records, size, files, audit: plan.audit };
}

/** A conversation-day's transcript: items still in memory, and where its spooled ones lie in the spool file. */
interface SpoolDay {
  items: TranscriptItem[];
  /** [byte offset, byte length, segment] of each run of its items written to the spool file, in order. */
  runs: Array<[number, number, number]>;
}

/** Bytes a segment's reader reads at once. */
const READ_AHEAD = 256 * 1024;

/**
 * Reads one flush's segment of the spool file ahead, READ_AHEAD at a time. A flush writes its runs in the order
 * the EML files take them (conversation by conversation, each one's days in order), so each segment is read
 * front to back in a few large reads, instead of one read per run (some 61,000 for an export of 100,000 records),
 * each a round trip through libuv's pool.
 */
class SegmentReader {
  private buf = Buffer.alloc(0);
  private at = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly end: number,
  ) {}

  /** The `length` bytes at `offset` (from the buffer, or a new read ahead from there). */
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < this.at || offset + length > this.at + this.buf.length) {
      const size = Math.max(length, Math.min(READ_AHEAD, this.end - offset));
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.handle.read(buf, 0, size, offset);
      this.buf = buf.subarray(0, bytesRead);
      this.at = offset;
    }
    return this.buf.subarray(offset - this.at, offset - this.at + length);
  }
}

/**
 * The transcript items of every conversation-day of an export, in memory up to a limit and then appended to one
 * spool file (JSON Lines, each conversation-day's buffered items as one run), read back a day at a time by offset.
 * One file, not one per conversation-day: an export of 100,000 records has some 60,000 conversation-days, and
 * creating, reading and deleting that many files was most of the export's time (bench/archive-search.ts).
 */
class TranscriptSpool {
  /** conv → its days seen. */
  private readonly days = new Map<string, Map<string, SpoolDay>>();
  private buffered = 0;
  private handle: FileHandle | null = null;
  /** Bytes written to the spool file. */
  private size = 0;
  /** A reader per flush (segment) of the spool file, made when the EML files are written. */
  private readers: SegmentReader[] = [];
  /** Where each flush's segment of the spool file ends. */
  private readonly segmentEnds: number[] = [];

  constructor(
    private readonly dir: string,
    private readonly limit: number,
  ) {}

  add(conv: string, day: string, item: TranscriptItem): void {
    let byDay = this.days.get(conv);
    if (byDay === undefined) this.days.set(conv, (byDay = new Map()));
    let d = byDay.get(day);
    if (d === undefined) byDay.set(day, (d = { items: [], runs: [] }));
    d.items.push(item);
    this.buffered += 96 + (item.body?.length ?? 0) * 2 + (item.notes?.join('').length ?? 0) * 2;
  }

  /** Appends every buffered item to the spool file, in one write, once the buffer is full. */
  async flushIfFull(): Promise<void> {
    if (this.buffered < this.limit) return;
    if (this.handle === null) {
      await mkdir(this.dir, { recursive: true });
      this.handle = await open(join(this.dir, 'transcripts.jsonl'), 'w+');
    }
    const parts: Buffer[] = [];
    let at = this.size;
    for (const byDay of this.days.values()) {
      for (const d of byDay.values()) {
        if (d.items.length === 0) continue;
        const run = Buffer.from(d.items.map((i) => `${JSON.stringify(i)}\n`).join(''), 'utf8');
        d.runs.push([at, run.length, this.segmentEnds.length]);
        at += run.length;
        parts.push(run);
        d.items = [];
      }
    }
    const text = Buffer.concat(parts);
    await this.handle.write(text, 0, text.length, this.size);
    this.size = at;
    this.segmentEnds.push(at);
    this.buffered = 0;
  }

  /** Every conversation with its days, in day order. */
  *conversations(): Iterable<[string, string[]]> {
    for (const [conv, byDay] of this.days) yield [conv, [...byDay.keys()].sort()];
  }

  /** A conversation-day's items in journal order (spooled runs, then those still in memory), forgetting them. */
  async take(conv: string, day: string): Promise<TranscriptItem[]> {
    const byDay = this.days.get(conv)!;
    const d = byDay.get(day)!;
    byDay.delete(day);
    if (d.runs.length === 0) return d.items;
    const items: TranscriptItem[] = [];
    if (this.readers.length !== this.segmentEnds.length) this.readers = this.segmentEnds.map((end) => new SegmentReader(this.handle!, end));
    for (const [offset, length, segment] of d.runs) {
      const buf = await this.readers[segment]!.read(offset, length);
      for (const line of buf.toString('utf8').split('\n')) if (line.length > 0) items.push(JSON.parse(line) as TranscriptItem);
    }
    return [...items, ...d.items];
  }

  async remove(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A file name for a conversation-day: readable, safe on every file system, unique by a short hash. */
function emlName(conv: string, day: string): string {
  const readable = conv.replace(/[^A-Za-z0-9@._-]+/g, '_').slice(0, 80);
  let h = 0;
  for (const ch of conv) h = (Math.imul(h, 31) + ch.codePointAt(0)!) >>> 0;
  return `${day}_${readable}_${h.toString(16).padStart(8, '0')}.eml`;
}
