/**
 * Domain routes and what they carry across a cluster (test-cluster.ts): a route registered on one node (a
 * component connected there) serves users on every node, refusals coming back to the sender; a starting node
 * learns the running nodes' routes and a node that dies takes its routes with it; remote contacts' presence and
 * remote room occupants heard through one node's route are known on every node.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../core/address.js';
import { ParleyError } from '../core/errors.js';
import { CLUSTER_SUBJECT } from './cluster.js';
import type { DomainRoute, RoutedStanza } from './domain-routes.js';
import type { Engine } from './engine.js';
import type { ServerEvent } from './outbound.js';
import type { Session, Sink } from './session.js';
import { settle, TestCluster, type TestNode } from './test-cluster.js';
import { testPresence } from './test-engine.js';
import { fakeRoute, inboundStanza } from './test-routes.js';

const A = 'alice@example.com';
const B = 'bob@example.com';
const SENSORS = 'sensors.example.com';
const R = 'rita@remote.test';
const ROOM = 'lounge@conference.example.com';

let cluster: TestCluster;
beforeEach(() => {
  cluster = new TestCluster([A, B]);
});
afterEach(async () => {
  await cluster.close();
});

/** The component route: exact domain SENSORS. */
const component = (engine: Engine, spec: Partial<DomainRoute> = {}) => fakeRoute(engine, { domains: [SENSORS], ...spec });
/** The federation-like route every node runs: any domain under remote.test. */
const federation = (engine: Engine) => fakeRoute(engine);
const inbound = inboundStanza;

async function open(n: TestNode, user: string, resource = 'r'): Promise<{ session: Session; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const sink: Sink = { send: (o) => events.push(o.event), close: () => undefined, relaysStanzas: true };
  const { session, position } = await n.engine.openSession(user, resource, sink, { ...testPresence });
  await n.engine.catchUp(session, null, position);
  await settle();
  return { session, events };
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ParleyError ? e.code : String(e);
  }
};

const brief = (s: RoutedStanza) => `${s.kind} ${s.type ?? '-'} ${s.from} -> ${s.to}${s.body === null ? '' : `: ${s.body}`}`;

describe('domain routes across nodes', () => {
  it('a user on another node reaches a component connected to one node; its refusal comes back to the sender', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const comp = component(one.engine);
    await settle();
    const a = await open(two, A, 'phone');
    expect(two.engine.isRouted(SENSORS)).toBe(true);

    // An iq and a stored message from node two go down node one's route, `from` stamped with the sender's address.
    await two.engine.routeRemote(a.session, { kind: 'iq', to: SENSORS, type: 'get', id: 'q1', body: null, xml: '<query xmlns="http://jabber.org/protocol/disco#info"/>' });
    await two.engine.messages.send(a.session, parseAddress(`lamp@${SENSORS}`), 'switch on', null, 0);
    expect(comp.take().map(brief)).toEqual([`iq get ${A}/phone -> ${SENSORS}`, `message chat ${A}/phone -> lamp@${SENSORS}: switch on`]);

    // The route's refusal on node one is the sender's error on node two.
    comp.refuse = new ParleyError('item-not-found', 'no such thing');
    expect(await codeOf(two.engine.routeRemote(a.session, { kind: 'iq', to: `nothing@${SENSORS}`, type: 'get', id: 'q2', body: null, xml: null }))).toBe('item-not-found');
    comp.refuse = null;

    // What the component sends to the user reaches the session on node two.
    await comp.handle.deliver(inbound('message', `lamp@${SENSORS}`, `${A}/phone`, 'chat', null, 'switched on'));
    await settle();
    expect(a.events.find((e) => e.ev === 'message')).toMatchObject({ data: { from: `lamp@${SENSORS}`, body: 'switched on' } });

    // The component's services are listed on node two too (XEP-0030 disco#items of the hosted domain).
    expect(two.engine.remoteServices('example.com')).toEqual([{ jid: SENSORS }]);
  });

  it('a request without a session (a module\'s serverIq) through another node\'s route gets its answer back', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const comp = component(one.engine);
    await settle();
    const asked = two.engine.serverIq({ from: A, to: SENSORS, type: 'set', xml: '<publish xmlns="urn:test"/>' });
    await settle();
    const [iq] = comp.take();
    expect(iq).toMatchObject({ kind: 'iq', type: 'set', from: A, to: SENSORS });
    // The component answers on node one; the answer goes back to node two, not to alice's sessions.
    await comp.handle.deliver({ ...inbound('iq', SENSORS, A, 'result'), id: iq!.id, xml: '<done xmlns="urn:test"/>' });
    expect(await asked).toEqual({ type: 'result', xml: '<done xmlns="urn:test"/>' });
  });

  it('a component configured on every node is served by the node it is connected to, and not when it leaves', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    let connected = false;
    const notHere = (): never => {
      throw new ParleyError('service-unavailable', `the component ${SENSORS} is not connected`);
    };
    const there = component(one.engine, { serves: () => connected, check: () => (connected ? undefined : notHere()) });
    const here = component(two.engine, { serves: () => false, check: notHere });
    const a = await open(two, A);
    // Nowhere connected: node two's own route refuses, as in one process.
    expect(await codeOf(two.engine.routeRemote(a.session, { kind: 'presence', to: SENSORS, type: null, id: null, body: null, xml: null }))).toBe('service-unavailable');
    connected = true;
    there.handle.changed();
    await settle();
    await two.engine.routeRemote(a.session, { kind: 'presence', to: SENSORS, type: null, id: null, body: null, xml: null });
    expect(there.take().map(brief)).toEqual([`presence - ${A}/r -> ${SENSORS}`]);
    expect(here.take()).toEqual([]);
    connected = false;
    there.handle.changed();
    await settle();
    expect(await codeOf(two.engine.messages.send(a.session, parseAddress(`lamp@${SENSORS}`), 'on', null, 0))).toBe('service-unavailable');
    expect(there.take()).toEqual([]);
  });

  it('a starting node learns the running nodes\' routes; a node that dies takes its routes with it', async () => {
    const one = await cluster.node();
    component(one.engine);
    const two = await cluster.node();
    expect(two.engine.isRouted(SENSORS)).toBe(true);
    const a = await open(two, A);
    one.bus.down = true;
    cluster.advance(7_000);
    two.engine.ctx.cluster.sweep();
    expect(two.engine.isRouted(SENSORS)).toBe(false);
    expect(await codeOf(two.engine.routeRemote(a.session, { kind: 'presence', to: SENSORS, type: null, id: null, body: null, xml: null }))).toBe('remote-server-not-found');
  });

  it('a stanza handed to a node that dies on the way is refused, not left waiting', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    component(one.engine);
    await settle();
    const a = await open(two, A);
    one.bus.down = true; // the stanza is published and never answered
    const sent = codeOf(two.engine.routeRemote(a.session, { kind: 'presence', to: SENSORS, type: null, id: null, body: null, xml: null }));
    await settle(); // handed over, waiting for the answer
    cluster.advance(7_000);
    two.engine.ctx.cluster.sweep();
    expect(await sent).toBe('service-unavailable');
  });

  it('a message waiting for another node\'s route holds up no other message', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    component(one.engine, { send: () => new Promise<void>(() => undefined) }); // hands over, never answers
    await settle();
    const a = await open(two, A);
    const b = await open(two, B);
    const stuck = codeOf(two.engine.messages.send(a.session, parseAddress(`lamp@${SENSORS}`), 'on', null, 0));
    await settle();
    await two.engine.messages.send(b.session, parseAddress(A), 'meanwhile', null, 0);
    expect(a.events.some((e) => e.ev === 'message' && e.data.body === 'meanwhile')).toBe(true);
    // The node that never answers dies: the waiting sender is refused.
    one.bus.down = true;
    cluster.advance(7_000);
    two.engine.ctx.cluster.sweep();
    expect(await stuck).toBe('service-unavailable');
  });

  it('a node alone publishes nothing for its routes or what they carry', async () => {
    const one = await cluster.node();
    const comp = component(one.engine);
    const fed = federation(one.engine);
    const a = await open(one, A);
    await one.engine.routeRemote(a.session, { kind: 'presence', to: SENSORS, type: null, id: null, body: null, xml: null });
    await one.engine.rosters.act(A, R, 'subscribe');
    await fed.handle.deliver(inbound('presence', R, A, 'subscribed'));
    await fed.handle.deliver(inbound('presence', `${R}/phone`, A, null));
    expect(comp.take()).toHaveLength(1);
    const published = one.bus.published.filter((p) => p.subject.startsWith('parley.'));
    expect(published.map((p) => [p.subject, (p.message as { t?: string }).t])).toEqual([[CLUSTER_SUBJECT, 'hello']]);
  });
});

describe('what routes carry, on every node', () => {
  it('a remote contact\'s presence heard through one node is in the login snapshot on another, and on a node started later', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const fed = federation(one.engine);
    federation(two.engine);
    await one.engine.rosters.act(A, R, 'subscribe');
    await fed.handle.deliver(inbound('presence', R, A, 'subscribed'));
    await fed.handle.deliver(inbound('presence', `${R}/phone`, A, null, '<show>away</show><status>on a train</status>'));
    await settle();
    const snapshotOf = (events: ServerEvent[]) => (events.find((e) => e.ev === 'presence.snapshot')!.data.presences as Array<{ user: string; state: string; status: string | null }>).find((p) => p.user === R);

    const onTwo = await open(two, A, 'laptop');
    expect(snapshotOf(onTwo.events)).toMatchObject({ state: 'away', status: 'on a train' });
    expect(await two.engine.presence.query(A, R)).toMatchObject({ state: 'away' });
    const three = await cluster.node();
    federation(three.engine);
    expect(snapshotOf((await open(three, A, 'tablet')).events)).toMatchObject({ state: 'away' });

    // The contact goes away through node one: node two's session hears it once, and forgets it.
    onTwo.events.length = 0;
    await fed.handle.deliver(inbound('presence', `${R}/phone`, A, 'unavailable'));
    await settle();
    expect(onTwo.events.filter((e) => e.ev === 'presence')).toMatchObject([{ data: { user: R, state: 'offline' } }]);
    expect(await two.engine.presence.query(A, R)).toMatchObject({ state: 'offline' });
    expect(await three.engine.presence.query(A, R)).toMatchObject({ state: 'offline' });
  });

  it('remote occupants who entered through one node are listed on another and get what is posted there', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const fedOne = federation(one.engine);
    const fedTwo = federation(two.engine);
    await one.engine.rooms.create(A, 'The Lounge', 'lounge', false);
    const a = await open(two, A);
    await two.engine.occupy(a.session, ROOM, true, 'owner');
    await fedOne.handle.deliver(inbound('presence', `${R}/phone`, `${ROOM}/rita`, null, '<x xmlns="http://jabber.org/protocol/muc"/>'));
    await settle();
    fedOne.take();
    expect((await two.engine.rooms.occupants(ROOM, A)).map((o) => o.user)).toContain(R);

    // A member on node two posts: the remote occupant gets it through node two's own route.
    await two.engine.messages.send(a.session, parseAddress(ROOM), 'welcome rita', null, 0);
    await settle();
    expect(fedTwo.take().map(brief)).toEqual([`message groupchat ${ROOM}/alice -> ${R}/phone: welcome rita`]);

    // Bob enters on node two: the remote occupant hears of it.
    const b = await open(two, B);
    await two.engine.occupy(b.session, ROOM, true);
    expect(fedTwo.take().map(brief)).toEqual([`presence - ${ROOM}/bob -> ${R}/phone`]);

    // A node started later knows the occupant too; the exit through node one is seen everywhere.
    const three = await cluster.node();
    expect((await three.engine.rooms.occupants(ROOM, A)).map((o) => o.user)).toContain(R);
    await fedOne.handle.deliver(inbound('presence', `${R}/phone`, `${ROOM}/rita`, 'unavailable'));
    await settle();
    expect((await two.engine.rooms.occupants(ROOM, A)).map((o) => o.user)).not.toContain(R);
    expect((await three.engine.rooms.occupants(ROOM, A)).map((o) => o.user)).not.toContain(R);
  });
});
