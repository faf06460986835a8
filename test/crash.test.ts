/**
 * Crash safety: the server is killed with SIGKILL while messages flow, restarted on the same database, and
 * every acknowledged message is delivered exactly once (live before the crash or replayed after it).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { killAll, sessionOn as session, prepareDb, startProcess } from './process.js';

let dir: string;
let dbPath: string;

/** Sends messages with a window of outstanding requests until the connection dies; returns acked client ids. */
async function sendUntilDead(alice: ParleyClient, prefix: string, onAck: (n: number) => void): Promise<Set<string>> {
  const acked = new Set<string>();
  let i = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const cid = `${prefix}-${i++}`;
      try {
        await alice.send('bob@localhost', `body ${cid}`, cid);
      } catch {
        return; // the server died mid-flight: this one may or may not be stored, it was never acknowledged
      }
      acked.add(cid);
      onAck(acked.size);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return acked;
}

beforeAll(async () => {
  ({ dir, dbPath } = await prepareDb('parley-crash-', ['alice', 'bob']));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('crash safety', () => {
  it('every acknowledged message survives SIGKILL and is delivered exactly once', async () => {
    // Phase 1: bob online, alice streaming; kill -9 mid-stream.
    let s = await startProcess(dbPath, { PARLEY_STORAGE__SQLITE__SYNCHRONOUS: 'full' });
    let bob = await session(s.url, 'bob');
    const alice = await session(s.url, 'alice');
    const bobSeen = new Map<string, number>();
    const count = (c: ParleyClient): void => {
      c.on('message', (e) => bobSeen.set(String(e.data.clientId), (bobSeen.get(String(e.data.clientId)) ?? 0) + 1));
    };
    count(bob);
    let killed = false;
    const acked1 = await sendUntilDead(alice, 'live', (n) => {
      if (n >= 400 && !killed) {
        killed = true;
        s.proc.kill('SIGKILL');
      }
    });
    await Promise.all([alice.closed, bob.closed]);
    expect(acked1.size).toBeGreaterThanOrEqual(400);
    const bobPosition = bob.position;

    // Phase 2: restart; bob stays offline while alice sends more, then the server is killed again.
    s = await startProcess(dbPath, { PARLEY_STORAGE__SQLITE__SYNCHRONOUS: 'full' });
    const alice2 = await session(s.url, 'alice');
    let killed2 = false;
    const acked2 = await sendUntilDead(alice2, 'offline', (n) => {
      if (n >= 200 && !killed2) {
        killed2 = true;
        s.proc.kill('SIGKILL');
      }
    });
    await alice2.closed;

    // Phase 3: restart; bob resumes from his last position and must get every acked message exactly once.
    s = await startProcess(dbPath, { PARLEY_STORAGE__SQLITE__SYNCHRONOUS: 'full' });
    bob = await session(s.url, 'bob', bobPosition);
    await bob.waitFor('synced', () => true, 15_000);
    // Replayed events may arrive before a handler could be attached, so read what the client kept.
    for (const m of bob.received('message')) bobSeen.set(String(m.clientId), (bobSeen.get(String(m.clientId)) ?? 0) + 1);
    for (const cid of [...acked1, ...acked2]) expect(bobSeen.get(cid), cid).toBe(1);
    for (const [cid, n] of bobSeen) expect(n, `${cid} delivered ${n} times`).toBe(1);

    // Stored history agrees: each acknowledged client id appears once.
    const stored = new Map<string, number>();
    let before: number | undefined;
    for (;;) {
      const h = await bob.request<{ messages: Array<{ clientId: string | null; seq: number }>; more: boolean }>('history', {
        with: 'alice@localhost',
        limit: 500,
        ...(before !== undefined ? { before } : {}),
      });
      for (const m of h.messages) stored.set(String(m.clientId), (stored.get(String(m.clientId)) ?? 0) + 1);
      if (!h.more) break;
      before = h.messages[0]!.seq;
    }
    for (const cid of [...acked1, ...acked2]) expect(stored.get(cid), cid).toBe(1);
    await bob.close();
    s.proc.kill('SIGTERM');
    await s.exited;
  }, 90_000);
});
