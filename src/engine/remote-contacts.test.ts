/**
 * Contacts on a routed domain, through an in-memory route (a `send` that records, a test that calls
 * RouteHandle.deliver): the subscription handshake both ways (RFC 6121 §3, Appendix A), presence out to remote
 * subscribers and in from remote contacts (§4.2-4.5), probes (§4.3), directed presence withdrawn at session end
 * (§4.6.3), blocking (XEP-0191) and a chat message to a remote address kept in history.
 */
import { describe, expect, it } from 'vitest';
import type { RoutedStanza } from './domain-routes.js';
import type { Engine } from './engine.js';
import type { ServerEvent } from './outbound.js';
import type { Session, Sink } from './session.js';
import { testEngine, testPresence } from './test-engine.js';
import { fakeRoute, inboundStanza } from './test-routes.js';

const A = 'alice@example.com';
const R = 'rita@remote.test';

const inbound = inboundStanza;

/** A session of `user` whose events are recorded. */
async function open(engine: Engine, user: string, resource = 'r', xmpp = false): Promise<{ session: Session; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const sink: Sink = { send: (o) => events.push(o.event), close: () => undefined, ...(xmpp ? { relaysStanzas: true } : {}) };
  const { session, position } = await engine.openSession(user, resource, sink, { ...testPresence });
  await engine.catchUp(session, null, position);
  return { session, events };
}

const brief = (s: RoutedStanza) => `${s.kind} ${s.type ?? 'available'} ${s.from} -> ${s.to}`;
const settle = () => new Promise((r) => setTimeout(r, 5));

describe('contacts on a routed domain', () => {
  it('a subscribe goes out from the bare address with pending-out; the remote answer gives `to`, then its presence arrives', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    const { events } = await open(engine, A);
    route.take();
    const item = await engine.rosters.act(A, R, 'subscribe');
    expect(item).toMatchObject({ subscription: 'none', pendingOut: true });
    expect(route.take().map(brief)).toEqual([`presence subscribe ${A} -> ${R}`]);
    events.length = 0;
    await route.handle.deliver(inbound('presence', R, A, 'subscribed'));
    expect(await store.rosters.get(A, R)).toMatchObject({ subscription: 'to', pendingOut: false });
    expect(events.map((e) => e.ev)).toEqual(['roster', 'subscription']);
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, null, '<show>away</show><status>on a train</status><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v"/>'));
    const p = events.at(-1)!;
    expect(p).toMatchObject({ ev: 'presence', data: { user: R, state: 'away', status: 'on a train', resources: [{ resource: 'phone', state: 'away' }] } });
    // XMPP sessions send it from the full address with the contact's own extensions.
    expect(p.resources?.[R]?.[0]).toMatchObject({ resource: 'phone', presence: { availability: 'away', extensions: '<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v"/>' } });
    // Remembered: a session that logs in later gets it in its snapshot, and presence.get answers it.
    const later = await open(engine, A, 'later', true);
    const snap = later.events.find((e) => e.ev === 'presence.snapshot')!;
    expect((snap.data.presences as Array<{ user: string; state: string }>).find((x) => x.user === R)).toMatchObject({ state: 'away' });
    expect(snap.resources?.[R]).toHaveLength(1);
    expect(await engine.presence.query(A, R)).toMatchObject({ state: 'away', status: 'on a train' });
    // Unavailable from the last resource: offline again.
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, 'unavailable'));
    expect(events.at(-1)).toMatchObject({ ev: 'presence', data: { user: R, state: 'offline' }, resources: { [R]: [{ resource: 'phone', presence: null }] } });
  });

  it('an inbound request waits as pending-in while the user is away; approving sends subscribed and presence from each resource', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await route.handle.deliver(inbound('presence', R, A, 'subscribe'));
    expect(await store.rosters.get(A, R)).toMatchObject({ subscription: 'none', pendingIn: true });
    expect(await engine.rosters.pendingIn(A)).toEqual([R]);
    await open(engine, A, 'desk');
    route.take();
    await engine.rosters.act(A, R, 'subscribed');
    expect(route.take().map(brief)).toEqual([`presence subscribed ${A} -> ${R}`, `presence available ${A}/desk -> ${R}`]);
    // Now a subscriber: presence changes go out from the full address, one per resource.
    const { session: phone } = await open(engine, A, 'phone');
    expect(route.take().map(brief)).toEqual([`presence available ${A}/phone -> ${R}`]);
    await engine.setPresence(phone, { ...testPresence, availability: 'dnd', status: 'meeting', updatedAt: 5 });
    const out = route.take();
    expect(out.map(brief)).toEqual([`presence available ${A}/phone -> ${R}`]);
    expect(out[0]!.xml).toBe('<show>dnd</show><status>meeting</status>');
    await engine.closeSession(phone);
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A}/phone -> ${R}`]);
    // §3.1.3: a subscribe already approved is answered at once on the user's behalf.
    await route.handle.deliver(inbound('presence', R, A, 'subscribe'));
    expect(route.take().map(brief)).toEqual([`presence subscribed ${A} -> ${R}`, `presence available ${A}/desk -> ${R}`]);
  });

  it('probes: the first resource probes remote contacts; a subscriber\'s probe is answered, a stranger\'s ignored', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await store.rosters.put([
      { owner: A, contact: R, name: null, groups: [], subscription: 'both', pendingOut: false, pendingIn: false },
      { owner: A, contact: 'tom@remote.test', name: null, groups: [], subscription: 'from', pendingOut: false, pendingIn: false },
    ]);
    await open(engine, A, 'one');
    const first = route.take().map(brief);
    expect(first).toContain(`presence probe ${A} -> ${R}`);
    expect(first).not.toContain(`presence probe ${A} -> tom@remote.test`);
    // Initial presence to both subscribers (§4.2.2).
    expect(first).toContain(`presence available ${A}/one -> ${R}`);
    expect(first).toContain(`presence available ${A}/one -> tom@remote.test`);
    await open(engine, A, 'two');
    expect(route.take().map(brief).filter((b) => b.includes('probe'))).toEqual([]);
    await route.handle.deliver(inbound('presence', 'tom@remote.test/x', A, 'probe'));
    expect(route.take().map(brief).sort()).toEqual([`presence available ${A}/one -> tom@remote.test`, `presence available ${A}/two -> tom@remote.test`]);
    await route.handle.deliver(inbound('presence', 'eve@remote.test', A, 'probe'));
    expect(route.take()).toEqual([]);
  });

  it('a probe for a user who is away: unavailable from the bare address to a subscriber, nothing to others', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await store.rosters.put([{ owner: A, contact: 'tom@remote.test', name: null, groups: [], subscription: 'from', pendingOut: false, pendingIn: false }]);
    await route.handle.deliver(inbound('presence', 'tom@remote.test/x', A, 'probe'));
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A} -> tom@remote.test`]);
    await route.handle.deliver(inbound('presence', 'eve@remote.test', A, 'probe'));
    expect(route.take()).toEqual([]);
    await engine.blocks.block(A, ['tom@remote.test']);
    // The block itself tells the contact the user is unavailable (XEP-0191 §3.3); a probe then gets nothing.
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A} -> tom@remote.test`]);
    await route.handle.deliver(inbound('presence', 'tom@remote.test/x', A, 'probe'));
    expect(route.take()).toEqual([]);
  });

  it('cancellations both ways: unsubscribe in sends unavailable out; unsubscribed in ends the contact\'s presence', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await store.rosters.put([{ owner: A, contact: R, name: null, groups: [], subscription: 'both', pendingOut: false, pendingIn: false }]);
    const { events } = await open(engine, A, 'desk');
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, null));
    route.take();
    await route.handle.deliver(inbound('presence', R, A, 'unsubscribe'));
    expect(await store.rosters.get(A, R)).toMatchObject({ subscription: 'to' });
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A}/desk -> ${R}`]);
    events.length = 0;
    await route.handle.deliver(inbound('presence', R, A, 'unsubscribed'));
    expect(await store.rosters.get(A, R)).toMatchObject({ subscription: 'none' });
    expect(events.map((e) => e.ev)).toEqual(['roster', 'subscription', 'presence']);
    expect(events[2]).toMatchObject({ data: { user: R, state: 'offline' } });
    // No longer a contact: its presence is directed presence now, relayed to XMPP sessions only.
    events.length = 0;
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, null));
    expect(events.map((e) => e.ev)).toEqual([]);
    await expect(engine.presence.query(A, R)).rejects.toThrow(/not subscribed/);
  });

  it('blocking: a blocked contact\'s request is dropped; asking a blocked address is refused', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await engine.blocks.block(A, [R]);
    await route.handle.deliver(inbound('presence', R, A, 'subscribe'));
    expect(await store.rosters.get(A, R)).toBeNull();
    await expect(engine.rosters.act(A, R, 'subscribe')).rejects.toMatchObject({ code: 'not-acceptable' });
    expect(route.take()).toEqual([]);
  });

  it('blocking a remote contact: unavailable both ways; unblocking: presence again and a probe', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await store.rosters.put([{ owner: A, contact: R, name: null, groups: [], subscription: 'both', pendingOut: false, pendingIn: false }]);
    const { events } = await open(engine, A, 'desk');
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, null));
    route.take();
    events.length = 0;
    await engine.blocks.block(A, ['remote.test']);
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A}/desk -> ${R}`]);
    expect(events.filter((e) => e.ev === 'presence').map((e) => [e.data.user, e.data.state])).toEqual([[R, 'offline']]);
    // While blocked, the contact's presence and probes go nowhere.
    await route.handle.deliver(inbound('presence', `${R}/phone`, A, null));
    await route.handle.deliver(inbound('presence', R, A, 'probe'));
    expect(route.take()).toEqual([]);
    await expect(engine.presence.query(A, R)).rejects.toMatchObject({ code: 'forbidden' });
    await engine.blocks.unblock(A, ['remote.test']);
    expect(route.take().map(brief)).toEqual([`presence available ${A}/desk -> ${R}`, `presence probe ${A} -> ${R}`]);
  });

  it('removing a remote contact cancels both ways through the route; JSON directed presence goes through it too', async () => {
    const { engine, store } = await testEngine([A]);
    const route = fakeRoute(engine);
    await store.rosters.put([{ owner: A, contact: R, name: 'Rita', groups: ['partners'], subscription: 'both', pendingOut: false, pendingIn: false }]);
    const { session } = await open(engine, A, 'desk');
    route.take();
    await engine.rosters.remove(A, R);
    expect(route.take().map(brief)).toEqual([`presence unsubscribe ${A} -> ${R}`, `presence unsubscribed ${A} -> ${R}`, `presence unavailable ${A}/desk -> ${R}`]);
    expect(await store.rosters.get(A, R)).toBeNull();
    // roster.set keeps a remote contact without asking the directory (RFC 6121 §2.3).
    await engine.rosters.set(A, 'tom@remote.test', 'Tom', []);
    expect(await store.rosters.get(A, 'tom@remote.test')).toMatchObject({ name: 'Tom', subscription: 'none' });
    await store.rosters.put([{ owner: A, contact: 'tom@remote.test', name: 'Tom', groups: [], subscription: 'from', pendingOut: false, pendingIn: false }]);
    engine.rosters.invalidate(A);
    engine.presence.invalidate(A);
    await engine.presence.directed(session, 'tom@remote.test');
    expect(route.take().map(brief)).toEqual([`presence available ${A}/desk -> tom@remote.test`]);
    await engine.closeSession(session);
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A}/desk -> tom@remote.test`, `presence unavailable ${A}/desk -> tom@remote.test`]);
  });

  it('directed presence to a remote room and a component gets unavailable when the session ends (§4.6.3)', async () => {
    const { engine } = await testEngine([A]);
    const route = fakeRoute(engine);
    const comp: RoutedStanza[] = [];
    engine.domainRoute({ name: 'components', domains: ['svc.example.com'], send: (s) => void comp.push(s) });
    const { session } = await open(engine, A, 'laptop');
    const { session: other } = await open(engine, A, 'phone');
    route.take();
    const join = { kind: 'presence' as const, to: 'lounge@conference.remote.test/al', type: null, id: null, body: null, xml: '<x xmlns="http://jabber.org/protocol/muc"/>' };
    await engine.routeRemote(session, join);
    await engine.routeRemote(session, { ...join, to: 'svc.example.com', xml: null });
    await engine.routeRemote(other, { ...join, to: 'chess@conference.remote.test/al' });
    await engine.routeRemote(other, { ...join, to: 'chess@conference.remote.test/al', type: 'unavailable' });
    expect(route.take().map(brief)).toEqual([
      `presence available ${A}/laptop -> lounge@conference.remote.test/al`,
      `presence available ${A}/phone -> chess@conference.remote.test/al`,
      `presence unavailable ${A}/phone -> chess@conference.remote.test/al`,
    ]);
    comp.length = 0;
    await engine.closeSession(session);
    expect(route.take().map(brief)).toEqual([`presence unavailable ${A}/laptop -> lounge@conference.remote.test/al`]);
    expect(comp.map(brief)).toEqual([`presence unavailable ${A}/laptop -> svc.example.com`]);
    // The other session left its room itself: nothing more when it goes unavailable.
    await engine.announce(other, null);
    expect(route.take()).toEqual([]);
  });

  it('a chat message to a remote address goes through the route and is kept in history; the answer comes back', async () => {
    const { engine } = await testEngine([A]);
    const route = fakeRoute(engine);
    const { session, events } = await open(engine, A);
    route.take();
    await engine.messages.send(session, { local: 'rita', domain: 'remote.test', resource: null }, 'hello rita', 'c1', 0);
    await settle();
    expect(route.take()).toMatchObject([{ kind: 'message', type: 'chat', from: `${A}/r`, to: R, body: 'hello rita' }]);
    await route.handle.deliver(inbound('message', `${R}/phone`, A, 'chat', null, 'hi alice'));
    expect(events.some((e) => e.ev === 'message' && e.data.body === 'hi alice')).toBe(true);
    const h = await engine.history(A, { with: R });
    expect(h.messages.map((m) => m.body)).toEqual(['hello rita', 'hi alice']);
  });
});
