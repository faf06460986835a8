/**
 * The XMPP face of presentities (xmpp.ts, pep.ts) over a real XmppConnection in memory: subscriptions to a thing
 * answered on its behalf, its presence mapped onto XMPP presence, its fields as a PEP node (retrieval, disco,
 * +notify notifications learnt from verified entity capabilities), grants withdrawn.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine.js';
import { silentLog, testEngine } from '../../engine/test-engine.js';
import { clearCapsCache } from '../../protocols/xmpp/c2s/caps.js';
import type { XmppExtensions } from '../../protocols/xmpp/c2s/types.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { TestXmppClient } from '../testing.js';
import { PresentityHub } from './hub.js';
import { presentities } from './index.js';
import { defineBody } from './model.js';
import { FIELDS_NODE, pubsubHandler } from './pep.js';
import type { PresentitiesArea } from './sqlite.js';
import { entityPresence, xmppFace } from './xmpp.js';

const OWNER = 'owner@example.com';
const LAMP = 'lamp@example.com';
const PUBSUB = 'http://jabber.org/protocol/pubsub';

let hub: PresentityHub;
let engine: Engine;
let ext: XmppExtensions;
const clients: TestXmppClient[] = [];

beforeEach(async () => {
  clearCapsCache();
  const store = createMemoryStore({ modules: [{ name: 'presentities', memory: presentities.storage!.memory }] });
  ({ engine } = await testEngine([OWNER, 'a@example.com', 'b@example.com'], { store, password: 'secret-pw' }));
  hub = new PresentityHub(engine, store.area<PresentitiesArea>('presentities'), silentLog, { ringSize: 100 });
  await hub.start();
  const fieldsOf = xmppFace({
    hub,
    log: silentLog,
    presenceEntities: (p) => engine.presenceEntities(p),
    entityPresence: (a, p) => engine.entityChanged(a, p),
    entityItem: (a, i) => engine.entityItem(a, i),
  });
  ext = { iq: new Map([[`${PUBSUB} pubsub`, pubsubHandler(engine, fieldsOf)]]), serverFeatures: [], accountFeatures: [], roomFeatures: [], serverIdentities: [], serverForms: [], entityFeatures: [PUBSUB, FIELDS_NODE] };
  await hub.define(OWNER, LAMP, defineBody.parse({ kind: 'thing', fields: { temperature: 'number', label: 'string' }, grants: { users: ['a@example.com'] } }));
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  hub.stop();
});

async function login(local: string): Promise<TestXmppClient> {
  const c = await TestXmppClient.login(engine, ext, local);
  clients.push(c);
  return c;
}

/** A client's disco#info answer and its XEP-0115 SHA-1 ver. */
function clientCaps(features: string[]): { ver: string; query: string } {
  const s = `client/pc//test<${[...features].sort().map((f) => `${f}<`).join('')}`;
  const ver = createHash('sha1').update(s).digest('base64');
  const query = `<identity category='client' type='pc' name='test'/>${features.map((f) => `<feature var='${f}'/>`).join('')}`;
  return { ver, query };
}

describe('the XMPP face of presentities', () => {
  it('maps availability onto presence: show as for people, offline and unknown unavailable with a status', () => {
    const p = { address: LAMP, kind: 'thing' as const, owner: OWNER, activity: 'heating', status: 'warm', fields: {}, groups: [], heartbeatSeconds: null, expiresAt: null, updatedAt: 5, position: 1 };
    expect(entityPresence({ ...p, availability: 'dnd' }, false)).toMatchObject({ user: LAMP, state: 'dnd', availability: 'dnd', activity: 'heating', status: 'warm' });
    expect(entityPresence({ ...p, availability: 'offline' }, false)).toMatchObject({ state: 'offline', status: 'warm', lastSeen: 5 });
    expect(entityPresence({ ...p, availability: 'unknown' }, true)).toMatchObject({ state: 'offline', status: 'heartbeat lapsed' });
    expect(entityPresence({ ...p, availability: 'unknown' }, false)).toMatchObject({ state: 'offline', status: 'not reported yet' });
  });

  it('approves a granted user, delivers changes and fields, answers items and disco; refuses the others', async () => {
    const a = await login('a');
    await a.iq('get', "<query xmlns='jabber:iq:roster'/>"); // RFC 6121 §2.1.6: roster pushes go to resources that asked
    const { ver, query } = clientCaps(['http://jabber.org/protocol/disco#info', `${FIELDS_NODE}+notify`]);
    let mark = a.mark;
    a.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='${ver}'/></presence>`);
    // XEP-0115 §6.3: the server asks the client what the ver means.
    const asked = await a.waitFor(/<iq [^>]*id="(caps-\d+)"[^>]*>.*?<\/iq>/, mark);
    const id = /id="(caps-\d+)"/.exec(asked)![1]!;
    expect(asked).toContain(`node="urn:test#${ver}"`);
    a.send(`<iq type='result' id='${id}' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:test#${ver}'>${query}</query></iq>`);
    for (let i = 0; i < 100 && !engine.sessions.get('a@example.com', 'phone')?.interests; i++) await new Promise((r) => setTimeout(r, 5));
    expect([...(engine.sessions.get('a@example.com', 'phone')?.interests ?? [])]).toEqual([FIELDS_NODE]);

    mark = a.mark;
    a.send(`<presence type='subscribe' to='${LAMP}'/>`);
    const approved = await a.waitFor(/from="lamp@example.com"[^>]*type="unavailable"|type="unavailable"[^>]*from="lamp@example.com"/, mark);
    expect(approved).toMatch(/<presence [^>]*type="subscribed"[^>]*from="lamp@example.com"|<presence [^>]*from="lamp@example.com"[^>]*type="subscribed"/);
    expect(approved).toContain('<status>not reported yet</status>');
    expect(approved).toMatch(/subscription="to"/);

    mark = a.mark;
    await hub.update(OWNER, LAMP, { availability: 'away', activity: 'heating', status: 'warming up', fields: { temperature: 71.5 } });
    const changed = await a.waitFor(/<\/event><\/message>/, mark);
    expect(changed).toMatch(/<presence xmlns="jabber:client" from="lamp@example.com" to="a@example.com"><show>away<\/show><status>warming up<\/status><presence xmlns="urn:parley:presence:0" state="away" activity="heating"/);
    expect(changed).toContain(`<message xmlns="jabber:client" type="headline" from="lamp@example.com" to="a@example.com/phone"><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="${FIELDS_NODE}"><item id="current"><fields xmlns="${FIELDS_NODE}"><field name="temperature" type="number">71.5</field></fields></item></items></event></message>`);
    // A status alone is no new item.
    mark = a.mark;
    await hub.update(OWNER, LAMP, { status: 'warm' });
    await a.waitFor(/<status>warm<\/status>/, mark);
    await new Promise((r) => setTimeout(r, 30));
    expect(await a.waitFor(/[\s\S]*/, mark)).not.toContain('<event ');

    const items = await a.iq('get', `<pubsub xmlns='${PUBSUB}'><items node='${FIELDS_NODE}'/></pubsub>`, LAMP);
    expect(items.reply).toContain(`<items node="${FIELDS_NODE}"><item id="current"><fields xmlns="${FIELDS_NODE}"><field name="temperature" type="number">71.5</field></fields></item></items>`);
    const info = await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, LAMP);
    expect(info.reply).toContain('<identity category="pubsub" type="pep"/>');
    expect(info.reply).toContain(`<feature var="${FIELDS_NODE}"/>`);
    // Malformed retrievals.
    for (const bad of [`<pubsub xmlns='${PUBSUB}'/>`, `<pubsub xmlns='${PUBSUB}'><items/></pubsub>`, `<pubsub xmlns='${PUBSUB}'><items node='${FIELDS_NODE}' max_items='x'/></pubsub>`]) {
      expect((await a.iq('get', bad, LAMP)).reply).toContain('<bad-request ');
    }
    expect((await a.iq('get', `<pubsub xmlns='${PUBSUB}'><items node='other'/></pubsub>`, LAMP)).reply).toContain('<item-not-found ');

    // Without a grant: refused, and nothing to read or discover.
    const b = await login('b');
    b.send('<presence/>');
    mark = b.mark;
    b.send(`<presence type='subscribe' to='${LAMP}'/>`);
    await b.waitFor(/type="unsubscribed"/, mark);
    expect((await b.iq('get', `<pubsub xmlns='${PUBSUB}'><items node='${FIELDS_NODE}'/></pubsub>`, LAMP)).reply).toContain('<item-not-found ');
    expect((await b.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, LAMP)).reply).toContain('<service-unavailable ');

    // The grant withdrawn: unsubscribed, then unavailable.
    mark = a.mark;
    await hub.define(OWNER, LAMP, defineBody.parse({ kind: 'thing', fields: { temperature: 'number' } }));
    const revoked = await a.waitFor(/type="unavailable"/, mark);
    expect(revoked).toMatch(/type="unsubscribed"/);
    expect(revoked).toMatch(/subscription="none"/);
  });

  it('sends the last item to a session that becomes available with a known ver, and the presence at login', async () => {
    await engine.rosters.act('a@example.com', LAMP, 'subscribe');
    await hub.update(OWNER, LAMP, { availability: 'available', fields: { temperature: 20, label: 'hall' } });
    const { ver, query } = clientCaps([`${FIELDS_NODE}+notify`]);
    // A first session teaches the ver.
    const first = await login('a');
    let mark = first.mark;
    first.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='${ver}'/></presence>`);
    const id = /id="(caps-\d+)"/.exec(await first.waitFor(/id="caps-\d+"/, mark))![1]!;
    first.send(`<iq type='result' id='${id}' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'>${query}</query></iq>`);
    await first.waitFor(/<event /, mark);
    // A second session with the same ver is not asked, and gets the presence and the last item with its initial presence.
    const second = await TestXmppClient.login(engine, ext, 'a', 'laptop');
    clients.push(second);
    mark = second.mark;
    second.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='${ver}'/></presence>`);
    const got = await second.waitFor(/<\/event><\/message>/, mark);
    expect(got).not.toContain('caps-');
    expect(got).toMatch(/<presence xmlns="jabber:client" from="lamp@example.com" to="a@example.com"/);
    expect(got).toContain('<field name="label" type="string">hall</field><field name="temperature" type="number">20</field>');
  });

  it('does not trust a ver that does not verify for other sessions', async () => {
    const first = await login('a');
    let mark = first.mark;
    first.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='bogus='/></presence>`);
    const id = /id="(caps-\d+)"/.exec(await first.waitFor(/id="caps-\d+"/, mark))![1]!;
    first.send(`<iq type='result' id='${id}' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='${FIELDS_NODE}+notify'/></query></iq>`);
    for (let i = 0; i < 100 && !engine.sessions.get('a@example.com', 'phone')?.interests; i++) await new Promise((r) => setTimeout(r, 5));
    // The session that said it is believed about itself.
    expect(engine.sessions.get('a@example.com', 'phone')?.interests?.has(FIELDS_NODE)).toBe(true);
    const second = await TestXmppClient.login(engine, ext, 'a', 'laptop');
    clients.push(second);
    mark = second.mark;
    second.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='bogus='/></presence>`);
    await second.waitFor(/id="caps-\d+"/, mark);
  });

  it('a removed thing ends its watchers\' subscriptions, and its address is unknown again', async () => {
    const a = await login('a');
    await a.iq('get', "<query xmlns='jabber:iq:roster'/>");
    a.send('<presence/>');
    let mark = a.mark;
    a.send(`<presence type='subscribe' to='${LAMP}'/>`);
    await a.waitFor(/type="subscribed"/, mark);
    mark = a.mark;
    await hub.remove(OWNER, LAMP);
    const gone = await a.waitFor(/type="unavailable"/, mark);
    expect(gone).toMatch(/type="unsubscribed"/);
    expect(gone).toMatch(/subscription="none"/);
    mark = a.mark;
    a.send(`<presence type='subscribe' to='${LAMP}'/>`);
    expect(await a.waitFor(/<presence [^>]*type="error"/, mark)).toContain('<item-not-found ');
  });
});
