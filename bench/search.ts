/**
 * `npm run bench:search`: the search module's index over a large history. Opens the module's SQLite area on a
 * temporary database file (WAL, as the store runs it), indexes messages in the log consumer's batches of 1,000
 * (1:1 conversations among 2,000 users and 100 rooms; 5 % edits, 1 % retractions; bodies drawn Zipf-like from
 * an office-chat word list with a long tail), then times searches as the service runs them (the query parsed,
 * the area's search with a user's scope, the match ranges of each hit) for users with their rooms: one common
 * word, two words, a phrase, a prefix, a rare word, and one conversation only. Prints one JSON line per phase.
 *
 *   npm run bench:search                 100,000 messages, 300 searches
 *   npm run bench:search -- 20000 50     fewer
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { conversationKey } from '../src/core/types.js';
import { matchRanges, parseQuery } from '../src/modules/search/query.js';
import { SCAN_MAX } from '../src/modules/search/service.js';
import { area, type AreaScope, type IndexRecord } from '../src/modules/search/sqlite.js';
import { chatText } from './lib/chat-text.js';

const MESSAGES = Number(process.argv[2] ?? 100_000);
const SEARCHES = Number(process.argv[3] ?? 300);
const BATCH = 1000;

const COMMON = `the a to and of in is it you that for on we this be with are have i not at can will do me my but so
  just from please meeting today tomorrow report budget review project team call update send check thanks ok
  yes no time week monday tuesday wednesday thursday friday morning afternoon client contract invoice payment
  deadline draft final version document file slides numbers quarter sales revenue forecast plan launch release
  customer order shipment delivery issue bug fix test deploy server database backup access password account
  approve sign merger acquisition offer price discount legal compliance audit risk policy hiring interview
  office travel flight hotel lunch coffee room desk phone email agenda minutes action item owner status
  blocked done progress schedule move cancel confirm share link attached see below let know asap great good
  sorry café naïve résumé Zürich`.split(/\s+/).filter(Boolean);
const { rand, pick, rare: RARE, body } = chatText(20261205, COMMON);

const USERS = Array.from({ length: 2000 }, (_, i) => `user${i}@example.com`);
const ROOMS = Array.from({ length: 100 }, (_, i) => `room${i}@conference.example.com`);
/** Each user is in 5 rooms. */
const roomsOf = (u: number): string[] => Array.from({ length: 5 }, (_, k) => ROOMS[(u * 7 + k * 13) % ROOMS.length]!);

const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const r2 = (x: number): number => Math.round(x * 100) / 100;
const pct = (xs: number[], p: number): number => r2([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
try {
  const db = new Database(join(dir, 'search.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  for (const m of area.migrations) db.exec(m.sql);
  const tx = db.transaction((fn: () => unknown) => fn());
  const a = area.open(db, { now: () => Date.now(), onAppend: () => undefined, logRecord: () => undefined, logRecords: () => [], write: (fn) => tx.immediate(fn) as never, read: (fn) => tx.deferred(fn) as never, batched: async (fn) => void tx.immediate(fn) });

  // Index, in the consumer's batches.
  const ids: string[] = [];
  let seq = 0;
  let t = performance.now();
  const batchMs: number[] = [];
  for (let done = 0; done < MESSAGES; ) {
    const batch: IndexRecord[] = [];
    while (batch.length < BATCH && done < MESSAGES) {
      const from = pick(USERS);
      const inRoom = rand() < 0.4;
      const to = inRoom ? pick(ROOMS) : pick(USERS);
      const type = inRoom ? 'groupchat' : 'chat';
      const r = rand();
      const kind = ids.length > 0 && r < 0.05 ? 'edit' : ids.length > 0 && r < 0.06 ? 'retract' : 'message';
      seq++;
      const id = `m${seq}`;
      if (kind === 'message') ids.push(id);
      batch.push({ kind, type, seq, id, conv: conversationKey(type, from, to), from, fromResource: 'desk', to, clientId: null, body: kind === 'retract' ? null : body(), ref: kind === 'message' ? null : pick(ids), ts: Date.UTC(2026, 0, 5) + seq * 1000 });
      done++;
    }
    const s = performance.now();
    await a.index(batch);
    batchMs.push(performance.now() - s);
  }
  out({ phase: 'index', messages: MESSAGES, seconds: r2((performance.now() - t) / 1000), batchMs: { p50: pct(batchMs, 50), p95: pct(batchMs, 95) }, indexed: await a.count() });

  // Searches as the service runs them, for random users with their rooms.
  const kinds: Array<[string, () => string, boolean]> = [
    ['one common word', () => COMMON[Math.floor(rand() * 40)]!, false],
    ['two words', () => `${COMMON[Math.floor(rand() * 60)]} ${COMMON[Math.floor(rand() * 60)]}`, false],
    ['phrase', () => `"${COMMON[Math.floor(rand() * 30)]} ${COMMON[Math.floor(rand() * 30)]}"`, false],
    ['prefix', () => `${COMMON[40 + Math.floor(rand() * 100)]!.slice(0, 3)}*`, false],
    ['rare word', () => pick(RARE), false],
    ['common word, one conversation', () => COMMON[Math.floor(rand() * 40)]!, true],
  ];
  for (const [name, q, oneConv] of kinds) {
    const ms: number[] = [];
    let hits = 0;
    let scanCapped = 0;
    t = performance.now();
    for (let i = 0; i < SEARCHES; i++) {
      const u = Math.floor(rand() * USERS.length);
      const scope: AreaScope = { user: USERS[u]!, own: 0, rooms: roomsOf(u).map((r) => [r, 0]) };
      const s = performance.now();
      const parsed = parseQuery(q());
      const only = oneConv ? { room: scope.rooms[0]![0] } : {};
      const page = await a.search({ match: parsed.match, scope: oneConv ? { ...scope, rooms: [scope.rooms[0]!] } : scope, ...only, limit: 50, scanMax: SCAN_MAX });
      for (const h of page.hits) matchRanges(h.body, parsed.terms);
      ms.push(performance.now() - s);
      hits += page.hits.length;
      if (page.more && page.hits.length < 50) scanCapped++;
    }
    out({ phase: 'search', kind: name, searches: SEARCHES, p50: pct(ms, 50), p95: pct(ms, 95), p99: pct(ms, 99), max: r2(Math.max(...ms)), hitsPerSearch: r2(hits / SEARCHES), endedAtScanCap: scanCapped });
  }
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
