/**
 * The conversation list in a cluster (engine/cluster.ts): two nodes on one database and one bus, each with the
 * conversations module, as two Parley processes. A user's devices on both nodes hear `conversations.update`
 * whichever node made the change: a `conversation.read` on one node, a read receipt whose batch of the log the
 * other node's consumer applied. Each device hears an update once. Needs `npm run build` (the module's area is
 * loaded from dist/, as the server's store thread loads it).
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { clusterPerTest, settle } from '../../engine/test-cluster.js';
import type { Store } from '../../ports/store.js';
import { consumerCaughtUp, moduleNode, recordingSession, runOp } from '../testing.js';
import { conversations } from './index.js';

const A = 'a@example.com';
const B = 'b@example.com';

const newCluster = clusterPerTest();

/** A JSON-like session of `user` on `engine`, keeping the `conversations.update` events it receives. */
async function device(engine: Engine, user: string, resource: string): Promise<{ session: Session; updates: Array<Record<string, unknown>> }> {
  const { session, events } = await recordingSession(engine, user, resource, (e) => (e.ev === 'conversations.update' ? e.data : undefined));
  return { session, updates: events };
}

/** Waits until the module's consumer (on whichever node ran it) has applied everything in the log. */
const caughtUp = (store: Store): Promise<void> => consumerCaughtUp(store, 'conversations.log');

/** Until `list` has `n` entries (bus delivery is asynchronous), then a moment more to see that none follows. */
async function exactly<T>(list: T[], n: number): Promise<T[]> {
  for (let i = 0; i < 200 && list.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  await settle();
  return list;
}

describe('conversations in a cluster', () => {
  it('updates reach the user\'s sessions on every node, once each', async () => {
    const cluster = newCluster([A, B]);
    const one = await moduleNode(cluster, [conversations]);
    const two = await moduleNode(cluster, [conversations]);
    const alice = await device(one.engine, A, 'desk');
    const desk = await device(one.engine, B, 'desk');
    const phone = await device(two.engine, B, 'phone');
    await settle();
    // Each node knows the other's sessions of B.
    expect(one.engine.sessionsOf(B)).toHaveLength(2);
    expect(two.engine.sessionsOf(B)).toHaveLength(2);

    const first = await one.engine.messages.send(alice.session, parseAddress(B), 'hello', null, Date.now());
    await one.engine.messages.send(alice.session, parseAddress(B), 'are you there?', null, Date.now());
    await caughtUp(one.store);

    // Read on node one (the desk): the phone on node two hears the new count, as the desk does.
    const r = (await runOp(one.host, one.engine, B, 'conversation.read', { with: A, upTo: first.seq })) as { unread: number };
    expect(r.unread).toBe(1);
    expect(await exactly(phone.updates, 1)).toEqual([expect.objectContaining({ with: A, unread: 1, readUpTo: first.seq })]);
    expect(desk.updates).toEqual([expect.objectContaining({ with: A, unread: 1, readUpTo: first.seq })]);

    // A read receipt from the phone (node two): whichever node's consumer applies it, both devices hear it once.
    phone.updates.length = 0;
    desk.updates.length = 0;
    const page = (await runOp(two.host, two.engine, B, 'conversations', {})) as { conversations: Array<{ with: string; last: { id: string; seq: number } }> };
    const last = page.conversations.find((c) => c.with === A)!.last;
    await two.engine.messages.receipt(phone.session, last.id, 'read', Date.now());
    await caughtUp(two.store);
    expect(await exactly(desk.updates, 1)).toEqual([expect.objectContaining({ with: A, unread: 0, readUpTo: last.seq })]);
    expect(await exactly(phone.updates, 1)).toEqual([expect.objectContaining({ with: A, unread: 0, readUpTo: last.seq })]);
    // Alice, who changed nothing of hers, heard nothing.
    expect(alice.updates).toEqual([]);
  });
});
