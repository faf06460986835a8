/**
 * The archive over a real SQLite file (and the memory store): messages journaled in their own transaction,
 * signed checkpoints, proofs that verify with the RFC 9162 algorithms, a journal that cannot be written refusing
 * the message, and tampering done directly in the database file, each caught by verify with its own code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import type { Outbound } from '../../engine/outbound.js';
import type { Sink } from '../../engine/session.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';
import type { Store } from '../../ports/store.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { ModuleHost } from '../host.js';
import { conversationKey, type LogRecord, type NewRecord } from '../../core/types.js';
import { LOG_COLUMNS } from '../../storage/sqlite/log-writer.js';
import { eventDraft, recordBytes } from './entry.js';
import { archive } from './index.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { openNote, parseCheckpoint, parseVerifierKey } from './note.js';
import { archiveOptions } from './options.js';
import { area, type ArchiveArea } from './sqlite.js';
import { silentHostLog } from '../testing.js';

const ORIGIN = 'example.com/archive';
const presence = testPresence;

class Recorder implements Sink {
  readonly got: Outbound[] = [];
  send(out: Outbound): void {
    this.got.push(out);
  }
  close(): void {}
}

const dirs: string[] = [];
const hosts: ModuleHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Rig {
  engine: Engine;
  store: Store;
  host: ModuleHost;
  archive: ArchiveArea;
  path: string | null;
  send(body: string): Promise<{ seq: number; id: string }>;
  bob: Recorder;
}

async function rig(kind: 'sqlite' | 'memory' = 'sqlite'): Promise<Rig> {
  let path: string | null = null;
  let store: Store;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-archive-'));
    dirs.push(dir);
    path = join(dir, 'parley.db');
    store = createSqliteStore({ path, modules: [{ name: 'archive', area }] });
  } else {
    store = createMemoryStore({ modules: [{ name: 'archive', memory: archive.storage!.memory }] });
  }
  const { engine } = await testEngine(['alice@example.com', 'bob@example.com'], { store });
  const options = { archive: archiveOptions.parse({ enabled: true, origin: ORIGIN, checkpointSeconds: 3600 }) };
  const host = await ModuleHost.setup([archive], options, { engine, store, bus: engine.bus, log: silentHostLog });
  hosts.push(host);
  const alice = await engine.openSession('alice@example.com', 'desk', new Recorder(), { ...presence });
  engine.goLive(alice.session);
  const bob = new Recorder();
  const b = await engine.openSession('bob@example.com', 'desk', bob, { ...presence });
  engine.goLive(b.session);
  return {
    engine,
    store,
    host,
    archive: store.area<ArchiveArea>('archive'),
    path,
    bob,
    send: (body) => engine.messages.send(alice.session, parseAddress('bob@example.com'), body, null, 0),
  };
}

/**
 * Stores `n` messages from alice to bob straight into the log, 500 per transaction, bodies `<word> <i>`: a backlog
 * the search index has not reached, as a burst leaves it.
 */
async function bulk(r: Rig, n: number, word: string): Promise<void> {
  const record = (i: number): NewRecord => ({
    kind: 'message', type: 'chat', conv: conversationKey('chat', 'alice@example.com', 'bob@example.com'), from: 'alice@example.com',
    fromResource: 'desk', to: 'bob@example.com', toResource: null, clientId: null, body: `${word} ${i}`, ref: null, receipt: null, ts: Date.now(), offlineFor: [],
  });
  for (let i = 0; i < n; i += 500) await r.store.messages.append(Array.from({ length: Math.min(500, n - i) }, (_, k) => record(i + k)));
}

describe('the compliance archive', () => {
  for (const kind of ['sqlite', 'memory'] as const) {
    it(`journals every message with its log position, and verifies (${kind})`, async () => {
      const r = await rig(kind);
      const acks = [];
      for (let i = 0; i < 20; i++) acks.push(await r.send(`message ${i}`));
      const before = await r.archive.size();
      // Every acknowledged message is in the journal, with the same seq and body.
      const entries = await Promise.all(Array.from({ length: before }, (_, i) => r.archive.entry(i)));
      const journaled = entries.filter((e) => e!.type === 'message').map((e) => JSON.parse(e!.entry!) as { seq: number; body: string; index: number });
      expect(journaled.map((e) => e.seq)).toEqual(acks.map((a) => a.seq));
      expect(journaled.map((e) => e.body)).toEqual(acks.map((_, i) => `message ${i}`));
      const cp = await r.archive.checkpoint(ORIGIN, Date.now());
      expect(cp.size).toBe(before);
      expect((await r.archive.verify({ origin: ORIGIN })).problem).toBeNull();
    });
  }

  it('signs checkpoints a verifier key checks, with inclusion and consistency proofs that verify', async () => {
    const r = await rig();
    for (let i = 0; i < 5; i++) await r.send(`first ${i}`);
    const first = await r.archive.checkpoint(ORIGIN, Date.now());
    for (let i = 0; i < 13; i++) await r.send(`second ${i}`);
    const second = await r.archive.checkpoint(ORIGIN, Date.now());
    expect(second.size).toBeGreaterThan(first.size);
    const verifier = parseVerifierKey(await r.archive.verifierKey(ORIGIN, Date.now()));
    const body = parseCheckpoint(openNote(second.note, [verifier]).text);
    expect(body.origin).toBe(ORIGIN);
    expect(Number(body.size)).toBe(second.size);
    // Inclusion of every entry in the second tree.
    for (let i = 0; i < second.size; i++) {
      const e = (await r.archive.entry(i))!;
      const proof = (await r.archive.inclusionProof(i, second.size)).map((h) => Buffer.from(h, 'base64'));
      expect(leafHash(Buffer.from(e.entry!, 'utf8')).toString('hex')).toBe(e.leaf);
      expect(verifyInclusion(i, second.size, Buffer.from(e.leaf, 'hex'), proof, body.rootHash)).toBe(true);
    }
    const proof = (await r.archive.consistencyProof(first.size, second.size)).map((h) => Buffer.from(h, 'base64'));
    expect(verifyConsistency(first.size, second.size, Buffer.from(first.root, 'base64'), body.rootHash, proof)).toBe(true);
    await expect(r.archive.inclusionProof(0, second.size + 100)).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('refuses a message whose journal entry cannot be written; nothing is stored or delivered', async () => {
    const r = await rig();
    await r.send('before');
    const delivered = r.bob.got.length;
    const seqBefore = await r.store.messages.lastSeq();
    // Another connection breaks the journal (as a full or failing disk would for this table).
    const other = new Database(r.path!);
    other.exec('ALTER TABLE archive_journal RENAME TO archive_journal_gone');
    other.close();
    await expect(r.send('unrecorded')).rejects.toMatchObject({ code: 'service-unavailable' });
    expect(await r.store.messages.lastSeq()).toBe(seqBefore);
    expect(r.bob.got.length).toBe(delivered);
  });

  it("seals a message's leaf off the delivery path: by the search index, or when a checkpoint extends the tree", async () => {
    const r = await rig();
    const raw = new Database(r.path!, { readonly: true });
    const leaves = raw.prepare<[], { idx: number; seq: number | null; leaf: Buffer }>('SELECT idx, seq, leaf FROM archive_journal ORDER BY idx');
    const logRow = raw.prepare<[number], LogRecord>(`SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq = ?`);
    /** Each message row: unsealed while its leaf is the placeholder, else sealed, its leaf the hash of its entry re-created from the log. */
    const state = (): Array<'unsealed' | 'sealed'> =>
      leaves.all().filter((row) => row.seq !== null).map((row) => {
        if (row.leaf.equals(Buffer.alloc(32))) return 'unsealed';
        expect(row.leaf.equals(leafHash(recordBytes(row.idx - 1, logRow.get(row.seq!)!)))).toBe(true);
        return 'sealed';
      });
    for (let i = 0; i < 3; i++) await r.send(`first ${i}`);
    expect(state()).toEqual(['unsealed', 'unsealed', 'unsealed']);
    // Verify computes the leaves of entries beyond the stored tree, and the entries API hashes the bytes.
    expect((await r.archive.verify({ origin: ORIGIN })).problem).toBeNull();
    const e = (await r.archive.entry(0))!;
    expect(e.leaf).toBe(leafHash(Buffer.from(e.entry!, 'utf8')).toString('hex'));
    // The search index seals what it takes in.
    await r.archive.indexPending(1000);
    expect(state()).toEqual(['sealed', 'sealed', 'sealed']);
    for (let i = 0; i < 2; i++) await r.send(`second ${i}`);
    expect(state()).toEqual(['sealed', 'sealed', 'sealed', 'unsealed', 'unsealed']);
    // A checkpoint seals what the index has not reached, and its root is the tree of those leaves.
    const cp = await r.archive.checkpoint(ORIGIN, Date.now());
    expect(state()).toEqual(['sealed', 'sealed', 'sealed', 'sealed', 'sealed']);
    const all = leaves.all().map((row) => row.leaf);
    raw.close();
    expect(cp.size).toBe(all.length);
    const proof = (await r.archive.inclusionProof(3, cp.size)).map((h) => Buffer.from(h, 'base64'));
    expect(verifyInclusion(3, cp.size, all[3]!, proof, Buffer.from(cp.root, 'base64'))).toBe(true);
    expect((await r.archive.verify({ origin: ORIGIN })).problem).toBeNull();
  });

  it('signs a checkpoint over more entries than one of its transactions seals, while messages go on', async () => {
    const r = await rig();
    await bulk(r, 25_000, 'bulk');
    const size = await r.archive.size();
    // A message sent while the checkpoint seals is stored (before it or between its transactions) and verifies.
    const [cp, sent] = await Promise.all([r.archive.checkpoint(ORIGIN, Date.now()), r.send('during the checkpoint')]);
    expect(cp.size).toBeGreaterThanOrEqual(size);
    expect(sent.seq).toBeGreaterThan(0);
    const report = await r.archive.verify({ origin: ORIGIN });
    expect(report.problem).toBeNull();
    expect(report.entries).toBe(size + 1);
  }, 60_000);

  it('a periodic checkpoint covers what is sealed and seals at most one chunk itself; one on demand covers everything', async () => {
    const r = await rig();
    await bulk(r, 12_000, 'burst');
    const size = await r.archive.size();
    // The index seals the first 3,000 (what a burst left it time for).
    await r.archive.indexPending(3000);
    const sealedUpTo = size - (await r.archive.indexLag());
    const raw = new Database(r.path!, { readonly: true });
    const isPlaceholder = (index: number): boolean =>
      raw.prepare<[number], { leaf: Buffer }>('SELECT leaf FROM archive_journal WHERE idx = ?').get(index + 1)!.leaf.equals(Buffer.alloc(32));
    expect(isPlaceholder(sealedUpTo - 1)).toBe(false);
    expect(isPlaceholder(sealedUpTo)).toBe(true);
    // Each periodic checkpoint: the sealed prefix and one chunk (4,000) more, no further.
    const first = await r.archive.checkpoint(ORIGIN, Date.now(), 'sealed');
    expect(first.size).toBe(sealedUpTo + 4000);
    expect(isPlaceholder(first.size - 1)).toBe(false);
    expect(isPlaceholder(first.size)).toBe(true);
    const second = await r.archive.checkpoint(ORIGIN, Date.now(), 'sealed');
    expect(second.size).toBe(sealedUpTo + 8000);
    // On demand: everything, with the earlier heads consistent with it.
    const all = await r.archive.checkpoint(ORIGIN, Date.now());
    expect(all.size).toBe(size);
    expect(isPlaceholder(size - 1)).toBe(false);
    raw.close();
    const proof = (await r.archive.consistencyProof(first.size, all.size)).map((h) => Buffer.from(h, 'base64'));
    expect(verifyConsistency(first.size, all.size, Buffer.from(first.root, 'base64'), Buffer.from(all.root, 'base64'), proof)).toBe(true);
    // Nothing left to seal: a periodic checkpoint now signs nothing new.
    expect((await r.archive.checkpoint(ORIGIN, Date.now(), 'sealed')).size).toBe(size);
    expect((await r.archive.verify({ origin: ORIGIN })).problem).toBeNull();
  }, 60_000);

  it('a search far behind the index lets messages be stored between its batches of indexing', async () => {
    const r = await rig();
    await bulk(r, 12_000, 'backlog');
    const done: string[] = [];
    const search = r.archive.search({ keywords: 'backlog', limit: 5 }, 'olive@example.com', Date.now()).then((page) => {
      done.push('search');
      return page;
    });
    const sent = r.send('while the search catches up').then(() => done.push('message'));
    const [page] = await Promise.all([search, sent]);
    // The message was stored while the search indexed (it waits one batch, not the whole backlog), and the search
    // still saw the whole backlog: its newest hit is the last entry seeded.
    expect(done).toEqual(['message', 'search']);
    expect(page.hits).toHaveLength(5);
    expect(page.hits[0]!.body).toBe('backlog 11999');
    // What waits now is the search's own audit entry, journaled after it indexed.
    expect(await r.archive.indexLag()).toBe(1);
  }, 60_000);

  it('stops its search index at the next pause when the server stops, without indexing its backlog first', async () => {
    const r = await rig();
    await bulk(r, 20_000, 'pending');
    r.host.start();
    // The index takes its first batch, then pauses (nothing arrives: six times the batch's time).
    while ((await r.archive.indexLag()) > 18_000) await new Promise((resolve) => setTimeout(resolve, 10));
    await r.host.close();
    // It stopped with most of the backlog left for the next start (at a seventh of the store's thread it would
    // have taken seconds more); the last checkpoint still covers every entry.
    expect(await r.archive.indexLag()).toBeGreaterThan(10_000);
    expect((await r.archive.latestCheckpoint())!.size).toBe(await r.archive.size());
  }, 60_000);

  describe('tampering in the database file is detected', () => {
    /**
     * A journal of 40 messages (entries 0-19 and 23-42) and three room events (entries 20-22) with two
     * checkpoints, then a change made by another connection. A message's entry bytes are its log row's (the
     * journal row keeps its position and leaf hash); an event's are stored in its journal row.
     */
    async function tampered(change: (db: Database.Database) => void): Promise<Awaited<ReturnType<ArchiveArea['verify']>>> {
      const r = await rig();
      for (let i = 0; i < 20; i++) await r.send(`early ${i}`);
      for (let i = 0; i < 3; i++) {
        await r.archive.journal([eventDraft('room.membership', Date.now(), { actor: 'alice@example.com', subject: 'team@conference.example.com', data: { change: 'joined', early: i } })]);
      }
      await r.archive.checkpoint(ORIGIN, Date.now());
      for (let i = 0; i < 20; i++) await r.send(`late ${i}`);
      await r.archive.checkpoint(ORIGIN, Date.now());
      expect((await r.archive.verify({ origin: ORIGIN })).problem).toBeNull();
      const db = new Database(r.path!);
      change(db);
      db.close();
      return r.archive.verify({ origin: ORIGIN });
    }

    /** The log record journal row `idx` names. */
    const logRow = (db: Database.Database, idx: number): LogRecord => {
      const seq = db.prepare<[number], number>('SELECT seq FROM archive_journal WHERE idx = ?').pluck().get(idx)!;
      return db.prepare<[number], LogRecord>(`SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq = ?`).get(seq)!;
    };

    it('one byte of a message changed (in its log row)', async () => {
      const report = await tampered((db) => {
        const r = logRow(db, 8);
        db.prepare('UPDATE log SET body = ? WHERE seq = ?').run(r.body!.replace('early', 'Early'), r.seq);
      });
      expect(report.problem).toMatchObject({ code: 'entry-changed', index: 7 });
    });

    it('one byte of a stored entry changed', async () => {
      const report = await tampered((db) => {
        const row = db.prepare<[], { entry: Buffer }>('SELECT entry FROM archive_journal WHERE idx = 22').get()!;
        const bytes = Buffer.from(row.entry);
        bytes[bytes.indexOf('early')] = 'E'.charCodeAt(0);
        db.prepare('UPDATE archive_journal SET entry = ? WHERE idx = 22').run(bytes);
      });
      expect(report.problem).toMatchObject({ code: 'entry-changed', index: 21 });
    });

    it("a message's log row deleted", async () => {
      const report = await tampered((db) => db.prepare('DELETE FROM log WHERE seq = ?').run(logRow(db, 15).seq));
      expect(report.problem).toMatchObject({ code: 'record-missing', index: 14 });
    });

    it('an entry deleted', async () => {
      const report = await tampered((db) => db.prepare('DELETE FROM archive_journal WHERE idx = 12').run());
      expect(report.problem).toMatchObject({ code: 'missing-entry', index: 11 });
    });

    it('two stored entries swapped (content and leaf hashes)', async () => {
      const report = await tampered((db) => {
        const a = db.prepare<[], { entry: Buffer; leaf: Buffer }>('SELECT entry, leaf FROM archive_journal WHERE idx = 21').get()!;
        const b = db.prepare<[], { entry: Buffer; leaf: Buffer }>('SELECT entry, leaf FROM archive_journal WHERE idx = 22').get()!;
        db.prepare('UPDATE archive_journal SET entry = ?, leaf = ? WHERE idx = 21').run(b.entry, b.leaf);
        db.prepare('UPDATE archive_journal SET entry = ?, leaf = ? WHERE idx = 22').run(a.entry, a.leaf);
      });
      expect(report.problem).toMatchObject({ code: 'entry-moved', index: 20 });
    });

    it('two messages swapped (the log positions and leaf hashes their rows keep)', async () => {
      const report = await tampered((db) => {
        const get = db.prepare<[number], { seq: number; leaf: Buffer }>('SELECT seq, leaf FROM archive_journal WHERE idx = ?');
        const put = db.prepare<[number, Buffer, number]>('UPDATE archive_journal SET seq = ?, leaf = ? WHERE idx = ?');
        const a = get.get(5)!;
        const b = get.get(6)!;
        put.run(b.seq, b.leaf, 5);
        put.run(a.seq, a.leaf, 6);
      });
      expect(report.problem).toMatchObject({ code: 'entry-changed', index: 4 });
    });

    it('an entry rewritten with a matching leaf hash', async () => {
      const report = await tampered((db) => {
        const row = db.prepare<[], { entry: Buffer }>('SELECT entry FROM archive_journal WHERE idx = 21').get()!;
        const forged = Buffer.from(row.entry.toString('utf8').replace('joined', 'left'), 'utf8');
        db.prepare('UPDATE archive_journal SET entry = ?, leaf = ? WHERE idx = 21').run(forged, leafHash(forged));
      });
      expect(report.problem).toMatchObject({ code: 'root-mismatch' });
    });

    it('a message rewritten in its log row, with a matching leaf hash', async () => {
      const report = await tampered((db) => {
        const r = logRow(db, 3);
        const forged = { ...r, body: r.body!.replace('early', 'forge') };
        db.prepare('UPDATE log SET body = ? WHERE seq = ?').run(forged.body, r.seq);
        db.prepare('UPDATE archive_journal SET leaf = ? WHERE idx = 3').run(leafHash(recordBytes(2, forged)));
      });
      expect(report.problem).toMatchObject({ code: 'root-mismatch' });
    });

    it('the latest tree head rewritten', async () => {
      const report = await tampered((db) => {
        const cp = db.prepare<[], { size: number; note: string }>('SELECT size, note FROM archive_checkpoints ORDER BY size DESC LIMIT 1').get()!;
        const lines = cp.note.split('\n');
        lines[1] = String(cp.size - 1);
        db.prepare('UPDATE archive_checkpoints SET note = ? WHERE size = ?').run(lines.join('\n'), cp.size);
      });
      expect(report.problem).toMatchObject({ code: 'bad-signature' });
    });

    it("a message's leaf put back to the placeholder of one not sealed yet", async () => {
      const report = await tampered((db) => db.prepare('UPDATE archive_journal SET leaf = zeroblob(32) WHERE idx = 8').run());
      expect(report.problem).toMatchObject({ code: 'leaf-missing', index: 7 });
    });

    it('the latest entries cut off', async () => {
      const report = await tampered((db) => db.prepare('DELETE FROM archive_journal WHERE idx > 30').run());
      expect(report.problem).toMatchObject({ code: 'missing-entry' });
    });
  });
});
