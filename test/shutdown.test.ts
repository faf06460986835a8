/** Graceful shutdown: on SIGTERM the server stops accepting, tells sessions why, flushes storage and exits 0. */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, sessionOn, prepareDb, startProcess } from './process.js';

let dir: string;
let dbPath: string;
beforeAll(async () => {
  ({ dir, dbPath } = await prepareDb('parley-shutdown-', ['alice', 'bob']));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('graceful shutdown', () => {
  it('SIGTERM closes sessions with a reason, keeps every acknowledged message and exits 0', async () => {
    const s = await startProcess(dbPath);
    const alice = await sessionOn(s.url, 'alice');
    const bob = await sessionOn(s.url, 'bob');
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => alice.send('bob@localhost', `m${i}`, `k${i}`)));
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    const closing = await bob.waitFor('session.closing');
    expect(closing.data.code).toBe('shutdown');
    await bob.closed;
    expect(s.output()).toContain('shutting down');

    const again = await startProcess(dbPath);
    const bob2 = await sessionOn(again.url, 'bob');
    const h = await bob2.request<{ messages: Array<{ id: string }> }>('history', { with: 'alice@localhost', limit: 100 });
    expect(h.messages.map((m) => m.id)).toEqual(acks.map((a) => a.id));
    await bob2.close();
    again.proc.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });
});
