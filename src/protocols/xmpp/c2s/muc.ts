/**
 * XEP-0045 multi-user chat mapped onto Parley rooms. A room is a Parley room (room@<rooms subdomain>.<domain>);
 * entering it (presence to room/nick) joins the room as a member if needed — creating it when it does not
 * exist, as an instant room (§10.1.2) — and leaving it (unavailable) ends the session's presence there while
 * membership stays, as a persistent members' room does. Nicks are derived: an occupant's nick is the local
 * part of its address (status 210 tells a client that asked for another one, §7.2.9), so every front door
 * names room participants alike. Affiliations are Parley roles (owner, admin, member), plus bans (outcast); roles
 * follow them, with visitors (members without voice) in moderated rooms.
 */
import { isParleyError, ParleyError } from '../../../core/errors.js';
import type { Address } from '../../../core/address.js';
import type { Session } from '../../../engine/session.js';
import type { UserPresence } from '../../../core/types.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { extensionsToStore, liveExtensions, liveOnlyExtensions, withExtensions } from '../extensions.js';
import { affiliationOf, mucRoleOf, nickOf, presenceStanza, stamp } from './encode.js';
import { NS } from './ns.js';
import { parsePresence } from './presence-stanzas.js';
import type { IqTarget, Pending, XmppStream } from './types.js';

/** Discussion history sent on entering (§7.2.14), unless the client asks for less. */
const DEFAULT_HISTORY = 20;

/** The MUC side of one XMPP connection. */
export class Muc {
  constructor(private readonly conn: XmppStream) {}

  /** Presence to room/nick: enter (available), change availability (§7.7) or exit (unavailable), §7.2 and §7.14. */
  async presence(stanza: Element, to: Address, type: string | undefined): Promise<void> {
    const conn = this.conn;
    const session = conn.session!;
    const room = `${to.local}@${to.domain}`;
    const engine = conn.engine;
    if (type === 'unavailable') {
      if (!conn.leaveRoom(room)) return;
      const x = el('x', { xmlns: NS.mucUser }, el('item', { affiliation: 'member', role: 'none' }), el('status', { code: '110' }));
      conn.sendElement(el('presence', { xmlns: NS.client, type: 'unavailable', from: `${room}/${nickOf(session.user)}`, to: session.full }, x));
      await this.announce(room, session, false);
      return;
    }
    if (type !== undefined) throw new ParleyError('bad-request', `presence type ${type} is not for rooms`);
    if (to.resource === null) throw new ParleyError('jid-malformed', 'enter a room as room@service/nick (XEP-0045 §7.2.1)');
    const statuses: string[] = [];
    let created = false;
    if (!(await engine.rooms.get(room))) {
      await engine.rooms.create(session.user, to.local!, to.local!, false);
      created = true;
    }
    // A session removed from the room (kicked or banned, §8.2, §9.1) still had it in its view: it enters anew.
    if (conn.roomNick(room) !== undefined && !(await engine.rooms.isMember(room, session.user))) conn.leaveRoom(room);
    // §7.7: presence from an occupant already in the room, without the <x/> of an entry, changes its availability
    // there; the engine tells every occupant. (With the <x/>, a client entering again gets the entry replayed.)
    const update = conn.roomNick(room) !== undefined ? parsePresence(stanza, engine.ctx.now()) : null;
    if (update !== null && stanza.getChild('x', NS.muc) === undefined) {
      await engine.roomPresence(session, room, update);
      return;
    }
    const role = await engine.rooms.join(room, session.user);
    const voice = await engine.rooms.moderation.hasVoice(room, session.user);
    const nick = nickOf(session.user);
    if (to.resource !== nick) statuses.push('210');
    // Occupants already there (§7.2.3), then the occupant's own presence with 110 (and 201 for a new room).
    for (const o of await engine.rooms.occupants(room, session.user)) {
      if (o.user === session.user) continue;
      const p = o.presence as UserPresence;
      conn.sendElement(occupantPresence(room, o.user, mucRoleOf(o.role, o.voice), o.role, p, session.full));
    }
    const self = el('x', { xmlns: NS.mucUser }, el('item', { affiliation: affiliationOf(role), role: mucRoleOf(role, voice), jid: session.full }), el('status', { code: '110' }));
    if (created) self.append(el('status', { code: '201' }));
    for (const code of statuses) self.append(el('status', { code }));
    conn.sendElement(el('presence', { xmlns: NS.client, from: `${room}/${nick}`, to: session.full }, self));
    if (conn.enterRoom(room, nick)) await this.announce(room, session, true, role);
    else if (update !== null) await engine.roomPresence(session, room, update);
    // §7.2.14 history, then §7.2.15 the subject (which also marks the end of the history).
    const wanted = stanza.getChild('x', NS.muc)?.getChild('history')?.attr('maxstanzas');
    const max = wanted !== undefined && /^\d+$/.test(wanted) ? Math.min(Number(wanted), engine.ctx.opts.historyPageMax) : DEFAULT_HISTORY;
    if (max > 0) {
      // The room MAY send less history (§7.2.14): when the user's heavy reads are all taken, the entry still
      // completes, without history (MAM has it).
      const { messages } = await engine.history(session.user, { with: room, limit: max }).catch((e: unknown) => {
        if (isParleyError(e, 'rate-limited')) return { messages: [] };
        throw e;
      });
      for (const m of messages) {
        if (m.body === null && (m.xml === null || m.retractedAt !== null)) continue;
        const msg = el('message', { xmlns: NS.client, type: 'groupchat', id: m.clientId ?? m.id, from: `${room}/${nickOf(m.from)}`, to: session.full });
        if (m.body !== null) msg.append(el('body', null, m.body));
        msg.append(el('delay', { xmlns: NS.delay, from: room, stamp: stamp(m.ts) }));
        msg.append(el('stanza-id', { xmlns: NS.sid, id: m.id, by: room }));
        // The message's extension elements, as stored (extensions.ts).
        conn.sendStanza(withExtensions(serialize(msg), m.xml));
      }
    }
    const r = await engine.rooms.get(room);
    conn.sendElement(el('message', { xmlns: NS.client, type: 'groupchat', from: room, to: session.full }, el('subject', null, r?.name ?? '')));
  }

  /** A message to a room (§7.4) or to an occupant (a private message, §7.5). */
  async message(stanza: Element, room: string, resource: string | null, startedAt: number): Promise<Pending | void> {
    const conn = this.conn;
    const session = conn.session!;
    const type = stanza.attr('type') ?? 'normal';
    if (resource !== null) return this.privateMessage(stanza, room, resource, type);
    if (type !== 'groupchat') {
      // §7.8.2 mediated invitation: <x muc#user><invite to/></x>.
      const invites = stanza.getChild('x', NS.mucUser)?.getChildren('invite') ?? [];
      if (invites.length === 0) throw new ParleyError('bad-request', 'messages to a room are type groupchat');
      for (const inv of invites) {
        const to = inv.attr('to');
        if (!to) throw new ParleyError('bad-request', 'an invitation names who is invited');
        await conn.engine.rooms.invite(room, session.user, to.split('/')[0]!);
      }
      return;
    }
    if (conn.roomNick(room) === undefined) throw new ParleyError('not-acceptable', `enter ${room} before writing to it (XEP-0045 §7.4)`);
    if (stanza.getChild('subject')) throw new ParleyError('forbidden', 'the subject is the room name; change it as an owner');
    const body = stanza.getChild('body');
    const xml = extensionsToStore(stanza, body !== undefined);
    const displayed = body ? undefined : stanza.getChild('displayed', NS.markers);
    if (displayed) {
      // XEP-0333 in a room: the marker names the room's stanza-id (§4, XEP-0359), which is Parley's server id; it
      // is the reader's read receipt, as in a 1:1 chat. A marker for an unknown message is ignored, like a duplicate.
      await conn.engine.messages.receipt(session, displayed.attr('id') ?? '', 'read', startedAt).catch((e: unknown) => {
        if (!isParleyError(e)) throw e;
      });
      return;
    }
    if (!body && xml === null) {
      // XEP-0334 §4: a payload not to be stored goes to the occupants live, and back to the sender (§7.4).
      const live = liveOnlyExtensions(stanza);
      if (live !== null) await conn.engine.messages.live(session, { local: room.split('@')[0]!, domain: room.split('@')[1]!, resource: null }, live, 'groupchat', stanza.attr('id') ?? null);
      for (const child of stanza.children) {
        if (typeof child !== 'string' && child.xmlns === NS.chatStates) {
          await conn.engine.messages.typing(session, { local: room.split('@')[0]!, domain: room.split('@')[1]!, resource: null }, child.name);
          return;
        }
      }
      return;
    }
    const origin = stanza.getChild('origin-id', NS.sid)?.attr('id') ?? stanza.attr('id') ?? null;
    const clientId = origin !== null && origin !== '' && origin.length <= 128 ? origin : null;
    const text = body ? body.text() : null;
    const sent = conn.engine.messages.send(session, { local: room.split('@')[0]!, domain: room.split('@')[1]!, resource: null }, text, clientId, startedAt, xml);
    return {
      done: sent.then(
        (ack) => {
          // §7.4: the room reflects the message to its sender too, with the room's stanza-id (XEP-0359).
          if (conn.isClosing && !conn.sm.hibernating) return;
          const echo = el(
            'message',
            { xmlns: NS.client, type: 'groupchat', id: stanza.attr('id') ?? ack.id, from: `${room}/${nickOf(session.user)}`, to: session.full },
          );
          if (text !== null) echo.append(el('body', null, text));
          echo.append(el('stanza-id', { xmlns: NS.sid, id: ack.id, by: room }));
          if (clientId !== null) echo.append(el('origin-id', { xmlns: NS.sid, id: clientId }));
          conn.sendStanza(withExtensions(serialize(echo), xml));
        },
        (e: unknown) => {
          if (!conn.isClosing) conn.replyError(stanza, e);
        },
      ),
    };
  }

  /**
   * §7.5: a private message to room/nick goes to that occupant from room/<sender's nick>. Not of type groupchat
   * (bad-request), and only from a session in the room (not-acceptable); the engine finds and reaches the nick.
   * Every child element Parley does not interpret goes with it (extensions.ts, liveExtensions: it is never
   * stored, so receipts, markers and corrections pass as they are); the room writes its own muc#user `<x/>`
   * (§7.5 since version 1.28). A `<private/>` (XEP-0280 §9) keeps it from the sender's other sessions.
   */
  private async privateMessage(stanza: Element, room: string, nick: string, type: string): Promise<void> {
    if (type === 'groupchat') throw new ParleyError('bad-request', 'a private message to an occupant is not of type groupchat (XEP-0045 §7.5)');
    if (this.conn.roomNick(room) === undefined) throw new ParleyError('not-acceptable', `enter ${room} before writing to its occupants (XEP-0045 §7.5)`);
    const body = stanza.getChild('body')?.text() ?? null;
    let state: string | null = null;
    for (const child of stanza.children) if (typeof child !== 'string' && child.xmlns === NS.chatStates) state = child.name;
    const xml = liveExtensions(stanza);
    if (body === null && state === null && xml === null) return;
    const noCopies = stanza.getChild('private', NS.carbons) !== undefined;
    await this.conn.engine.rooms.privateMessage(this.conn.session!, room, { nick }, { body, type, state, id: stanza.attr('id') ?? null, xml, noCopies });
  }

  /** The connection is going: its MUC presence ends with it (the others see the occupant leave). */
  leaveAll(session: Session): void {
    for (const room of this.conn.leaveAllRooms()) {
      this.announce(room, session, false).catch((e: unknown) => this.conn.engine.ctx.log.error({ err: e, room }, 'room exit failed'));
    }
  }

  /**
   * The session entered or left the room's live conversation: the engine tells the room's other members once
   * per user (XEP-0045 §7.2.3, §7.14), whichever node the user's other sessions are on.
   */
  private async announce(room: string, session: Session, present: boolean, role?: string): Promise<void> {
    await this.conn.engine.occupy(session, room, present, role);
  }
}

function occupantPresence(room: string, user: string, mucRole: string, role: string, p: UserPresence, to: string): Element {
  const pres = presenceStanza(p, to);
  pres.attrs.from = `${room}/${nickOf(user)}`;
  pres.append(el('x', { xmlns: NS.mucUser }, el('item', { affiliation: affiliationOf(role), role: mucRole, jid: user })));
  return pres;
}

/** disco#info of the room service (§6.1) or of one room (§6.4). */
export async function roomDiscoInfo(conn: XmppStream, target: IqTarget, query: Element): Promise<Element> {
  if (target.kind === 'rooms') {
    query.append(el('identity', { category: 'conference', type: 'text', name: 'Rooms' }));
    query.append(el('feature', { var: NS.muc }));
    query.append(el('feature', { var: NS.discoInfo }));
    query.append(el('feature', { var: NS.discoItems }));
    return query;
  }
  const r = await conn.engine.rooms.get(target.bare);
  if (!r) throw new ParleyError('item-not-found', `no room ${target.bare}`);
  query.append(el('identity', { category: 'conference', type: 'text', name: r.name }));
  // Modules add what they serve for rooms (the mam module: XEP-0313 §7, the room keeps an archive).
  const moderated = await conn.engine.rooms.moderation.isModerated(r.address);
  for (const f of [NS.muc, ...conn.opts.extensions.roomFeatures, NS.sid, 'muc_persistent', 'muc_nonanonymous', moderated ? 'muc_moderated' : 'muc_unmoderated', r.membersOnly ? 'muc_membersonly' : 'muc_open', r.membersOnly ? 'muc_hidden' : 'muc_public']) {
    query.append(el('feature', { var: f }));
  }
  return query;
}

/**
 * disco#items of the room service: the rooms the user may see (§6.3), as room.list shows them: the user's own
 * rooms and invitations, and the first page of the open rooms of its domain.
 */
export async function roomDiscoItems(conn: XmppStream, session: Session, target: IqTarget, query: Element): Promise<Element> {
  if (target.kind !== 'rooms') return query;
  for (const r of (await conn.engine.rooms.list(session.user)).rooms) {
    if (r.address.endsWith(`@${target.bare}`)) query.append(el('item', { jid: r.address, name: r.name }));
  }
  return query;
}
