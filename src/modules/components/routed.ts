/**
 * Stanzas between a component stream and the engine's domain route (engine/domain-routes.ts): a component's
 * stanza becomes an InboundStanza in jabber:client terms, and a user's RoutedStanza becomes component-stream
 * text. XEP-0114 §3: a component's stanzas are in `jabber:component:accept`, which carries the same stanzas
 * as `jabber:client`; only the namespace of the stanza and its own children (body, show, status, error...)
 * changes, extensions keep theirs.
 */
import type { RoutedStanza } from '../../engine/domain-routes.js';
import type { InboundStanza } from '../../engine/remote-service.js';
import { extensionsToStore, liveOnlyExtensions, withExtensions } from '../../protocols/xmpp/extensions.js';
import { el, Element } from '../../protocols/xmpp/xml/element.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';

const CLIENT_NS = 'jabber:client';

/** Whether a `to` names a user (`local@domain`, possibly with a resource), not a server or service domain. */
export function namesUser(to: string | undefined): boolean {
  if (to === undefined) return false;
  const at = to.indexOf('@');
  const slash = to.indexOf('/');
  return at > 0 && (slash === -1 || at < slash);
}

/** `e` with every element in namespace `from` moved to `to` (the stanza and its own children). */
function renamespace(e: Element, from: string, to: string): Element {
  const children = e.children.map((c) => (typeof c === 'string' || c.xmlns !== from ? c : renamespace(c, from, to)));
  return new Element(e.name, e.xmlns === from ? to : e.xmlns, { ...e.attrs }, children);
}

/** A component's stanza (namespace `ns`) as the engine takes it: jabber:client text, body and kept extensions. */
export function inboundOf(e: Element, ns: string): InboundStanza {
  const client = renamespace(e, ns, CLIENT_NS);
  const body = client.name === 'message' ? client.getChild('body', CLIENT_NS) : undefined;
  let xml = '';
  for (const c of client.children) if (typeof c !== 'string' && c !== body) xml += serialize(c, CLIENT_NS);
  return {
    kind: client.name as InboundStanza['kind'],
    from: client.attr('from') ?? '',
    to: client.attr('to') ?? '',
    type: client.attr('type') ?? null,
    id: client.attr('id') ?? null,
    body: body?.text() ?? null,
    xml: xml === '' ? null : xml,
    stanza: serialize(client, null),
    keep: client.name === 'message' ? extensionsToStore(client, body !== undefined) : null,
    // XEP-0334 §4: a body-less payload its sender asked not to be stored is delivered live only.
    live: client.name === 'message' && body === undefined ? liveOnlyExtensions(client) : null,
    originId: client.getChild('origin-id', 'urn:xmpp:sid:0')?.attr('id') ?? null,
  };
}

/** A user's stanza for a component, as text of its stream (default namespace `ns`). */
export function outboundText(s: RoutedStanza, ns: string): string {
  const attrs: Record<string, string | undefined> = { from: s.from, to: s.to, type: s.type ?? undefined, id: s.id ?? undefined };
  const stanza = el(s.kind, attrs);
  if (s.body !== null) stanza.append(el('body', null, s.body));
  // The children's text has jabber:client as its default namespace: unqualified elements are the stanza's own,
  // which on this stream are in the component namespace (XEP-0114 §3), so they go in as they are.
  return withExtensions(serialize(stanza, ns), s.xml);
}
