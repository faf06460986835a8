/**
 * The custom fields of a thing or process as a PEP node (XEP-0163) on its bare address: one node,
 * `urn:xmpp:parley:presentity:0`, with a single item `current` whose payload lists the fields:
 *
 * ```xml
 * <fields xmlns='urn:xmpp:parley:presentity:0'>
 *   <field name='temperature' type='number'>71.5</field>
 *   <field name='door' type='boolean'>true</field>
 * </fields>
 * ```
 *
 * A field whose value is null is left out. Retrieval (XEP-0060 §6.5) answers with the current item when the
 * asker may see the entity, `item-not-found` otherwise (an invisible thing and one that does not exist look
 * alike, as everywhere in presentities); publishing is the owner's, over HTTP, so a set is not implemented.
 */
import { ParleyError } from '../../core/errors.js';
import type { EntityItem } from '../../engine/entities.js';
import type { Engine } from '../../engine/engine.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import type { IqHandler } from '../../protocols/xmpp/c2s/types.js';
import type { DeviceDef, FieldValue } from './model.js';

/** The PEP node of a presentity's fields. */
export const FIELDS_NODE = 'urn:xmpp:parley:presentity:0';
/** The id of the node's single item (XEP-0060 §12.20: a singleton node's item). */
export const CURRENT = 'current';
const PUBSUB = 'http://jabber.org/protocol/pubsub';

/** The payload of the fields item. */
export function fieldsElement(def: DeviceDef, fields: Record<string, FieldValue>): Element {
  const root = el('fields', { xmlns: FIELDS_NODE });
  for (const name of Object.keys(fields).sort()) {
    const v = fields[name];
    if (v === null || v === undefined) continue;
    root.append(el('field', { name, type: def.fields[name] ?? typeof v }, String(v)));
  }
  return root;
}

/** The item of a thing's fields in both forms the engine carries (EntityItem). */
export function fieldsItem(def: DeviceDef, fields: Record<string, FieldValue>): EntityItem {
  return { node: FIELDS_NODE, id: CURRENT, data: { fields }, xml: serialize(fieldsElement(def, fields), null) };
}

/** What the handler needs from the module: the fields of an entity `viewer` may see, or null. */
export type FieldsOf = (address: string, viewer: string) => Promise<{ def: DeviceDef; fields: Record<string, FieldValue> } | null>;

/**
 * The pubsub iq handler of presentities' bare addresses (XEP-0060 §6.5 retrieve items). Addresses that are not
 * presentities keep the answer they had without the module (service-unavailable).
 */
export function pubsubHandler(engine: Engine, fieldsOf: FieldsOf): IqHandler {
  return {
    targets: ['account'],
    async get({ session, payload, target }) {
      if (!engine.entities.isEntity(target.bare)) throw new ParleyError('service-unavailable', 'no publish-subscribe service here');
      const children = payload.children.filter((c): c is Element => typeof c !== 'string');
      const items = children[0];
      // XEP-0060 §6.5.2: exactly one <items/> naming its node (§6.5.9.3 nodeid-required otherwise).
      if (children.length !== 1 || items?.name !== 'items' || items.xmlns !== PUBSUB) throw new ParleyError('bad-request', 'a retrieval carries one <items node=.../>');
      const node = items.attr('node');
      if (node === undefined || node === '') throw new ParleyError('bad-request', 'the <items/> element needs a node');
      const max = items.attr('max_items');
      if (max !== undefined && !/^[1-9]\d{0,5}$/.test(max)) throw new ParleyError('bad-request', 'max_items is a positive integer');
      const wanted = items.getChildren('item').map((i) => i.attr('id'));
      if (wanted.some((id) => id === undefined || id === '')) throw new ParleyError('bad-request', 'an <item/> asked for needs an id');
      const found = node === FIELDS_NODE ? await fieldsOf(target.bare, session.user) : null;
      if (!found) throw new ParleyError('item-not-found', `no node ${node} at ${target.bare}`);
      const out = el('items', { node });
      if (wanted.length === 0 || wanted.includes(CURRENT)) out.append(el('item', { id: CURRENT }, fieldsElement(found.def, found.fields)));
      else throw new ParleyError('item-not-found', 'no such item');
      return el('pubsub', { xmlns: PUBSUB }, out);
    },
    async set({ target }) {
      if (!engine.entities.isEntity(target.bare)) throw new ParleyError('service-unavailable', 'no publish-subscribe service here');
      throw new ParleyError('feature-not-implemented', 'a presentity is updated by its owner over the HTTP API (docs/presence.md)');
    },
  };
}
