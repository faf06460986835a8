/**
 * The archive under a crash: the server is killed with SIGKILL while messages flow; afterwards the journal
 * verifies (`parley archive verify`, a separate process) and holds every acknowledged message, because each is
 * journaled in the transaction that stores it.
 */
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { killAll, prepareDb, sessionOn as session, startProcess } from './process.js';

const run = promisify(execFile);
const ARCHIVE = { PARLEY_MODULES__ARCHIVE__ENABLED: 'true', PARLEY_MODULES__ARCHIVE__ORIGIN: 'localhost/archive' };
let dir: string;
let dbPath: string;

/** Sends with 16 requests outstanding until the connection dies; returns the acknowledged client ids. */
async function sendUntilDead(alice: ParleyClient, onAck: (n: number) => void): Promise<Set<string>> {
  const acked = new Set<string>();
  let i = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const cid = `m-${i++}`;
      try {
        await alice.send('bob@localhost', `body ${cid}`, cid);
      } catch {
        return;
      }
      acked.add(cid);
      onAck(acked.size);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return acked;
}

/** `parley archive verify` on the database, as an operator runs it. */
function verify(): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join('bin', 'parley.js'), 'archive', 'verify'], {
    env: { ...process.env, ...ARCHIVE, PARLEY_STORAGE__SQLITE__PATH: dbPath },
  });
}

beforeAll(async () => {
  ({ dir, dbPath } = await prepareDb('parley-archive-crash-', ['alice', 'bob']));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('the archive survives a crash', () => {
  it('after SIGKILL under load the journal verifies and holds every acknowledged message', async () => {
    const s = await startProcess(dbPath, { ...ARCHIVE, PARLEY_STORAGE__SQLITE__SYNCHRONOUS: 'full' });
    const alice = await session(s.url, 'alice');
    let killed = false;
    const acked = await sendUntilDead(alice, (n) => {
      if (n >= 300 && !killed) {
        killed = true;
        s.proc.kill('SIGKILL');
      }
    });
    await alice.closed;
    expect(acked.size).toBeGreaterThanOrEqual(300);

    const { stdout } = await verify();
    expect(stdout).toMatch(/^ok: \d+ entries/);
    const db = new Database(dbPath, { readonly: true });
    // A message's entry is its log row, at the position its journal row names (verify re-created each one above).
    const journaled = new Set(
      db.prepare<[], string>("SELECT l.client_id FROM archive_journal j JOIN log l ON l.seq = j.seq WHERE j.type = 'message'").pluck().all(),
    );
    expect(db.prepare<[], number>("SELECT COUNT(*) FROM archive_journal WHERE type = 'message'").pluck().get()).toBe(journaled.size);
    const stored = db.prepare<[], number>("SELECT COUNT(*) FROM log WHERE kind = 'message'").pluck().get()!;
    db.close();
    for (const cid of acked) expect(journaled.has(cid), cid).toBe(true);
    // Not one stored message without its entry, and no entry without its message.
    expect(journaled.size).toBe(stored);
  }, 60_000);

  it('accounts an operator changes with the CLI are journaled too, with who did it', async () => {
    const env = { ...process.env, ...ARCHIVE, PARLEY_STORAGE__SQLITE__PATH: dbPath };
    const add = spawn(process.execPath, [join('bin', 'parley.js'), 'user', 'add', 'carol@localhost'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    add.stdin.end('carol-secret\n');
    const code = await new Promise<number | null>((resolve) => add.once('exit', resolve));
    expect(code).toBe(0);
    await run(process.execPath, [join('bin', 'parley.js'), 'user', 'remove', 'carol@localhost'], { env });
    const db = new Database(dbPath, { readonly: true });
    const rows = db
      .prepare<[], { type: string; actor: string; subject: string }>("SELECT type, actor, subject FROM archive_journal WHERE subject = 'carol@localhost' ORDER BY idx")
      .all();
    db.close();
    expect(rows.map((r) => r.type)).toEqual(['account.created', 'account.removed']);
    for (const r of rows) expect(r.actor).toMatch(/^cli:/);
    expect((await verify()).stdout).toMatch(/^ok: /);
  }, 60_000);

  it('verify names a changed byte after the crash', async () => {
    const db = new Database(dbPath);
    // A message's bytes are its log row's: one byte of the stored body changed.
    const row = db.prepare<[], { idx: number; seq: number }>("SELECT idx, seq FROM archive_journal WHERE type = 'message' ORDER BY idx LIMIT 1 OFFSET 10").get()!;
    const body = Buffer.from(db.prepare<[number], string>('SELECT body FROM log WHERE seq = ?').pluck().get(row.seq)!, 'utf8');
    body[0] = body[0] === 0x42 ? 0x43 : 0x42;
    db.prepare('UPDATE log SET body = ? WHERE seq = ?').run(body.toString('utf8'), row.seq);
    db.close();
    const failed = await verify().then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`FAILED (entry-changed) at entry ${row.idx - 1}`);
  }, 60_000);
});
