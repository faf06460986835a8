/**
 * Explicit subscribers' notifications across the nodes of a cluster (engine/pep.ts toSubscribers, XEP-0060 §6.1):
 * a subscriber whose session is on another node gets the item whether or not it asked for the node with +notify,
 * and once when it did (XEP-0163 §4: explicit and implicit subscriptions without duplicates), and only while its
 * presence there shows one of the subscription's show-values (XEP-0060 §6.3).
 */
import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../../engine/outbound.js';
import { clusterPerTest, settle } from '../../engine/test-cluster.js';
import { testPresence } from '../../engine/test-engine.js';

const A = 'a@example.com';
const B = 'b@example.com';
const NODE = 'http://jabber.org/protocol/tune';

const newCluster = clusterPerTest();

describe('pep subscribers in a cluster', () => {
  it('notifies a subscriber on another node, once with +notify as well', async () => {
    const [one, two] = await newCluster([A, B]).pair();
    const events: ServerEvent[] = [];
    const { session, position } = await two.engine.openSession(B, 'r', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence });
    await two.engine.catchUp(session, null, position);
    await one.engine.rosters.act(B, A, 'subscribe');
    await one.engine.rosters.act(A, B, 'subscribed');
    await settle();
    events.length = 0;
    const item = { node: NODE, id: 'current', data: {}, xml: '<tune xmlns="http://jabber.org/protocol/tune"/>' };
    // No +notify: only the explicit subscription brings it.
    await one.engine.pep.notify(A, item, () => true, []);
    await settle();
    expect(events.filter((e) => e.ev === 'entity.item')).toEqual([]);
    await one.engine.pep.notify(A, item, () => true, [{ user: B, resource: null }]);
    await settle();
    expect(events.filter((e) => e.ev === 'entity.item')).toHaveLength(1);
    // With +notify too (and a second subscription of its full address): still once.
    await two.engine.setInterests(session, new Set([NODE]));
    await settle();
    events.length = 0;
    await one.engine.pep.notify(A, item, () => true, [{ user: B, resource: null }, { user: B, resource: 'r' }]);
    await settle();
    expect(events.filter((e) => e.ev === 'entity.item').map((e) => e.data)).toEqual([expect.objectContaining({ from: A, node: NODE })]);
  });

  it('honours show-values for a subscriber on another node, by the presence that node announced', async () => {
    const [one, two] = await newCluster([A, B]).pair();
    const events: ServerEvent[] = [];
    const { session, position } = await two.engine.openSession(B, 'r', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence, availability: 'away' });
    await two.engine.catchUp(session, null, position);
    await settle();
    events.length = 0;
    const item = { node: NODE, id: 'current', data: {}, xml: '<tune xmlns="http://jabber.org/protocol/tune"/>' };
    const sub = { user: B, resource: null, show: new Set(['online'] as const) };
    await one.engine.pep.toSubscribers(A, item, [sub]);
    await settle();
    expect(events.filter((e) => e.ev === 'entity.item')).toEqual([]);
    await two.engine.setPresence(session, { ...testPresence, availability: 'available' });
    await settle();
    await one.engine.pep.toSubscribers(A, item, [sub]);
    await settle();
    expect(events.filter((e) => e.ev === 'entity.item')).toHaveLength(1);
  });
});
