/**
 * A client's stanzas for domains served by a route (engine/domain-routes.ts: XEP-0114 components, later
 * federation): which addresses go there, and the stanza as the engine hands it over. The engine stamps `from`
 * and calls the route; this front door never does (docs/ARCHITECTURE.md, "Domains not hosted here").
 */
import { formatAddress, type Address } from '../../../core/address.js';
import type { RoutedStanza } from '../../../engine/domain-routes.js';
import type { Engine } from '../../../engine/engine.js';
import type { Session } from '../../../engine/session.js';
import type { Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { NS } from './ns.js';

/** Whether `to` is a presence entity's address (engine/entities.ts): those stay the server's to answer. */
export function isEntityAddress(engine: Engine, to: Address): boolean {
  return to.local !== null && engine.entities.isEntity(`${to.local}@${to.domain}`);
}

/**
 * Whether stanzas to `to` go to a route: its domain is served by one (not hosted here), and it is not one of the
 * presence entities Parley answers for (a component's things, docs/presence.md: subscriptions and PEP queries).
 */
export function isRoutedAddress(engine: Engine, to: Address): boolean {
  return engine.isRouted(to.domain) && !isEntityAddress(engine, to);
}

/**
 * A stanza for a route: its kind, addresses, type and id, the message body, and the other children as text in
 * jabber:client's namespace (RFC 6120 §4.8.3: unqualified children are the stanza's own, such as <show/> and
 * <status/>; extensions carry their xmlns). `from` is the engine's to stamp.
 */
export function routedOf(stanza: Element, to: Address): Omit<RoutedStanza, 'from'> {
  const body = stanza.name === 'message' ? stanza.getChild('body') : undefined;
  let xml = '';
  for (const c of stanza.children) if (typeof c !== 'string' && c !== body) xml += serialize(c, NS.client);
  return {
    kind: stanza.name as RoutedStanza['kind'],
    to: formatAddress(to),
    type: stanza.attr('type') ?? null,
    id: stanza.attr('id') ?? null,
    body: body?.text() ?? null,
    xml: xml === '' ? null : xml,
  };
}

/**
 * Hands a stanza to the route of its `to` through the engine. A refusal is thrown for the caller to answer,
 * except for error, result-like stanzas that cannot go: those are dropped (RFC 6120 §8.3.1, never an error for
 * an error; an iq result or error likewise).
 */
export async function toRoute(engine: Engine, session: Session, stanza: Element, to: Address): Promise<void> {
  try {
    await engine.routeRemote(session, routedOf(stanza, to));
  } catch (e) {
    const type = stanza.attr('type');
    if (type !== 'error' && type !== 'result') throw e;
  }
}
