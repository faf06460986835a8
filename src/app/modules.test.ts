/**
 * The shipped modules together: with every module of MODULES on (the default configuration), the XMPP server
 * says what it said before these capabilities became modules (the same disco#info features for the server and
 * for accounts, XEP-0030), plus one deliberate addition since: the archive feature on the server's own address,
 * where some clients look for it. The XEP-0115 caps verification string follows the features exactly.
 */
import { describe, expect, it } from 'vitest';
import { moduleFixture } from '../modules/testing.js';
import { discoOf, NO_EXTENSIONS } from '../protocols/xmpp/c2s/iq-handlers.js';
import { validateConfig } from './config.js';
import { MODULES } from './modules.js';

/** The pre-module hash: XEP-0115 §5.1 ver of the server's disco#info when carbons, blocking, mam and vCard were in the core. */
const PRE_MODULE_CAPS_VER = '4lZRcaXOq81bhcR+DT7DEjJfgK4=';
/** The hash now: those features and `urn:xmpp:mam:2` (the mam module lists it on the server too). */
const CAPS_VER = 'CuX2VMdhdf15ghhrxCAd0r44Z4k=';

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

/** What the pep module adds to accounts (XEP-0163 §6.1, XEP-0060 §10, XEP-0402 §3, XEP-0398 §3); the server's caps stay. */
const PEP_ACCOUNT_FEATURES = [
  'http://jabber.org/protocol/pubsub',
  ...['access-open', 'access-presence', 'access-roster', 'access-whitelist', 'auto-create', 'config-node', 'create-nodes', 'delete-items', 'delete-nodes']
    .concat(['filtered-notifications', 'item-ids', 'last-published', 'persistent-items', 'presence-notifications', 'publish', 'publish-options'])
    .concat(['retract-items', 'retrieve-items'])
    .concat(['config-node-max', 'create-and-configure', 'manage-subscriptions', 'retrieve-affiliations', 'retrieve-subscriptions', 'subscribe'])
    .concat(['access-authorize', 'get-pending', 'subscription-options'])
    .map((f) => `http://jabber.org/protocol/pubsub#${f}`),
  'urn:xmpp:bookmarks:1#compat',
  'urn:xmpp:bookmarks:1#compat-pep',
  'urn:xmpp:pep-vcard-conversion:0',
];

/** What the push module adds to accounts (XEP-0357 §4); the server's caps stay. */
const PUSH_ACCOUNT_FEATURES = ['urn:xmpp:push:0'];

/** Accounts' disco#info features before the move. */
const PRE_MODULE_ACCOUNT_FEATURES = ['http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:xmpp:mam:2', 'urn:xmpp:sid:0', 'vcard-temp'];

describe('the shipped modules', () => {
  it('are the archive (off by default), then naming, carbons, blocking, search, mam, vcard, private and pep (on by default), then extdisco, apikeys, presentities, components, webhooks, notify and files (off by default), then conversations, audit, usage and push (on by default), then federation (off by default)', () => {
    expect(MODULES.map((m) => m.name)).toEqual(['archive', 'naming', 'carbons', 'blocking', 'search', 'mam', 'vcard', 'private', 'pep', 'extdisco', 'apikeys', 'presentities', 'components', 'webhooks', 'notify', 'files', 'conversations', 'audit', 'usage', 'push', 'federation']);
    const modules = validateConfig({}).modules as Record<string, { enabled: boolean }>;
    const off = new Set(['archive', 'extdisco', 'apikeys', 'presentities', 'components', 'webhooks', 'notify', 'files', 'federation']);
    for (const m of MODULES) expect({ module: m.name, enabled: modules[m.name]?.enabled }).toEqual({ module: m.name, enabled: !off.has(m.name) });
  });

  it('with the default modules on, the server announces the features it announced before they were modules, and the archive', async () => {
    const { host } = await moduleFixture(MODULES.filter((m) => m.name !== 'archive'));
    const disco = discoOf(host.xmpp);
    expect([...disco.serverFeatures].sort()).toEqual([...PRE_MODULE_SERVER_FEATURES, 'urn:xmpp:mam:2'].sort());
    expect([...disco.accountFeatures].sort()).toEqual([...PRE_MODULE_ACCOUNT_FEATURES, ...PEP_ACCOUNT_FEATURES, ...PUSH_ACCOUNT_FEATURES].sort());
    expect(disco.capsVer).toBe(CAPS_VER);
  });

  it('without them, the caps hash differs (it covers the modules\' features)', () => {
    expect(discoOf(NO_EXTENSIONS).capsVer).not.toBe(PRE_MODULE_CAPS_VER);
    expect(discoOf(NO_EXTENSIONS).capsVer).not.toBe(CAPS_VER);
  });
});
