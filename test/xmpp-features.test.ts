/**
 * XMPP extensions over real streams: XEP-0191 blocking (also seen from the JSON API), XEP-0054 vCard,
 * XEP-0077 registration and password change, XEP-0115 server capabilities, XEP-0352 client state indication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
const open: RawXmpp[] = [];

async function login(user: string, resource = 'r', password = `pw-${user.split('@')[0]}`): Promise<RawXmpp> {
  const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  open.push(c);
  await c.login(user, password, resource);
  return c;
}

/** Sends an iq and returns the whole reply stanza text. */
async function iq(c: RawXmpp, body: string, type = 'get', to?: string): Promise<string> {
  const id = `q${Math.random().toString(36).slice(2)}`;
  const from = c.text.length;
  c.write(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${body}</iq>`);
  return (await c.until(new RegExp(`<iq[^>]*id="${id}"[^>]*(?:/>|>.*?</iq>)`, 's'), 5000, from))[0];
}

/** Makes two users subscribed to each other. */
async function befriend(a: RawXmpp, b: RawXmpp, ua: string, ub: string): Promise<void> {
  a.write(`<presence to='${ub}' type='subscribe'/>`);
  await b.until(new RegExp(`<presence[^>]*type="subscribe"[^>]*from="${ua}"|<presence[^>]*from="${ua}"[^>]*type="subscribe"`));
  b.write(`<presence to='${ua}' type='subscribed'/><presence to='${ua}' type='subscribe'/>`);
  await a.until(new RegExp(`<presence[^>]*type="subscribe"[^>]*from="${ub}"|<presence[^>]*from="${ub}"[^>]*type="subscribe"`));
  a.write(`<presence to='${ub}' type='subscribed'/>`);
}

const settle = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  t = await startServer({ xmpp: { registration: ['localhost'] } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

describe('xmpp: blocking (XEP-0191)', () => {
  it('blocks and unblocks: list, pushes, messages refused both ways, presence withdrawn and restored', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!);
    const b = await login(bob!);
    a.write('<presence/>');
    b.write('<presence/>');
    await befriend(a, b, alice!, bob!);
    // RFC 6121 §4.2.2: from bob's full address (resource r).
    await a.until(new RegExp(`<presence[^>]*from="${bob}/r"[^>]*>(?!.*type="unavailable")`));
    expect(await iq(a, `<blocklist xmlns='urn:xmpp:blocking'/>`)).toMatch(/<blocklist xmlns="urn:xmpp:blocking"\/>/);
    const before = a.text.length;
    const beforeB = b.text.length;
    expect(await iq(a, `<block xmlns='urn:xmpp:blocking'><item jid='${bob}'/></block>`, 'set')).toMatch(/type="result"/);
    // The push to the resource that asked for the list, and bob now sees alice offline (and alice bob).
    await a.until(new RegExp(`<iq[^>]*type="set"[^>]*><block xmlns="urn:xmpp:blocking"><item jid="${bob}"/></block>`), 5000, before);
    await b.until(new RegExp(`<presence[^>]*from="${alice}"[^>]*type="unavailable"|<presence[^>]*type="unavailable"[^>]*from="${alice}"`), 5000, beforeB);
    expect(await iq(a, `<blocklist xmlns='urn:xmpp:blocking'/>`)).toContain(`<item jid="${bob}"/>`);
    // Bob's message is refused as if alice were not there; alice cannot write to bob.
    b.write(`<message to='${alice}' type='chat' id='b1'><body>can you hear me</body></message>`);
    await b.until(/id="b1"[^>]*>.*?<service-unavailable/s);
    a.write(`<message to='${bob}' type='chat' id='a1'><body>hi</body></message>`);
    await a.until(/id="a1"[^>]*>.*?<not-acceptable[^>]*\/>.*?<blocked xmlns="urn:xmpp:blocking:errors"\/>/s);
    await settle();
    expect(a.text).not.toContain('can you hear me');
    // The JSON API sees the same list.
    const j = await t.connect(alice!);
    expect((await j.request('block.list', {})).entries).toEqual([bob]);
    // Unblock everything: presence comes back.
    const mark = b.text.length;
    expect(await iq(a, `<unblock xmlns='urn:xmpp:blocking'/>`, 'set')).toMatch(/type="result"/);
    await b.until(new RegExp(`<presence[^>]*from="${alice}/r"[^>]*>`), 5000, mark);
    b.write(`<message to='${alice}' type='chat' id='b2'><body>back again</body></message>`);
    await a.until(/back again/);
  });

  it('blocks a whole domain from the JSON API and refuses subscription requests silently', async () => {
    const [carol, dave] = await freshUsers(t, 'carol', 'dave');
    const j = await t.connect(carol!);
    expect((await j.request('block.add', { entries: ['localhost/ignored-resource'] })).entries).toEqual(['localhost']);
    const d = await login(dave!);
    d.write('<presence/>');
    d.write(`<message to='${carol}' type='chat' id='d1'><body>hello</body></message>`);
    await d.until(/id="d1"[^>]*>.*?<service-unavailable/s);
    d.write(`<presence to='${carol}' type='subscribe'/>`);
    await settle(300);
    expect(j.received('subscription')).toEqual([]);
    await j.request('block.remove', {});
    expect((await j.request('block.list', {})).entries).toEqual([]);
  });
});

describe('xmpp: vCard (XEP-0054)', () => {
  it('sets one’s own vCard, reads it back, and others can read it; others cannot set it', async () => {
    const [erin, frank] = await freshUsers(t, 'erin', 'frank');
    const e = await login(erin!);
    const f = await login(frank!);
    expect(await iq(e, `<vCard xmlns='vcard-temp'/>`)).toMatch(/<vCard xmlns="vcard-temp"\/>/);
    expect(await iq(e, `<vCard xmlns='vcard-temp'><FN>Erin Example</FN><NICKNAME>erin &amp; co</NICKNAME></vCard>`, 'set')).toMatch(/type="result"/);
    const own = await iq(e, `<vCard xmlns='vcard-temp'/>`);
    expect(own).toContain('<FN>Erin Example</FN>');
    expect(own).toContain('<NICKNAME>erin &amp; co</NICKNAME>');
    expect(await iq(f, `<vCard xmlns='vcard-temp'/>`, 'get', erin)).toContain('<FN>Erin Example</FN>');
    expect(await iq(f, `<vCard xmlns='vcard-temp'><FN>Not Erin</FN></vCard>`, 'set', erin)).toMatch(/<forbidden/);
    expect(await iq(f, `<vCard xmlns='vcard-temp'/>`, 'get', 'nobody@localhost')).toMatch(/<item-not-found/);
  });
});

describe('xmpp: registration (XEP-0077) and capabilities (XEP-0115)', () => {
  it('registers an account in band where the domain allows it, then logs in with it', async () => {
    const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    open.push(c);
    await c.open();
    expect(c.text).toContain('<register xmlns="http://jabber.org/features/iq-register"/>');
    c.write(`<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>`);
    await c.until(/id="r1"[^>]*>.*?<username\/>.*?<password\/>/s);
    const name = `newbie-${Date.now()}`;
    c.write(`<iq type='set' id='short'><query xmlns='jabber:iq:register'><username>${name}</username><password>short</password></query></iq>`);
    await c.until(/id="short"[^>]*>.*?<not-acceptable/s);
    c.write(`<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>${name}</username><password>long enough pw</password></query></iq>`);
    await c.until(/<iq[^>]*id="r2"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="r2"/);
    const again = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    open.push(again);
    await again.open();
    again.write(`<iq type='set' id='dup'><query xmlns='jabber:iq:register'><username>${name}</username><password>another password</password></query></iq>`);
    await again.until(/id="dup"[^>]*>.*?<conflict/s);
    const full = await (await RawXmpp.open(t.server.xmpp!.ports.directTls!, true)).login(`${name}@localhost`, 'long enough pw');
    expect(full).toBe(`${name}@localhost/raw`);
  });

  it('changes the password of the logged-in user', async () => {
    const [gina] = await freshUsers(t, 'gina');
    const g = await login(gina!);
    const local = gina!.split('@')[0]!;
    expect(await iq(g, `<query xmlns='jabber:iq:register'><username>${local}</username><password>a brand new one</password></query>`, 'set')).toMatch(/type="result"/);
    const again = await login(gina!, 'r2', 'a brand new one');
    expect(again.text).toContain('<jid>');
  });

  it('announces its capabilities in the stream features and answers the caps node', async () => {
    const [hal] = await freshUsers(t, 'hal');
    const h = await login(hal!);
    const m = /<c xmlns="http:\/\/jabber.org\/protocol\/caps" hash="sha-1" node="([^"]+)" ver="([^"]+)"\/>/.exec(h.text);
    expect(m).not.toBeNull();
    const info = await iq(h, `<query xmlns='http://jabber.org/protocol/disco#info' node='${m![1]}#${m![2]}'/>`, 'get', 'localhost');
    expect(info).toContain('<identity category="server" type="im" name="Parley"/>');
    expect(info).toContain('<feature var="urn:xmpp:blocking"/>');
  });
});

describe('xmpp: client state indication (XEP-0352)', () => {
  it('holds presence and drops chat states while inactive, and sends the latest presence when active', async () => {
    const [ivy, jack] = await freshUsers(t, 'ivy', 'jack');
    const i = await login(ivy!);
    const j = await login(jack!);
    i.write('<presence/>');
    j.write('<presence/>');
    await befriend(i, j, ivy!, jack!);
    await i.until(new RegExp(`<presence[^>]*from="${jack}/r"`));
    i.write(`<inactive xmlns='urn:xmpp:csi:0'/>`);
    await settle();
    const mark = i.text.length;
    j.write('<presence><show>away</show></presence>');
    j.write('<presence><show>dnd</show><status>busy busy</status></presence>');
    j.write(`<message to='${ivy}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await settle(300);
    expect(i.text.slice(mark)).toBe('');
    i.write(`<active xmlns='urn:xmpp:csi:0'/>`);
    const p = await i.until(new RegExp(`<presence[^>]*from="${jack}/r"[^>]*>.*?</presence>`, 's'), 5000, mark);
    expect(p[0]).toContain('<show>dnd</show>');
    await settle();
    expect(i.text.slice(mark)).not.toContain('<show>away</show>');
    expect(i.text.slice(mark)).not.toContain('composing');
  });
});
