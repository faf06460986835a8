/**
 * Room moderation (XEP-0045 §8-9): bans of an address or a whole domain (affiliation outcast, §9.1-9.2), voice
 * (participants and visitors, §8.3-8.5) and whether a room is moderated (§10.2, muc#roomconfig_moderatedroom).
 * Owners and admins moderate (§5.1.2); an admin cannot ban or silence an owner or another admin (§5.2). Each
 * change runs in the room's turn and passes the change.check gate before it is stored, like RoomService's.
 */
import { ParleyError } from '../core/errors.js';
import type { RoomRole } from '../core/types.js';
import type { RoomBan } from '../ports/store.js';
import type { Ctx } from './context.js';
import type { KeyedQueue } from './keyed-queue.js';

/** What moderation needs of RoomService: the room's turn, its members and its announcements. */
export interface RoomInternals {
  readonly ops: KeyedQueue;
  members(room: string): Promise<Map<string, RoomRole>>;
  requireMember(room: string, user: string): Promise<RoomRole>;
  /** Drops the room's cached members and standing here and on the other nodes. */
  forget(room: string): void;
  /** A membership change (role null: removed) to the room's members and the member concerned. */
  announce(room: string, user: string, role: RoomRole | null, by: string, reason: string | null, extra: Record<string, unknown>): Promise<void>;
  /** Whether the member is in the room's live conversation: a local user online, or a remote occupant. */
  inRoom(room: string, user: string): boolean;
}

/** Whether a room is moderated, and its members without voice. */
interface Standing {
  moderated: boolean;
  voiceless: Set<string>;
}

const isModerator = (r: RoomRole | undefined): boolean => r === 'owner' || r === 'admin';

/** Bans, voice and the moderated setting of rooms. */
export class RoomModeration {
  /** Per room: whether it is moderated and which members have no voice (XEP-0045 §8.3-8.4). */
  private readonly cache = new Map<string, Promise<Standing>>();

  constructor(
    private readonly ctx: Ctx,
    private readonly rooms: RoomInternals,
  ) {}

  /** Drops the cached standing of one room (null: of all). */
  drop(room: string | null): void {
    if (room === null) this.cache.clear();
    else this.cache.delete(room);
  }

  private standing(room: string): Promise<Standing> {
    let p = this.cache.get(room);
    if (!p) {
      const { rooms } = this.ctx.store;
      p = Promise.all([rooms.moderated(room), rooms.voiceless(room)]).then(([moderated, v]) => ({ moderated, voiceless: new Set(v) }));
      this.cache.set(room, p);
      p.catch(() => this.cache.delete(room));
    }
    return p;
  }

  /**
   * Whether a member may speak in the room: always in an unmoderated room; in a moderated one owners and admins
   * (moderators) and members with voice (participants), not visitors (XEP-0045 §5.1, §8.3).
   */
  async hasVoice(room: string, user: string): Promise<boolean> {
    const role = (await this.rooms.members(room)).get(user);
    if (role === 'owner' || role === 'admin') return true;
    const st = await this.standing(room);
    return !st.moderated || !st.voiceless.has(user);
  }

  /** Throws unless `user` is a member who may speak in the room (a visitor: forbidden, XEP-0045 §7.4). */
  async requireVoice(room: string, user: string): Promise<void> {
    await this.rooms.requireMember(room, user);
    if (!(await this.hasVoice(room, user))) throw new ParleyError('forbidden', `you have no voice in ${room}: a moderator grants it (XEP-0045 §7.4)`);
  }

  /** Whether the room is moderated (XEP-0045 §8.3). */
  async isModerated(room: string): Promise<boolean> {
    return (await this.standing(room)).moderated;
  }


  /** Throws unless `by` moderates the room (owner or admin); returns its role. */
  private async requireModerator(room: string, by: string, what: string): Promise<RoomRole> {
    const role = await this.rooms.requireMember(room, by);
    if (!isModerator(role)) throw new ParleyError('forbidden', `only owners and admins ${what} (XEP-0045 §5.2)`);
    return role;
  }

  /**
   * Bans `target` (a bare address, or a domain: everyone of it) from the room, with an optional reason (§9.1).
   * Members it names lose their membership and are told, with everyone in the room (status 301 in XMPP).
   */
  ban(room: string, by: string, target: string, reason: string | null): Promise<void> {
    return this.rooms.ops.run(room, async () => {
      const byRole = await this.requireModerator(room, by, 'ban');
      const isDomain = !target.includes('@');
      const hit = [...(await this.rooms.members(room))].filter(([u]) => (isDomain ? u.slice(u.indexOf('@') + 1) === target : u === target));
      for (const [u, r] of hit) {
        if (u === by) throw new ParleyError('not-allowed', 'you cannot ban yourself');
        if (byRole !== 'owner' && isModerator(r)) throw new ParleyError('not-allowed', `an admin cannot ban ${u}, a ${r} (XEP-0045 §5.2)`);
      }
      const { rooms } = this.ctx.store;
      // The ban list is bounded like the member list (rooms.maxMembers), so no admin can grow it without end.
      const bans = await rooms.bans(room);
      if (bans.length >= this.ctx.opts.roomMaxMembers && !bans.some((b) => b.target === target)) {
        throw new ParleyError('not-allowed', `${room} has ${bans.length} bans; the limit is ${this.ctx.opts.roomMaxMembers} (rooms.maxMembers)`);
      }
      await this.ctx.events.change({ type: 'room.banned', room, target, by, reason, banned: true }, async () => {
        await rooms.ban(room, target, by, reason, this.ctx.now());
        for (const [u] of hit) await rooms.removeMember(room, u);
        if (!isDomain) await rooms.removeInvite(room, target);
      });
      for (const [u] of hit) await this.rooms.announce(room, u, null, by, reason, { banned: true });
      this.rooms.forget(room);
      for (const [u] of hit) await this.ctx.events.emit('room.membership', { room, user: u, role: null, by, reason, banned: true });
      await this.ctx.events.emit('room.banned', { room, target, by, reason, banned: true });
    });
  }

  /** Lifts a ban (§9.2, affiliation none); false when there was none. */
  unban(room: string, by: string, target: string): Promise<boolean> {
    return this.rooms.ops.run(room, async () => {
      await this.rooms.requireMember(room, by);
      // Nothing to lift is no change, for anyone (a member "removing" someone who is not there).
      if (!(await this.ctx.store.rooms.isBanned(room, target))) return false;
      await this.requireModerator(room, by, 'lift bans');
      const change = { type: 'room.banned', room, target, by, reason: null, banned: false } as const;
      const lifted = await this.ctx.events.change(change, () => this.ctx.store.rooms.unban(room, target));
      if (lifted) await this.ctx.events.emit('room.banned', { room, target, by, reason: null, banned: false });
      return lifted;
    });
  }

  /** The room's bans (§9.2: the ban list is for owners and admins). */
  async bans(room: string, asker: string): Promise<RoomBan[]> {
    await this.requireModerator(room, asker, 'see the ban list');
    return this.ctx.store.rooms.bans(room);
  }

  /**
   * Gives a member voice or takes it (§8.3-8.4) in a moderated room; owners and admins always have it. The
   * room hears of the new role (presence in XMPP).
   */
  setVoice(room: string, by: string, user: string, voice: boolean): Promise<void> {
    return this.rooms.ops.run(room, async () => {
      await this.requireModerator(room, by, 'give or take voice');
      const role = (await this.rooms.members(room)).get(user);
      if (!role) throw new ParleyError('item-not-found', `${user} is not a member of ${room}`);
      if (isModerator(role)) throw new ParleyError('not-allowed', `${user} is a ${role} and moderates the room: voice goes with that (XEP-0045 §8.4)`);
      const { rooms } = this.ctx.store;
      if (!(await rooms.moderated(room))) throw new ParleyError('not-allowed', `${room} is not moderated: everyone in it has voice (XEP-0045 §8.3)`);
      await this.ctx.events.change({ type: 'room.voice', room, user, voice, by }, () => rooms.setVoice(room, user, voice));
      this.rooms.forget(room);
      await this.rooms.announce(room, user, role, by, null, { voice });
      await this.ctx.events.emit('room.voice', { room, user, voice, by });
    });
  }

  /**
   * Makes the room moderated or not (owners only, §10.2). In a moderated room members without voice are
   * visitors, and whoever comes in without an invitation starts without voice.
   *
   * The change applies to who is in the room now. Roles are given on entering (§7.2, the default role by the
   * room's type) and changed only by a moderator (§8.3-8.4), so a room becoming moderated leaves everyone's
   * voice as it was: a participant stays one, and only members whose voice a moderator took (kept while the room
   * was unmoderated) are visitors again. A room becoming unmoderated gives everyone voice (§5.1: visitors exist
   * only in moderated rooms), so its visitors become participants. Each occupant whose role changes is announced
   * with the new role (presence, §8.3-8.4), and then the room tells its occupants that its configuration changed
   * (a `room.configured` event: status code 104 in XMPP, §10.2.1).
   */
  setModerated(room: string, by: string, moderated: boolean): Promise<void> {
    return this.rooms.ops.run(room, async () => {
      if ((await this.rooms.requireMember(room, by)) !== 'owner') throw new ParleyError('forbidden', 'only owners configure a room (XEP-0045 §10.2)');
      const { rooms } = this.ctx.store;
      if ((await rooms.moderated(room)) === moderated) return;
      await this.ctx.events.change({ type: 'room.configured', room, by, moderated }, () => rooms.setModerated(room, moderated));
      const members = await this.rooms.members(room);
      const voiceless = (await this.standing(room)).voiceless;
      this.rooms.forget(room);
      // The members whose voice follows the setting: those without voice of their own, who are in the room now.
      for (const user of voiceless) {
        const role = members.get(user);
        if (role === undefined || isModerator(role) || !this.rooms.inRoom(room, user)) continue;
        await this.rooms.announce(room, user, role, by, null, { voice: !moderated });
      }
      const { router } = this.ctx;
      router.toUsers(members.keys(), router.outbound({ ev: 'room.configured', data: { room, by, moderated } }));
      await this.ctx.events.emit('room.configured', { room, by, moderated });
    });
  }
}
