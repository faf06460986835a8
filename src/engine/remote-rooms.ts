/**
 * Occupants from routed domains in Parley rooms (XEP-0045 over a route). A remote user enters with presence to
 * room@<rooms service>/nick (§7.2): the room must exist (a remote user creates none), a ban of the address or its
 * domain refuses with forbidden (§7.2.7), a members-only room wants membership or an invitation
 * (registration-required, §7.2.6); then the user is a member as a local one who enters is (RoomService.join),
 * and an occupant of the live conversation on this node. As with local users, the nick is the local part of the
 * address (status 210 when another was asked for, §7.2.9), so every front door names the occupant alike; a nick
 * a member of another address already has is a conflict (§7.2.9). The entering occupant gets the others'
 * presence, its own with status 110 (§7.2.3), the discussion history (§7.2.14) and the subject (§7.2.15); the local members hear of it as of any
 * occupant (room.occupant), the other remote occupants by presence. Its groupchat messages go through the message
 * path (stored, delivered to the members), and every room message reaches the remote occupants through their
 * route, from room/nick, the sender included (§7.4). Presence again changes its availability (§7.7): every other
 * occupant hears of it, and so do the remote occupants of a local occupant's change (presenceChanged). Unavailable
 * ends its presence (§7.14); membership stays.
 *
 * In a cluster every node keeps the same remote occupants (the shared part `occupants`: each entry and exit
 * announced, the whole in the answer to a hello), so occupant lists, a message posted on any node and a local
 * user's entry on any node reach them, whichever node's route carried them in.
 */
import { ParleyError } from '../core/errors.js';
import type { Address } from '../core/address.js';
import { aggregatePresence } from '../core/presence.js';
import type { LogRecord, MessageView, RoomRole, UserPresence } from '../core/types.js';
import type { Ctx } from './context.js';
import type { EventHub } from './events.js';
import { KeyedQueue } from './keyed-queue.js';
import type { MessageService } from './message-service.js';
import { readPresence, type RemotePresence } from './remote-presence.js';
import type { InboundStanza } from './remote-service.js';
import type { OccupantShown, PrivateMessage, RoomService } from './room-service.js';
import { childrenOf, escapeXmlAttr, escapeXmlText } from './routed-xml.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const SID = 'urn:xmpp:sid:0';
const DELAY = 'urn:xmpp:delay';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const CHAT_STATES = 'http://jabber.org/protocol/chatstates';
/** XEP-0085 §5: the chat states. */
const STATES = new Set(['active', 'composing', 'paused', 'inactive', 'gone']);
const PING = 'urn:xmpp:ping';
/** Discussion history sent on entering (§7.2.14), unless the entrant asks for less (as for local users). */
const DEFAULT_HISTORY = 20;

/** The room's last messages as `user` may read them (Engine.history), at most `limit`. */
export type RoomHistory = (user: string, room: string, limit: number) => Promise<MessageView[]>;

/** One remote occupant of a room: its bare address, nick and presence. */
export interface RemoteOccupant {
  user: string;
  nick: string;
  presence: UserPresence;
}

/** The nick of an address in Parley rooms: its local part (as encode.ts nickOf). */
const nickOf = (user: string): string => {
  const at = user.indexOf('@');
  return at < 0 ? user : user.slice(0, at);
};

/** XEP-0045 affiliation and role of a Parley room role (as encode.ts affiliationOf and mucRoleOf). */
function itemAttrs(role: RoomRole | null, voice: boolean, jid: string | null): string {
  const affiliation = role === null ? 'none' : role === 'owner' || role === 'admin' ? role : 'member';
  const muc = role === null ? 'none' : role === 'owner' || role === 'admin' ? 'moderator' : voice ? 'participant' : 'visitor';
  return `<item affiliation="${affiliation}" role="${muc}"${jid === null ? '' : ` jid="${escapeXmlAttr(jid)}"`}/>`;
}

/** Remote occupants of this node's rooms, and what crosses the route for them. */
export class RemoteRooms {
  /** Room → remote occupant's full address → the occupant. */
  private readonly occupants = new Map<string, Map<string, RemoteOccupant>>();
  /** Entries and exits of one room, one at a time. */
  private readonly turns = new KeyedQueue();
  /** Tells the other nodes of an entry or exit (nothing while this node is alone). */
  private readonly announce: (data: unknown) => void;

  constructor(
    private readonly ctx: Ctx,
    private readonly rooms: RoomService,
    private readonly messages: MessageService,
    private readonly presence: RemotePresence,
    private readonly history: RoomHistory,
  ) {
    this.announce = ctx.cluster.share('occupants', {
      snapshot: () => {
        if (this.occupants.size === 0) return undefined;
        const out: Array<[string, string, RemoteOccupant]> = [];
        for (const [room, inRoom] of this.occupants) for (const [full, o] of inRoom) out.push([room, full, o]);
        return out;
      },
      // A running node's occupants are taken where this node knows none of that address: its own are newer.
      state: (_node, data) => {
        if (!Array.isArray(data)) return;
        for (const [room, full, o] of data as Array<[string, string, RemoteOccupant]>) if (this.occupants.get(room)?.has(full) !== true) this.put(room, full, o);
      },
      change: (_node, data) => {
        const c = data as OccupantChange;
        if (typeof c?.room === 'string' && typeof c.full === 'string') this.put(c.room, c.full, c.occupant ?? null);
      },
    });
  }

  /** Sets (or with null removes) one remote occupant here, without telling anyone. */
  private put(room: string, full: string, o: RemoteOccupant | null): void {
    let inRoom = this.occupants.get(room);
    if (o === null) {
      inRoom?.delete(full);
      if (inRoom?.size === 0) this.occupants.delete(room);
      return;
    }
    if (inRoom === undefined) this.occupants.set(room, (inRoom = new Map()));
    inRoom.set(full, o);
  }

  /** Sets or removes one remote occupant, and tells the other nodes (only when some other node is known). */
  private set(room: string, full: string, o: RemoteOccupant | null): void {
    this.put(room, full, o);
    if (this.ctx.cluster.peerCount > 0) this.announce({ room, full, occupant: o } satisfies OccupantChange);
  }

  /**
   * Follows the rooms' changes made elsewhere in the engine: a remote member removed (kicked or banned) leaves
   * the live conversation (§8.2, §9.1), a destroyed room empties (§10.9), a configuration change is announced
   * (§10.2.1), and a remote user invited gets the room's invitation through its route (§7.8.2).
   */
  listen(events: EventHub): void {
    events.on('room.membership', async (e) => {
      if (e.role === null && this.isRemoteUser(e.user)) await this.removed(e.room, e.user, await this.ctx.store.rooms.isBanned(e.room, e.user));
    });
    events.on('room.destroyed', (e) => this.destroyed(e.room));
    // §10.2.1: a configuration change that is not about privacy (status code 104), as local occupants hear it.
    events.on('room.configured', (e) => {
      for (const full of this.occupants.get(e.room)?.keys() ?? []) this.send(full, e.room, 'message', 'groupchat', `<x xmlns="${MUC_USER}"><status code="104"/></x>`);
    });
    events.on('room.invited', (e) => {
      if (!this.isRemoteUser(e.user)) return;
      this.send(e.user, e.room, 'message', null, `<x xmlns="${MUC_USER}"><invite from="${escapeXmlAttr(e.by)}"/></x>`);
    });
  }

  /** The remote occupants of `room` now, for listings (room.occupants, a local user's entry). */
  occupantsOf(room: string): Array<{ user: string; presence: UserPresence }> {
    const seen = new Map<string, UserPresence>();
    for (const o of this.occupants.get(room)?.values() ?? []) seen.set(o.user, o.presence);
    return [...seen].map(([user, presence]) => ({ user, presence }));
  }

  /**
   * A stanza from a routed domain to one of this server's rooms (RemoteService checked the `from`): presence
   * enters or exits, a groupchat message is posted, the room's disco#info and an occupant's self-ping are
   * answered; anything else is not served over a route.
   */
  async inbound(s: InboundStanza, from: Address, room: string, nick: string | null): Promise<void> {
    const user = from.local === null ? from.domain : `${from.local}@${from.domain}`;
    if (s.kind === 'iq') return this.iq(s, from.resource === null ? user : `${user}/${from.resource}`, room, nick);
    if (from.resource === null) throw new ParleyError('jid-malformed', 'an occupant speaks from a full address (XEP-0045 §7.2.1)');
    const full = `${user}/${from.resource}`;
    if (s.kind === 'presence') {
      if (s.type === 'error') return;
      if (s.type === 'unavailable') return this.turns.run(room, () => this.exit(room, full));
      if (s.type !== null) throw new ParleyError('bad-request', `presence type ${s.type} is not for rooms`);
      if (nick === null) throw new ParleyError('jid-malformed', 'enter a room as room@service/nick (XEP-0045 §7.2.1)');
      return this.turns.run(room, () => this.enter(room, user, full, nick, s));
    }
    if (s.kind === 'message' && s.type === 'groupchat' && nick === null) {
      if (!this.occupants.get(room)?.has(full)) throw new ParleyError('not-acceptable', `enter ${room} before writing to it (XEP-0045 §7.4)`);
      if (childrenOf(s.xml).some((c) => c.name === 'subject' && c.xmlns === null)) throw new ParleyError('forbidden', 'the subject is the room name; an owner changes it');
      if (s.body === null && s.keep === null) {
        // XEP-0334 §4: a payload not to be stored goes to every occupant live, the sender's reflection included
        // (§7.4), from an occupant with voice, as a local occupant's does; chat states and the like are not relayed.
        if (s.live != null) await this.messages.liveFromRemote({ bare: user, resource: from.resource }, room, s.live, s.id);
        return;
      }
      await this.messages.receiveRemoteGroupchat({ from: { bare: user, resource: from.resource }, room, body: s.body, clientId: s.originId ?? null, xml: s.keep });
      return;
    }
    if (s.kind === 'message' && nick !== null && s.type !== 'groupchat' && s.type !== 'error') return this.privateFromRemote(room, user, full, nick, s);
    if (s.type === 'error' || s.type === 'result') return;
    throw new ParleyError('feature-not-implemented', `${s.kind} of type ${s.type ?? 'normal'} to ${nick === null ? room : `${room}/${nick}`} is not served to routed domains`);
  }

  /**
   * A remote occupant's private message to room/nick (§7.5): to a local member in the room (a room.private event,
   * XMPP shows it in the sessions that entered the room) or to another remote occupant through its route; the
   * sender must be in the room (not-acceptable), the nick someone there (item-not-found). Not stored, as locally.
   */
  private privateFromRemote(room: string, user: string, full: string, nick: string, s: InboundStanza): Promise<void> | void {
    const me = this.occupants.get(room)?.get(full);
    if (me === undefined) throw new ParleyError('not-acceptable', `enter ${room} before writing to its occupants (XEP-0045 §7.5)`);
    const state = childrenOf(s.xml).find((c) => c.xmlns === CHAT_STATES && STATES.has(c.name))?.name ?? null;
    if (s.body === null && state === null && s.keep === null) return;
    const max = this.ctx.opts.maxBodyBytes;
    if (s.body !== null && Buffer.byteLength(s.body, 'utf8') > max) throw new ParleyError('message-too-large', `the body is over ${max} bytes`);
    const msg: PrivateMessage = { body: s.body, type: s.type ?? 'normal', state, id: s.id, xml: s.keep, noCopies: true };
    if (this.privateFromLocal(room, user, { nick }, msg)) return;
    return this.rooms.membersOf(room).then((members) => {
      const target = members.find((m) => nickOf(m) === nick && this.ctx.cluster.isOnline(m));
      if (target === undefined) throw new ParleyError('item-not-found', `no occupant ${nick} in ${room}`);
      return this.rooms.deliverPrivate(room, user, target, msg);
    });
  }

  /**
   * A private message to an occupant on a routed domain (§7.5), from room/<sender's nick> to each of its
   * addresses in the room; false when no remote occupant has that nick or address.
   */
  privateFromLocal(room: string, from: string, to: { nick: string } | { user: string }, msg: PrivateMessage): boolean {
    const targets = [...(this.occupants.get(room) ?? [])].filter(([, o]) => ('user' in to ? o.user === to.user : o.nick === to.nick));
    const state = msg.state === null ? '' : `<${msg.state} xmlns="${CHAT_STATES}"/>`;
    for (const [full] of targets) {
      this.presence.send({ kind: 'message', from: `${room}/${nickOf(from)}`, to: full, type: msg.type, id: msg.id, body: msg.body, xml: `${state}${msg.xml ?? ''}<x xmlns="${MUC_USER}"/>` });
    }
    return targets.length > 0;
  }

  /**
   * An iq to the room or an occupant: disco#info of the room (XEP-0045 §6.4, which clients ask before entering)
   * and XEP-0410's self-ping (§3: answered for an occupant's own nick while it is in the room, not-acceptable
   * otherwise); other queries are not served to routed domains (service-unavailable, RFC 6120 §8.4).
   */
  private async iq(s: InboundStanza, full: string, room: string, nick: string | null): Promise<void> {
    if (s.type !== 'get' && s.type !== 'set') return;
    const payload = childrenOf(s.xml)[0];
    const reply = (xml: string | null): void => this.presence.send({ kind: 'iq', from: nick === null ? room : `${room}/${nick}`, to: full, type: 'result', id: s.id, body: null, xml });
    if (nick !== null && payload?.name === 'ping' && payload.xmlns === PING) {
      const o = this.occupants.get(room)?.get(full);
      if (o === undefined || o.nick !== nick) throw new ParleyError('not-acceptable', `${full} is not ${room}/${nick} (XEP-0410 §3)`);
      return reply(null);
    }
    if (nick === null && s.type === 'get' && payload?.name === 'query' && payload.xmlns === DISCO_INFO && payload.attrs.node === undefined) {
      const r = await this.rooms.get(room);
      if (r === null) throw new ParleyError('item-not-found', `no room ${room}`);
      const moderated = await this.rooms.moderation.isModerated(room);
      const features = [MUC, SID, 'muc_persistent', 'muc_nonanonymous', moderated ? 'muc_moderated' : 'muc_unmoderated', r.membersOnly ? 'muc_membersonly' : 'muc_open', r.membersOnly ? 'muc_hidden' : 'muc_public'];
      const identity = `<identity category="conference" type="text" name="${escapeXmlAttr(r.name)}"/>`;
      return reply(`<query xmlns="${DISCO_INFO}">${identity}${features.map((f) => `<feature var="${f}"/>`).join('')}</query>`);
    }
    throw new ParleyError('service-unavailable', `${payload?.xmlns ?? 'this'} ${payload?.name ?? 'query'} is not served to routed domains at ${nick === null ? room : `${room}/${nick}`}`);
  }

  private async enter(room: string, user: string, full: string, asked: string, s: InboundStanza): Promise<void> {
    const r = await this.rooms.get(room);
    if (r === null) throw new ParleyError('item-not-found', `no room ${room}`);
    if (await this.ctx.store.rooms.isBanned(room, user)) throw new ParleyError('forbidden', `you are banned from ${room}`);
    if (r.membersOnly && !(await this.rooms.isMember(room, user)) && !(await this.ctx.store.rooms.hasInvite(room, user))) {
      throw new ParleyError('registration-required', `${room} is members-only and you have no invitation`);
    }
    const nick = nickOf(user);
    const members = await this.rooms.membersOf(room);
    if (members.some((m) => m !== user && nickOf(m) === nick)) throw new ParleyError('conflict', `the nick ${nick} is taken in ${room} (XEP-0045 §7.2.9)`);
    const role = await this.rooms.join(room, user);
    const voice = await this.rooms.moderation.hasVoice(room, user);
    let inRoom = this.occupants.get(room);
    const again = inRoom?.has(full) === true;
    const p = readPresence(s.xml, this.ctx.now());
    delete p.extensions; // the <x/> of the entry and the like are for the room, not its occupants
    const presence = aggregatePresence(user, [p], null);
    // §7.2.3: the occupants already there (local ones present on any node, then remote ones), then its own with 110.
    if (!again) {
      for (const o of await this.rooms.occupants(room, user)) {
        if (o.user === user) continue;
        this.send(full, `${room}/${nickOf(o.user)}`, 'presence', null, presenceChildren(o.presence as UserPresence) + mucX(o.role, o.voice, o.user));
      }
    }
    const codes = ['110', ...(asked !== nick ? ['210'] : [])];
    this.send(full, `${room}/${nick}`, 'presence', null, presenceChildren(presence) + mucX(role, voice, full, codes));
    const first = ![...(inRoom?.values() ?? [])].some((o) => o.user === user);
    this.set(room, full, { user, nick, presence });
    inRoom = this.occupants.get(room)!;
    if (again) {
      // §7.7: a presence change of an occupant goes to every other occupant: the other remote ones from
      // room/nick, the local members' sessions as room.occupant with the show and status.
      for (const [f, o] of inRoom) if (o.user !== user) this.send(f, `${room}/${nick}`, 'presence', null, presenceChildren(presence) + mucX(role, voice, user));
      await this.rooms.announceOccupant(room, user, true, role, { state: presence.state, status: presence.status });
      return;
    }
    // §7.2.14: the discussion history, with delay stamps and the room's ids, then §7.2.15 the subject.
    const max = Math.min(historyWanted(s.xml) ?? DEFAULT_HISTORY, this.ctx.opts.historyPageMax);
    if (max > 0) {
      // The room MAY send less (§7.2.14): a read refused (heavy reads all taken) leaves the entry without it.
      const messages = await this.history(user, room, max).catch(() => []);
      for (const m of messages) {
        if (m.body === null && (m.xml === null || m.retractedAt !== null)) continue;
        const extra = `<delay xmlns="${DELAY}" from="${escapeXmlAttr(room)}" stamp="${new Date(m.ts).toISOString()}"/><stanza-id xmlns="${SID}" id="${escapeXmlAttr(m.id)}" by="${escapeXmlAttr(room)}"/>`;
        this.presence.send({ kind: 'message', from: `${room}/${nickOf(m.from)}`, to: full, type: 'groupchat', id: m.clientId ?? m.id, body: m.body, xml: extra + (m.xml ?? '') });
      }
    }
    // §7.2.15: the subject, which also ends the entry.
    this.send(full, room, 'message', 'groupchat', `<subject>${escapeXmlText(r.name)}</subject>`);
    if (first) await this.occupantChanged(room, user, true, role);
  }

  private async exit(room: string, full: string): Promise<void> {
    const inRoom = this.occupants.get(room);
    const o = inRoom?.get(full);
    if (o === undefined) return;
    this.set(room, full, null);
    // §7.14: the occupant's own unavailable, with 110.
    this.send(full, `${room}/${o.nick}`, 'presence', 'unavailable', mucX(null, false, full, ['110']));
    if (![...(this.occupants.get(room)?.values() ?? [])].some((x) => x.user === o.user)) await this.occupantChanged(room, o.user, false);
  }

  /**
   * Someone entered or left the room's live conversation (a local user through Engine.occupy, a remote one here):
   * the local members hear of a remote one as of anyone (room.occupant); the remote occupants, by presence from
   * room/nick (§7.2.3, §7.14).
   */
  async occupantChanged(room: string, user: string, present: boolean, role?: RoomRole): Promise<void> {
    if (this.isRemoteUser(user)) await this.rooms.announceOccupant(room, user, present, role);
    const inRoom = this.occupants.get(room);
    if (inRoom === undefined) return;
    const voice = present ? await this.rooms.moderation.hasVoice(room, user) : false;
    const presence = present ? await this.presenceOf(room, user) : null;
    for (const [full, o] of inRoom) {
      if (o.user === user) continue;
      const x = mucX(present ? (role ?? 'member') : null, voice, user);
      this.send(full, `${room}/${nickOf(user)}`, 'presence', present ? null : 'unavailable', (presence === null ? '' : presenceChildren(presence)) + x);
    }
  }

  /**
   * A local occupant changed its availability in the room (XEP-0045 §7.7, Engine.roomPresence): every remote
   * occupant gets its presence from room/nick with the show and status it sent and its item.
   */
  async presenceChanged(room: string, user: string, role: RoomRole, shown: OccupantShown): Promise<void> {
    const inRoom = this.occupants.get(room);
    if (inRoom === undefined) return;
    const x = mucX(role, await this.rooms.moderation.hasVoice(room, user), user);
    const children = presenceChildren(shown);
    for (const [full, o] of inRoom) if (o.user !== user) this.send(full, `${room}/${nickOf(user)}`, 'presence', null, children + x);
  }

  /**
   * A member's role or voice changed (RoomService's membership announcement: §8.3-8.4 voice granted or revoked,
   * the moderated setting's roles, §9.3-9.8 affiliations): when the member is in the room's live conversation (a
   * local user online, a remote occupant here), every remote occupant gets presence from its room address with
   * the new item, the member itself with status 110 (§7.2.3 self-presence), as local occupants get room.member.
   */
  async roleChanged(room: string, user: string, role: RoomRole, voice: boolean | undefined): Promise<void> {
    const inRoom = this.occupants.get(room);
    if (inRoom === undefined) return;
    const present = this.isRemoteUser(user) ? [...inRoom.values()].some((o) => o.user === user) : this.ctx.cluster.isOnline(user);
    if (!present) return;
    const v = voice ?? (await this.rooms.moderation.hasVoice(room, user));
    const shown = presenceChildren(await this.presenceOf(room, user));
    for (const [full, o] of inRoom) {
      const self = o.user === user;
      this.send(full, `${room}/${nickOf(user)}`, 'presence', null, shown + mucX(role, v, self ? full : user, self ? ['110'] : []));
    }
  }

  /** A room message to every remote occupant, from room/<sender's nick>, with the room's stanza id (§7.4). */
  fanout(r: LogRecord): void {
    if (r.type !== 'groupchat' || r.kind !== 'message') return;
    const inRoom = this.occupants.get(r.to);
    if (inRoom === undefined) return;
    const ids = `<stanza-id xmlns="${SID}" id="${escapeXmlAttr(r.id)}" by="${escapeXmlAttr(r.to)}"/>`;
    for (const full of inRoom.keys()) {
      this.presence.send({ kind: 'message', from: `${r.to}/${nickOf(r.from)}`, to: full, type: 'groupchat', id: r.clientId ?? r.id, body: r.body, xml: ids + (r.xml ?? '') });
    }
  }

  /**
   * A room message delivered live only (MessageService.live, a XEP-0334 no-store payload) to the room's remote
   * occupants: from the sender's nick, without a stanza-id, since nothing was archived.
   */
  liveFanout(room: string, from: string, id: string | null, xml: string): void {
    const inRoom = this.occupants.get(room);
    if (inRoom === undefined) return;
    for (const full of inRoom.keys()) {
      this.presence.send({ kind: 'message', from: `${room}/${nickOf(from)}`, to: full, type: 'groupchat', id, body: null, xml });
    }
  }

  /** The room is gone (§10.9): its remote occupants get unavailable with <destroy/>. */
  destroyed(room: string): void {
    const inRoom = [...(this.occupants.get(room) ?? [])];
    for (const [full, o] of inRoom) {
      this.set(room, full, null);
      this.send(full, `${room}/${o.nick}`, 'presence', 'unavailable', `<x xmlns="${MUC_USER}">${itemAttrs(null, false, null)}<destroy/></x>`);
    }
  }

  /**
   * A member left or was removed (kicked, banned: role null): its remote occupancy ends, with 307 for a kick and
   * 301 for a ban (§8.2, §9.1), and the others hear of it.
   */
  async removed(room: string, user: string, banned: boolean): Promise<void> {
    const inRoom = this.occupants.get(room);
    if (inRoom === undefined) return;
    let was = false;
    for (const [full, o] of inRoom) {
      if (o.user !== user) continue;
      was = true;
      this.set(room, full, null);
      this.send(full, `${room}/${o.nick}`, 'presence', 'unavailable', mucX(null, false, full, ['110', banned ? '301' : '307']));
    }
    if (was) await this.occupantChanged(room, user, false);
  }

  private isRemoteUser(user: string): boolean {
    return this.presence.isRemote(user);
  }

  private async presenceOf(room: string, user: string): Promise<UserPresence> {
    for (const o of this.occupants.get(room)?.values() ?? []) if (o.user === user) return o.presence;
    return (await this.rooms.occupants(room, user).catch(() => [])).find((o) => o.user === user)?.presence as UserPresence;
  }

  private send(to: string, from: string, kind: 'presence' | 'message', type: string | null, xml: string): void {
    this.presence.send({ kind, from, to, type, id: null, body: null, xml: xml === '' ? null : xml });
  }
}

/** What the other nodes are told of an entry (`occupant`) or exit (null) of a remote occupant (shared part `occupants`). */
export interface OccupantChange {
  room: string;
  full: string;
  occupant: RemoteOccupant | null;
}

/** `<history maxstanzas='n'/>` inside the entry's `<x xmlns='…muc'/>` (§7.2.14), or null when not asked. */
function historyWanted(xml: string | null): number | null {
  const x = childrenOf(xml).find((c) => c.name === 'x' && c.xmlns === MUC);
  if (x === undefined) return null;
  const inner = x.raw.slice(x.raw.indexOf('>') + 1, x.raw.lastIndexOf('</'));
  const max = childrenOf(x.raw.endsWith('/>') ? null : inner).find((c) => c.name === 'history')?.attrs.maxstanzas;
  return max !== undefined && /^\d+$/.test(max) ? Number(max) : null;
}

/** <x xmlns=muc#user> with the occupant's item and status codes. */
function mucX(role: RoomRole | string | null, voice: boolean, jid: string | null, codes: string[] = []): string {
  return `<x xmlns="${MUC_USER}">${itemAttrs(role as RoomRole | null, voice, jid)}${codes.map((c) => `<status code="${c}"/>`).join('')}</x>`;
}

/** An occupant's presence as show and status children (RFC 6121 §4.7.2). */
function presenceChildren(p: Pick<UserPresence, 'state' | 'status'> | undefined): string {
  if (p === undefined || p.state === 'offline') return '';
  const show = p.state === 'busy' ? 'dnd' : p.state === 'available' ? null : p.state;
  return (show === null ? '' : `<show>${show}</show>`) + (p.status === null ? '' : `<status>${escapeXmlText(p.status)}</status>`);
}
