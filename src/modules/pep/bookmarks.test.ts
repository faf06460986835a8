/**
 * XEP-0402 bookmarks with the #compat of XEP-0048 legacy bookmarks in private storage (XEP-0049): a publication
 * shows in the legacy list (which keeps its urls), a legacy set publishes and retracts items, notified to the
 * owner's sessions that asked for the node; contacts see nothing of it.
 */
import { describe, expect, it } from 'vitest';
import { privateStorage } from '../private/index.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { BOOKMARKS } from './bookmarks.js';
import { pep } from './index.js';

const PS = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'>${inner}</pubsub>`;
const LEGACY_NODE = 'storage:bookmarks';
const Q = (inner: string): string => `<query xmlns='jabber:iq:private'>${inner}</query>`;
const OPTIONS =
  `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
  `<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#max_items'><value>max</value></field>` +
  `<field var='pubsub#send_last_published_item'><value>never</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>`;
const publish = (room: string, name: string): string =>
  PS(`<publish node='${BOOKMARKS}'><item id='${room}'><conference xmlns='${BOOKMARKS}' name='${name}' autojoin='true'><nick>al</nick></conference></item></publish>${OPTIONS}`);

describe('pep bookmarks (XEP-0402 #compat)', () => {
  it('keeps XEP-0402 items and legacy private bookmarks in step both ways', async () => {
    const { engine, host } = await moduleFixture([privateStorage, pep]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
    await engine.setInterests(engine.sessions.get('a@example.com', 'phone')!, new Set([BOOKMARKS]));
    a.send('<presence/>');
    expect((await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, 'a@example.com')).reply).toContain(`${BOOKMARKS}#compat`);
    // A legacy list with a url first.
    await a.iq('set', Q(`<storage xmlns='storage:bookmarks'><url name='Site' url='https://example.com/'/></storage>`));
    // PEP → private.
    let mark = a.mark;
    expect((await a.iq('set', publish('team@conference.example.com', 'Team'))).reply).toContain('type="result"');
    expect(await a.waitFor(/<item id="team@conference.example.com"><conference/, mark)).toContain('headline');
    const legacy = (await a.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply;
    expect(legacy).toContain('<conference jid="team@conference.example.com" name="Team" autojoin="true"><nick>al</nick></conference>');
    expect(legacy).toContain('<url name="Site" url="https://example.com/"/>');
    // private → PEP: a new room, the old one gone (retraction notified), the url kept.
    mark = a.mark;
    await a.iq('set', Q(`<storage xmlns='storage:bookmarks'><conference jid='ops@conference.example.com' name='Ops' autojoin='false'><nick>a</nick></conference></storage>`));
    expect(await a.waitFor(/<retract id="team@conference.example.com"\/>/, mark)).toContain(BOOKMARKS);
    const items = (await a.iq('get', PS(`<items node='${BOOKMARKS}'/>`))).reply;
    expect(items).toContain('<item id="ops@conference.example.com"><conference xmlns="urn:xmpp:bookmarks:1" name="Ops" autojoin="false"><nick>a</nick></conference></item>');
    expect(items).not.toContain('team@');
    // A later XEP-0402 publication with the spec's publish-options matches the node the conversion made.
    expect((await a.iq('set', publish('dev@conference.example.com', 'Dev'))).reply).toContain('type="result"');
    const both = (await a.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply;
    expect(both).toContain('jid="ops@conference.example.com"');
    expect(both).toContain('jid="dev@conference.example.com"');
    // Contacts never see bookmarks (whitelist).
    const b = await TestXmppClient.login(engine, host.xmpp, 'b', 'phone');
    expect((await b.iq('get', PS(`<items node='${BOOKMARKS}'/>`), 'a@example.com')).reply).toContain('<closed-node');
    a.close();
    b.close();
  });

  it('keeps the XEP-0048 PEP node in step with XEP-0402 and private storage (#compat-pep)', async () => {
    const { engine, host } = await moduleFixture([privateStorage, pep]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
    await engine.setInterests(engine.sessions.get('a@example.com', 'phone')!, new Set([LEGACY_NODE]));
    a.send('<presence/>');
    expect((await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, 'a@example.com')).reply).toContain(`${BOOKMARKS}#compat-pep`);
    // XEP-0048 in PEP → XEP-0402 items and the private list.
    const legacy = `<storage xmlns='storage:bookmarks'><conference jid='old@conference.example.com' name='Old' autojoin='true'><nick>al</nick></conference><url name='Site' url='https://example.com/'/></storage>`;
    expect((await a.iq('set', PS(`<publish node='${LEGACY_NODE}'><item id='current'>${legacy}</item></publish>`))).reply).toContain('type="result"');
    const items = (await a.iq('get', PS(`<items node='${BOOKMARKS}'/>`))).reply;
    expect(items).toContain('<item id="old@conference.example.com"><conference xmlns="urn:xmpp:bookmarks:1" name="Old" autojoin="true"><nick>al</nick></conference></item>');
    expect((await a.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply).toContain('jid="old@conference.example.com"');
    // XEP-0402 → the PEP node's item, urls kept, notified to the session that asked for it.
    const mark = a.mark;
    await a.iq('set', publish('new@conference.example.com', 'New'));
    const note = await a.waitFor(/<items node="storage:bookmarks">[\s\S]*?new@conference/, mark);
    expect(note).toContain('headline');
    const node = (await a.iq('get', PS(`<items node='${LEGACY_NODE}'/>`))).reply;
    expect(node).toContain('jid="old@conference.example.com"');
    expect(node).toContain('jid="new@conference.example.com"');
    expect(node).toContain('<url name="Site" url="https://example.com/"/>');
    // Private storage → both PEP nodes.
    await a.iq('set', Q(`<storage xmlns='storage:bookmarks'><conference jid='only@conference.example.com' autojoin='false'/></storage>`));
    const after = (await a.iq('get', PS(`<items node='${LEGACY_NODE}'/>`))).reply;
    expect(after).toContain('jid="only@conference.example.com"');
    expect(after).not.toContain('old@');
    expect((await a.iq('get', PS(`<items node='${BOOKMARKS}'/>`))).reply.match(/<item id=/g)).toHaveLength(1);
    a.close();
  });
});
