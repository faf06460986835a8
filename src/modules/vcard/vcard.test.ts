/**
 * The vcard module through the seam: a ModuleHost with only this module and XmppConnections serving what it
 * added. XEP-0054 §3.1 reading one's own vCard (empty when none), §3.2 setting it, §3.3 reading another
 * user's, and the vcard-temp feature of the server and of accounts. Disabled: service-unavailable, no feature.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { vcard } from './index.js';

const DISCO = `<query xmlns='http://jabber.org/protocol/disco#info'/>`;
const EMPTY = `<vCard xmlns='vcard-temp'/>`;

describe('vcard module', () => {
  it('sets one\'s own vCard, reads it back, lets others read it but not set it (XEP-0054 §3)', async () => {
    const { engine, host } = await moduleFixture([vcard]);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    const b = await TestXmppClient.login(engine, host.xmpp, 'b');
    expect((await a.iq('get', EMPTY)).reply).toContain('<vCard xmlns="vcard-temp"/>');
    expect((await a.iq('set', `<vCard xmlns='vcard-temp'><FN>Alice Example</FN><NICKNAME>al &amp; co</NICKNAME></vCard>`)).reply).toContain('type="result"');
    const own = (await a.iq('get', EMPTY)).reply;
    expect(own).toContain('<FN>Alice Example</FN>');
    expect(own).toContain('<NICKNAME>al &amp; co</NICKNAME>');
    expect(await engine.profiles.vcard('a@example.com')).toContain('<FN>Alice Example</FN>');
    expect((await b.iq('get', EMPTY, 'a@example.com')).reply).toContain('<FN>Alice Example</FN>');
    expect((await b.iq('set', `<vCard xmlns='vcard-temp'><FN>Not Alice</FN></vCard>`, 'a@example.com')).reply).toContain('<forbidden');
    expect((await b.iq('get', EMPTY, 'nobody@example.com')).reply).toContain('<item-not-found');
    a.close();
    b.close();
  });

  it('announces vcard-temp for the server and for accounts', async () => {
    const { engine, host } = await moduleFixture([vcard]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', DISCO, 'example.com')).reply).toContain('<feature var="vcard-temp"/>');
    expect((await c.iq('get', DISCO, 'b@example.com')).reply).toContain('<feature var="vcard-temp"/>');
    c.close();
  });

  it('disabled: vCard iqs are service-unavailable and the feature is absent', async () => {
    const { engine, host } = await moduleFixture([vcard], { options: { vcard: { enabled: false } } });
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', EMPTY)).reply).toContain('<service-unavailable');
    expect((await c.iq('set', `<vCard xmlns='vcard-temp'><FN>A</FN></vCard>`)).reply).toContain('<service-unavailable');
    expect(await engine.profiles.vcard('a@example.com')).toBeNull();
    expect((await c.iq('get', DISCO, 'example.com')).reply).not.toContain('vcard-temp');
    expect((await c.iq('get', DISCO, 'a@example.com')).reply).not.toContain('vcard-temp');
    c.close();
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({ modules: { vcard: { enabled: false } } }).modules.vcard).toEqual({ enabled: false });
    expect(() => validateConfig({ modules: { vcard: { photos: true } } })).toThrow(/modules\.vcard\.photos: unknown key/);
  });
});
