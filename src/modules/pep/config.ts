/**
 * A node's configuration (XEP-0060 §16.4 `pubsub#node_config`) as PEP uses it: who may see the items (§4.5
 * access models), how many are kept, whether the last one goes to a contact coming online (XEP-0163 §4.3.2),
 * whether retractions are notified. Read from and written as XEP-0004 data forms: node configuration (§8.2) and
 * publish-options (§7.1.5), whose fields are preconditions on the node.
 */
import { ParleyError } from '../../core/errors.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import type { DiscoForm } from '../../protocols/xmpp/c2s/types.js';

/**
 * XEP-0060 §4.5 access models PEP offers. XEP-0163 §4 makes presence the default and leaves the others to the
 * service; authorize is served: a subscription request waits for the owner's approval (§6.1.5, §8.6), and only
 * approved subscribers (and the owner) see the items.
 */
export const ACCESS_MODELS = ['presence', 'open', 'roster', 'authorize', 'whitelist'] as const;
/** An access model. */
export type AccessModel = (typeof ACCESS_MODELS)[number];
/** When the last published item is sent (XEP-0060 §16.4 `pubsub#send_last_published_item`). */
export const SEND_LAST = ['never', 'on_sub', 'on_sub_and_presence'] as const;
/** A send_last_published_item value. */
export type SendLast = (typeof SEND_LAST)[number];

/** A node's configuration. */
export interface NodeConfig {
  access_model: AccessModel;
  /** Items are kept (false: only the last one, for late-comers, XEP-0163 §4.3.2). */
  persist_items: boolean;
  /** Most items kept (the module's maxItemsPerNode at most). */
  max_items: number;
  send_last_published_item: SendLast;
  notify_retract: boolean;
  /** Roster groups of the owner whose members may see the items (access model roster). */
  roster_groups_allowed: string[];
  title: string;
}

/** The form type of node configuration. */
export const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
/** The form type of publish options (XEP-0060 §7.1.5). */
export const PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';
const META_DATA = 'http://jabber.org/protocol/pubsub#meta-data';
const DATA = 'jabber:x:data';

/** A new node's configuration (XEP-0163 §3: auto-created with the defaults; presence access, §4.5). */
export function defaultConfig(): NodeConfig {
  return { access_model: 'presence', persist_items: true, max_items: 1, send_last_published_item: 'on_sub_and_presence', notify_retract: true, roster_groups_allowed: [], title: '' };
}

/** The items a node keeps: max_items, or one when items do not persist. */
export const keepOf = (c: NodeConfig): number => (c.persist_items ? c.max_items : 1);

/** The fields of a submitted data form (XEP-0004 §3.3), by var, without FORM_TYPE; null when `x` is absent. */
export function formFields(x: Element | undefined, formType: string): Map<string, string[]> | null {
  if (x === undefined) return null;
  if (x.attr('type') !== 'submit') throw new ParleyError('bad-request', 'a configuration is a submitted data form (XEP-0004 §3.3)');
  const out = new Map<string, string[]>();
  for (const f of x.getChildren('field')) {
    const v = f.attr('var');
    if (v === undefined) continue;
    const values = f.getChildren('value').map((e) => e.text());
    if (v === 'FORM_TYPE') {
      if (values[0] !== formType) throw new ParleyError('bad-request', `the form's FORM_TYPE must be ${formType}`);
      continue;
    }
    out.set(v, values);
  }
  return out;
}

const bool = (s: string | undefined, name: string): boolean => {
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  throw new ParleyError('not-acceptable', `${name} is a boolean`);
};

/** One field's value, checked, as the configuration holds it. */
function valueOf(name: string, values: string[], ceiling: number): Partial<NodeConfig> {
  const v = values[0];
  switch (name) {
    case 'pubsub#access_model':
      if (!(ACCESS_MODELS as readonly string[]).includes(v ?? '')) throw new ParleyError('not-acceptable', `access_model ${v} is not offered (${ACCESS_MODELS.join(', ')})`);
      return { access_model: v as AccessModel };
    case 'pubsub#persist_items':
      return { persist_items: bool(v, 'persist_items') };
    case 'pubsub#max_items': {
      // XEP-0060 §16.4: `max` is the most the service allows.
      if (v === 'max') return { max_items: ceiling };
      if (v === undefined || !/^\d{1,9}$/.test(v) || Number(v) < 1) throw new ParleyError('not-acceptable', 'max_items is a positive integer or max');
      if (Number(v) > ceiling) throw new ParleyError('not-acceptable', `a node keeps at most ${ceiling} items (modules.pep.maxItemsPerNode)`);
      return { max_items: Number(v) };
    }
    case 'pubsub#send_last_published_item':
      if (!(SEND_LAST as readonly string[]).includes(v ?? '')) throw new ParleyError('not-acceptable', `send_last_published_item ${v} is not offered`);
      return { send_last_published_item: v as SendLast };
    case 'pubsub#notify_retract':
      return { notify_retract: bool(v, 'notify_retract') };
    case 'pubsub#roster_groups_allowed':
      return { roster_groups_allowed: values };
    case 'pubsub#title':
      return { title: v ?? '' };
    // Options PEP fixes, accepted when they say what it does.
    case 'pubsub#deliver_notifications':
    case 'pubsub#deliver_payloads':
    case 'pubsub#presence_based_delivery':
      if (!bool(v, name)) throw new ParleyError('not-acceptable', `${name} cannot be turned off here`);
      return {};
    case 'pubsub#publish_model':
      if (v !== 'publishers') throw new ParleyError('not-acceptable', 'only the owner publishes to a PEP node (publish_model publishers)');
      return {};
    default:
      throw new ParleyError('not-acceptable', `the option ${name} is not supported`);
  }
}

/** `base` with the submitted fields applied (XEP-0060 §8.2.4); an unknown or invalid option is not-acceptable. */
export function applyConfig(base: NodeConfig, fields: Map<string, string[]>, ceiling: number): NodeConfig {
  let next: NodeConfig = { ...base };
  for (const [name, values] of fields) next = { ...next, ...valueOf(name, values, ceiling) };
  return next;
}

/**
 * XEP-0060 §7.1.5: publish-options are preconditions: each must equal the node's configuration, else the
 * publication fails with conflict and precondition-not-met (details.pubsub).
 */
export function checkPreconditions(config: NodeConfig, fields: Map<string, string[]>, ceiling: number): void {
  for (const [name, values] of fields) {
    let wanted: Partial<NodeConfig>;
    try {
      wanted = valueOf(name, values, ceiling);
    } catch {
      throw preconditionFailed(name);
    }
    for (const [k, v] of Object.entries(wanted)) {
      if (JSON.stringify(config[k as keyof NodeConfig]) !== JSON.stringify(v)) throw preconditionFailed(name);
    }
  }
}

const preconditionFailed = (name: string): ParleyError =>
  new ParleyError('conflict', `the node's ${name} differs from the publish option (XEP-0060 §7.1.5)`, { pubsub: 'precondition-not-met' });

/** The configuration as a form (XEP-0060 §8.2.1) for the owner to fill in. */
export function configForm(c: NodeConfig): Element {
  const field = (v: string, type: string, ...values: string[]): Element => el('field', { var: v, type }, ...values.map((x) => el('value', {}, x)));
  const list = (v: string, value: string, options: readonly string[]): Element =>
    el('field', { var: v, type: 'list-single' }, el('value', {}, value), ...options.map((o) => el('option', {}, el('value', {}, o))));
  return el(
    'x',
    { xmlns: DATA, type: 'form' },
    field('FORM_TYPE', 'hidden', NODE_CONFIG),
    list('pubsub#access_model', c.access_model, ACCESS_MODELS),
    field('pubsub#persist_items', 'boolean', c.persist_items ? '1' : '0'),
    field('pubsub#max_items', 'text-single', String(c.max_items)),
    list('pubsub#send_last_published_item', c.send_last_published_item, SEND_LAST),
    field('pubsub#notify_retract', 'boolean', c.notify_retract ? '1' : '0'),
    field('pubsub#roster_groups_allowed', 'list-multi', ...c.roster_groups_allowed),
    field('pubsub#title', 'text-single', c.title),
    field('pubsub#deliver_notifications', 'boolean', '1'),
    field('pubsub#deliver_payloads', 'boolean', '1'),
    list('pubsub#publish_model', 'publishers', ['publishers']),
  );
}

/** The node's meta-data form for its disco#info (XEP-0060 §5.4). */
export function metaData(owner: string, c: NodeConfig): DiscoForm {
  return {
    formType: META_DATA,
    fields: { 'pubsub#access_model': c.access_model, 'pubsub#max_items': String(c.max_items), 'pubsub#owner': owner, 'pubsub#title': c.title },
  };
}

/** Parses a stored configuration (stored JSON of NodeConfig), with the defaults under it. */
export function parseConfig(json: string): NodeConfig {
  return { ...defaultConfig(), ...(JSON.parse(json) as Partial<NodeConfig>) };
}
