/**
 * Parley's presence as XMPP presence stanzas (RFC 6121 §4.7). A person's presence goes out per resource, from the
 * resource's full address (§4.2.2 initial, §4.4.2 subsequent, §4.5.2 unavailable), with the child elements its
 * client sent that Parley does not interpret (SessionPresence.extensions: XEP-0115 caps, XEP-0153, XEP-0172 ...)
 * as sent. A person without an available resource, and a presence entity (engine/entities.ts), which has no
 * resources, are shown from the bare address. Every stanza also carries the person's aggregate (core/presence.ts)
 * as `<presence xmlns="urn:parley:presence:0" state activity sessions/>` for Parley-aware clients.
 */
import type { EntityPresence } from '../../../engine/entities.js';
import { ParleyError } from '../../../core/errors.js';
import { MAX_STATUS_LENGTH, sessionState } from '../../../core/presence.js';
import type { Availability, ResourcePresence, SessionPresence, UserPresence } from '../../../core/types.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { NS } from './ns.js';

/** ISO 8601 UTC as XEP-0082 wants it (millisecond precision). */
export const stamp = (ms: number): string => new Date(ms).toISOString();

/** RFC 6121 §4.7.2.1 <show/> for each state; busy (an activity) shows as dnd. */
export const SHOW: Record<string, string | null> = { available: null, chat: 'chat', away: 'away', xa: 'xa', dnd: 'dnd', busy: 'dnd' };

const CLOSE = '</presence>';

/** Parley's per-person aggregate, in Parley's namespace (docs/xmpp.md). */
function aggregateElement(p: UserPresence | EntityPresence): Element {
  return el('presence', { xmlns: NS.parleyPresence, state: p.state, activity: p.activity ?? undefined, sessions: String(p.sessions) });
}

/**
 * A person's aggregate presence (or a presence entity's) as seen by `to`, from the bare address: what a presence
 * entity shows, what a person shows when no resource is concerned (blocked: unavailable), and MUC occupants.
 */
export function presenceStanza(p: UserPresence | EntityPresence, to: string): Element {
  const pres = el('presence', { xmlns: NS.client, from: p.user, to });
  if (p.state === 'offline') {
    pres.attrs.type = 'unavailable';
    if (p.status !== null) pres.append(el('status', null, p.status));
    return pres;
  }
  const show = SHOW[p.state];
  if (show) pres.append(el('show', null, show));
  if (p.status !== null) pres.append(el('status', null, p.status));
  if (p.idleSince !== null) pres.append(el('idle', { xmlns: NS.idle, since: stamp(p.idleSince) }));
  pres.append(aggregateElement(p));
  return pres;
}

/**
 * A person with no available resource, answering a probe or a login's catch-up (RFC 6121 §4.3.2): unavailable
 * from the bare address, with the last status and, when known, when it was last online (XEP-0203 delay).
 */
export function offlineStanza(p: UserPresence, to: string): Element {
  const pres = presenceStanza(p, to);
  if (p.lastSeen !== null) pres.append(el('delay', { xmlns: NS.delay, from: p.user.slice(p.user.indexOf('@') + 1), stamp: stamp(p.lastSeen) }));
  return pres;
}

/**
 * One resource's presence from its full address, as text (the client's extensions are XML text already), with
 * the person's aggregate `p`. <show/>, <status/>, <priority/> and XEP-0319 <idle/> come from what Parley read
 * of the client's presence; the rest follows as the client sent it.
 */
export function resourceStanza(p: UserPresence, r: ResourcePresence, to: string): string {
  const pres = el('presence', { xmlns: NS.client, from: `${p.user}/${r.resource}`, to });
  const s = r.presence;
  if (s === null) {
    pres.attrs.type = 'unavailable';
  } else {
    const show = SHOW[sessionState(s)];
    if (show) pres.append(el('show', null, show));
    if (s.status !== null) pres.append(el('status', null, s.status));
    if (s.priority !== 0) pres.append(el('priority', null, String(s.priority)));
    if (s.idleSince !== null) pres.append(el('idle', { xmlns: NS.idle, since: stamp(s.idleSince) }));
  }
  pres.append(aggregateElement(p));
  const text = serialize(pres);
  // The stanza has children (the aggregate), so it ends with its closing tag: the extensions go before it.
  const extra = (s?.extensions ?? '') + (s?.added ?? '');
  return extra !== '' ? text.slice(0, -CLOSE.length) + extra + CLOSE : text;
}

/**
 * What one session sees of a contact now (a login's catch-up, a probe): each available resource (but the
 * session's own, `self`, when the contact is the user), else unavailable from the bare address; a presence
 * entity (`resources` undefined) from its bare address while it is online.
 */
export function contactStanzas(p: UserPresence | EntityPresence, resources: readonly ResourcePresence[] | undefined, to: string, self: string | null): string[] {
  if (resources === undefined) return p.state === 'offline' ? [] : [serialize(presenceStanza(p, to))];
  const person = p as UserPresence;
  if (resources.length > 0) return resources.filter((r) => r.resource !== self).map((r) => resourceStanza(person, r, to));
  if (self !== null) return [];
  return [serialize(p.state === 'offline' ? offlineStanza(person, to) : presenceStanza(p, to))];
}

/** Parley-namespace children a client may not send in its own presence: the server writes them. */
const SERVER_WRITTEN = new Set<string>([NS.parleyPresence, NS.delay]);

/**
 * The children of a client's presence that Parley does not interpret, serialised as they will be written inside
 * a `jabber:client` presence (RFC 6121 §4.7.3: extended content is relayed). <show/>, <status/>, <priority/>
 * and XEP-0319 <idle/> are read into the session's presence and written again from it; <delay/> and Parley's
 * own element are the server's to write. Bounded by the stanza size limit the parser applies. Empty: null.
 */
export function presenceExtensions(stanza: Element): string | null {
  let out = '';
  for (const child of stanza.children) {
    if (typeof child === 'string') continue;
    if (child.xmlns === NS.client && (child.name === 'show' || child.name === 'status' || child.name === 'priority')) continue;
    if (child.xmlns === NS.idle && child.name === 'idle') continue;
    if (child.xmlns !== null && SERVER_WRITTEN.has(child.xmlns)) continue;
    out += serialize(child, NS.client);
  }
  return out === '' ? null : out;
}

const SHOWS: Record<string, Availability> = { chat: 'chat', away: 'away', xa: 'xa', dnd: 'dnd' };

/** RFC 6121 §4.7: <show/>, <status/>, <priority/> (and XEP-0319 idle) as a session presence. */
export function parsePresence(stanza: Element, now: number): SessionPresence {
  const showEl = stanza.getChild('show');
  let availability: Availability = 'available';
  if (showEl) {
    const show = showEl.text().trim();
    const a = SHOWS[show];
    if (!a) throw new ParleyError('bad-request', `<show/> must be away, chat, dnd or xa, not "${show}"`);
    availability = a;
  }
  const statusEl = stanza.getChild('status');
  const status = statusEl ? statusEl.text() : null;
  if (status !== null && status.length > MAX_STATUS_LENGTH) throw new ParleyError('bad-request', `status longer than ${MAX_STATUS_LENGTH} characters`);
  let priority = 0;
  const prEl = stanza.getChild('priority');
  if (prEl) {
    const text = prEl.text().trim();
    const n = Number(text);
    if (!/^[+-]?\d+$/.test(text) || n < -128 || n > 127) throw new ParleyError('bad-request', 'priority is an integer from -128 to 127 (RFC 6121 §4.7.2.3)');
    priority = n;
  }
  const idle = stanza.getChild('idle', NS.idle)?.attr('since');
  const idleSince = idle !== undefined && Number.isFinite(Date.parse(idle)) ? Math.min(Date.parse(idle), now) : null;
  const p: SessionPresence = { availability, activity: null, status: status === '' ? null : status, priority, idleSince, explicit: idleSince === null, updatedAt: now };
  // RFC 6121 §4.7.3 extended content (XEP-0115 caps, XEP-0153, XEP-0172 ...): kept with the session, relayed as sent.
  const extensions = presenceExtensions(stanza);
  if (extensions !== null) p.extensions = extensions;
  return p;
}
