/**
 * The carbons module through the seam: a ModuleHost with only this module, an XmppConnection serving what it
 * added. XEP-0280 §4 enable and §5 disable set the session's flag (the router's input); §3 the feature is in the
 * server's disco#info. Disabled, the iqs are service-unavailable and the feature is gone.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { carbons } from './index.js';

const ENABLE = `<enable xmlns='urn:xmpp:carbons:2'/>`;
const DISABLE = `<disable xmlns='urn:xmpp:carbons:2'/>`;
const DISCO = `<query xmlns='http://jabber.org/protocol/disco#info'/>`;

describe('carbons module', () => {
  it('enables and disables carbons for the session (XEP-0280 §4, §5)', async () => {
    const { engine, host } = await moduleFixture([carbons]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('set', ENABLE)).reply).toContain('type="result"');
    expect(c.conn.session?.carbons).toBe(true);
    expect(c.conn.carbons).toBe(true);
    // Addressed to the user's own bare address works the same.
    expect((await c.iq('set', DISABLE, 'a@example.com')).reply).toContain('type="result"');
    expect(c.conn.session?.carbons).toBe(false);
    // Only set is defined (§4: an iq-set).
    expect((await c.iq('get', ENABLE)).reply).toContain('<service-unavailable');
    c.close();
  });

  it('announces urn:xmpp:carbons:2 in the server\'s disco#info (XEP-0280 §3)', async () => {
    const { engine, host } = await moduleFixture([carbons]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', DISCO, 'example.com')).reply).toContain('<feature var="urn:xmpp:carbons:2"/>');
    c.close();
  });

  it('disabled: the iqs are service-unavailable and the feature is absent', async () => {
    const { engine, host } = await moduleFixture([carbons], { options: { carbons: { enabled: false } } });
    expect(host.names).toEqual([]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('set', ENABLE)).reply).toContain('<service-unavailable');
    expect(c.conn.session?.carbons).toBe(false);
    const disco = (await c.iq('get', DISCO, 'example.com')).reply;
    expect(disco).toContain('<feature var="urn:xmpp:ping"/>');
    expect(disco).not.toContain('urn:xmpp:carbons:2');
    c.close();
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({ modules: { carbons: { enabled: false } } }).modules.carbons).toEqual({ enabled: false });
    expect(validateConfig({}).modules.carbons).toEqual({ enabled: true });
    expect(() => validateConfig({ modules: { carbons: { enabled: true, copies: 'all' } } })).toThrow(/modules\.carbons\.copies: unknown key/);
  });
});
