/**
 * Contacts, presence and rooms across a domain route, end to end over real sockets: a slixmpp XEP-0114 component
 * (test/xmpp/slix_component.py) serving remote.localhost plays another server, slixmpp clients and a JSON client
 * are Parley's users. Proves: the subscription handshake both ways with roster state on Parley's side (RFC 6121
 * §3), a request kept while the user is away and delivered at login (§3.1.3), presence both ways with probes
 * answered (§4.2-4.4), a JSON client subscribing to and chatting with a remote address, a Parley user in a room on
 * the other side (room presence, subject and groupchat reach the session; unavailable goes to the room when the
 * connection dies, §4.6.3, as it does to a component the session sent directed presence to), and a remote
 * occupant in a Parley room (XEP-0045 §7.2, §7.4, §7.14).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './harness.js';
import { databaseWithUsers, sqliteAt, componentOnline, stopAll } from './support/components.js';
import type { SlixComponent } from './xmpp/slix-component.js';
import { slixmppUnavailable, slixOnline, type SlixEvent } from './xmpp/slix.js';
import { freePort } from '../src/modules/testing.js';

const SECRET = 'remote-server-secret';
const REMOTE = 'remote.localhost';
const RITA = `rita@${REMOTE}`;
const why = slixmppUnavailable();
if (why !== null) console.warn(`\n*** SKIPPED: test/remote-contacts.test.ts needs slixmpp (${why}).\n`);

let t: TestServer;
let dir = '';
let peer: SlixComponent;

/** The first stanza the remote side received (after `from` events) whose XML matches every pattern. */
async function received(patterns: RegExp[], timeoutMs = 10_000): Promise<string> {
  const e = await peer.waitFor('stanza', (x: SlixEvent) => patterns.every((re) => re.test(String(x.xml))), timeoutMs);
  return String(e.xml);
}

/** Sends raw XML from the remote side. */
const raw = (xml: string) => peer.request('raw', { xml });

beforeAll(async () => {
  if (why) return;
  const db = await databaseWithUsers('remote-contacts', ['owner@localhost', 'alice@localhost', 'bob@localhost', 'carol@localhost', 'dave@localhost']);
  dir = db.dir;
  const port = await freePort();
  t = await startServer({
    storage: sqliteAt(db.path),
    modules: { apikeys: { enabled: true }, presentities: { enabled: true }, components: { enabled: true, port, components: [{ domain: REMOTE, secret: SECRET, owner: 'owner@localhost' }] } } as never,
  });
  peer = await componentOnline(port, REMOTE, SECRET);
}, 60_000);

afterAll(() => stopAll(t, dir));

describe.skipIf(why !== null)('contacts, presence and rooms across a route (slixmpp both sides)', () => {
  it('a subscription handshake both ways keeps the roster on Parley\'s side; presence flows both ways; probes are answered', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'laptop');
    await alice.request('presence', { to: RITA, type: 'subscribe' });
    await received([/type="subscribe"/, /from="alice@localhost"/, new RegExp(`to="${RITA}"`)]);
    const json = await t.connect('alice@localhost');
    const before = (await json.request('roster.get', {})) as { items: Array<{ contact: string; subscription: string; pendingOut: boolean }> };
    expect(before.items.find((i) => i.contact === RITA)).toMatchObject({ subscription: 'none', pendingOut: true });
    // The remote side approves, then sends its presence: both reach the XMPP session, the roster says `to`.
    await raw(`<presence type='subscribed' from='${RITA}' to='alice@localhost'/>`);
    await alice.waitFor('presence', (e) => e.from === RITA && e.type === 'subscribed');
    await raw(`<presence from='${RITA}/phone' to='alice@localhost'><show>away</show><status>on a train</status></presence>`);
    const p = await alice.waitFor('presence', (e) => e.from === `${RITA}/phone` && e.type === 'available');
    expect(p).toMatchObject({ show: 'away', status: 'on a train' });
    // The JSON session sees the same presence, with the shape of a local contact's.
    await json.waitFor('presence', (d) => d.user === RITA && d.state === 'away');
    expect(await json.request('presence.get', { user: RITA })).toMatchObject({ presence: { user: RITA, state: 'away', status: 'on a train' } });
    const after = (await json.request('roster.get', {})) as { items: Array<{ contact: string; subscription: string }> };
    expect(after.items.find((i) => i.contact === RITA)?.subscription).toBe('to');

    // The remote contact asks in return; the user approves: `subscribed` from the bare address, then presence.
    await raw(`<presence type='subscribe' from='${RITA}' to='alice@localhost'/>`);
    await alice.waitFor('presence', (e) => e.from === RITA && e.type === 'subscribe');
    const mark = peer.events.length;
    await alice.request('presence', { to: RITA, type: 'subscribed' });
    await received([/type="subscribed"/, /from="alice@localhost"/]);
    await peer.waitFor('stanza', (e) => peer.events.indexOf(e) >= mark && /from="alice@localhost\/laptop"/.test(String(e.xml)) && !/type=/.test(String(e.xml)));
    // A change of the user's presence is broadcast to the remote subscriber from the full address.
    await alice.request('presence', { show: 'dnd', status: 'in a meeting' });
    await received([/from="alice@localhost\/laptop"/, /<show>dnd<\/show>/, /in a meeting/]);
    // A probe from the subscriber is answered with each available resource.
    const m2 = peer.events.length;
    await raw(`<presence type='probe' from='${RITA}' to='alice@localhost'/>`);
    await peer.waitFor('stanza', (e) => peer.events.indexOf(e) >= m2 && /from="alice@localhost\/laptop"/.test(String(e.xml)) && /dnd/.test(String(e.xml)));
    await alice.kill();
    await json.close();
  }, 60_000);

  it('a request that arrives while the user is away waits, and is delivered at login (§3.1.3)', async () => {
    await raw(`<presence type='subscribe' from='tom@${REMOTE}' to='bob@localhost'/>`);
    const json = await t.connect('bob@localhost');
    await json.request('roster.get', {});
    await json.close();
    const bob = await slixOnline(t, 'bob@localhost', 'phone');
    await bob.waitFor('presence', (e) => e.from === `tom@${REMOTE}` && e.type === 'subscribe');
    await bob.kill();
  }, 60_000);

  it('a JSON client subscribes to and chats with a remote address; both directions are in the history', async () => {
    const carol = await t.connect('carol@localhost');
    await carol.request('roster.subscribe', { contact: RITA });
    await received([/type="subscribe"/, /from="carol@localhost"/]);
    await carol.request('message.send', { to: RITA, body: 'hello from json' });
    const out = await received([/hello from json/]);
    expect(out).toMatch(/from="carol@localhost\//);
    await raw(`<message from='${RITA}/phone' to='carol@localhost' type='chat' id='r1'><body>hello carol</body></message>`);
    await carol.waitFor('message', (d) => d.body === 'hello carol');
    const h = (await carol.request('history', { with: RITA })) as { messages: Array<{ body: string }> };
    expect(h.messages.map((m) => m.body)).toEqual(['hello from json', 'hello carol']);
    await carol.close();
  }, 60_000);

  it('a Parley user in a remote room gets its presence, subject and messages; a dead connection leaves it and the component', async () => {
    const dave = await slixOnline(t, 'dave@localhost', 'tablet');
    const room = `lounge@${REMOTE}`;
    await dave.request('presence', { to: `${room}/dave`, extra: ["<x xmlns='http://jabber.org/protocol/muc'/>"] });
    await received([new RegExp(`to="${room}/dave"`), /from="dave@localhost\/tablet"/, /http:\/\/jabber.org\/protocol\/muc/]);
    // Directed presence to the component itself too (RFC 6121 §4.6).
    await dave.request('presence', { to: REMOTE });
    await received([new RegExp(`to="${REMOTE}"`), /from="dave@localhost\/tablet"/]);
    await raw(`<presence from='${room}/rita' to='dave@localhost/tablet'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/></x></presence>`);
    await raw(`<presence from='${room}/dave' to='dave@localhost/tablet'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`);
    await raw(`<message from='${room}' to='dave@localhost/tablet' type='groupchat'><subject>Remote lounge</subject></message>`);
    await raw(`<message from='${room}/rita' to='dave@localhost/tablet' type='groupchat' id='g1'><body>welcome dave</body></message>`);
    const self = await dave.waitFor('presence', (e) => e.from === `${room}/dave`);
    expect((self.muc as { codes: string[] }).codes).toEqual(['110']);
    await dave.waitFor('presence', (e) => e.from === `${room}/rita`);
    const g = await dave.waitFor('groupchat_message', (e) => e.body === 'welcome dave');
    expect(g.from).toBe(`${room}/rita`);
    await dave.send(room, 'thanks', 'groupchat');
    await received([/type="groupchat"/, /thanks/, /from="dave@localhost\/tablet"/]);
    // The connection dies: the room and the component get unavailable from the full address (§4.6.3).
    await dave.kill();
    await received([/type="unavailable"/, new RegExp(`to="${room}/dave"`), /from="dave@localhost\/tablet"/], 15_000);
    await received([/type="unavailable"/, new RegExp(`to="${REMOTE}"`), /from="dave@localhost\/tablet"/], 15_000);
  }, 60_000);

  it('a remote occupant enters a Parley room, talks with a local occupant and leaves', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'desk');
    const room = 'hall@conference.localhost';
    await alice.request('join_muc', { room, nick: 'alice' });
    await raw(`<presence from='${RITA}/phone' to='${room}/rita'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = await received([new RegExp(`from="${room}/rita"`), /code="110"/]);
    expect(self).toMatch(new RegExp(`to="${RITA}/phone"`));
    await received([new RegExp(`from="${room}/alice"`), /role="moderator"/]);
    await received([/<subject>/, new RegExp(`from="${room}"`)]);
    await alice.waitFor('presence', (e) => e.from === `${room}/rita` && e.type === 'available');
    await raw(`<message from='${RITA}/phone' to='${room}' type='groupchat' id='m1'><body>hi hall</body></message>`);
    const m = await alice.waitFor('groupchat_message', (e) => e.body === 'hi hall');
    expect(m.from).toBe(`${room}/rita`);
    // The room reflects it to the remote sender too, and the local occupant's message reaches the remote one.
    await received([/hi hall/, new RegExp(`to="${RITA}/phone"`), /stanza-id/]);
    await alice.send(room, 'hello rita', 'groupchat');
    await received([/hello rita/, new RegExp(`from="${room}/alice"`), new RegExp(`to="${RITA}/phone"`)]);
    // A local user entering now finds the remote occupant among the occupants (§7.2.3).
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    const entry = await bob.request('join_muc', { room, nick: 'bob' });
    expect(entry.occupants).toContain(`${room}/rita`);
    await received([new RegExp(`from="${room}/bob"`), new RegExp(`to="${RITA}/phone"`)]);
    await bob.kill();
    await received([/type="unavailable"/, new RegExp(`from="${room}/bob"`), new RegExp(`to="${RITA}/phone"`)], 15_000);
    await raw(`<presence type='unavailable' from='${RITA}/phone' to='${room}/rita'/>`);
    await alice.waitFor('presence', (e) => e.from === `${room}/rita` && e.type === 'unavailable');
    await alice.kill();
  }, 60_000);
});
