/**
 * The XMPP side of users' PEP: the XEP-0060 iqs on an account's bare address (publish, retract, items, create;
 * the owner's configure and delete), its nodes in disco (XEP-0163 §9), and the publish-subscribe errors' own
 * conditions (XEP-0060 §7.1.3, §7.1.5: `precondition-not-met`, `payload-too-big`, ...).
 */
import { isParleyError, ParleyError } from '../../core/errors.js';
import { XmppAppError } from '../../protocols/xmpp/c2s/errors.js';
import type { AccountNodes, IqContext, IqHandler } from '../../protocols/xmpp/c2s/types.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import { configForm, formFields, metaData, NODE_CONFIG, PUBLISH_OPTIONS } from './config.js';
import type { PepNodes } from './nodes.js';

/** XEP-0060 namespaces. */
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
const NS_ERRORS = 'http://jabber.org/protocol/pubsub#errors';

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
    if (isParleyError(e) && typeof condition === 'string') throw new XmppAppError(e, el(condition, { xmlns: NS_ERRORS }));
    throw e;
  }
}

/** The owner only: an iq to another account's address (XEP-0060 §7.1.3.1: forbidden). */
function ownerOnly(c: IqContext): void {
  if (c.target.kind !== 'self') throw new ParleyError('forbidden', 'only the account itself publishes to and manages its nodes');
}

/** `<pubsub xmlns='…pubsub'/>`: publish, retract, create (set); items (get). */
export function pubsubHandler(nodes: PepNodes): IqHandler {
  return {
    targets: ['self', 'account'],
    get: (c) =>
      withConditions(async () => {
        const [items, ...rest] = elements(c.payload);
        if (items?.name !== 'items' || rest.length > 0) throw new ParleyError('feature-not-implemented', 'PEP answers <items/> only (subscriptions are implicit, XEP-0163 §4)');
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
        ownerOnly(c);
        const [action, options] = elements(c.payload);
        const user = c.session.user;
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
            throw new ParleyError('feature-not-implemented', 'PEP subscriptions are implicit (XEP-0163 §4): publish, retract, create and items only');
        }
      }),
  };
}

/** `<pubsub xmlns='…pubsub#owner'/>`: configure (get, set) and delete (set), the owner's alone (XEP-0060 §8). */
export function ownerHandler(nodes: PepNodes): IqHandler {
  return {
    targets: ['self', 'account'],
    get: (c) =>
      withConditions(async () => {
        ownerOnly(c);
        const action = elements(c.payload)[0];
        if (action?.name !== 'configure') throw new ParleyError('feature-not-implemented', 'the owner reads a node\'s configuration (<configure/>) only');
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
          return null;
        }
        throw new ParleyError('feature-not-implemented', 'the owner configures (<configure/>) and deletes (<delete/>) nodes');
      }),
  };
}

/** The account's nodes in disco (XEP-0163 §9): as items of the account, and each node's disco#info (§5.3). */
export function accountNodes(nodes: PepNodes): AccountNodes {
  return {
    async items(owner, viewer) {
      return (await nodes.visibleNodes(owner, viewer)).map((n) => ({ node: n.node, ...(n.config.title ? { name: n.config.title } : {}) }));
    },
    async info(owner, viewer, node) {
      const config = await nodes.config(owner, node);
      if (config === null || !(await nodes.mayAccess(owner, viewer, config))) return null;
      return { identities: [{ category: 'pubsub', type: 'leaf' }], features: [NS_PUBSUB], forms: [metaData(owner, config)] };
    },
  };
}
