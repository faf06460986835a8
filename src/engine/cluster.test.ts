/**
 * Several engines in one process as several Parley processes (test-cluster.ts): a user connected to one node
 * reaches a user connected to another.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../core/address.js';
import { CLUSTER_SUBJECT } from './cluster.js';
import type { Outbound } from './outbound.js';
import type { Session, Sink } from './session.js';
import { settle, TestCluster, type TestNode as Node } from './test-cluster.js';
import { testPresence } from './test-engine.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';
const USERS = [A, B, C];

class RecordingSink implements Sink {
  readonly got: Outbound[] = [];
  closed: string | null = null;
  constructor(readonly relaysStanzas = false) {}
  send(out: Outbound): void {
    this.got.push(out);
  }
  close(code: string): void {
    this.closed = code;
  }
  events(ev: string): Array<Record<string, unknown>> {
    return this.got.filter((o) => o.event.ev === ev).map((o) => o.event.data);
  }
}

let cluster: TestCluster;

beforeEach(() => {
  cluster = new TestCluster(USERS);
});

afterEach(async () => {
  await cluster.close();
});

const node = (): Promise<Node> => cluster.node();

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

async function open(n: Node, user: string, resource: string, sink = new RecordingSink()): Promise<{ s: Session; sink: RecordingSink }> {
  const { session, position } = await n.engine.openSession(user, resource, sink, { ...testPresence });
  await n.engine.catchUp(session, null, position);
  await settle();
  return { s: session, sink };
}

describe('what is connected', () => {
  it('liveCounts counts the sessions of every node, by protocol, and each user online once', async () => {
    const one = await node();
    const two = await node();
    const sink = (protocol: 'json' | 'xmpp-tcp' | 'xmpp-bosh'): RecordingSink => Object.assign(new RecordingSink(), { protocol });
    await open(one, A, 'phone', sink('json'));
    await open(one, B, 'desk', sink('xmpp-tcp'));
    await open(two, A, 'laptop', sink('xmpp-bosh'));
    await open(two, C, 'web', sink('json'));
    const counts = { sessions: 4, byProtocol: { json: 2, 'xmpp-tcp': 1, 'xmpp-websocket': 0, 'xmpp-bosh': 1, other: 0 }, onlineUsers: 3 };
    await until(() => one.engine.liveCounts().sessions === 4 && two.engine.liveCounts().sessions === 4, 'both nodes to know all four sessions');
    expect(one.engine.liveCounts()).toEqual(counts);
    expect(two.engine.liveCounts()).toEqual(counts);
    expect(one.engine.nodeId).not.toBe(two.engine.nodeId);
  });
});

describe('delivery across nodes', () => {
  it('a 1:1 message from a user on one node reaches the recipient on another live, not through the offline queue', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    const b = await open(two, B, 'desk');
    expect(one.engine.isOnline(B)).toBe(true);
    const ack = await one.engine.messages.send(a.s, parseAddress(B), 'hello across', null, 0);
    await until(() => b.sink.events('message').length === 1, 'the delivery on node two');
    expect(b.sink.events('message')[0]).toMatchObject({ id: ack.id, seq: ack.seq, body: 'hello across', from: `${A}/phone` });
    expect(await two.store.messages.offline(B, 0, 10)).toEqual([]);
  });

  it('a message to a user with no session on any node is queued offline and replayed on whichever node they log in', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    const ack = await one.engine.messages.send(a.s, parseAddress(B), 'later', null, 0);
    expect((await one.store.messages.offline(B, 0, 10)).map((r) => r.seq)).toEqual([ack.seq]);
    const b = await open(two, B, 'desk');
    expect(b.sink.events('message').map((d) => d.id)).toEqual([ack.id]);
  });

  it('a message to a full address reaches that session on the other node only; the sender\'s other resource there gets the carbon', async () => {
    const one = await node();
    const two = await node();
    const a1 = await open(one, A, 'phone');
    const a2 = await open(two, A, 'laptop');
    const bx = await open(two, B, 'x');
    const by = await open(one, B, 'y');
    await one.engine.messages.send(a1.s, parseAddress(`${B}/x`), 'only x', null, 0);
    await until(() => bx.sink.events('message').length === 1 && a2.sink.events('message').length === 1, 'x and the carbon');
    await settle();
    expect(by.sink.events('message')).toHaveLength(0);
    expect(a1.sink.events('message')).toHaveLength(0);
    // Each node delivers one copy per session, however many of its sessions the event is for.
    expect(bx.sink.events('message')).toHaveLength(1);
    expect(a2.sink.events('message')).toHaveLength(1);
  });

  it('a bare-address message reaches the recipient\'s sessions on both nodes and the sender\'s other sessions everywhere', async () => {
    const one = await node();
    const two = await node();
    const three = await node();
    const a1 = await open(one, A, 'phone');
    const a2 = await open(three, A, 'laptop');
    const b1 = await open(two, B, 'x');
    const b2 = await open(three, B, 'y');
    const b3 = await open(one, B, 'z');
    await one.engine.messages.send(a1.s, parseAddress(B), 'to all of b', null, 0);
    await until(() => [a2, b1, b2, b3].every((x) => x.sink.events('message').length === 1), 'every copy');
    await settle();
    expect([a1, a2, b1, b2, b3].map((x) => x.sink.events('message').length)).toEqual([0, 1, 1, 1, 1]);
    // One deliver message per node that holds recipients, not one per session or per user.
    const delivers = one.bus.published.filter((p) => p.subject.endsWith('.deliver') && (p.message as { event: { ev: string } }).event.ev === 'message');
    expect(delivers).toHaveLength(2);
  });

  it('the recipient\'s other session on another node gets a copy of a full-address message only if it enabled carbons (XEP-0280 §6)', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    const bx = await open(one, B, 'x');
    const by = await open(two, B, 'y');
    await one.engine.messages.send(a.s, parseAddress(`${B}/x`), 'first', null, 0);
    await settle();
    expect(by.sink.events('message')).toHaveLength(0);
    by.s.carbons = true;
    await until(() => one.engine.sessionsOf(B).some((s) => s.resource === 'y' && s.carbons), 'the carbons flag on node one');
    await one.engine.messages.send(a.s, parseAddress(`${B}/x`), 'second', null, 0);
    await until(() => by.sink.events('message').length === 1, 'the carbon');
    expect(by.sink.events('message')[0]).toMatchObject({ body: 'second' });
    expect(bx.sink.events('message')).toHaveLength(2);
  });

  it('an iq relayed to a full address reaches an XMPP session on another node, and never a JSON one', async () => {
    const one = await node();
    const two = await node();
    await open(one, A, 'phone');
    const xmpp = await open(two, B, 'xmpp', new RecordingSink(true));
    await open(two, B, 'json');
    expect(one.engine.relayStanza(B, 'xmpp', '<iq type="get" id="1"/>', () => true)).toBe(true);
    expect(one.engine.relayStanza(B, 'json', '<iq type="get" id="2"/>', () => true)).toBe(false);
    await until(() => xmpp.sink.events('stanza').length === 1, 'the relayed stanza');
    expect(xmpp.sink.events('stanza')[0]).toEqual({ xml: '<iq type="get" id="1"/>' });
  });

  it('room messages reach members on every node once; occupancy is announced once per user across nodes', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    const b1 = await open(two, B, 'x');
    const b2 = await open(one, B, 'y');
    const room = await one.engine.rooms.create(A, 'Team', 'team', false);
    await one.engine.messages.send(a.s, parseAddress(room.address), 'before b', null, 0);
    // b joins through node two: node one's cached member list is dropped through the bus.
    await two.engine.rooms.join(room.address, B);
    await settle();
    await one.engine.messages.send(a.s, parseAddress(room.address), 'all hands', null, 0);
    await until(() => b1.sink.events('message').length === 1 && b2.sink.events('message').length === 1, 'both of b');
    // Who is in the room counts the member connected to the other node.
    await one.engine.closeSession(b2.s);
    await settle();
    expect((await one.engine.rooms.occupants(room.address, A)).map((o) => o.user).sort()).toEqual([A, B]);
    // b's XMPP-style live presence in the room: the first session entering is announced, a second is not.
    await two.engine.occupy(b1.s, room.address, true, 'member');
    await until(() => a.sink.events('room.occupant').length === 1, 'the occupant announcement');
    const b3 = await open(one, B, 'z');
    await one.engine.occupy(b3.s, room.address, true, 'member');
    await settle();
    expect(a.sink.events('room.occupant')).toEqual([{ room: room.address, user: B, present: true, role: 'member' }]);
    await two.engine.occupy(b1.s, room.address, false);
    await settle();
    expect(a.sink.events('room.occupant')).toHaveLength(1);
    await one.engine.occupy(b3.s, room.address, false);
    await until(() => a.sink.events('room.occupant').length === 2, 'the leave');
    expect(a.sink.events('room.occupant')[1]).toEqual({ room: room.address, user: B, present: false });
  });
});

describe('caches across nodes', () => {
  it('a block list changed on one node holds on the other at once (XEP-0191)', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    await open(one, B, 'y');
    const bx = await open(two, B, 'x');
    // Node one caches b's (empty) list while b is online there.
    await one.engine.messages.send(a.s, parseAddress(B), 'fine', null, 0);
    await two.engine.blocks.block(B, [A]);
    await settle();
    await expect(one.engine.messages.send(a.s, parseAddress(B), 'blocked', null, 0)).rejects.toMatchObject({ code: 'service-unavailable' });
    expect(bx.sink.events('message').map((d) => d.body)).toEqual(['fine']);
  });

  it('a subscription approved on one node changes the presence audience the other node fans out to', async () => {
    const one = await node();
    const two = await node();
    const a = await open(one, A, 'phone');
    const b = await open(two, B, 'desk');
    // Node two caches b's (empty) audience.
    await two.engine.setPresence(b.s, { ...testPresence, status: 'first', explicit: true, updatedAt: Date.now() });
    // a asks, b approves from a session on node one: node two learns that b's audience changed.
    await open(one, B, 'phone');
    await one.engine.rosters.act(A, B, 'subscribe');
    await one.engine.rosters.act(B, A, 'subscribed');
    await settle();
    await two.engine.setPresence(b.s, { ...testPresence, status: 'second', explicit: true, updatedAt: Date.now() });
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.status === 'second'), 'b\'s presence at a');
  });
});

describe('presence across nodes', () => {
  async function contacts(n: Node): Promise<void> {
    await n.engine.admin.addGroupMember('team', A);
    await n.engine.admin.addGroupMember('team', B);
    await settle();
  }

  it('a contact on another node gets the presence once; the snapshot and probes count sessions on every node', async () => {
    const one = await node();
    const two = await node();
    await contacts(one);
    const a = await open(one, A, 'phone');
    const b = await open(two, B, 'desk');
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.state !== 'offline'), 'b online at a');
    expect(a.sink.events('presence').filter((p) => p.user === B)).toHaveLength(1);
    await two.engine.setPresence(b.s, { ...testPresence, availability: 'away', status: 'lunch', explicit: true, updatedAt: Date.now() });
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.status === 'lunch'), 'the change');
    expect(a.sink.events('presence').filter((p) => p.user === B)).toHaveLength(2);
    // b's second session on node one: the aggregate counts both, on either node (a probe, RFC 6121 §4.3).
    await open(one, B, 'phone');
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.sessions === 2), 'two sessions');
    expect((await one.engine.presence.query(A, B)).sessions).toBe(2);
    expect((await two.engine.presence.query(A, B)).sessions).toBe(2);
    expect((await two.engine.presence.query(A, B)).status).toBe('lunch');
    // A new session of a gets b's presence from the directory in its snapshot.
    const a2 = await open(two, A, 'tablet');
    const snap = a2.sink.events('presence.snapshot')[0]!.presences as Array<Record<string, unknown>>;
    expect(snap.find((p) => p.user === B)).toMatchObject({ sessions: 2, status: 'lunch' });
  });

  it('a session closing on one node is seen by the other: directory, aggregate and one offline presence', async () => {
    const one = await node();
    const two = await node();
    await contacts(one);
    const a = await open(one, A, 'phone');
    const b = await open(two, B, 'desk');
    expect(one.engine.sessionsOf(B).map((s) => s.resource)).toEqual(['desk']);
    await two.engine.closeSession(b.s);
    await until(() => one.engine.sessionsOf(B).length === 0, 'the directory');
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.state === 'offline'), 'b offline at a');
    await settle();
    expect(a.sink.events('presence').filter((p) => p.user === B && p.state === 'offline')).toHaveLength(1);
    expect(one.engine.isOnline(B)).toBe(false);
    expect((await one.engine.presence.query(A, B)).state).toBe('offline');
  });
});

describe('per-resource presence across nodes (RFC 6121 §4.2.2, §4.4.2, §4.5.2)', () => {
  const CAPS = '<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v1"/>';
  /** The resources a stanza-relaying sink was told of, for `user`, in order: [resource, ver or null (unavailable)]. */
  const told = (sink: RecordingSink, user: string): Array<[string, string | null]> =>
    sink.got
      .filter((o) => o.event.ev === 'presence')
      .flatMap((o) => o.event.resources?.[user] ?? [])
      .map((r) => [r.resource, r.presence === null ? null : (r.presence.extensions ?? '')]);

  it('a resource\'s presence and extensions reach watchers on another node; a change of the extensions alone only XMPP', async () => {
    const one = await node();
    const two = await node();
    await one.engine.admin.addGroupMember('team', A);
    await one.engine.admin.addGroupMember('team', B);
    await settle();
    const xmpp = await open(one, A, 'phone', new RecordingSink(true));
    const json = await open(one, A, 'web');
    const b = await open(two, B, 'desk');
    await until(() => told(xmpp.sink, B).length === 1, 'b at a');
    await two.engine.setPresence(b.s, { ...testPresence, updatedAt: Date.now(), extensions: CAPS });
    await until(() => told(xmpp.sink, B).length === 2, 'the caps at a');
    expect(told(xmpp.sink, B)).toEqual([
      ['desk', ''],
      ['desk', CAPS],
    ]);
    // The aggregate did not change: the JSON session heard of b once, and never of the extensions.
    await settle();
    expect(json.sink.events('presence').filter((p) => p.user === B)).toHaveLength(1);
    expect(JSON.stringify(json.sink.events('presence'))).not.toContain('caps');
    // A second resource of b on node one; a snapshot counts both, with the extensions, on either node.
    const b2 = await open(one, B, 'pad');
    await until(() => told(xmpp.sink, B).length === 3, 'the pad at a');
    const late = await open(two, A, 'tablet', new RecordingSink(true));
    const snap = late.sink.got.find((o) => o.event.ev === 'presence.snapshot')!.event.resources!;
    expect(snap[B]!.map((r) => [r.resource, r.presence?.extensions ?? ''])).toEqual(expect.arrayContaining([['desk', CAPS], ['pad', '']]));
    // §4.5.2: the pad leaves; the desk stays. Then node two dies: its resources go, from node one.
    await one.engine.closeSession(b2.s);
    await until(() => told(xmpp.sink, B).length === 4, 'the pad gone');
    expect(told(xmpp.sink, B)[3]).toEqual(['pad', null]);
    two.bus.down = true;
    cluster.advance(60_000);
    one.engine.ctx.cluster.beat();
    one.engine.ctx.cluster.sweep();
    await until(() => told(xmpp.sink, B).length === 5, 'the desk gone');
    expect(told(xmpp.sink, B)[4]).toEqual(['desk', null]);
  });

  it('a resource\'s own state changes the JSON resources list; modules hear only of changes of the person', async () => {
    const one = await node();
    await one.engine.admin.addGroupMember('team', A);
    await one.engine.admin.addGroupMember('team', B);
    await settle();
    const a = await open(one, A, 'phone');
    const heard: string[] = [];
    one.engine.events.on('presence.changed', (e) => void heard.push(`${e.user} ${e.presence.state}`));
    const desk = await open(one, B, 'desk');
    const pad = await open(one, B, 'pad');
    await one.engine.setPresence(desk.s, { ...testPresence, availability: 'dnd', explicit: true, updatedAt: Date.now() });
    // The pad goes away: the person stays dnd (the explicit choice wins), its list of resources changes.
    await one.engine.setPresence(pad.s, { ...testPresence, availability: 'away', updatedAt: Date.now() });
    await settle();
    const last = a.sink.events('presence').filter((p) => p.user === B).pop()!;
    expect(last).toMatchObject({ state: 'dnd', sessions: 2 });
    expect(last.resources).toEqual([
      { resource: 'desk', state: 'dnd', priority: 0 },
      { resource: 'pad', state: 'away', priority: 0 },
    ]);
    // desk opening, pad opening (two sessions now), desk dnd; not the pad's own change.
    expect(heard).toEqual([`${B} available`, `${B} available`, `${B} dnd`]);
  });

  it('a presence extender adds to each presence the user\'s resources publish (the hook for XEP-0153 / XEP-0398)', async () => {
    const one = await node();
    let photo = 'ab';
    one.engine.presence.addExtender((user) => (user === B ? `<x xmlns="vcard-temp:x:update"><photo>${photo}</photo></x>` : null));
    const b = await open(one, B, 'desk');
    expect(b.s.presence.added).toBe('<x xmlns="vcard-temp:x:update"><photo>ab</photo></x>');
    await one.engine.setPresence(b.s, { ...testPresence, updatedAt: Date.now(), extensions: CAPS });
    expect([b.s.presence.extensions, b.s.presence.added]).toEqual([CAPS, '<x xmlns="vcard-temp:x:update"><photo>ab</photo></x>']);
    // What the extender adds changed: a refresh replaces it (never twice), keeping the client's own and the stamp.
    const stamp = b.s.presence.updatedAt;
    photo = 'cd';
    await one.engine.refreshPresence(B);
    expect([b.s.presence.extensions, b.s.presence.added, b.s.presence.updatedAt]).toEqual([CAPS, '<x xmlns="vcard-temp:x:update"><photo>cd</photo></x>', stamp]);
    const a = await open(one, A, 'phone');
    expect([a.s.presence.extensions, a.s.presence.added]).toEqual([undefined, undefined]);
  });
});

describe('the cluster directory', () => {
  it('a node that starts learns the sessions already open elsewhere, and they learn its own', async () => {
    const one = await node();
    await open(one, B, 'desk');
    const two = await node();
    expect(two.engine.sessionsOf(B).map((s) => s.resource)).toEqual(['desk']);
    const a = await open(two, A, 'phone');
    expect(one.engine.sessionsOf(A).map((s) => s.resource)).toEqual(['phone']);
    await two.engine.messages.send(a.s, parseAddress(B), 'hi', null, 0);
    expect(await one.store.messages.offline(B, 0, 10)).toEqual([]);
  });

  it('a node that stops heartbeating is dropped: its sessions vanish and its users\' contacts see them go offline', async () => {
    const one = await node();
    const two = await node();
    await one.engine.admin.addGroupMember('team', A);
    await one.engine.admin.addGroupMember('team', B);
    const a = await open(one, A, 'phone');
    await open(two, B, 'desk');
    expect(one.engine.isOnline(B)).toBe(true);
    two.bus.down = true; // the process hangs or its network goes
    const directory = one.engine.ctx.cluster;
    cluster.advance(1_000); // within the allowance (three heartbeats of 2 s)
    directory.sweep();
    expect(one.engine.isOnline(B)).toBe(true);
    cluster.advance(6_000);
    directory.sweep();
    expect(one.engine.isOnline(B)).toBe(false);
    expect(directory.nodes).toEqual([]);
    await until(() => a.sink.events('presence').some((p) => p.user === B && p.state === 'offline'), 'b offline at a');
    // Now a message to b is queued for later.
    const ack = await one.engine.messages.send(a.s, parseAddress(B), 'queued', null, 0);
    expect((await one.store.messages.offline(B, 0, 10)).map((r) => r.seq)).toEqual([ack.seq]);
  });

  it('when one of three nodes dies, each contact hears once that its users went offline', async () => {
    const one = await node();
    const two = await node();
    const three = await node();
    for (const u of USERS) await one.engine.admin.addGroupMember('team', u);
    await settle();
    const a = await open(one, A, 'phone');
    const c = await open(three, C, 'desk');
    await open(two, B, 'laptop');
    await until(() => [a, c].every((x) => x.sink.events('presence').some((p) => p.user === B && p.state !== 'offline')), 'b online');
    two.bus.down = true;
    cluster.advance(60_000);
    // The nodes alive beat; the silent one is dropped by both, and only one of them speaks for it.
    one.engine.ctx.cluster.beat();
    three.engine.ctx.cluster.beat();
    await settle();
    one.engine.ctx.cluster.sweep();
    three.engine.ctx.cluster.sweep();
    const offline = (x: { sink: RecordingSink }) => x.sink.events('presence').filter((p) => p.user === B && p.state === 'offline').length;
    await until(() => offline(a) === 1 && offline(c) === 1, 'b offline at a and c');
    await settle();
    expect([offline(a), offline(c)]).toEqual([1, 1]);
    expect(one.engine.ctx.cluster.nodes).toEqual([three.engine.ctx.cluster.node]);
  });

  it('a node shutting down says so: the others drop its sessions at once', async () => {
    const one = await node();
    const two = await node();
    await open(two, B, 'desk');
    expect(one.engine.isOnline(B)).toBe(true);
    await two.engine.closeAll('bye');
    await until(() => !one.engine.isOnline(B), 'the departure');
    expect(one.engine.ctx.cluster.nodes).toEqual([]);
  });

  it('a password change on one node ends the user\'s sessions on the others', async () => {
    const one = await node();
    const two = await node();
    const keep = await open(one, B, 'asking');
    const other = await open(two, B, 'desk');
    const bystander = await open(two, A, 'phone');
    await one.engine.changePassword(B, 'a new password', keep.s);
    await until(() => other.sink.closed !== null, 'the session on node two to end');
    expect(other.sink.closed).toBe('not-authorized');
    expect(two.engine.sessions.countOf(B)).toBe(0);
    expect(keep.sink.closed).toBeNull();
    expect(bystander.sink.closed).toBeNull();
    await until(() => one.engine.sessionsOf(B).length === 1, 'the directory on node one');
  });

  it('a credential revoked on one node ends the sessions it opened on the others, and only those', async () => {
    const one = await node();
    const two = await node();
    const sink = new RecordingSink();
    const { session, position } = await two.engine.openSession(C, 'bot', sink, { ...testPresence }, { credentialRef: 'apikey:k1' });
    await two.engine.catchUp(session, null, position);
    const other = await open(two, C, 'desk');
    await settle();
    expect(await one.engine.endCredentialSessions('apikey:k1', 'the API key was revoked')).toBe(0);
    await until(() => sink.closed !== null, 'the session opened with the key to end');
    expect(sink.closed).toBe('not-authorized');
    expect(other.sink.closed).toBeNull();
    expect(two.engine.sessions.countOf(C)).toBe(1);
  });

  it('removing an account ends its sessions on every node', async () => {
    const one = await node();
    const two = await node();
    const s = await open(two, C, 'desk');
    await one.engine.admin.removeUser(C);
    await until(() => s.sink.closed !== null, 'the session to end');
    expect(two.engine.sessions.countOf(C)).toBe(0);
  });

  it('binding a resource another node holds replaces that session (RFC 6120 §7.7.2.2: the newer wins)', async () => {
    const one = await node();
    const two = await node();
    const first = await open(two, B, 'same');
    const second = await open(one, B, 'same');
    await until(() => first.sink.closed !== null, 'the older session to end');
    expect(first.sink.closed).toBe('conflict');
    expect(second.sink.closed).toBeNull();
    await until(() => two.engine.sessionsOf(B).length === 1, 'node two\'s directory');
    expect(one.engine.sessionsOf(B)).toHaveLength(1);
    expect(two.engine.sessionsOf(B)[0]).toMatchObject({ resource: 'same', node: one.engine.ctx.cluster.node });
  });

  it('two binds of one resource that cross on the bus leave exactly one session', async () => {
    const one = await node();
    const two = await node();
    const s1 = new RecordingSink();
    const s2 = new RecordingSink();
    await Promise.all([one.engine.openSession(B, 'same', s1, { ...testPresence }), two.engine.openSession(B, 'same', s2, { ...testPresence })]);
    await settle();
    expect([s1.closed, s2.closed].filter((c) => c === 'conflict')).toHaveLength(1);
    expect(one.engine.sessionsOf(B)).toHaveLength(1);
    expect(two.engine.sessionsOf(B)).toHaveLength(1);
  });

  it('the limit of sessions per user counts every node', async () => {
    const one = await node();
    const two = await node();
    for (let i = 0; i < 3; i++) await open(one, B, `one-${i}`);
    for (let i = 0; i < 2; i++) await open(two, B, `two-${i}`);
    await expect(one.engine.openSession(B, 'sixth', new RecordingSink(), { ...testPresence })).rejects.toMatchObject({ code: 'policy-violation' });
    await expect(two.engine.openSession(B, 'sixth', new RecordingSink(), { ...testPresence })).rejects.toMatchObject({ code: 'policy-violation' });
    // Rebinding a resource held on the other node replaces it instead.
    await one.engine.openSession(B, 'two-0', new RecordingSink(), { ...testPresence });
  });

  it('a node alone publishes nothing but its hello: sessions, messages and presence stay in the process', async () => {
    const one = await node();
    const a = await open(one, A, 'phone');
    const b = await open(one, B, 'desk');
    await one.engine.setPresence(b.s, { ...testPresence, availability: 'away', updatedAt: Date.now() });
    await one.engine.messages.send(a.s, parseAddress(B), 'local', null, 0);
    await one.engine.messages.send(a.s, parseAddress(`${B}/desk`), 'local', null, 0);
    await one.engine.closeSession(b.s);
    // (Cache invalidation, which other processes need whatever they hold, is not the cluster's.)
    const cluster = one.bus.published.filter((p) => p.subject.startsWith('parley.'));
    expect(cluster.map((p) => [p.subject, (p.message as { t?: string }).t])).toEqual([[CLUSTER_SUBJECT, 'hello']]);
  });
});
