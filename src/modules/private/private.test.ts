/**
 * The private module through the seam (XEP-0049): a user stores fragments and reads them back, one namespace per
 * get, several per set; nobody else reads or writes them; reserved namespaces, empty queries and oversize
 * fragments are refused; the element limit holds; an address created again starts empty.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { privateStorage } from './index.js';

const Q = (inner: string): string => `<query xmlns='jabber:iq:private'>${inner}</query>`;
const BOOKMARKS = `<storage xmlns='storage:bookmarks'><conference jid='team@conference.example.com' autojoin='true' name='Team'><nick>a</nick></conference></storage>`;

describe('private module (XEP-0049)', () => {
  it('stores fragments by element and namespace, returns them to their owner, and an empty element when none', async () => {
    const { engine, host } = await moduleFixture([privateStorage]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    expect((await a.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply).toContain('<query xmlns="jabber:iq:private"><storage xmlns="storage:bookmarks"/></query>');
    expect((await a.iq('set', Q(`${BOOKMARKS}<prefs xmlns='urn:example:prefs'><theme>dark</theme></prefs>`))).reply).toContain('type="result"');
    const got = (await a.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply;
    expect(got).toContain('<conference jid="team@conference.example.com" autojoin="true" name="Team"><nick>a</nick></conference>');
    expect((await a.iq('get', Q(`<prefs xmlns='urn:example:prefs'/>`))).reply).toContain('<theme>dark</theme>');
    // Same namespace, another element name: a separate fragment.
    expect((await a.iq('get', Q(`<other xmlns='urn:example:prefs'/>`))).reply).toContain('<other xmlns="urn:example:prefs"/>');
    // A set replaces.
    await a.iq('set', Q(`<prefs xmlns='urn:example:prefs'><theme>light</theme></prefs>`));
    expect((await a.iq('get', Q(`<prefs xmlns='urn:example:prefs'/>`))).reply).toContain('<theme>light</theme>');
    // To one's own bare address works too.
    expect((await a.iq('get', Q(`<prefs xmlns='urn:example:prefs'/>`), 'a@example.com')).reply).toContain('<theme>light</theme>');
    a.close();
  });

  it('refuses other users, empty queries, reserved namespaces, two namespaces in a get, oversize fragments and too many', async () => {
    const { engine, host } = await moduleFixture([privateStorage], { options: { private: { maxBytes: 1024, maxElements: 2 } } });
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    const b = await TestXmppClient.login(engine, host.xmpp, 'b');
    await a.iq('set', Q(BOOKMARKS));
    expect((await b.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`), 'a@example.com')).reply).toContain('<forbidden');
    expect((await b.iq('set', Q(BOOKMARKS), 'a@example.com')).reply).toContain('<forbidden');
    expect((await b.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply).toContain('<storage xmlns="storage:bookmarks"/>');
    expect((await a.iq('set', Q(''))).reply).toContain('<not-acceptable');
    expect((await a.iq('set', Q(`<message xmlns='jabber:client'/>`))).reply).toContain('<not-acceptable');
    expect((await a.iq('get', Q(`<x xmlns='urn:a'/><y xmlns='urn:b'/>`))).reply).toContain('<not-acceptable');
    expect((await a.iq('set', Q(`<big xmlns='urn:big'>${'x'.repeat(2000)}</big>`))).reply).toMatch(/<not-acceptable[^>]*\/><text[^>]*>a fragment holds at most 1024 bytes/);
    await a.iq('set', Q(`<one xmlns='urn:n'/>`));
    expect((await a.iq('set', Q(`<two xmlns='urn:n'/>`))).reply).toMatch(/<policy-violation[^>]*\/><text[^>]*>private storage holds at most 2 elements/);
    // Replacing one held already is not one more.
    expect((await a.iq('set', Q(`<one xmlns='urn:n'><v>2</v></one>`))).reply).toContain('type="result"');
    a.close();
    b.close();
  });

  it('an address removed and created again starts empty', async () => {
    const { engine, host } = await moduleFixture([privateStorage]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    await a.iq('set', Q(BOOKMARKS));
    a.close();
    await engine.admin.removeUser('a@example.com');
    await engine.admin.addUser('a@example.com', 'secret-pw', false);
    const again = await TestXmppClient.login(engine, host.xmpp, 'a');
    expect((await again.iq('get', Q(`<storage xmlns='storage:bookmarks'/>`))).reply).toContain('<storage xmlns="storage:bookmarks"/></query>');
    again.close();
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({}).modules.private).toEqual({ enabled: true, maxBytes: 65536, maxElements: 100 });
    expect(() => validateConfig({ modules: { private: { maxBytes: 10 } } })).toThrow(/modules\.private\.maxBytes/);
  });
});
