/**
 * Rooms (group conversations): create, invite, join, leave, kick, roles owner/admin/member, private messages
 * between occupants; bans and voice are RoomModeration's (room-moderation.ts).
 * Member lists are cached in memory for fan-out and dropped when the store changes from elsewhere. Every stored
 * change (the room, its members and roles, invitations) passes the change.check gate (events.ts) before it is
 * written, so a gate that refuses it (the compliance journal) leaves the room as it was; who is in the room's
 * live conversation (announceOccupant) is not stored and is no such change.
 */
import { ParleyError } from '../core/errors.js';
import { parseAddress } from '../core/address.js';
import { ROOM_ROLES, type PresenceState, type Room, type RoomMember, type RoomRole } from '../core/types.js';
import { limitOf, type Ctx } from './context.js';
import { KeyedQueue } from './keyed-queue.js';
import type { BlockService } from './block-service.js';
import type { PresenceService } from './presence-service.js';
import { listRooms, type ListedRoom } from './room-list.js';
import { RoomModeration } from './room-moderation.js';
import type { Session } from './session.js';

const rank = (r: RoomRole): number => ROOM_ROLES.length - ROOM_ROLES.indexOf(r);

export type { ListedRoom } from './room-list.js';

/** What an occupant shows in the room after a change of availability (XEP-0045 §7.7). */
export interface OccupantShown {
  state: PresenceState;
  status: string | null;
}

/** Someone in the room now (a member with an online session), as room.occupants lists them. */
export interface Occupant {
  user: string;
  role: RoomRole;
  /** False for a visitor of a moderated room (XEP-0045 §8.3). */
  voice: boolean;
  presence: unknown;
}

/** A private message between occupants (XEP-0045 §7.5): its text or a chat state (XEP-0085), or both. */
export interface PrivateMessage {
  body: string | null;
  /** The XMPP message type (chat, normal, headline); JSON sends chat. */
  type: string;
  /** An XEP-0085 chat state (active, composing, ...), or null. */
  state: string | null;
  /** The sender's id for the message, or null. */
  id: string | null;
  /**
   * The message's child elements Parley does not interpret, as canonical XML (front doors check it; opaque
   * here), delivered as they came (XEP-0045 §7.5 leaves the payload to the occupants); null: none.
   */
  xml: string | null;
  /** XEP-0280 §9 `<private/>`: no copies to the sender's other sessions. */
  noCopies: boolean;
}

/** Room management and membership. */
export class RoomService {
  private readonly memberCache = new Map<string, Promise<Map<string, RoomRole>>>();
  /** Membership changes of one room run one at a time: each checks the member list, then writes it. */
  private readonly ops = new KeyedQueue();
  /**
   * Changes that count a user's rooms run one at a time per user, so a burst of creations cannot all pass the
   * check before any is stored. Always taken inside a room's turn in `ops` (room, then user), never the reverse.
   */
  private readonly perUser = new KeyedQueue();

  /** Bans, voice and the moderated setting (XEP-0045 §8-9). */
  readonly moderation: RoomModeration;
  /** The occupants of a room on routed domains, in its live conversation on this node (remote-rooms.ts). */
  remoteOccupants: (room: string) => ReadonlyArray<{ user: string; presence: unknown }> = () => [];
  /** Hands a private message to an occupant on a routed domain (remote-rooms.ts); false when there is none. */
  remotePrivate: (room: string, from: string, to: { nick: string } | { user: string }, msg: PrivateMessage) => boolean = () => false;
  /**
   * Tells the room's remote occupants of a member's new role or voice (remote-rooms.ts): `voice` when the change
   * was one of voice, else undefined (read again).
   */
  remoteRole: (room: string, user: string, role: RoomRole, voice: boolean | undefined) => Promise<void> = async () => undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly presence: PresenceService,
    private readonly blocks: BlockService,
  ) {
    this.moderation = new RoomModeration(ctx, {
      ops: this.ops,
      members: (room) => this.members(room),
      requireMember: (room, user) => this.requireMember(room, user),
      forget: (room) => this.forgetMembers(room),
      announce: (room, user, role, by, reason, extra) => this.announce(room, user, role, by, reason, extra),
      inRoom: (room, user) => this.ctx.cluster.isOnline(user) || this.remoteOccupants(room).some((o) => o.user === user),
    });
  }

  /** Drops cached member lists. */
  invalidate(): void {
    this.memberCache.clear();
    this.moderation.drop(null);
  }

  /** Drops one room's cached members (changed on another node). */
  dropMembers(room: string): void {
    this.memberCache.delete(room);
    this.moderation.drop(room);
  }

  /** The room's members changed here: drops them from this node's cache and the others'. */
  private forgetMembers(room: string): void {
    this.memberCache.delete(room);
    this.moderation.drop(room);
    this.ctx.changed({ rooms: [room] });
  }

  private members(room: string): Promise<Map<string, RoomRole>> {
    let p = this.memberCache.get(room);
    if (!p) {
      p = this.ctx.store.rooms.members(room).then((ms) => new Map(ms.map((m) => [m.user, m.role])));
      this.memberCache.set(room, p);
      p.catch(() => this.memberCache.delete(room));
    }
    return p;
  }

  /** Whether `user` is a member of `room`. */
  async isMember(room: string, user: string): Promise<boolean> {
    return (await this.members(room)).has(user);
  }

  /**
   * Whether `user` may join `room` now, by the rules join applies (XEP-0045 §7.2.7 bans, members-only rooms
   * without an invitation): the room exists, the user is not banned, and it is open or the user is invited.
   */
  async mayJoin(room: string, user: string): Promise<boolean> {
    const r = await this.ctx.store.rooms.get(room);
    if (r === null || (await this.ctx.store.rooms.isBanned(room, user))) return false;
    return !r.membersOnly || (await this.ctx.store.rooms.hasInvite(room, user));
  }

  /** Throws unless the room exists and `user` is a member. */
  async requireMember(room: string, user: string): Promise<RoomRole> {
    const role = (await this.members(room)).get(user);
    if (role) return role;
    if (!(await this.ctx.store.rooms.get(room))) throw new ParleyError('item-not-found', `no room ${room}`);
    throw new ParleyError('forbidden', `you are not a member of ${room}`);
  }

  /** Members' addresses, for fan-out; the asker must be a member. */
  async memberUsers(room: string, asker: string): Promise<string[]> {
    await this.requireMember(room, asker);
    return this.membersOf(room);
  }

  /** Members' addresses now, without an access check (for delivering what was already accepted). */
  async membersOf(room: string): Promise<string[]> {
    return [...(await this.members(room)).keys()];
  }

  /**
   * Creates a room in the creator's domain (name@<rooms subdomain>.<domain>); the creator becomes owner. A user
   * owns at most rooms.maxOwnedPerUser rooms and belongs to at most rooms.maxMembershipsPerUser.
   */
  create(owner: string, name: string, local: string | null, membersOnly: boolean): Promise<Room> {
    const domain = owner.slice(owner.indexOf('@') + 1);
    const slug = local ?? (name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'room');
    const addr = parseAddress(`${slug}@${this.ctx.directory.roomDomainOf(domain)}`);
    if (addr.resource !== null) throw new ParleyError('jid-malformed', 'a room address has no resource');
    const room: Room = { address: `${addr.local}@${addr.domain}`, name, membersOnly, createdBy: owner, createdAt: this.ctx.now() };
    return this.ops.run(room.address, () =>
      this.perUser.run(owner, async () => {
        await this.checkRooms(owner, { member: true, owner: true });
        if (await this.ctx.store.rooms.get(room.address)) throw new ParleyError('conflict', `${room.address} exists`);
        await this.ctx.events.change({ type: 'room.created', room: room.address, owner }, () => this.ctx.store.rooms.create(room));
        this.forgetMembers(room.address);
        await this.ctx.events.emit('room.created', { room: room.address, owner });
        return room;
      }),
    );
  }

  /**
   * Refuses with not-allowed (as XEP-0045 §10.1.1 answers a refused room creation) when `user` may not take one
   * more membership (`member`) or one more owned room (`owner`). The caller holds the user's turn in `perUser`.
   */
  private async checkRooms(user: string, more: { member: boolean; owner: boolean }): Promise<void> {
    const maxMember = limitOf(this.ctx.opts, 'maxRoomMemberships');
    const maxOwned = limitOf(this.ctx.opts, 'maxRoomsOwned');
    if (maxMember === Infinity && maxOwned === Infinity) return;
    const mine = await this.ctx.store.rooms.membershipsOf(user);
    if (more.member && mine.length >= maxMember) {
      this.ctx.metrics.refused('room-memberships');
      throw new ParleyError('not-allowed', `${user} is a member of ${mine.length} rooms; the limit is ${maxMember}`, {
        limit: 'rooms.maxMembershipsPerUser',
        max: maxMember,
      });
    }
    const owned = mine.filter((m) => m.role === 'owner').length;
    if (more.owner && owned >= maxOwned) {
      this.ctx.metrics.refused('rooms-owned');
      throw new ParleyError('not-allowed', `${user} owns ${owned} rooms; the limit is ${maxOwned}`, { limit: 'rooms.maxOwnedPerUser', max: maxOwned });
    }
  }

  /**
   * What room.list shows a user: the rooms it belongs to or has pending invitations to (the newest
   * rooms.listPageSize of those), then one page of the open rooms of its domain that it has no relation to, by
   * address after `after`. Invitations are listed because the `room.invite` event is not stored: an invitee who
   * was offline finds them this way. Open rooms are paged because anyone may create them: listing them all to
   * every user would let one user's rooms fill everyone's list. `next` continues the open rooms (null: no more).
   * Its cost grows with the user's rooms, so it counts against the user's heavy reads (ReadLimiter).
   */
  list(user: string, after: string | null = null): Promise<{ rooms: ListedRoom[]; next: string | null }> {
    return this.ctx.reads.run(user, () => listRooms(this.ctx, user, after));
  }

  /** Invites a user (admin or owner only; any member in an open room). */
  invite(room: string, by: string, user: string): Promise<void> {
    return this.ops.run(room, () => this.inviteNow(room, by, user));
  }

  private async inviteNow(room: string, by: string, user: string): Promise<void> {
    const r = await this.getRoom(room);
    const role = await this.requireMember(room, by);
    if (r.membersOnly && rank(role) < rank('admin')) throw new ParleyError('forbidden', 'only admins and owners invite');
    // Someone on a routed domain may be invited too, and enters through its route (remote-rooms.ts).
    const domain = user.slice(user.indexOf('@') + 1);
    if (this.ctx.routes.routeOf(domain) === null) await this.ctx.directory.requireUser(user, domain);
    if (await this.isMember(room, user)) throw new ParleyError('conflict', `${user} is already a member`);
    await this.ctx.events.change({ type: 'room.invited', room, user, by }, () => this.ctx.store.rooms.addInvite(room, user, by, this.ctx.now()));
    const { router } = this.ctx;
    router.toUser(user, router.outbound({ ev: 'room.invite', data: { room, name: r.name, from: by } }));
    await this.ctx.events.emit('room.invited', { room, user, by });
  }

  /** Joins: open rooms to anyone of a hosted domain, members-only rooms with an invitation. */
  join(room: string, user: string): Promise<RoomRole> {
    return this.ops.run(room, () => this.joinNow(room, user));
  }

  private async joinNow(room: string, user: string): Promise<RoomRole> {
    const r = await this.getRoom(room);
    // XEP-0045 §7.2.7: a banned user (or one of a banned domain) cannot enter.
    if (await this.ctx.store.rooms.isBanned(room, user)) throw new ParleyError('forbidden', `you are banned from ${room}`);
    const existing = (await this.members(room)).get(user);
    if (existing) return existing;
    const invited = await this.ctx.store.rooms.hasInvite(room, user);
    if (r.membersOnly && !invited) {
      throw new ParleyError('forbidden', `${room} is members-only and you have no invitation`);
    }
    // §8.3: in a moderated room someone who comes in without having been made a member (invited) is a visitor.
    const visitor = !invited && (await this.moderation.isModerated(room));
    if ((await this.members(room)).size >= this.ctx.opts.roomMaxMembers) {
      throw new ParleyError('not-allowed', `${room} is full`);
    }
    await this.perUser.run(user, async () => {
      await this.checkRooms(user, { member: true, owner: false });
      await this.ctx.events.change({ type: 'room.membership', room, user, role: 'member', by: user }, async () => {
        await this.ctx.store.rooms.setMember(room, user, 'member', this.ctx.now());
        if (visitor) await this.ctx.store.rooms.setVoice(room, user, false);
        await this.ctx.store.rooms.removeInvite(room, user);
      });
    });
    this.forgetMembers(room);
    await this.announce(room, user, 'member', user);
    await this.ctx.events.emit('room.membership', { room, user, role: 'member', by: user });
    return 'member';
  }

  /**
   * Leaves the room. The last owner cannot leave while other members remain, and the last member cannot leave
   * at all (the room would be left with nobody able to manage or destroy it): destroy it instead.
   */
  leave(room: string, user: string): Promise<void> {
    return this.ops.run(room, () => this.leaveNow(room, user));
  }

  private async leaveNow(room: string, user: string): Promise<void> {
    const role = await this.requireMember(room, user);
    const ms = await this.members(room);
    if (ms.size === 1) throw new ParleyError('not-allowed', 'you are the last member; destroy the room instead');
    if (role === 'owner' && [...ms.values()].filter((r) => r === 'owner').length === 1) {
      throw new ParleyError('not-allowed', 'make another member owner before you leave');
    }
    await this.ctx.events.change({ type: 'room.membership', room, user, role: null, by: user }, async () => {
      await this.announce(room, user, null, user);
      await this.ctx.store.rooms.removeMember(room, user);
    });
    this.forgetMembers(room);
    await this.ctx.events.emit('room.membership', { room, user, role: null, by: user });
  }

  /** Removes a member of lower role (admins kick members, owners kick anyone but owners). */
  kick(room: string, by: string, user: string, reason: string | null): Promise<void> {
    return this.ops.run(room, () => this.kickNow(room, by, user, reason));
  }

  private async kickNow(room: string, by: string, user: string, reason: string | null): Promise<void> {
    const byRole = await this.requireMember(room, by);
    const target = (await this.members(room)).get(user);
    if (!target) throw new ParleyError('item-not-found', `${user} is not a member of ${room}`);
    if (rank(byRole) < rank('admin') || rank(target) >= rank(byRole)) {
      throw new ParleyError('forbidden', `a ${byRole} cannot remove a ${target}`);
    }
    await this.ctx.events.change({ type: 'room.membership', room, user, role: null, by }, async () => {
      await this.announce(room, user, null, by, reason);
      await this.ctx.store.rooms.removeMember(room, user);
    });
    this.forgetMembers(room);
    await this.ctx.events.emit('room.membership', { room, user, role: null, by, reason });
  }

  /** Sets a member's role (owners only). */
  setRole(room: string, by: string, user: string, role: RoomRole): Promise<void> {
    return this.ops.run(room, () => this.setRoleNow(room, by, user, role));
  }

  private async setRoleNow(room: string, by: string, user: string, role: RoomRole): Promise<void> {
    if ((await this.requireMember(room, by)) !== 'owner') throw new ParleyError('forbidden', 'only owners change roles');
    const ms = await this.members(room);
    if (!ms.has(user)) throw new ParleyError('item-not-found', `${user} is not a member of ${room}`);
    if (user === by && role !== 'owner' && [...ms.values()].filter((r) => r === 'owner').length === 1) {
      throw new ParleyError('not-allowed', 'a room needs at least one owner');
    }
    const write = (): Promise<void> =>
      this.ctx.events.change({ type: 'room.role', room, user, role, by }, () => this.ctx.store.rooms.setMember(room, user, role, this.ctx.now()));
    // Handing a room over counts against the new owner's limit, or rooms could be piled onto one account.
    if (role === 'owner' && ms.get(user) !== 'owner') {
      await this.perUser.run(user, async () => {
        await this.checkRooms(user, { member: false, owner: true });
        await write();
      });
    } else await write();
    this.forgetMembers(room);
    await this.announce(room, user, role, by);
    await this.ctx.events.emit('room.role', { room, user, role, by });
  }

  /**
   * Destroys the room (owners only; `asAdmin`: a server administrator acting with owner rights, checked by the
   * caller). Members and occupants are told (XEP-0045 §10.9), with the reason when one is given.
   */
  destroy(room: string, by: string, opts: { reason?: string | null; asAdmin?: boolean } = {}): Promise<void> {
    return this.ops.run(room, () => this.destroyNow(room, by, opts.reason ?? null, opts.asAdmin === true));
  }

  private async destroyNow(room: string, by: string, reason: string | null, asAdmin: boolean): Promise<void> {
    if (asAdmin) await this.getRoom(room);
    else if ((await this.requireMember(room, by)) !== 'owner') throw new ParleyError('forbidden', 'only owners destroy rooms');
    const users = [...(await this.members(room)).keys()];
    await this.ctx.events.change({ type: 'room.destroyed', room, by }, () => this.ctx.store.rooms.remove(room));
    this.forgetMembers(room);
    const { router } = this.ctx;
    router.toUsers(users, router.outbound({ ev: 'room.member', data: { room, destroyed: true, by, ...(reason === null ? {} : { reason }) } }));
    await this.ctx.events.emit('room.destroyed', { room, by });
  }

  /** Members with their roles (members only); a heavy read of the asker's (up to rooms.maxMembers rows). */
  async memberList(room: string, asker: string): Promise<RoomMember[]> {
    await this.requireMember(room, asker);
    return this.ctx.reads.run(asker, () => this.ctx.store.rooms.members(room));
  }

  /** Who is in the room now: members with at least one online session, with their presence (a heavy read). */
  async occupants(room: string, asker: string): Promise<Occupant[]> {
    await this.requireMember(room, asker);
    return this.ctx.reads.run(asker, () => this.occupantsNow(room));
  }

  private async occupantsNow(room: string): Promise<Occupant[]> {
    const out: Occupant[] = [];
    const members = await this.members(room);
    for (const [user, role] of members) {
      if (!this.ctx.cluster.isOnline(user)) continue;
      out.push({ user, role, voice: await this.moderation.hasVoice(room, user), presence: await this.presence.presenceOf(user) });
    }
    for (const o of this.remoteOccupants(room)) {
      const role = members.get(o.user);
      if (role !== undefined) out.push({ user: o.user, role, voice: await this.moderation.hasVoice(room, o.user), presence: o.presence });
    }
    return out;
  }

  /** The room, or null when it does not exist (read from the store, so a room just created is found). */
  get(room: string): Promise<Room | null> {
    return this.ctx.store.rooms.get(room);
  }

  /**
   * Tells the room's other members' sessions that `user` entered (with its role) or left the room's live
   * conversation (XEP-0045 §7.2.3, §7.14 presence on the XMPP side). The front door decides whether the change
   * is one for the others (a user's second session entering changes nothing for them).
   *
   * With `shown`, an occupant already in the room changed its availability there (§7.7): the event carries the
   * show and status it sent (`presence`), and goes to every member, the occupant's own sessions included (§7.7
   * broadcasts to all occupants; the XMPP side marks the occupant's own copy with status 110).
   */
  async announceOccupant(room: string, user: string, present: boolean, role?: string, shown?: OccupantShown): Promise<void> {
    const members = await this.membersOf(room);
    const { router } = this.ctx;
    const data: Record<string, unknown> = { room, user, present };
    if (role !== undefined) data.role = role;
    if (present && !(await this.moderation.hasVoice(room, user))) data.voice = false;
    if (shown !== undefined) data.presence = { state: shown.state, status: shown.status };
    router.toUsers(
      shown === undefined ? members.filter((m) => m !== user) : members,
      router.outbound({ ev: 'room.occupant', data }),
    );
  }

  /**
   * A private message from one occupant to another (XEP-0045 §7.5), by the recipient's nick (the local part of
   * its address, as every front door names occupants) or address. The sender must be a member (else
   * not-acceptable); the recipient a member with an online session (else item-not-found). It goes to the
   * recipient's sessions (XMPP shows it only in sessions that entered the room) and is not stored: it belongs to
   * the room's live conversation, and the 1:1 history is for messages to the person's own address.
   */
  async privateMessage(session: Session, room: string, to: { nick: string } | { user: string }, msg: PrivateMessage): Promise<void> {
    const ms = await this.members(room);
    if (!ms.has(session.user)) {
      await this.getRoom(room);
      throw new ParleyError('not-acceptable', `you are not in ${room} (XEP-0045 §7.5)`);
    }
    if (msg.body !== null) this.checkBody(msg.body);
    const { cluster } = this.ctx;
    const target = [...ms.keys()].find((u) => ('user' in to ? u === to.user : u.slice(0, u.indexOf('@')) === to.nick) && cluster.isOnline(u));
    if (target === undefined) {
      if (this.remotePrivate(room, session.user, to, msg)) return;
      throw new ParleyError('item-not-found', `no occupant ${'user' in to ? to.user : to.nick} in ${room}`);
    }
    await this.deliverPrivate(room, session.user, target, msg, session);
  }

  /**
   * Hands a private message to a member in the room (`target`, online), from `from` (a member here, or an
   * occupant on a routed domain). The block lists apply as between the two people's own addresses (XEP-0191
   * §3.4, as for 1:1 messages): writing to someone one blocks is not-acceptable, to someone who blocks the sender
   * service-unavailable, and nothing is delivered. The sender's other sessions get the message too (`sending`:
   * the session it came from, which does not), unless it asked for none (XEP-0280 §9); the XMPP front door turns
   * that into a `sent` carbon for the sessions that are in the room.
   */
  async deliverPrivate(room: string, from: string, target: string, msg: PrivateMessage, sending: Session | null = null): Promise<void> {
    await this.blocks.check(from, target);
    const data: Record<string, unknown> = { room, from, to: target, body: msg.body, type: msg.type };
    if (msg.state !== null) data.state = msg.state;
    if (msg.id !== null) data.id = msg.id;
    if (msg.xml !== null) data.xml = msg.xml;
    if (sending !== null) data.fromResource = sending.resource;
    const { router } = this.ctx;
    const out = router.outbound({ ev: 'room.private', data });
    const copies = sending !== null && !msg.noCopies && target !== from;
    router.toUsers(copies ? [target, from] : [target], out, sending ?? undefined);
  }

  /** The same limit as other messages' bodies (maxBodyBytes). */
  private checkBody(body: string): void {
    const max = this.ctx.opts.maxBodyBytes;
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > max) throw new ParleyError('message-too-large', `the body has ${bytes} bytes; the limit is ${max}`);
  }

  private async getRoom(room: string): Promise<Room> {
    const r = await this.ctx.store.rooms.get(room);
    if (!r) throw new ParleyError('item-not-found', `no room ${room}`);
    return r;
  }

  /**
   * A membership change to the room's members and the member concerned (`extra`: banned, voice), and a new role or
   * voice to the room's remote occupants.
   */
  private async announce(room: string, user: string, role: RoomRole | null, by: string, reason: string | null = null, extra: Record<string, unknown> = {}): Promise<void> {
    const users = [...(await this.members(room)).keys()];
    if (!users.includes(user)) users.push(user);
    const { router } = this.ctx;
    router.toUsers(users, router.outbound({ ev: 'room.member', data: { room, user, role, by, reason, ...extra } }));
    // A new role or voice given by someone else (not an entry: that is announced as an occupant) reaches the
    // remote occupants too (XEP-0045 §8.3-8.4, §9); removals reach them through room.membership.
    if (role !== null && by !== user) await this.remoteRole(room, user, role, typeof extra.voice === 'boolean' ? extra.voice : undefined);
  }
}
