/**
 * XEP-0163 personal eventing for users: every account is a PEP service on its bare address. Nodes are created by
 * the first publication, their items kept in the module's storage area, and each publication is notified by
 * the engine (ModuleApi.pepNotify, through the Router) to the owner's sessions and the contacts the access model
 * lets see it, those whose capabilities ask for the node (`+notify`). XEP-0223 private data rides on the
 * whitelist access model and publish-options.
 */
import { NS_COMMANDS, NS_PUBSUB_OWNER, accountNodes, authorizationAnswers, ownerHandler, pendingCommand, pubsubHandler, requestMessages, NS_PUBSUB } from './xmpp.js';
import { defineModule } from '../api.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { avatars, VCARD_CONVERSION } from './avatar.js';
import { avatarHashInPresence } from './presence-hash.js';
import { BOOKMARKS_COMPAT, BOOKMARKS_COMPAT_PEP, syncBookmarks, syncLegacyPep } from './bookmarks.js';
import { PepNodes } from './nodes.js';
import { pepOptions } from './options.js';
import { area, type PepArea } from './sqlite.js';
import { PepSubscriptions } from './subscriptions.js';

/** XEP-0172 User Nickname: its PEP node and payload namespace. */
const NS_NICK = 'http://jabber.org/protocol/nick';

/** The XEP-0060 features (§10) an account's PEP service has: what nodes.ts and xmpp.ts implement. */
const FEATURES = [
  // §4.5: subscription requests wait for the owner's approval (§6.1.5, §8.6).
  'access-authorize',
  'access-open',
  'access-presence',
  'access-roster',
  'access-whitelist',
  'auto-create',
  'config-node',
  // XEP-0060 §16.4: `max` is accepted for pubsub#max_items (config.ts), so clients may ask for it (XEP-0402 §4).
  'config-node-max',
  'create-and-configure',
  'create-nodes',
  'delete-items',
  'delete-nodes',
  'filtered-notifications',
  // §8.7: the ad-hoc command that sends the pending requests again.
  'get-pending',
  'item-ids',
  'last-published',
  'manage-subscriptions',
  'persistent-items',
  'presence-notifications',
  'publish',
  'publish-options',
  'retract-items',
  'retrieve-affiliations',
  'retrieve-items',
  'retrieve-subscriptions',
  'subscribe',
  // §6.3: pubsub#deliver and pubsub#show-values.
  'subscription-options',
].map((f) => `${NS_PUBSUB}#${f}`);

/** The pep module. */
export const pep = defineModule({
  name: 'pep',
  summary: 'XEP-0163 personal eventing on every account, with XEP-0223 private data, XEP-0402 bookmarks and XEP-0084 avatars',
  options: pepOptions,
  storage: sqliteBeside(import.meta.url, area),
  setup(api) {
    const { engine } = api;
    const store = api.storage<PepArea>();
    // Notifications go to the implicit audience (+notify) and to the node's explicit subscribers (XEP-0163 §4).
    const nodes: PepNodes = new PepNodes(store, engine, async (owner, item, audience): Promise<void> => api.pepNotify(owner, item, audience, await subs.current(owner, item.node)), api.options);
    const subs: PepSubscriptions = new PepSubscriptions(store, nodes, (owner, item, to) => api.pepToSubscribers(owner, item, to), api.options, api.log, requestMessages(engine));
    api.pepSource(nodes);
    // XEP-0172 §4.5: the nickname a person publishes is a name others see; it passes the profile.check gate.
    nodes.validate(NS_NICK, (_id, xml, owner) => engine.profiles.checkNames(owner, 'nick', [parseFragment(xml).text()]));
    // Presence entities (the presentities module) keep their own PEP service; accounts are this one's.
    const serves = (t: { kind: string; bare: string }): boolean => (t.kind === 'self' || t.kind === 'account') && !engine.entities.isEntity(t.bare);
    api.xmppIq(NS_PUBSUB, 'pubsub', pubsubHandler(nodes, subs), serves);
    api.xmppIq(NS_PUBSUB_OWNER, 'pubsub', ownerHandler(nodes, subs), serves);
    api.xmppAccountNodes(accountNodes(nodes));
    // XEP-0060 §8.6.2: the owner answers a subscription request with the form, in a message to its own address.
    api.xmppMessage('jabber:x:data', 'x', authorizationAnswers(subs));
    // XEP-0060 §8.7: the owner's ad-hoc command for the pending requests, on its own address only.
    api.xmppIq(NS_COMMANDS, 'command', pendingCommand(subs), (t) => t.kind === 'self');
    for (const f of [NS_PUBSUB, ...FEATURES]) api.xmppFeature(f, 'account');
    // XEP-0402 §5: legacy bookmarks in private storage (XEP-0048 over XEP-0049) follow the node, and back.
    // XEP-0402 §5 #compat-pep: the XEP-0048 PEP node follows the XEP-0402 node, and back.
    syncLegacyPep(nodes, api.options.maxItemsPerNode, api.log);
    api.xmppFeature(BOOKMARKS_COMPAT_PEP, 'account');
    const priv = api.tryUse('private');
    if (priv) {
      syncBookmarks(nodes, priv, api.options.maxItemsPerNode, api.log);
      api.xmppFeature(BOOKMARKS_COMPAT, 'account');
    }
    // XEP-0084 avatars; XEP-0398 keeps the vCard's PHOTO in step when the vcard module runs. The current hash is
    // a service, and goes into users' presence (XEP-0153).
    const vcards = api.tryUse('vcard');
    const hashes = avatars(nodes, vcards, api.log);
    api.provide('avatars', hashes);
    avatarHashInPresence(api, hashes);
    if (vcards) api.xmppFeature(VCARD_CONVERSION, 'account');
    // XEP-0163 §4.3.2: a contact whose subscription was just approved gets the last items it may have.
    api.on('subscription.changed', async (e) => {
      if (e.action === 'subscribed' && !engine.entities.isEntity(e.user)) await engine.pep.subscribed(e.contact, e.user);
      // A contact the owner no longer shares its presence with loses the subscriptions the access model gave it.
      if (!engine.entities.isEntity(e.user)) await subs.revalidate(e.user, e.contact);
    });
    // The same when the owner removes the contact or changes its groups (roster access model, XEP-0060 §4.5).
    api.on('roster.changed', async (e) => {
      if (!engine.entities.isEntity(e.user)) await subs.revalidate(e.user, e.contact);
    });
    // What an account leaves behind goes with it.
    api.on('account.removed', async (e) => nodes.drop(e.address));
  },
});
