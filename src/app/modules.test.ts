/**
 * The shipped modules together: with every module of MODULES on (the default configuration), the XMPP server
 * says what it said before these capabilities became modules. The same disco#info features for the server and
 * for accounts (XEP-0030), hence the same XEP-0115 caps verification string, so clients that cached the
 * server's capabilities by its caps hash need not ask again.
 */
import { describe, expect, it } from 'vitest';
import { moduleFixture } from '../modules/testing.js';
import { discoOf, NO_EXTENSIONS } from '../protocols/xmpp/c2s/iq-handlers.js';
import { validateConfig } from './config.js';
import { MODULES } from './modules.js';

/** The pre-module hash: XEP-0115 §5.1 ver of the server's disco#info when carbons, blocking, mam and vCard were in the core. */
const PRE_MODULE_CAPS_VER = '4lZRcaXOq81bhcR+DT7DEjJfgK4=';

/** The server's disco#info features before the move (the core's list then). */
const PRE_MODULE_SERVER_FEATURES = [
  'urn:xmpp:blocking',
  'http://jabber.org/protocol/disco#info',
  'http://jabber.org/protocol/disco#items',
  'urn:xmpp:ping',
  'jabber:iq:version',
  'urn:xmpp:time',
  'urn:xmpp:carbons:2',
  'urn:xmpp:sid:0',
  'urn:xmpp:csi:0',
  'urn:xmpp:sm:3',
  'urn:xmpp:features:rosterver',
  'vcard-temp',
  'msgoffline',
  'urn:xmpp:receipts',
];

/** Accounts' disco#info features before the move. */
const PRE_MODULE_ACCOUNT_FEATURES = ['http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:xmpp:mam:2', 'urn:xmpp:sid:0', 'vcard-temp'];

describe('the shipped modules', () => {
  it('are the archive (off by default), then carbons, blocking, mam and vcard (on by default), then apikeys, presentities, webhooks, notify and files (off by default)', () => {
    expect(MODULES.map((m) => m.name)).toEqual(['archive', 'carbons', 'blocking', 'mam', 'vcard', 'apikeys', 'presentities', 'webhooks', 'notify', 'files']);
    const modules = validateConfig({}).modules as Record<string, { enabled: boolean }>;
    const off = new Set(['archive', 'apikeys', 'presentities', 'webhooks', 'notify', 'files']);
    for (const m of MODULES) expect({ module: m.name, enabled: modules[m.name]?.enabled }).toEqual({ module: m.name, enabled: !off.has(m.name) });
  });

  it('with the default modules on, the server announces the features and the caps hash it announced before they were modules', async () => {
    const { host } = await moduleFixture(MODULES.filter((m) => m.name !== 'archive'));
    const disco = discoOf(host.xmpp);
    expect([...disco.serverFeatures].sort()).toEqual([...PRE_MODULE_SERVER_FEATURES].sort());
    expect([...disco.accountFeatures].sort()).toEqual([...PRE_MODULE_ACCOUNT_FEATURES].sort());
    expect(disco.capsVer).toBe(PRE_MODULE_CAPS_VER);
  });

  it('without them, the caps hash differs (it covers the modules\' features)', () => {
    expect(discoOf(NO_EXTENSIONS).capsVer).not.toBe(PRE_MODULE_CAPS_VER);
  });
});
