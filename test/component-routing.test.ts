/**
 * Stanzas routed between users and an XEP-0114 component, with slixmpp on both sides (test/xmpp/slix_driver.py
 * clients, test/xmpp/slix_component.py's ComponentXMPP) and a JSON client: a message to a component address
 * reaches the component from the sender's full address and its answer comes back (and is in the history); an
 * iq is answered by the component and the result reaches the asking session; a presence subscription is
 * approved by the component itself; iq gets from the component to a user's bare address are answered by the
 * server for the account (vCard, disco#info; service-unavailable otherwise; results and errors never answered);
 * the server's disco#items lists the connected component; a component
 * sending from a local user's domain is cut off and nothing is delivered; stanzas for a component that is not
 * connected bounce with service-unavailable, and for a domain nobody serves with remote-server-not-found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './harness.js';
import { databaseWithUsers, sqliteAt, componentOnline, stopAll } from './support/components.js';
import { SlixComponent } from './xmpp/slix-component.js';
import { slixmppUnavailable, slixOnline, type SlixEvent } from './xmpp/slix.js';
import { freePort } from '../src/modules/testing.js';

const SECRET = 'component-secret-for-routing';
const why = slixmppUnavailable();
if (why !== null) console.warn(`\n*** SKIPPED: test/component-routing.test.ts needs slixmpp (${why}).\n`);

let t: TestServer;
let port = 0;
let dir = '';
let svc: SlixComponent;

/** The component's received stanzas whose XML matches. */
const seen = (c: SlixComponent, re: RegExp): SlixEvent[] => c.events.filter((e) => e.ev === 'stanza' && re.test(String(e.xml)));

beforeAll(async () => {
  if (why) return;
  // The components' owner must exist when the module starts: the accounts are made first.
  const db = await databaseWithUsers('component-routing', ['owner@localhost', 'alice@localhost', 'bob@localhost', 'carol@localhost']);
  dir = db.dir;
  port = await freePort();
  const component = (domain: string) => ({ domain, secret: SECRET, owner: 'owner@localhost' });
  t = await startServer({
    storage: sqliteAt(db.path),
    modules: {
      apikeys: { enabled: true },
      presentities: { enabled: true },
      components: { enabled: true, port, components: [component('svc.localhost'), component('forge.localhost'), component('off.localhost')] },
    } as never,
  });
  svc = await componentOnline(port, 'svc.localhost', SECRET);
  await svc.request('serve');
}, 60_000);

afterAll(() => stopAll(t, dir));

describe.skipIf(why !== null)('routing to XEP-0114 components (slixmpp both sides)', () => {
  it('a message reaches the component from the sender\'s full address, and the answer comes back and is kept', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'laptop');
    await alice.send('echo@svc.localhost', 'hello component');
    const got = await svc.waitFor('stanza', (e) => /hello component/.test(String(e.xml)), 10_000);
    expect(String(got.xml)).toMatch(/from="alice@localhost\/laptop"/);
    expect(String(got.xml)).toMatch(/to="echo@svc\.localhost"/);
    const answer = await alice.waitMessage('echo: hello component');
    expect(answer.from).toBe('echo@svc.localhost');
    // Both directions are in the conversation's history, like any chat (and so in MAM).
    const json = await t.connect('alice@localhost');
    const h = (await json.request('history', { with: 'echo@svc.localhost' })) as { messages: Array<{ from: string; body: string }> };
    expect(h.messages.map((m) => [m.from.split('/')[0], m.body])).toEqual([
      ['alice@localhost', 'hello component'],
      ['echo@svc.localhost', 'echo: hello component'],
    ]);
    await alice.kill();
  }, 60_000);

  it('an iq to the component is answered by it, and the result reaches the asking session', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'desk');
    const r = await alice.request('iq', { to: 'svc.localhost', payload: "<query xmlns='jabber:iq:version'/>" });
    expect(r.type).toBe('result');
    expect(String(r.xml)).toMatch(/slix-component/);
    const asked = seen(svc, /jabber:iq:version/);
    expect(String(asked[asked.length - 1]?.xml)).toMatch(/from="alice@localhost\/desk"/);
    // What the component does not serve it refuses itself; the error comes back the same way.
    const refused = await alice.request('iq', { to: 'svc.localhost', payload: "<query xmlns='jabber:iq:last'/>" });
    expect(refused).toMatchObject({ type: 'error', error: { condition: 'service-unavailable' } });
    await alice.kill();
  }, 60_000);

  it('a presence subscription to a component address is answered by the component', async () => {
    const bob = await slixOnline(t, 'bob@localhost', 'phone');
    await bob.request('presence', { to: 'bot@svc.localhost', type: 'subscribe' });
    const req = await svc.waitFor('stanza', (e) => /type="subscribe"/.test(String(e.xml)), 10_000);
    // RFC 6121 §3.1.2: a subscription request comes from the bare address.
    expect(String(req.xml)).toMatch(/from="bob@localhost"/);
    await bob.waitFor('presence', (e) => e.from === 'bot@svc.localhost' && e.type === 'subscribed');
    const p = await bob.waitFor('presence', (e) => e.from === 'bot@svc.localhost/bot' && e.type === 'available');
    expect(p.status).toBe('serving');
    await bob.kill();
  }, 60_000);

  it('a component\'s message to a user who is away waits in the offline queue; its iq to a gone resource bounces', async () => {
    await svc.request('raw', { xml: `<message from='news@svc.localhost/feed' to='carol@localhost' type='chat' id='n1'><body>while you were away</body></message>` });
    await svc.request('raw', { xml: `<iq type='get' from='svc.localhost' to='carol@localhost/nowhere' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>` });
    const bounce = await svc.waitFor('stanza', (e) => /id="q1"/.test(String(e.xml)), 10_000);
    expect(String(bounce.xml)).toMatch(/type="error"[\s\S]*service-unavailable/);
    // The message was stored before the reply above was sent (its stanza came first on the stream).
    const carol = await slixOnline(t, 'carol@localhost', 'later');
    const m = await carol.waitMessage('while you were away');
    expect(m.from).toBe('news@svc.localhost/feed');
    expect(m.delay).not.toBeNull();
    await carol.kill();
  }, 60_000);

  it('iq gets from a routed domain to a user\'s bare address are answered by the server for the account, even offline (RFC 6121 §8.5.1)', async () => {
    // bob sets a vCard, then goes offline: the answers are the server's, not a session's.
    const bob = await slixOnline(t, 'bob@localhost', 'vcard');
    const set = await bob.request('iq', { to: 'bob@localhost', type: 'set', payload: "<vCard xmlns='vcard-temp'><FN>Bob Routed</FN></vCard>" });
    expect(set.type).toBe('result');
    await bob.kill();
    const ask = async (id: string, xml: string): Promise<string> => {
      await svc.request('raw', { xml: `<iq type='get' from='asker@svc.localhost/x' to='bob@localhost' id='${id}'>${xml}</iq>` });
      return String((await svc.waitFor('stanza', (e) => new RegExp(`id="${id}"`).test(String(e.xml)), 10_000)).xml);
    };
    // XEP-0054 §3.3: the vCard, from the account's bare address.
    const vcard = await ask('bv1', "<vCard xmlns='vcard-temp'/>");
    expect(vcard).toMatch(/type="result"/);
    expect(vcard).toMatch(/from="bob@localhost"/);
    expect(vcard).toMatch(/Bob Routed/);
    // XEP-0030 §3.1 with XEP-0163 §5: the account identity and PEP, as a local client gets them.
    const info = await ask('bd1', "<query xmlns='http://jabber.org/protocol/disco#info'/>");
    expect(info).toMatch(/category="account"/);
    expect(info).toMatch(/type="pep"/);
    expect(info).toMatch(/var="vcard-temp"/);
    // RFC 6120 §8.4: a namespace nobody serves for an account, and a set on the account, are service-unavailable.
    expect(await ask('bu1', "<query xmlns='urn:example:not-served'/>")).toMatch(/type="error"[\s\S]*service-unavailable/);
    await svc.request('raw', { xml: `<iq type='set' from='asker@svc.localhost/x' to='bob@localhost' id='bs1'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>` });
    expect(String((await svc.waitFor('stanza', (e) => /id="bs1"/.test(String(e.xml)), 10_000)).xml)).toMatch(/service-unavailable/);
    // A result or an error is never answered: the get after them is, and nothing came before it.
    await svc.request('raw', { xml: `<iq type='result' from='asker@svc.localhost/x' to='bob@localhost' id='br1'/>` });
    await svc.request('raw', { xml: `<iq type='error' from='asker@svc.localhost/x' to='bob@localhost' id='be1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>` });
    expect(await ask('bv2', "<vCard xmlns='vcard-temp'/>")).not.toMatch(/Mallory/);
    expect(seen(svc, /id="b[re]1"/)).toHaveLength(0);
  }, 60_000);

  it('the server\'s disco#items lists the connected component, not the others', async () => {
    const carol = await slixOnline(t, 'carol@localhost', 'a');
    const r = await carol.request('iq', { to: 'localhost', payload: "<query xmlns='http://jabber.org/protocol/disco#items'/>" });
    expect(String(r.xml)).toMatch(/jid="svc\.localhost"/);
    expect(String(r.xml)).not.toMatch(/off\.localhost/);
    await carol.kill();
  }, 60_000);

  it('a JSON client writes to a component address and reads its answer', async () => {
    const bob = await t.connect('bob@localhost');
    await bob.request('message.send', { to: 'echo@svc.localhost', body: 'from json' });
    const m = await bob.waitFor('message', (d) => d.body === 'echo: from json');
    expect(String(m.data.from)).toBe('echo@svc.localhost');
    expect(String(seen(svc, /from json/)[0]?.xml)).toMatch(/from="bob@localhost\//);
  }, 30_000);

  it('a component\'s messages reach a JSON client even when their stanza ids repeat (only origin-id dedupes)', async () => {
    const bob = await t.connect('bob@localhost');
    for (const body of ['tick 1', 'tick 2']) {
      await svc.request('raw', { xml: `<message from='clock@svc.localhost' to='bob@localhost' type='chat' id='same'><body>${body}</body></message>` });
    }
    await bob.waitFor('message', (d) => d.body === 'tick 1' && d.from === 'clock@svc.localhost');
    await bob.waitFor('message', (d) => d.body === 'tick 2' && d.from === 'clock@svc.localhost');
  }, 30_000);

  it('a component sending from a local user\'s domain is cut off with invalid-from, and nothing is delivered', async () => {
    const bob = await slixOnline(t, 'bob@localhost', 'tablet');
    const forge = SlixComponent.start(port, 'forge.localhost', SECRET);
    await forge.waitFor('session_start', () => true, 15_000);
    await forge.request('raw', { xml: `<message from='alice@localhost/laptop' to='bob@localhost' type='chat'><body>forged</body></message>` });
    const e = await forge.waitFor('stream_error', () => true, 10_000);
    expect(e.condition).toBe('invalid-from');
    await bob.ping();
    await new Promise((r) => setTimeout(r, 300));
    await bob.ping();
    expect(bob.messages('forged')).toHaveLength(0);
    await forge.kill();
    await bob.kill();
  }, 60_000);

  it('stanzas for a component that is not connected bounce with service-unavailable; an unserved domain is remote-server-not-found', async () => {
    const carol = await slixOnline(t, 'carol@localhost', 'b');
    await carol.send('x@off.localhost', 'anyone there?');
    const bounced = await carol.waitFor('message', (e) => e.from === 'x@off.localhost' && e.type === 'error');
    expect(bounced.error).toMatchObject({ condition: 'service-unavailable' });
    const iq = await carol.request('iq', { to: 'off.localhost', payload: "<query xmlns='jabber:iq:version'/>" });
    expect(iq).toMatchObject({ type: 'error', error: { condition: 'service-unavailable' } });
    const far = await carol.request('iq', { to: 'elsewhere.example', payload: "<query xmlns='jabber:iq:version'/>" });
    expect(far).toMatchObject({ type: 'error', error: { condition: 'remote-server-not-found' } });
    await carol.send('x@elsewhere.example', 'hello?');
    const lost = await carol.waitFor('message', (e) => e.from === 'x@elsewhere.example' && e.type === 'error');
    expect(lost.error).toMatchObject({ condition: 'remote-server-not-found' });
    await carol.kill();
  }, 60_000);
});
