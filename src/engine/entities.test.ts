/** Presence entities owned by a provider (entities.ts): the subscription handshake on their behalf and delivery. */
import { describe, expect, it } from 'vitest';
import type { ServerEvent } from './outbound.js';
import { unavailableEntity, type EntityItem, type EntityPresence, type PresenceEntityProvider } from './entities.js';
import type { Engine } from './engine.js';
import type { Session, Sink } from './session.js';
import { testEngine, testPresence } from './test-engine.js';

const A = 'a@example.com';
const B = 'b@example.com';
const T = 'lamp@example.com';

/** A provider of one entity T, visible to `allowed`. */
function fakeProvider(): PresenceEntityProvider & { allowed: Set<string>; exists: boolean; presence: EntityPresence; item: EntityItem | null } {
  return {
    allowed: new Set([A]),
    exists: true,
    presence: { ...unavailableEntity(T), state: 'available', availability: 'available', activity: 'glowing', status: 'on', sessions: 1 },
    item: null,
    owns(address) {
      return this.exists && address === T;
    },
    async sees(address, viewer) {
      return this.exists && address === T && this.allowed.has(viewer);
    },
    presenceOf(address) {
      return this.exists && address === T ? this.presence : null;
    },
    itemOf(address, node) {
      return address === T && this.item?.node === node ? this.item : null;
    },
  };
}

/** A session of `user` whose events are recorded. */
async function open(engine: Engine, user: string): Promise<{ session: Session; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const sink: Sink = { send: (o) => events.push(o.event), close: () => undefined };
  const { session, position } = await engine.openSession(user, 'r', sink, { ...testPresence });
  await engine.catchUp(session, null, position);
  events.length = 0;
  return { session, events };
}

async function setup() {
  const { engine, store } = await testEngine([A, B]);
  const provider = fakeProvider();
  engine.presenceEntities(provider);
  return { engine, store, provider };
}

const kinds = (events: ServerEvent[]) => events.map((e) => (e.ev === 'subscription' ? `subscription:${String(e.data.action)}` : e.ev === 'presence' ? `presence:${String(e.data.state)}` : e.ev));

describe('presence entities', () => {
  it('approves a subscribe from a user who may see the entity: roster push, subscribed, then its presence', async () => {
    const { engine, store } = await setup();
    const { events } = await open(engine, A);
    const item = await engine.rosters.act(A, T, 'subscribe');
    expect(item).toMatchObject({ subscription: 'to', pendingOut: false });
    expect(kinds(events)).toEqual(['roster', 'subscription:subscribed', 'presence:available']);
    expect(events[2]!.data).toMatchObject({ user: T, activity: 'glowing', status: 'on' });
    // The entity keeps no roster; the user's item is the watcher index.
    expect(await store.rosters.list(T)).toEqual([]);
    expect([...(await engine.entities.watchersOf(T))]).toEqual([A]);
  });

  it('refuses a subscribe from a user who may not see it (unsubscribed), storing nothing', async () => {
    const { engine, store } = await setup();
    const { events } = await open(engine, B);
    const item = await engine.rosters.act(B, T, 'subscribe');
    expect(item).toMatchObject({ subscription: 'none', pendingOut: false });
    expect(kinds(events)).toEqual(['subscription:unsubscribed']);
    expect(await store.rosters.get(B, T)).toBeNull();
  });

  it('accepts subscribed and unsubscribed sent to an entity without changing anything', async () => {
    const { engine, store } = await setup();
    const { events } = await open(engine, A);
    await engine.rosters.act(A, T, 'subscribed');
    await engine.rosters.act(A, T, 'unsubscribed');
    expect(events).toEqual([]);
    expect(await store.rosters.get(A, T)).toBeNull();
  });

  it('unsubscribe ends it with unavailable', async () => {
    const { engine } = await setup();
    await engine.rosters.act(A, T, 'subscribe');
    const { events } = await open(engine, A);
    await engine.rosters.act(A, T, 'unsubscribe');
    expect(kinds(events)).toEqual(['roster', 'presence:offline']);
    expect(await engine.entities.watchersOf(T)).toEqual(new Set());
  });

  it('delivers changes to watchers who may see it; a withdrawn grant ends the subscription', async () => {
    const { engine, store, provider } = await setup();
    provider.allowed.add(B);
    await engine.rosters.act(A, T, 'subscribe');
    await engine.rosters.act(B, T, 'subscribe');
    const a = await open(engine, A);
    const b = await open(engine, B);
    provider.presence = { ...provider.presence, state: 'away', availability: 'away' };
    await engine.entityChanged(T, provider.presence);
    expect(kinds(a.events)).toEqual(['presence:away']);
    expect(kinds(b.events)).toEqual(['presence:away']);

    provider.allowed.delete(B);
    a.events.length = 0;
    b.events.length = 0;
    await engine.entityChanged(T, provider.presence);
    expect(kinds(a.events)).toEqual(['presence:away']);
    expect(kinds(b.events)).toEqual(['roster', 'subscription:unsubscribed', 'presence:offline']);
    expect(await store.rosters.get(B, T)).toMatchObject({ subscription: 'none' });

    // Removed: every watcher is told.
    provider.exists = false;
    a.events.length = 0;
    await engine.entityChanged(T, null);
    expect(kinds(a.events)).toEqual(['roster', 'subscription:unsubscribed', 'presence:offline']);
  });

  it('a watcher who blocks the entity gets nothing but keeps the subscription (XEP-0191)', async () => {
    const { engine, store, provider } = await setup();
    await engine.rosters.act(A, T, 'subscribe');
    const a = await open(engine, A);
    await engine.blocks.block(A, [T]);
    a.events.length = 0;
    await engine.entityChanged(T, provider.presence);
    expect(a.events).toEqual([]);
    expect(await store.rosters.get(A, T)).toMatchObject({ subscription: 'to' });
  });

  it('gives the presence at login (catch-up) and to probes, only to watchers who may see it', async () => {
    const { engine, provider } = await setup();
    await engine.rosters.act(A, T, 'subscribe');
    const events: ServerEvent[] = [];
    const { session, position } = await engine.openSession(A, 'r', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence });
    await engine.catchUp(session, null, position);
    const snap = events.find((e) => e.ev === 'presence.snapshot')!;
    expect((snap.data.presences as Array<{ user: string; state: string }>).find((p) => p.user === T)).toMatchObject({ state: 'available', activity: 'glowing' });
    expect(await engine.presence.query(A, T)).toMatchObject({ user: T, state: 'available' });
    await expect(engine.presence.query(B, T)).rejects.toMatchObject({ code: 'forbidden' });
    provider.allowed.delete(A);
    await expect(engine.presence.query(A, T)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('adds an entity to a roster without an account, and refuses unknown addresses as before', async () => {
    const { engine } = await setup();
    await engine.rosters.set(A, T, 'Lamp', ['things']);
    expect(await engine.rosters.list(A)).toMatchObject([{ contact: T, name: 'Lamp' }]);
    await expect(engine.rosters.act(A, 'nobody@example.com', 'subscribe')).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('sends items to interested available sessions only, and the last item when interest is declared', async () => {
    const { engine, provider } = await setup();
    await engine.rosters.act(A, T, 'subscribe');
    const a = await open(engine, A);
    provider.item = { node: 'urn:test:0', id: 'current', data: { x: 1 }, xml: '<x/>' };
    await engine.entityItem(T, provider.item);
    expect(a.events).toEqual([]);
    await engine.setInterests(a.session, new Set(['urn:test:0']));
    expect(a.events.map((e) => e.ev)).toEqual(['entity.item']);
    expect(a.events[0]!.data).toMatchObject({ from: T, node: 'urn:test:0', id: 'current', xml: '<x/>' });
    a.events.length = 0;
    await engine.entityItem(T, { ...provider.item, data: { x: 2 } });
    expect(a.events.map((e) => e.data.data)).toEqual([{ x: 2 }]);
    // Not declared again: nothing new is sent.
    a.events.length = 0;
    await engine.setInterests(a.session, new Set(['urn:test:0']));
    expect(a.events).toEqual([]);
  });

  it('sends the last item when a subscription begins to sessions that declared interest before (XEP-0163 §4.3.1)', async () => {
    const { engine, provider } = await setup();
    provider.item = { node: 'urn:test:0', id: 'current', data: { x: 1 }, xml: '<x/>' };
    const a = await open(engine, A);
    await engine.setInterests(a.session, new Set(['urn:test:0']));
    expect(a.events).toEqual([]);
    await engine.rosters.act(A, T, 'subscribe');
    expect(kinds(a.events)).toEqual(['roster', 'subscription:subscribed', 'presence:available', 'entity.item']);
    // Subscribing again starts nothing new.
    a.events.length = 0;
    await engine.rosters.act(A, T, 'subscribe');
    expect(kinds(a.events)).toEqual(['subscription:subscribed']);
  });

  it('judges an offline watcher at its next login: a withdrawn grant ends the subscription then', async () => {
    const { engine, store, provider } = await setup();
    provider.allowed.add(B);
    await engine.rosters.act(B, T, 'subscribe');
    provider.allowed.delete(B);
    await engine.entityChanged(T, provider.presence);
    expect(await store.rosters.get(B, T)).toMatchObject({ subscription: 'to' });
    const events: ServerEvent[] = [];
    const { session, position } = await engine.openSession(B, 'r', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence });
    await engine.catchUp(session, null, position);
    const snap = events.find((e) => e.ev === 'presence.snapshot')!;
    expect((snap.data.presences as Array<{ user: string }>).map((p) => p.user)).not.toContain(T);
    for (let i = 0; i < 100 && !kinds(events).includes('presence:offline'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(await store.rosters.get(B, T)).toMatchObject({ subscription: 'none' });
    expect(kinds(events)).toContain('subscription:unsubscribed');
  });
});
