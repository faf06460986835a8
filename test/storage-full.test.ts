/**
 * A disk that is really full: the server runs under a file-size limit (RLIMIT_FSIZE), so the database and its WAL
 * cannot grow. The write that would grow them fails with EFBIG (the server handles SIGXFSZ instead of dying of
 * it), SQLite reports an I/O error, and the store refuses the message with service-unavailable (reason
 * storage-full). The sender's connection and the other users carry on; after a restart without the limit every
 * acknowledged message is there, no refused one is, and `parley archive verify` passes. With the archive on, and
 * with it off.
 */
import { execFile } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ParleyApiError, type ParleyClient } from '../client/index.js';
import { killAll, prepareDb, sessionOn as session, startProcess } from './process.js';

const run = promisify(execFile);
const ARCHIVE = { PARLEY_MODULES__ARCHIVE__ENABLED: 'true', PARLEY_MODULES__ARCHIVE__ORIGIN: 'localhost/archive' };
const dirs: string[] = [];
afterAll(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The largest file of the database (the file, its WAL, its shared-memory index). */
function largestFile(dbPath: string): number {
  let max = 0;
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    try {
      max = Math.max(max, statSync(f).size);
    } catch {
      // not there
    }
  }
  return max;
}

/**
 * Sends with 4 requests outstanding until one is refused as storage-full (and a few more after), at most
 * `max` messages; returns the acknowledged and the refused client ids, and the first refusal.
 */
async function sendUntilFull(alice: ParleyClient, max: number): Promise<{ acked: Set<string>; refused: Set<string>; refusal: ParleyApiError | null }> {
  const acked = new Set<string>();
  const refused = new Set<string>();
  let refusal: ParleyApiError | null = null;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < max && refused.size < 8) {
      const cid = `m-${i++}`;
      try {
        await alice.send('bob@localhost', `body ${cid} ${'x'.repeat(200)}`, cid);
        acked.add(cid);
      } catch (e) {
        if (!(e instanceof ParleyApiError)) throw e;
        refused.add(cid);
        refusal ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { acked, refused, refusal };
}

for (const archive of [true, false]) {
  describe(`a full disk (archive ${archive ? 'on' : 'off'})`, () => {
    it('refuses new messages with a stable code, keeps serving, and loses nothing acknowledged', async () => {
      const { dir, dbPath } = await prepareDb('parley-full-', ['alice', 'bob']);
      dirs.push(dir);
      const env: Record<string, string> = archive ? { ...ARCHIVE } : {};
      // Room for the start (the archive's tables and first checkpoint) and some hundreds of messages, no more.
      const limit = largestFile(dbPath) + 1024 * 1024;
      const s = await startProcess(dbPath, env, [], { fileSizeLimit: limit });
      const alice = await session(s.url, 'alice');
      const bob = await session(s.url, 'bob');

      const { acked, refused, refusal } = await sendUntilFull(alice, 20_000);
      expect(refusal, 'no message was refused').not.toBeNull();
      expect(refusal!.code).toBe('service-unavailable');
      // The same refusal whether the log's write or, with the archive on, the journal's hit the limit first.
      expect(refusal!.message).toMatch(/storage is full or failing/);
      expect(refusal!.details).toMatchObject({ reason: 'storage-full' });
      expect(acked.size).toBeGreaterThan(0);

      // The server is up, the sender's connection and the other user's carry on: reads still work.
      expect(s.proc.exitCode).toBeNull();
      const page = await alice.request<{ messages: Array<{ clientId: string | null }> }>('history', { with: 'bob@localhost', limit: 10 });
      expect(page.messages.length).toBeGreaterThan(0);
      await bob.request('history', { with: 'alice@localhost', limit: 10 });
      await bob.request('roster.get');
      // SIGXFSZ was handled (logged once, the log line may trail the refusal), not fatal.
      for (let i = 0; i < 100 && !s.output().includes('file-size limit'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(s.output().match(/file-size limit/g) ?? []).toHaveLength(1);

      await alice.close();
      await bob.close();
      s.proc.kill('SIGTERM');
      // It shuts down cleanly (a last checkpoint that cannot be written is logged, not fatal).
      expect(await s.exited).toBe(0);
      expect(s.output()).not.toMatch(/uncaught|unhandled/i);

      // Without the limit: everything acknowledged is there, nothing refused is, and the journal verifies.
      const again = await startProcess(dbPath, env);
      const carol = await session(again.url, 'bob');
      await carol.close();
      again.proc.kill('SIGTERM');
      expect(await again.exited).toBe(0);
      const db = new Database(dbPath, { readonly: true });
      const stored = new Set(db.prepare<[], string>("SELECT client_id FROM log WHERE kind = 'message'").pluck().all());
      db.close();
      for (const cid of acked) expect(stored.has(cid), cid).toBe(true);
      for (const cid of refused) expect(stored.has(cid), cid).toBe(false);
      if (archive) {
        const { stdout } = await run(process.execPath, [join('bin', 'parley.js'), 'archive', 'verify'], {
          env: { ...process.env, ...ARCHIVE, PARLEY_STORAGE__SQLITE__PATH: dbPath },
        });
        expect(stdout).toMatch(/^ok: \d+ entries/);
      }
    }, 120_000);
  });
}
