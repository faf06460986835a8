/**
 * Engine events → XMPP stanzas for one session (the 'xmpp' codec). What is the same for every recipient is
 * serialised once per event (Outbound.encode) and only the per-session part — the carbon wrapper, the
 * recipient of a presence broadcast — is added per session, so a fan-out to 500 sessions writes one stanza
 * text and 500 short concatenations.
 *
 * Routing decisions that depend on the XMPP session's own state are made here, from the event alone:
 * RFC 6121 §8.5.2.1.1 (bare-address messages to available, non-negative-priority resources), §8.5.3.1 (full
 * address to that resource only), XEP-0280 (carbon copies for carbons-enabled resources), §4.4.2 (no presence
 * broadcast before initial presence) and §2.1.6 (roster pushes only to resources that asked for the roster).
 */
import type { EntityPresence } from '../../../engine/entities.js';
import type { Outbound, ServerEvent } from '../../../engine/outbound.js';
import type { ResourcePresence, UserPresence } from '../../../core/types.js';
import { el, type Element } from '../xml/element.js';
import { escapeAttr, serialize } from '../xml/serialize.js';
import { withExtensions } from '../extensions.js';
import { NS } from './ns.js';
import { contactStanzas, presenceStanza, resourceStanza, SHOW, stamp } from './presence-stanzas.js';
import type { XmppView } from './types.js';

export type { XmppView } from './types.js';
export { presenceStanza, stamp } from './presence-stanzas.js';

const CODEC = 'xmpp';

const bareOf = (a: string): string => {
  const i = a.indexOf('/');
  return i < 0 ? a : a.slice(0, i);
};
const resourceOf = (a: string): string | null => {
  const i = a.indexOf('/');
  return i < 0 ? null : a.slice(i + 1);
};

/** The nick a user has in rooms: its local part (XEP-0045 occupant nicks are derived, not chosen, in Parley). */
export function nickOf(user: string): string {
  const at = user.indexOf('@');
  return at < 0 ? user : user.slice(0, at);
}

/** Stanzas (zero or more) for one event and one session. */
export function encodeFor(out: Outbound, v: XmppView): string[] {
  const e = out.event;
  switch (e.ev) {
    case 'message':
    case 'message.edit':
    case 'message.retract':
    case 'message.receipt':
      return e.data.type === 'groupchat' ? roomRecord(out, v) : chatRecord(out, v);
    case 'message.live':
      return e.data.type === 'groupchat' ? liveRoom(out, v) : liveChat(out, v);
    case 'typing':
      return typing(out, v);
    case 'presence': {
      // §4.4.2: nothing before initial presence. A person's resources each from their full address (§4.2.2, §4.5.2).
      if (!v.available) return [];
      const p = e.data as unknown as UserPresence;
      const resources = e.resources?.[p.user];
      return resources === undefined || resources.length === 0 ? [presenceTo(out, v.user, p)] : resourcesTo(out, v.user, p, resources);
    }
    case 'presence.snapshot': {
      // §4.2.2 / §4.3.2: the answer to the new session's probes, the user's own other resources included.
      if (!v.available) return [];
      const list = e.data.presences as Array<UserPresence | EntityPresence>;
      const resources = e.resources;
      if (resources === undefined) return list.filter((p) => p.state !== 'offline' && p.user !== v.user).map((p) => serialize(presenceStanza(p, v.user)));
      return list.flatMap((p) => contactStanzas(p, resources[p.user], v.user, p.user === v.user ? v.resource : null));
    }
    case 'roster':
      return v.rosterRequested ? [rosterPush(e, v)] : [];
    case 'subscription':
      if (!v.available) return [];
      return [serialize(el('presence', { xmlns: NS.client, type: String(e.data.action), from: String(e.data.from), to: v.user }))];
    case 'room.invite':
      return [roomInvite(e, v)];
    case 'room.member':
      return roomMember(e, v);
    case 'room.occupant':
      return roomOccupant(e, v);
    case 'room.configured':
      return roomConfigured(e, v);
    case 'room.private':
      return roomPrivate(e, v);
    case 'block':
    case 'unblock':
      return v.blocklistRequested ? [blockPush(e, v)] : [];
    case 'stanza':
      return [String(e.data.xml)];
    case 'entity.item':
      // The engine picked the sessions that asked for the node (XEP-0163 §4.3, +notify); none before presence.
      return v.available ? [entityItem(out, v)] : [];
    case 'synced':
    case 'session.closing':
      return [];
    default:
      // A module's own event (ModuleApi.push): for JSON sessions only.
      return [];
  }
}

/** A 1:1 record (message, correction, retraction, receipt) for this session, if it is one of its recipients. */
function chatRecord(out: Outbound, v: XmppView): string[] {
  const d = out.event.data;
  const from = String(d.from);
  const to = String(d.to);
  const incoming = bareOf(to) === v.user;
  if (incoming) {
    const toRes = resourceOf(to);
    const direct = toRes !== null ? toRes === v.resource : v.takesBare;
    if (direct) return [inner(out, v.user)];
    return v.carbons ? [carbon('received', inner(out, v.user), v)] : [];
  }
  if (bareOf(from) === v.user) {
    // Sent by another of the user's sessions (the engine never hands a session its own message).
    return v.carbons ? [carbon('sent', inner(out, v.user), v)] : [];
  }
  return [];
}

/**
 * A body-less message delivered live and never stored (MessageService.live, XEP-0334 no-store), by the same
 * rules as a 1:1 record: to the session addressed or those that take bare-address messages, `received` copies
 * to the recipient's other carbons-enabled sessions, `sent` copies to the sender's (XEP-0280 §6-7). No
 * stanza-id: there is no archive entry to name (XEP-0359 §3.1).
 */
function liveChat(out: Outbound, v: XmppView): string[] {
  const d = out.event.data;
  const from = String(d.from);
  const to = String(d.to);
  const stanza = (): string =>
    out.encode(`${CODEC}:live`, () => {
      const type = typeof d.type === 'string' ? d.type : 'chat';
      const msg = el('message', { xmlns: NS.client, type, id: typeof d.id === 'string' ? d.id : undefined, from, to });
      return withExtensions(serialize(msg), String(d.xml));
    });
  if (bareOf(to) === v.user) {
    const toRes = resourceOf(to);
    if (toRes !== null ? toRes === v.resource : v.takesBare) return [stanza()];
    return v.carbons ? [carbon('received', stanza(), v)] : [];
  }
  if (bareOf(from) === v.user) return v.carbons ? [carbon('sent', stanza(), v)] : [];
  return [];
}

/** The same in a room: from room/<sender's nick> to each session in the room, the sender's too (XEP-0045 §7.4). */
function liveRoom(out: Outbound, v: XmppView): string[] {
  const d = out.event.data;
  const room = String(d.to);
  if (v.roomNick(room) === undefined) return [];
  const from = `${room}/${nickOf(bareOf(String(d.from)))}`;
  const msg = el('message', { xmlns: NS.client, type: 'groupchat', id: typeof d.id === 'string' ? d.id : undefined, from, to: v.full });
  return [withExtensions(serialize(msg), String(d.xml))];
}

/** XEP-0280 §6-7: a copy wrapped in <received/> or <sent/>, from the user's bare address. */
function carbon(kind: 'received' | 'sent', stanza: string, v: XmppView): string {
  return (
    `<message xmlns="${NS.client}" type="chat" from="${escapeAttr(v.user)}" to="${escapeAttr(v.full)}">` +
    `<${kind} xmlns="${NS.carbons}"><forwarded xmlns="${NS.forward}">${stanza}</forwarded></${kind}></message>`
  );
}

/**
 * The record as a <message/>, the same for every session of the archive owner `by` (XEP-0359 stanza-id names
 * its archive): cached per owner, so the recipient's and the sender's sessions each cost one serialisation.
 */
function inner(out: Outbound, by: string): string {
  return out.encode(`${CODEC}:${by}`, (e) => withExtensions(serialize(recordStanza(e, by, null)), e.data.xml as string | undefined));
}

/**
 * A log record as a <message/> stanza (1:1 or, with `roomFrom`, as a room message from an occupant); its
 * extension elements (data.xml) are spliced into the serialised text by the caller (withExtensions).
 */
export function recordStanza(e: ServerEvent, by: string, roomFrom: { from: string; to: string } | null): Element {
  const d = e.data;
  const id = String(d.id);
  const msg = el('message', {
    xmlns: NS.client,
    type: String(d.type),
    // RFC 6120 §8.1.3: the sender's id goes through; without one, the server id.
    id: d.clientId !== undefined ? String(d.clientId) : id,
    from: roomFrom ? roomFrom.from : String(d.from),
    to: roomFrom ? roomFrom.to : String(d.to),
  });
  switch (e.ev) {
    case 'message':
      if (d.body !== undefined) msg.append(el('body', null, String(d.body)));
      break;
    case 'message.edit':
      // XEP-0308: the corrected text replaces the message it names.
      msg.append(el('body', null, String(d.body ?? ''))).append(el('replace', { xmlns: NS.correct, id: String(d.ref) }));
      break;
    case 'message.retract':
      // XEP-0424: the message it names is withdrawn (the server keeps it in the log).
      msg.append(el('retract', { xmlns: NS.retract, id: String(d.ref) })).append(el('store', { xmlns: NS.hints }));
      break;
    case 'message.receipt':
      // XEP-0184 for delivery, XEP-0333 for read.
      msg.append(d.receipt === 'read' ? el('displayed', { xmlns: NS.markers, id: String(d.ref) }) : el('received', { xmlns: NS.receipts, id: String(d.ref) }));
      break;
    default:
      break;
  }
  msg.append(el('stanza-id', { xmlns: NS.sid, id, by }));
  if (d.clientId !== undefined) msg.append(el('origin-id', { xmlns: NS.sid, id: String(d.clientId) }));
  if (e.replay) msg.append(el('delay', { xmlns: NS.delay, from: by.slice(by.indexOf('@') + 1), stamp: stamp(Number(d.ts)) }));
  return msg;
}

/** A room record for a session that joined the room in MUC (XEP-0045 §7.4): from room/nick of the author. */
function roomRecord(out: Outbound, v: XmppView): string[] {
  const d = out.event.data;
  if (out.event.ev === 'message.receipt') return [];
  const room = bareOf(String(d.to));
  if (v.roomNick(room) === undefined) return [];
  const stanza = out.encode(`${CODEC}:room`, (e) => {
    const m = recordStanza(e, room, { from: `${room}/${nickOf(bareOf(String(d.from)))}`, to: PLACEHOLDER });
    return withExtensions(serialize(m), d.xml as string | undefined);
  });
  return [fillTo(stanza, v.full)];
}

/**
 * A recipient written where the real one goes in per session. U+FFFD cannot be part of an address (RFC 7622
 * refuses it), so the first `to="\uFFFD"` in a stanza is always the placeholder.
 */
const PLACEHOLDER = '\uFFFD';

function fillTo(stanza: string, to: string): string {
  return stanza.replace(`to="${PLACEHOLDER}"`, `to="${escapeAttr(to)}"`);
}

/** XEP-0085 chat states; in rooms only to sessions that joined. */
function typing(out: Outbound, v: XmppView): string[] {
  const d = out.event.data;
  const to = String(d.to);
  const from = String(d.from);
  const state = el(String(d.state), { xmlns: NS.chatStates });
  if (bareOf(to) === v.user) {
    if (!v.takesBare) return [];
    return [serialize(el('message', { xmlns: NS.client, type: 'chat', from, to }, state, el('no-store', { xmlns: NS.hints })))];
  }
  const nick = v.roomNick(to);
  if (nick === undefined) return [];
  return [serialize(el('message', { xmlns: NS.client, type: 'groupchat', from: `${to}/${nickOf(bareOf(from))}`, to: v.full }, state))];
}

/** A stanza cut around its `to` placeholder, to be completed per recipient. */
function cut(text: string): readonly [string, string] {
  const at = text.indexOf(`to="${PLACEHOLDER}"`);
  return [text.slice(0, at + 4), text.slice(at + 5)] as const;
}

/** Presence from the bare address to one recipient: the stanza is cut once and completed per recipient. */
function presenceTo(out: Outbound, to: string, p: UserPresence | EntityPresence): string {
  const [head, tail] = out.encode(`${CODEC}:presence`, () => cut(serialize(presenceStanza(p, PLACEHOLDER))));
  return head + escapeAttr(to) + tail;
}

/** One presence per resource, each from its full address: serialised once per event, completed per recipient. */
function resourcesTo(out: Outbound, to: string, p: UserPresence, resources: readonly ResourcePresence[]): string[] {
  const parts = out.encode(`${CODEC}:presence`, () => resources.map((r) => cut(resourceStanza(p, r, PLACEHOLDER))));
  const recipient = escapeAttr(to);
  return parts.map(([head, tail]) => head + recipient + tail);
}

/**
 * XEP-0163 §4.3 / XEP-0060 §7.1.2: a new item of a user's or presence entity's node, as a headline from its bare
 * address to the full address of the session; the payload is the module's, serialised already (engine/pep.ts).
 */
function entityItem(out: Outbound, v: XmppView): string {
  const [head, tail] = out.encode(`${CODEC}:entity.item`, (e) => {
    const d = e.data;
    const head = `<message xmlns="${NS.client}" type="headline" from="${escapeAttr(String(d.from))}" to="`;
    const tail =
      `"><event xmlns="${NS.pubsubEvent}"><items node="${escapeAttr(String(d.node))}">` +
      // XEP-0060 §7.2.2.1: a retraction names the item gone.
      (d.retract === true ? `<retract id="${escapeAttr(String(d.id))}"/>` : `<item id="${escapeAttr(String(d.id))}">${String(d.xml)}</item>`) +
      `</items></event></message>`;
    return [head, tail] as const;
  });
  return head + escapeAttr(v.full) + tail;
}

/** XEP-0191 §3.3 / §3.4 block list push (an unblock without items means everything). */
function blockPush(e: ServerEvent, v: XmppView): string {
  const entries = Array.isArray(e.data.entries) ? (e.data.entries as string[]) : [];
  const payload = el(e.ev === 'block' ? 'block' : 'unblock', { xmlns: NS.blocking }, ...entries.map((jid) => el('item', { jid })));
  return serialize(el('iq', { xmlns: NS.client, type: 'set', id: `push-${pushCounter++}`, to: v.full }, payload));
}

/** RFC 6121 §2.1.6 roster push. */
function rosterPush(e: ServerEvent, v: XmppView): string {
  const d = e.data;
  const item = d.item !== undefined ? rosterItem(d.item as RosterItemData) : el('item', { jid: String(d.removed), subscription: 'remove' });
  const query = el('query', { xmlns: NS.roster, ver: d.ver !== undefined ? String(d.ver) : undefined }, item);
  return serialize(el('iq', { xmlns: NS.client, type: 'set', id: `push-${pushCounter++}`, to: v.full }, query));
}
let pushCounter = 1;

/** The fields of a roster entry the XMPP item shows. */
export interface RosterItemData {
  contact: string;
  name: string | null;
  groups: string[];
  subscription: string;
  pendingOut: boolean;
  shared?: string[];
}

/** RFC 6121 §2.1.2 roster item; shared-group names appear as groups too. */
export function rosterItem(i: RosterItemData): Element {
  const item = el('item', { jid: i.contact, name: i.name ?? undefined, subscription: i.subscription, ask: i.pendingOut ? 'subscribe' : undefined });
  for (const g of new Set([...i.groups, ...(i.shared ?? [])])) item.append(el('group', null, g));
  return item;
}

/** XEP-0045 §7.8.2 mediated invitation, plus XEP-0249 direct invitation for clients that prefer it. */
function roomInvite(e: ServerEvent, v: XmppView): string {
  const room = String(e.data.room);
  return serialize(
    el(
      'message',
      { xmlns: NS.client, from: room, to: v.user },
      el('x', { xmlns: NS.mucUser }, el('invite', { from: String(e.data.from) })),
      el('x', { xmlns: NS.conference, jid: room }),
    ),
  );
}

/**
 * Membership changes as MUC presence, for sessions that joined the room (XEP-0045 §7.2.3, §9.1.5, §10.9): a
 * new role or voice (§8.3-8.4), a kick (307, §8.2) or a ban (301, §9.1) with its reason.
 */
/** XEP-0045 §10.9: the destroy element, with the reason the owner (or an administrator) gave. */
function destroyOf(reason: unknown): Element {
  return typeof reason === 'string' ? el('destroy', null, el('reason', null, reason)) : el('destroy', null);
}

function roomMember(e: ServerEvent, v: XmppView): string[] {
  const d = e.data;
  const room = String(d.room);
  const myNick = v.roomNick(room);
  if (myNick === undefined) return [];
  if (d.destroyed) {
    return [serialize(el('presence', { xmlns: NS.client, type: 'unavailable', from: `${room}/${myNick}`, to: v.full }, el('x', { xmlns: NS.mucUser }, el('item', { affiliation: 'none', role: 'none' }), destroyOf(d.reason))))];
  }
  const user = String(d.user);
  const nick = nickOf(user);
  const role = d.role === null || d.role === undefined ? null : String(d.role);
  // Someone joining by themselves shows up as an occupant when they enter (room.occupant), not here.
  if (role !== null && d.by === user) return [];
  const affiliation = role === null ? (d.banned === true ? 'outcast' : 'none') : affiliationOf(role);
  const item = el('item', { affiliation, role: role === null ? 'none' : mucRoleOf(role, d.voice !== false), jid: user });
  if (typeof d.reason === 'string') item.append(el('reason', null, d.reason));
  const x = el('x', { xmlns: NS.mucUser }, item);
  if (user === v.user) x.append(el('status', { code: '110' }));
  const pres = el('presence', { xmlns: NS.client, from: `${room}/${nick}`, to: v.full }, x);
  if (role === null) {
    pres.attrs.type = 'unavailable';
    if (d.by !== user) x.append(el('status', { code: d.banned === true ? '301' : '307' })); // banned or kicked
  }
  return [serialize(pres)];
}

/**
 * A private message between occupants (XEP-0045 §7.5), for the sessions that entered the room: to the
 * recipient's, from room/<sender's nick> with the room's muc#user `<x/>` and the message's own elements. The
 * sender's other sessions in the room that enabled carbons get a `sent` copy (XEP-0280 §8: the message as the
 * client sent it, from its full address to room/<recipient's nick>), so every device in the room shows both
 * sides; sessions outside the room get none, since they cannot show a room conversation. There are no
 * `received` copies: XEP-0280 §6 makes a private message from a room ineligible for carbons, and every session
 * of the recipient in the room has the message itself.
 */
function roomPrivate(e: ServerEvent, v: XmppView): string[] {
  const d = e.data;
  const room = String(d.room);
  if (v.roomNick(room) === undefined) return [];
  const from = String(d.from);
  const to = String(d.to);
  const type = typeof d.type === 'string' && d.type !== 'groupchat' ? d.type : 'chat';
  const id = typeof d.id === 'string' ? d.id : undefined;
  const xml = typeof d.xml === 'string' ? d.xml : null;
  const payload = (msg: Element): string => {
    if (typeof d.body === 'string') msg.append(el('body', null, d.body));
    if (typeof d.state === 'string') msg.append(el(d.state, { xmlns: NS.chatStates }));
    msg.append(el('x', { xmlns: NS.mucUser }));
    return withExtensions(serialize(msg), xml);
  };
  if (to === v.user) return [payload(el('message', { xmlns: NS.client, type, id, from: `${room}/${nickOf(from)}`, to: v.full }))];
  if (from !== v.user || !v.carbons) return [];
  const sender = typeof d.fromResource === 'string' ? `${from}/${d.fromResource}` : from;
  return [carbon('sent', payload(el('message', { xmlns: NS.client, type, id, from: sender, to: `${room}/${nickOf(to)}` })), v)];
}

/**
 * XEP-0045 §10.2.1: the room tells its occupants that its configuration changed in a way that is not about
 * privacy (status code 104, a message from the room itself without a body), so that they may ask for it again.
 */
function roomConfigured(e: ServerEvent, v: XmppView): string[] {
  const room = String(e.data.room);
  if (v.roomNick(room) === undefined) return [];
  return [serialize(el('message', { xmlns: NS.client, type: 'groupchat', from: room, to: v.full }, el('x', { xmlns: NS.mucUser }, el('status', { code: '104' }))))];
}

/**
 * An occupant entering or leaving (XEP-0045 §7.2.3, §7.14), for the other sessions in the room; or changing its
 * availability there (§7.7, `presence` in the event: its show and status), for every session in the room, the
 * occupant's own with status 110.
 */
function roomOccupant(e: ServerEvent, v: XmppView): string[] {
  const d = e.data;
  const room = String(d.room);
  const user = String(d.user);
  const shown = d.presence as { state?: unknown; status?: unknown } | undefined;
  if ((user === v.user && shown === undefined) || v.roomNick(room) === undefined) return [];
  const present = d.present === true;
  const item = el('item', { affiliation: affiliationOf(String(d.role ?? 'member')), role: present ? mucRoleOf(String(d.role ?? 'member'), d.voice !== false) : 'none', jid: user });
  const x = el('x', { xmlns: NS.mucUser }, item);
  const pres = el('presence', { xmlns: NS.client, from: `${room}/${nickOf(user)}`, to: v.full, type: present ? undefined : 'unavailable' });
  if (shown !== undefined) {
    const show = typeof shown.state === 'string' ? SHOW[shown.state] : undefined;
    if (show) pres.append(el('show', null, show));
    if (typeof shown.status === 'string') pres.append(el('status', null, shown.status));
    if (user === v.user) x.append(el('status', { code: '110' }));
  }
  pres.append(x);
  return [serialize(pres)];
}

/**
 * The XEP-0045 role an occupant of a Parley role has: owners and admins moderate (§5.1.2), members participate,
 * or are visitors without voice in a moderated room (§8.3).
 */
export function mucRoleOf(role: string, voice = true): string {
  return role === 'owner' || role === 'admin' ? 'moderator' : voice ? 'participant' : 'visitor';
}

/** Parley room roles as XEP-0045 affiliations. */
export function affiliationOf(role: string): string {
  return role === 'owner' ? 'owner' : role === 'admin' ? 'admin' : 'member';
}
