/**
 * Presence entities across nodes (entities.ts): a change made on one node reaches watchers whose sessions are on
 * another, the watcher index a node cached is dropped when another node's roster change names the entity, and
 * items go to interested sessions wherever they are.
 */
import { describe, expect, it } from 'vitest';
import { unavailableEntity, type PresenceEntityProvider } from './entities.js';
import type { ServerEvent } from './outbound.js';
import { clusterPerTest, settle } from './test-cluster.js';
import { testPresence } from './test-engine.js';

const A = 'a@example.com';
const T = 'lamp@example.com';

const provider: PresenceEntityProvider = {
  owns: (address) => address === T,
  sees: async (_address, viewer) => viewer === A,
  presenceOf: () => ({ ...unavailableEntity(T), state: 'away', availability: 'away', sessions: 1 }),
  itemOf: (_address, node) => (node === 'urn:test:0' ? { node, id: 'current', data: { x: 1 }, xml: '<x/>' } : null),
};

const newCluster = clusterPerTest();

describe('presence entities in a cluster', () => {
  it('delivers an entity change made on one node to a watcher on another', async () => {
    const [one, two] = await newCluster([A]).pair();
    one.engine.presenceEntities(provider);
    two.engine.presenceEntities(provider);
    // Node one caches that nobody watches the entity yet.
    expect(await one.engine.entities.watchersOf(T)).toEqual(new Set());

    const events: ServerEvent[] = [];
    const { session, position } = await two.engine.openSession(A, 'r', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence });
    await two.engine.catchUp(session, null, position);
    await two.engine.setInterests(session, new Set(['urn:test:0']));
    await two.engine.rosters.act(A, T, 'subscribe');
    await settle();
    events.length = 0;

    // Node one heard of the roster change and reads the watchers again.
    await one.engine.entityChanged(T, provider.presenceOf(T));
    await one.engine.entityItem(T, provider.itemOf!(T, 'urn:test:0')!);
    await settle();
    expect(events.map((e) => e.ev)).toEqual(['presence', 'entity.item']);
    expect(events[0]!.data).toMatchObject({ user: T, state: 'away' });
    expect(events[1]!.data).toMatchObject({ from: T, node: 'urn:test:0' });
  });
});
