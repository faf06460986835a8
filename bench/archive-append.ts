/**
 * Where the compliance archive's cost per message goes (no server, no sockets): the parts of the journal's append
 * participant measured one by one on this thread, the search index's cost per entry at two batch sizes, then the
 * store's whole append path with no journal, the archive's (a log record's type, position and time; its leaf is
 * sealed later, off the delivery path),
 * and the journal as it was before: each record's bytes, who and where in its row, and indexes on entry time and
 * log position (what the journal saves now), in rotating order,
 * at the group-commit batch sizes given: wall time and CPU time per message.
 *
 *   node dist/bench/archive-append.js [--messages 40000] [--batches 1,32] [--rounds 3] [--sync full|normal]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { LogRecord } from '../src/core/types.js';
import { entryObject, recordDraft, recordLeafHex, sealEntry, sealRecord } from '../src/modules/archive/entry.js';
import { canonicalBytes } from '../src/modules/archive/jcs.js';
import { leafHash } from '../src/modules/archive/merkle.js';
import type { SearchArea } from '../src/modules/archive/search.js';
import { area } from '../src/modules/archive/sqlite.js';
import type { SqliteArea } from '../src/ports/module-storage.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { archiveAppender, archiveMessage } from './lib/records.js';
import { round, spread } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string' },
    batches: { type: 'string' },
    rounds: { type: 'string' },
    sync: { type: 'string' },
  },
  strict: true,
});
const total = Number(values.messages ?? 40_000);
const batches = (values.batches ?? '1,32').split(',').map(Number);
const rounds = Number(values.rounds ?? 3);
const sync = values.sync === 'normal' ? 'normal' : 'full';

const logRecord = (n: number): LogRecord => {
  const { offlineFor: _, ...r } = archiveMessage(n);
  return { ...r, xml: null, seq: n + 1, id: `0${n.toString(36).padStart(12, '0')}` };
};

/** µs per call of `fn` over `n` calls, after a warm-up. */
function perCall(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 5000); i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return round(((performance.now() - t0) * 1000) / n, 2);
}

function parts(): void {
  const recs = Array.from({ length: total }, (_, i) => logRecord(i));
  const drafts = recs.map(recordDraft);
  const bytes = drafts.map((d, i) => canonicalBytes(entryObject(i, d)));
  process.stdout.write(`parts of the participant, µs per record (${total} records, ${bytes[0]!.length} bytes each):\n`);
  process.stdout.write(`  recordDraft                 ${perCall(total, (i) => recordDraft(recs[i]!))}\n`);
  process.stdout.write(`  canonicalBytes(entryObject) ${perCall(total, (i) => canonicalBytes(entryObject(i, drafts[i]!)))}\n`);
  process.stdout.write(`  leafHash                    ${perCall(total, (i) => leafHash(bytes[i]!))}\n`);
  process.stdout.write(`  sealEntry (both)            ${perCall(total, (i) => sealEntry(i, drafts[i]!))}\n`);
  process.stdout.write(`  sealRecord (bytes and leaf) ${perCall(total, (i) => sealRecord(i, recs[i]!))}\n`);
  process.stdout.write(`  recordLeafHex (sealing)      ${perCall(total, (i) => recordLeafHex(i, recs[i]!))}\n`);

  // The statements on a journal of `total` rows, in one transaction as the participant runs them.
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-parts-'));
  try {
    const store = createSqliteStore({ path: join(dir, 'parley.db'), synchronous: sync, modules: [{ name: 'archive', area }] });
    void store.close();
    const db = new Database(join(dir, 'parley.db'));
    const insert = db.prepare('INSERT INTO archive_journal (type, seq, ts, leaf) VALUES (?, ?, ?, zeroblob(32))');
    const max = db.prepare('SELECT COALESCE(MAX(idx), 0) FROM archive_journal').pluck();
    const leaves = bytes.map(leafHash);
    db.exec('BEGIN');
    // As the journal writes a log record's row: its type, position and time, and the placeholder of its leaf
    // (sealed later, off the delivery path), not its bytes nor who and where (journal.ts).
    const ins = perCall(total - 5000, (i) => {
      const d = drafts[i]!;
      insert.run(d.type, d.seq, d.ts);
    });
    const mx = perCall(total, () => max.get());
    // The same rows with the entry's bytes too, as the journal stored them before (STORED_TABLE, here without its
    // indexes), and in a copy of the journal's table without its index.
    db.exec(`CREATE TEMP ${STORED_TABLE}`);
    const stored = db.prepare(STORED_INSERT);
    const withBytes = perCall(total - 5000, (i) => {
      const d = drafts[i]!;
      stored.run(d.type, d.seq, d.ts, d.conv, d.actor, d.subject, bytes[i]!, leaves[i]!);
    });
    db.exec('CREATE TEMP TABLE bare_journal AS SELECT * FROM archive_journal WHERE 0');
    const bare = db.prepare('INSERT INTO bare_journal (type, seq, ts, conv, actor, subject, entry, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const noIdx = perCall(total - 5000, (i) => {
      const d = drafts[i]!;
      bare.run(d.type, d.seq, d.ts, d.conv, d.actor, d.subject, bytes[i]!, leaves[i]!);
    });
    db.exec('COMMIT');
    db.close();
    process.stdout.write(
      `  INSERT as journaled (type, seq, ts, placeholder leaf; seq index) ${ins}\n  INSERT with the bytes too          ${withBytes}\n` +
        `  INSERT with the bytes, no indexes  ${noIdx}\n  SELECT MAX(idx)                    ${mx}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The journal as it was until a log record's bytes were re-created from the log when read: the same table with
 * its indexes of then (entry time and log position), and each record's canonical bytes stored in its row (a second
 * copy of the log row's content). Kept here to measure what the journal saves now (docs/PERFORMANCE.md, "Archive
 * on/off with log records not stored twice", and the section after it).
 */
const STORED_TABLE = `TABLE stored_journal (idx INTEGER PRIMARY KEY, type TEXT NOT NULL, seq INTEGER, ts INTEGER NOT NULL,
  conv TEXT, actor TEXT, subject TEXT, entry BLOB, leaf BLOB NOT NULL, expired_at INTEGER)`;
const STORED_INSERT = 'INSERT INTO stored_journal (type, seq, ts, conv, actor, subject, entry, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';

/** That journal as a storage area: each record sealed (sealRecord, as the archive does), its bytes kept. */
const storedArea: SqliteArea<Record<string, never>> = {
  migrations: [
    {
      version: 1,
      name: 'journal storing the bytes',
      sql: `CREATE ${STORED_TABLE};
        CREATE INDEX stored_journal_ts ON stored_journal (ts);
        CREATE INDEX stored_journal_seq ON stored_journal (seq) WHERE seq IS NOT NULL;`,
    },
  ],
  open(db, ctx) {
    const insert = db.prepare<[string, number, number, string, string, string, Buffer, Buffer]>(STORED_INSERT);
    const count = db.prepare<[], number>('SELECT COALESCE(MAX(idx), 0) FROM stored_journal').pluck();
    ctx.onAppend((records) => {
      let next = count.get()!;
      for (const r of records) {
        const { bytes, leaf } = sealRecord(next++, r);
        insert.run(r.kind, r.seq, r.ts, r.conv, r.from, r.to, bytes, leaf);
      }
    });
    return {};
  },
};

type Journal = 'off' | 'on' | 'stored';

/**
 * µs per message of the store's append path, `batch` appends per turn (one group commit): wall time (fsyncs
 * included) and this process's CPU time (what a server whose cores are busy pays). `journal`: none, the
 * archive's, or the one above that stores the bytes a second time.
 */
async function appendPath(journal: Journal, batch: number): Promise<{ wall: number; cpu: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-append-'));
  const modules = journal === 'on' ? [{ name: 'archive', area }] : journal === 'stored' ? [{ name: 'stored', area: storedArea }] : [];
  const store = createSqliteStore({ path: join(dir, 'parley.db'), synchronous: sync, modules });
  try {
    await store.domains.add('localhost', Date.now());
    const run = archiveAppender(store, batch);
    await run(Math.min(5000, total / 4));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await run(total);
    const c = process.cpuUsage(c0);
    return { wall: ((performance.now() - t0) * 1000) / total, cpu: (c.user + c.system) / total };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * µs per entry of the search index (archive_who and the full-text index) taking `total` journaled messages in
 * transactions of `batch` entries, as the server's background indexing does.
 */
async function indexPath(batch: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-index-'));
  const store = createSqliteStore({ path: join(dir, 'parley.db'), synchronous: sync, modules: [{ name: 'archive', area }] });
  try {
    await store.domains.add('localhost', Date.now());
    await archiveAppender(store, 32)(total);
    const index = store.area<SearchArea>('archive');
    const t0 = performance.now();
    let scanned = 0;
    for (let r = await index.indexPending(batch); r.scanned > 0; r = await index.indexPending(batch)) scanned += r.scanned;
    return ((performance.now() - t0) * 1000) / scanned;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  parts();
  process.stdout.write(`\nsearch index (synchronous=${sync}), µs per entry by entries per transaction:\n`);
  for (const batch of [500, 2000]) process.stdout.write(`  batch ${String(batch).padStart(4)}: ${round(await indexPath(batch), 1)}\n`);
  process.stdout.write(`\nstore append path (synchronous=${sync}), µs per message, journal off / on / stored (bytes kept twice, STORED_TABLE), ${rounds} rotating rounds:\n`);
  const modes: Journal[] = ['off', 'on', 'stored'];
  for (const batch of batches) {
    const got = new Map<Journal, Array<{ wall: number; cpu: number }>>(modes.map((m) => [m, []]));
    for (let r = 0; r < rounds; r++) {
      // Each round starts with another of the three, so none always runs first.
      for (let k = 0; k < modes.length; k++) {
        const m = modes[(r + k) % modes.length]!;
        got.get(m)!.push(await appendPath(m, batch));
      }
    }
    for (const k of ['wall', 'cpu'] as const) {
      const [off, on, stored] = modes.map((m) => spread(got.get(m)!.map((x) => x[k]), 1));
      const vs = (x: typeof off): string => `${x!.median} (${x!.runs.join(', ')}) +${round(x!.median - off!.median, 1)} µs`;
      process.stdout.write(`  batch ${String(batch).padStart(3)}, ${k.padEnd(4)}: off ${off!.median} (${off!.runs.join(', ')})  on ${vs(on)}  stored ${vs(stored)}\n`);
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
