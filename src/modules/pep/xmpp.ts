/**
 * The XMPP side of users' PEP: the XEP-0060 iqs on an account's bare address (publish, retract, items, create,
 * subscribe, unsubscribe, subscription options, one's subscriptions; the owner's configure, delete and
 * subscriptions), the messages of subscription requests (§8.6: the owner's authorization form and its answer,
 * the subscriber's outcome), its nodes in disco (XEP-0163 §9), and the publish-subscribe errors' own conditions
 * (XEP-0060 §7.1.3, §7.1.5: `precondition-not-met`, `payload-too-big`, ...).
 */
import { randomUUID } from 'node:crypto';
import { isParleyError, ParleyError } from '../../core/errors.js';
import { XmppAppError } from '../../protocols/xmpp/c2s/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { AccountNodes, IqContext, IqHandler, MessageHandler } from '../../protocols/xmpp/c2s/types.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import { configForm, formFields, metaData, NODE_CONFIG, PUBLISH_OPTIONS } from './config.js';
import type { PepNodes } from './nodes.js';
import { applyOptionsForm, DEFAULT_OPTIONS, optionsForm } from './sub-options.js';
import { subscriberJid, type PepSubscriptions, type RequestMessages, type SetState } from './subscriptions.js';

/** XEP-0060 namespaces. */
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
const NS_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_DATA = 'jabber:x:data';
/** The form of a subscription request to the owner and of its answer (XEP-0060 §8.6, §16.4.3). */
export const SUBSCRIBE_AUTHORIZATION = 'http://jabber.org/protocol/pubsub#subscribe_authorization';

/** Longest node name and item id kept (they are keys of the storage). */
const MAX_NAME = 1024;

const elements = (e: Element): Element[] => e.children.filter((c): c is Element => typeof c !== 'string');

/** The node attribute of an action (§6.5.9.3, §7.1.3.3: nodeid-required). */
function nodeOf(action: Element): string {
  const node = action.attr('node');
  if (node === undefined || node === '') throw new ParleyError('bad-request', `<${action.name}/> needs a node`, { pubsub: 'nodeid-required' });
  if (node.length > MAX_NAME) throw new ParleyError('not-acceptable', `a node name has at most ${MAX_NAME} characters`);
  return node;
}

/** Runs a handler, giving a publish-subscribe error its own condition element (XEP-0060 §7.1.3 and on). */
async function withConditions(run: () => Promise<Element | null>): Promise<Element | null> {
  try {
    return await run();
  } catch (e) {
    const condition = isParleyError(e) ? e.details?.pubsub : undefined;
    // XEP-0060 §6.3, §7: `<unsupported/>` names the feature not offered (details.feature).
    const feature = isParleyError(e) && typeof e.details?.feature === 'string' ? { feature: e.details.feature } : {};
    if (isParleyError(e) && typeof condition === 'string') throw new XmppAppError(e, el(condition, { xmlns: NS_ERRORS, ...feature }));
    throw e;
  }
}

/** The owner only: an iq to another account's address (XEP-0060 §7.1.3.1: forbidden). */
function ownerOnly(c: IqContext): void {
  if (c.target.kind !== 'self') throw new ParleyError('forbidden', 'only the account itself publishes to and manages its nodes');
}

/** The subscriber address of an `<options/>` request (§6.3.4.3: none is bad-request + jid-required). */
function optionsJid(action: Element): string {
  const jid = action.attr('jid');
  if (jid === undefined || jid === '') throw new ParleyError('bad-request', '<options/> names the subscribed address (jid)', { pubsub: 'jid-required' });
  return subscriberJid(jid);
}

/** A `<subscription/>` element (XEP-0060 §5.6, §6.1.2, §8.8.1). */
const subscriptionEl = (node: string | null, jid: string, state = 'subscribed'): Element => el('subscription', { ...(node === null ? {} : { node }), jid, subscription: state });

/** `<pubsub xmlns='…pubsub'/>`: publish, retract, create, subscribe, unsubscribe (set); items, subscriptions, affiliations (get). */
export function pubsubHandler(nodes: PepNodes, subs: PepSubscriptions): IqHandler {
  return {
    targets: ['self', 'account'],
    get: (c) =>
      withConditions(async () => {
        const [items, ...rest] = elements(c.payload);
        if (items?.name === 'subscriptions' && rest.length === 0) {
          // §5.6: the asker's own subscriptions on this account's service, of one node or all.
          const only = items.attr('node') || null;
          const found = await subs.mine(c.target.bare, c.session.user, only);
          return el('pubsub', { xmlns: NS_PUBSUB }, el('subscriptions', only === null ? {} : { node: only }, ...found.map((r) => subscriptionEl(r.node, r.jid, r.state))));
        }
        if (items?.name === 'affiliations' && rest.length === 0) {
          // §5.7: the asker's affiliations on this service: owner of each of its own nodes; a contact has none
          // (PEP access comes from the roster, not from affiliations, XEP-0163 §4).
          const only = items.attr('node') || null;
          const mine = c.target.bare === c.session.user ? (await nodes.visibleNodes(c.session.user, c.session.user)).map((n) => n.node) : [];
          if (only !== null && (await nodes.config(c.target.bare, only)) === null) throw new ParleyError('item-not-found', `no node ${only}`);
          const listed = mine.filter((n) => only === null || n === only);
          return el('pubsub', { xmlns: NS_PUBSUB }, el('affiliations', only === null ? {} : { node: only }, ...listed.map((node) => el('affiliation', { node, affiliation: 'owner' }))));
        }
        if (items?.name === 'options' && rest.length === 0) {
          // §6.3.2: the options form of one's own subscription.
          const node = nodeOf(items);
          const jid = optionsJid(items);
          const options = await subs.options(c.target.bare, node, c.session.user, jid);
          return el('pubsub', { xmlns: NS_PUBSUB }, el('options', { node, jid }, optionsForm(options)));
        }
        if (items?.name !== 'items' || rest.length > 0) throw new ParleyError('feature-not-implemented', 'PEP answers <items/>, <subscriptions/> and <affiliations/>');
        const node = nodeOf(items);
        const max = items.attr('max_items');
        if (max !== undefined && !/^[1-9]\d{0,5}$/.test(max)) throw new ParleyError('bad-request', 'max_items is a positive integer');
        const ids = items.getChildren('item').map((i) => i.attr('id') ?? '');
        if (ids.some((id) => id === '')) throw new ParleyError('bad-request', 'an <item/> asked for needs an id');
        const found = await nodes.items(c.target.bare, c.session.user, node, ids.length > 0 ? ids : null, max === undefined ? null : Number(max));
        return el('pubsub', { xmlns: NS_PUBSUB }, el('items', { node }, ...found.map((i) => el('item', { id: i.id }, parseFragment(i.xml)))));
      }),
    set: (c) =>
      withConditions(async () => {
        const [action, options] = elements(c.payload);
        const user = c.session.user;
        if (action?.name === 'subscribe' || action?.name === 'unsubscribe') {
          const node = nodeOf(action);
          const jid = subscriberJid(action.attr('jid'));
          if (action.name === 'unsubscribe') {
            await subs.unsubscribe(c.target.bare, node, user, jid);
            return null;
          }
          // §6.3.7: subscribe and configure in one request; a form that does not apply subscribes nothing.
          const x = options?.name === 'options' ? options.getChild('x', NS_DATA) : undefined;
          const chosen = x === undefined ? null : applyOptionsForm(DEFAULT_OPTIONS, x);
          // §6.1.2 subscribed, §6.1.5 pending (authorize: the owner decides).
          const state = await subs.subscribe(c.target.bare, node, user, jid, chosen);
          return el('pubsub', { xmlns: NS_PUBSUB }, subscriptionEl(node, jid, state));
        }
        if (action?.name === 'options') {
          // §6.3.5: a submitted options form changes one's own subscription.
          const node = nodeOf(action);
          const jid = optionsJid(action);
          const x = action.getChild('x', NS_DATA);
          // Checked before the subscription is looked up, so a bad form is invalid-options (§6.3.6) either way.
          applyOptionsForm(DEFAULT_OPTIONS, x);
          await subs.setOptions(c.target.bare, node, user, jid, (current) => applyOptionsForm(current, x));
          return null;
        }
        ownerOnly(c);
        switch (action?.name) {
          case 'publish': {
            const node = nodeOf(action);
            const items = action.getChildren('item');
            // §7.1.3.6: one item per publication here; §7.1.3.5: one payload element.
            if (items.length !== 1) throw new ParleyError('bad-request', 'publish one <item/>', { pubsub: items.length === 0 ? 'item-required' : 'invalid-payload' });
            const payload = elements(items[0]!);
            if (payload.length !== 1) throw new ParleyError('bad-request', 'an item carries one payload element', { pubsub: payload.length === 0 ? 'payload-required' : 'invalid-payload' });
            const id = items[0]!.attr('id') || undefined;
            if (id !== undefined && id.length > MAX_NAME) throw new ParleyError('not-acceptable', `an item id has at most ${MAX_NAME} characters`);
            const form = options?.name === 'publish-options' ? formFields(options.getChild('x', 'jabber:x:data'), PUBLISH_OPTIONS) : null;
            const stored = await nodes.publish(user, node, id, serialize(payload[0]!), { options: form, origin: 'xmpp' });
            return el('pubsub', { xmlns: NS_PUBSUB }, el('publish', { node }, el('item', { id: stored })));
          }
          case 'retract': {
            const node = nodeOf(action);
            const ids = action.getChildren('item').map((i) => i.attr('id') ?? '');
            if (ids.length !== 1 || ids[0] === '') throw new ParleyError('bad-request', 'retract one <item id/>', { pubsub: 'item-required' });
            const notify = action.attr('notify');
            await nodes.retract(user, node, ids[0]!, notify === 'true' || notify === '1', 'xmpp');
            return null;
          }
          case 'create': {
            const node = nodeOf(action);
            const configure = options?.name === 'configure' ? formFields(options.getChild('x', 'jabber:x:data'), NODE_CONFIG) : null;
            await nodes.create(user, node, configure);
            return null;
          }
          default:
            throw new ParleyError('feature-not-implemented', 'PEP serves publish, retract, create, subscribe, unsubscribe, items and subscriptions');
        }
      }),
  };
}

/** `<pubsub xmlns='…pubsub#owner'/>`: configure, subscriptions (get, set) and delete (set), the owner's alone (XEP-0060 §8). */
export function ownerHandler(nodes: PepNodes, subs: PepSubscriptions): IqHandler {
  return {
    targets: ['self', 'account'],
    get: (c) =>
      withConditions(async () => {
        ownerOnly(c);
        const action = elements(c.payload)[0];
        if (action?.name === 'subscriptions') {
          // §8.8.1: every subscription of the node, the requests waiting for the owner as pending (§8.7).
          const node = nodeOf(action);
          const found = await subs.ofNode(c.session.user, node);
          return el('pubsub', { xmlns: NS_PUBSUB_OWNER }, el('subscriptions', { node }, ...found.map((r) => subscriptionEl(null, r.jid, r.state))));
        }
        if (action?.name !== 'configure') throw new ParleyError('feature-not-implemented', 'the owner reads a node\'s configuration (<configure/>) and subscriptions (<subscriptions/>)');
        const node = nodeOf(action);
        const config = await nodes.config(c.session.user, node);
        if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
        return el('pubsub', { xmlns: NS_PUBSUB_OWNER }, el('configure', { node }, configForm(config)));
      }),
    set: (c) =>
      withConditions(async () => {
        ownerOnly(c);
        const action = elements(c.payload)[0];
        const user = c.session.user;
        if (action?.name === 'delete') {
          await nodes.deleteNode(user, nodeOf(action));
          return null;
        }
        if (action?.name === 'configure') {
          const x = action.getChild('x', 'jabber:x:data');
          // §8.2.5: a cancelled form changes nothing.
          if (x?.attr('type') === 'cancel') return null;
          const fields = formFields(x, NODE_CONFIG);
          if (fields === null) throw new ParleyError('bad-request', 'a configuration carries a data form');
          await nodes.configure(user, nodeOf(action), fields);
          // A new access model may shut subscribers out (XEP-0060 §4.5).
          await subs.revalidate(user, null);
          return null;
        }
        if (action?.name === 'subscriptions') {
          // §8.8.2: the owner sets subscription states; all or nothing.
          const node = nodeOf(action);
          const changes = action.getChildren('subscription').map((s) => ({ jid: subscriberJid(s.attr('jid')), state: stateOf(s.attr('subscription')) }));
          if (changes.length === 0) throw new ParleyError('bad-request', 'name at least one <subscription jid subscription/>');
          await subs.manage(user, node, changes);
          return null;
        }
        throw new ParleyError('feature-not-implemented', 'the owner configures (<configure/>), deletes (<delete/>) nodes and manages their subscriptions (<subscriptions/>)');
      }),
  };
}

/** A subscription state the owner may set (§8.8.2): subscribed or none; pending and unconfigured do not arise here. */
function stateOf(v: string | undefined): SetState {
  if (v === 'subscribed' || v === 'none') return v;
  throw new ParleyError('not-acceptable', `a subscription is set to subscribed or none, not ${v ?? 'nothing'}`);
}

/** The account's nodes in disco (XEP-0163 §9): as items of the account, and each node's disco#info (§5.3). */
export function accountNodes(nodes: PepNodes): AccountNodes {
  return {
    async items(owner, viewer) {
      return (await nodes.visibleNodes(owner, viewer)).map((n) => ({ node: n.node, ...(n.config.title ? { name: n.config.title } : {}) }));
    },
    async info(owner, viewer, node) {
      const config = await nodes.config(owner, node);
      if (config === null || !(await nodes.mayAccess(owner, viewer, config, node))) return null;
      // §6.3.1: the node offers subscription options.
      return { identities: [{ category: 'pubsub', type: 'leaf' }], features: [NS_PUBSUB, `${NS_PUBSUB}#subscription-options`], forms: [metaData(owner, config)] };
    },
  };
}

/** A data form field with its values. */
const field = (v: string, type: string, values: string[], label?: string): Element =>
  el('field', { var: v, type, ...(label === undefined ? {} : { label }) }, ...values.map((x) => el('value', {}, x)));

/**
 * The messages of subscription requests, from the owner's bare address (its PEP service): the authorization
 * form to the owner's XMPP sessions (XEP-0060 §8.6.1), and the decision to the subscriber (§8.6.2: an event with
 * its subscription's state).
 */
export function requestMessages(engine: Engine): RequestMessages {
  return {
    ask(owner, node, jid) {
      const form = el(
        'x',
        { xmlns: NS_DATA, type: 'form' },
        el('title', {}, 'PubSub subscriber request'),
        el('instructions', {}, 'To approve this subscription request, set pubsub#allow to true and submit the form; to deny it, submit false.'),
        field('FORM_TYPE', 'hidden', [SUBSCRIBE_AUTHORIZATION]),
        field('pubsub#node', 'text-single', [node], 'Node ID'),
        field('pubsub#subscriber_jid', 'jid-single', [jid], 'Subscriber Address'),
        field('pubsub#allow', 'boolean', ['false'], 'Allow this JID to subscribe to this pubsub node?'),
      );
      engine.stanzaToUser(owner, serialize(el('message', { xmlns: 'jabber:client', from: owner, to: owner, id: randomUUID() }, form)));
    },
    tell(owner, node, jid, state) {
      const xml = serialize(el('message', { xmlns: 'jabber:client', from: owner, to: jid, id: randomUUID() }, el('event', { xmlns: NS_EVENT }, el('subscription', { node, jid, subscription: state }))));
      const slash = jid.indexOf('/');
      if (slash === -1) engine.stanzaToUser(jid, xml);
      else engine.relayStanza(jid.slice(0, slash), jid.slice(slash + 1), xml, (sink) => sink.relaysStanzas === true);
    },
  };
}

/**
 * The owner's answer to a subscription request (XEP-0060 §8.6.2): a message to its own bare address carrying the
 * submitted `subscribe_authorization` form (`pubsub#allow` true approves, false denies; a cancelled form changes
 * nothing). Other forms, and forms to anyone else, go on as ordinary messages.
 */
export function authorizationAnswers(subs: PepSubscriptions): MessageHandler {
  return async ({ session, payload, to }) => {
    if (to !== session.user) return false;
    const formType = payload.getChildren('field').find((f) => f.attr('var') === 'FORM_TYPE')?.getChild('value')?.text();
    if (formType !== SUBSCRIBE_AUTHORIZATION) return false;
    if (payload.attr('type') === 'cancel') return true;
    const fields = formFields(payload, SUBSCRIBE_AUTHORIZATION) ?? new Map<string, string[]>();
    const node = fields.get('pubsub#node')?.[0];
    if (node === undefined || node === '') throw new ParleyError('bad-request', 'the authorization form names the node (pubsub#node)', { pubsub: 'nodeid-required' });
    const jid = subscriberJid(fields.get('pubsub#subscriber_jid')?.[0]);
    const allow = fields.get('pubsub#allow')?.[0];
    if (allow !== 'true' && allow !== '1' && allow !== 'false' && allow !== '0') throw new ParleyError('bad-request', 'pubsub#allow is a boolean');
    await subs.answer(session.user, node, jid, allow === 'true' || allow === '1');
    return true;
  };
}

/** XEP-0050 ad-hoc commands, and the one XEP-0060 §8.7 defines for pending requests. */
export const NS_COMMANDS = 'http://jabber.org/protocol/commands';
export const GET_PENDING = 'http://jabber.org/protocol/pubsub#get-pending';

/**
 * XEP-0060 §8.7: the owner asks for the pending subscription requests with the ad-hoc command get-pending on its
 * own address: executed, it answers a form to choose one of the nodes with requests waiting (§8.7.1); the form
 * submitted, the service sends the authorization form of each request on that node again (§8.7.2). No state is
 * kept between the two steps (the session id is only echoed).
 */
export function pendingCommand(subs: PepSubscriptions): IqHandler {
  return {
    targets: ['self'],
    set: (c) =>
      withConditions(async () => {
        const cmd = c.payload;
        const node = cmd.attr('node');
        if (node !== GET_PENDING) throw new ParleyError('item-not-found', `the command here is ${GET_PENDING}`);
        const sessionid = cmd.attr('sessionid') || randomUUID();
        const reply = (status: string, ...children: Element[]): Element => el('command', { xmlns: NS_COMMANDS, node, sessionid, status }, ...children);
        const action = cmd.attr('action') ?? 'execute';
        if (action === 'cancel') return reply('canceled');
        const x = cmd.getChild('x', NS_DATA);
        const owner = c.session.user;
        if (x === undefined) {
          const waiting = await subs.pendingNodes(owner);
          if (waiting.length === 0) return reply('completed', el('note', { type: 'info' }, 'No subscription requests are pending.'));
          return reply(
            'executing',
            el('actions', { execute: 'complete' }, el('complete')),
            el(
              'x',
              { xmlns: NS_DATA, type: 'form' },
              field('FORM_TYPE', 'hidden', [SUBSCRIBE_AUTHORIZATION]),
              el('field', { var: 'pubsub#node', type: 'list-single', label: 'Node with pending subscription requests' }, ...waiting.map((n) => el('option', {}, el('value', {}, n)))),
            ),
          );
        }
        const chosen = formFields(x, SUBSCRIBE_AUTHORIZATION)?.get('pubsub#node')?.[0];
        if (chosen === undefined || chosen === '') throw new ParleyError('bad-request', 'choose a node (pubsub#node)', { pubsub: 'nodeid-required' });
        const n = await subs.askAgain(owner, chosen);
        return reply('completed', el('note', { type: 'info' }, `${n} pending subscription request${n === 1 ? '' : 's'} sent again.`));
      }),
  };
}
