/**
 * `npm run bench:archive-search`: eDiscovery over a large compliance journal. Fills a temporary SQLite store's
 * message log, with the archive journaling each record as a server does (its entry re-created from the log row
 * when read), with chat and room messages (bodies drawn from a word list with a Zipf-like
 * frequency, thousands of users over several domains, 1:1 conversations and rooms), signs a checkpoint,
 * indexes everything, then times keyword searches (single words, AND, phrases, OR, exclusions, each with its
 * audit entry written) and one export of 100,000 records with inclusion proofs. Last, the search that follows a
 * burst: a backlog of entries the index has neither indexed nor sealed (it waits out bursts), which the search
 * indexes first, with messages appended one by one meanwhile (how long each waited). Prints one JSON line per
 * phase.
 *
 *   npm run bench:archive-search                         1,000,000 entries, 200 searches, export of 100,000,
 *                                                        a backlog of 250,000
 *   npm run bench:archive-search -- 200000 50 50000      fewer entries, searches and backlog (the export is 10%
 *                                                        of entries)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conversationKey, type NewRecord } from '../src/core/types.js';
import { writeBundle } from '../src/modules/archive/export.js';
import type { SearchQuery } from '../src/modules/archive/query.js';
import { area, type ArchiveArea } from '../src/modules/archive/sqlite.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { chatText } from './lib/chat-text.js';

const ENTRIES = Number(process.argv[2] ?? 1_000_000);
const SEARCHES = Number(process.argv[3] ?? 200);
const EXPORT = Math.min(100_000, Math.floor(ENTRIES / 10));
const BACKLOG = Number(process.argv[4] ?? 250_000);
const ORIGIN = 'bench.example/archive';
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const STEP_MS = 2000;

// Common words of office chat, most frequent first (chatText adds a long tail of invented rare ones).
const COMMON = `the a to and of in is it you that for on we this be with are have i not at can will do me my but so
  just from please meeting today tomorrow report budget review project team call update send check thanks ok
  yes no time week monday tuesday wednesday thursday friday morning afternoon client contract invoice payment
  deadline draft final version document file slides numbers quarter sales revenue forecast plan launch release
  customer order shipment delivery issue bug fix test deploy server database backup access password account
  approve sign merger acquisition offer price discount legal compliance audit risk policy hr hiring interview
  office travel flight hotel lunch coffee room desk phone email chat note agenda minutes action item owner
  status blocked done progress schedule move cancel confirm share link attached see below above let know asap
  great good sorry 問題 café naïve résumé coördinate`.split(/\s+/).filter(Boolean);
const { rand, pick, rare: RARE, body } = chatText(20261204, COMMON);

const DOMAINS = ['example.com', 'corp.example.com', 'partner.org', 'supplier.net', 'subsidiary.example.eu'];
const USERS = Array.from({ length: 5000 }, (_, i) => `user${i}@${DOMAINS[i % DOMAINS.length]}`);
const ROOMS = Array.from({ length: 300 }, (_, i) => `room${i}@conference.example.com`);

/** Ids of the messages logged so far (the store assigns them), for edits to refer to. */
const messageIds: string[] = [];

function record(i: number): NewRecord {
  const from = pick(USERS);
  const room = rand() < 0.4;
  const to = room ? pick(ROOMS) : pick(USERS);
  const r: NewRecord = {
    kind: rand() < 0.05 && messageIds.length > 0 ? 'edit' : 'message',
    type: room ? 'groupchat' : 'chat',
    conv: conversationKey(room ? 'groupchat' : 'chat', from, to),
    from,
    fromResource: 'desk',
    to,
    toResource: null,
    clientId: null,
    body: body(),
    ref: null,
    receipt: null,
    ts: T0 + i * STEP_MS,
    xml: null,
    offlineFor: [],
  };
  if (r.kind === 'edit') r.ref = messageIds[Math.max(0, messageIds.length - 1 - Math.floor(rand() * 50))]!;
  return r;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-archive-'));
const store = createSqliteStore({ path: join(dir, 'bench.db'), synchronous: 'normal', modules: [{ name: 'archive', area }] });
try {
  const a = store.area<ArchiveArea>('archive');
  let t = performance.now();
  for (let i = 0; i < ENTRIES; i += 10_000) {
    const batch: NewRecord[] = [];
    for (let k = i; k < Math.min(ENTRIES, i + 10_000); k++) batch.push(record(k));
    for (const { record: r } of await store.messages.append(batch)) if (r.kind === 'message') messageIds.push(r.id);
  }
  out({ phase: 'fill', entries: ENTRIES, seconds: r2((performance.now() - t) / 1000) });

  t = performance.now();
  const cp = await a.checkpoint(ORIGIN, Date.now());
  out({ phase: 'checkpoint', size: cp.size, seconds: r2((performance.now() - t) / 1000) });

  t = performance.now();
  let indexed = 0;
  for (;;) {
    const { scanned, pending } = await a.indexPending(50_000);
    indexed += scanned;
    if (pending === 0) break;
  }
  out({ phase: 'index', entries: indexed, seconds: r2((performance.now() - t) / 1000) });

  // A mix of what officers type: one word, two words, a phrase, OR, an exclusion, a rare word.
  const queries: string[] = [];
  for (let i = 0; i < SEARCHES; i++) {
    const k = i % 6;
    const w = (): string => COMMON[Math.floor(rand() * 120)]!;
    if (k === 0) queries.push(w());
    else if (k === 1) queries.push(`${w()} ${w()}`);
    else if (k === 2) queries.push(`"${w()} ${w()}"`);
    else if (k === 3) queries.push(`${w()} OR ${pick(RARE)}`);
    else if (k === 4) queries.push(`${w()} -${w()}`);
    else queries.push(pick(RARE));
  }
  for (const q of queries.slice(0, 10)) await a.search({ keywords: q }, 'bench', Date.now()); // warm-up
  const ms: number[] = [];
  let hits = 0;
  for (const q of queries) {
    const s = performance.now();
    hits += (await a.search({ keywords: q }, 'bench', Date.now())).hits.length;
    ms.push(performance.now() - s);
  }
  ms.sort((x, y) => x - y);
  out({ phase: 'keyword-search', searches: ms.length, limit: 100, meanHits: r2(hits / ms.length), p50Ms: r2(pct(ms, 0.5)), p95Ms: r2(pct(ms, 0.95)), p99Ms: r2(pct(ms, 0.99)), maxMs: r2(ms[ms.length - 1]!) });

  // Filtered searches for comparison: a participant, a room with a word, and an hour somewhere in the journal's
  // time (newest first; the journal has no index on entry times, but the hours of entry times: archive_hours).
  const kinds = {
    participant: (): SearchQuery => ({ participant: pick(USERS) }),
    'room and word': (): SearchQuery => ({ room: pick(ROOMS), keywords: pick(COMMON) }),
    domain: (): SearchQuery => ({ domain: pick(DOMAINS) }),
    'domain and word': (): SearchQuery => ({ domain: pick(DOMAINS), keywords: pick(COMMON) }),
    hour: (): SearchQuery => {
      const hour = T0 + Math.floor(rand() * ENTRIES) * STEP_MS;
      return { from: hour, to: hour + 3_600_000 - 1 };
    },
  };
  for (const [kind, query] of Object.entries(kinds)) {
    const fms: number[] = [];
    for (let i = 0; i < 30; i++) {
      const s = performance.now();
      await a.search(query(), 'bench', Date.now());
      fms.push(performance.now() - s);
    }
    fms.sort((x, y) => x - y);
    out({ phase: 'filter-search', kind, searches: fms.length, p50Ms: r2(pct(fms, 0.5)), p95Ms: r2(pct(fms, 0.95)) });
  }

  // An export of EXPORT consecutive entries (a time range), proofs against a fresh checkpoint.
  const start = Math.floor(ENTRIES / 2) - Math.floor(EXPORT / 2);
  const query = { from: T0 + start * STEP_MS, to: T0 + (start + EXPORT - 1) * STEP_MS, types: ['message', 'edit'] };
  const bundle = join(dir, 'bundle');
  t = performance.now();
  let recordsDone = 0;
  const summary = await writeBundle(a, query, {
    dir: bundle,
    actor: 'bench',
    origin: ORIGIN,
    now: Date.now(),
    progress: (done, total) => void (done === total && (recordsDone = performance.now())),
  });
  const end = performance.now();
  out({
    phase: 'export',
    records: summary.records,
    emlFiles: summary.files.length - 4,
    checkpointSize: summary.size,
    seconds: r2((end - t) / 1000),
    // Records, proofs, JSON Lines and CSV; then the EML transcripts.
    recordsSeconds: r2((recordsDone - t) / 1000),
    emlSeconds: r2((end - recordsDone) / 1000),
  });

  // The search after a burst: BACKLOG entries journaled since the index last ran, none sealed.
  for (let i = ENTRIES; i < ENTRIES + BACKLOG; i += 10_000) {
    const batch: NewRecord[] = [];
    for (let k = i; k < Math.min(ENTRIES + BACKLOG, i + 10_000); k++) batch.push(record(k));
    await store.messages.append(batch);
  }
  t = performance.now();
  let searching = true;
  const search = a.search({ keywords: 'budget' }, 'bench', Date.now()).finally(() => {
    searching = false;
  });
  const waits: number[] = [];
  for (let k = ENTRIES + BACKLOG; searching; k++) {
    const s = performance.now();
    await store.messages.append([record(k)]);
    waits.push(performance.now() - s);
  }
  await search;
  waits.sort((x, y) => x - y);
  out({
    phase: 'search-after-burst',
    backlog: BACKLOG,
    seconds: r2((performance.now() - t) / 1000),
    appendsMeanwhile: waits.length,
    appendP50Ms: r2(pct(waits, 0.5)),
    appendP99Ms: r2(pct(waits, 0.99)),
    appendMaxMs: r2(waits[waits.length - 1]!),
  });
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
