/** The roster cache of online users: served from memory while valid, never stale after a change. */
import { describe, expect, it } from 'vitest';
import type { Engine } from './engine.js';
import type { Store } from '../ports/store.js';
import { testEngine, testPresence } from './test-engine.js';
import type { Sink } from './session.js';

const presence = testPresence;
const sink: Sink = { send: () => undefined, close: () => undefined };
const A = 'a@example.com';
const B = 'b@example.com';

/** An engine on the memory store whose roster reads are counted per user. */
async function setup(): Promise<{ engine: Engine; reads: Map<string, number>; store: Store }> {
  const { engine, store } = await testEngine([A, B]);
  const reads = new Map<string, number>();
  const list = store.rosters.list.bind(store.rosters);
  store.rosters.list = (user: string) => {
    reads.set(user, (reads.get(user) ?? 0) + 1);
    return list(user);
  };
  return { engine, reads, store };
}

describe('roster cache', () => {
  it('reads an offline user’s roster from the store every time', async () => {
    const { engine, reads } = await setup();
    await engine.rosters.list(A);
    await engine.rosters.list(A);
    expect(reads.get(A)).toBe(2);
  });

  it('serves an online user’s roster from memory until a change, and forgets it when the user goes offline', async () => {
    const { engine, reads, store } = await setup();
    const { session } = await engine.openSession(A, 'r', sink, { ...presence });
    await engine.openSession(B, 'r', sink, { ...presence });
    const first = await engine.rosters.list(A);
    await engine.rosters.list(A);
    const readsBefore = reads.get(A) ?? 0;
    await engine.rosters.list(A);
    expect(reads.get(A)).toBe(readsBefore);
    // Callers get their own array: changing it does not change the cache.
    (first as unknown[]).push('junk');
    expect(await engine.rosters.list(A)).toEqual([]);

    // Edits and subscription changes show at once, for both users of the pair.
    await engine.rosters.set(A, B, 'Bee', ['team']);
    expect(await engine.rosters.list(A)).toMatchObject([{ contact: B, name: 'Bee', groups: ['team'] }]);
    await engine.rosters.act(A, B, 'subscribe');
    expect(await engine.rosters.list(A)).toMatchObject([{ contact: B, pendingOut: true }]);
    expect(await engine.rosters.list(B)).toMatchObject([{ contact: A, pendingIn: true }]);
    await engine.rosters.act(B, A, 'subscribed');
    expect(await engine.rosters.list(A)).toMatchObject([{ contact: B, subscription: 'to' }]);
    expect(await engine.rosters.list(B)).toMatchObject([{ contact: A, subscription: 'from' }]);

    // A change made behind the engine's back (another process, the admin API) shows after a refresh.
    await store.rosters.remove(A, B);
    expect(await engine.rosters.list(A)).toHaveLength(1);
    await engine.ctx.directory.refresh(true);
    expect(await engine.rosters.list(A)).toEqual([]);

    await engine.closeSession(session);
    const readsOffline = reads.get(A) ?? 0;
    await engine.rosters.list(A);
    await engine.rosters.list(A);
    expect(reads.get(A)).toBe(readsOffline + 2);
  });
});
