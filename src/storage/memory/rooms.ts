/** Rooms, memberships and invitations of the in-memory store. */
import { ParleyError } from '../../core/errors.js';
import type { Room, RoomMember } from '../../core/types.js';
import type { RoomBan, RoomStore } from '../../ports/store.js';
import { clampLimit, domainOf, inDomain } from '../rules.js';
import { byCodeUnit, purgeRoom, type Invite, type MemoryState } from './state.js';

/** A copy without the internal creation position, as the SQLite adapter returns it. */
const toRoom = ({ createdSeq: _internal, ...room }: Room & { createdSeq: number }): Room => room;

/** The memory RoomStore. */
export function createMemoryRooms(s: MemoryState): RoomStore {
  const requireRoom = (room: string): void => {
    if (!s.rooms.has(room)) throw new ParleyError('item-not-found', `no room ${room}`);
  };
  return {
    async create(room) {
      if (s.rooms.has(room.address)) throw new ParleyError('conflict', `room ${room.address} exists`);
      s.rooms.set(room.address, { ...room, createdSeq: s.log.length });
      const owner = { room: room.address, user: room.createdBy, role: 'owner' as const, joinedAt: room.createdAt };
      s.roomMembers.set(room.address, new Map([[room.createdBy, owner]]));
      s.invites.set(room.address, new Map<string, Invite>());
    },
    async get(address) {
      const r = s.rooms.get(address);
      return r ? toRoom(r) : null;
    },
    async list(domain) {
      return [...s.rooms.values()]
        .filter((r) => domain === undefined || inDomain(domainOf(r.address), domain))
        .sort((a, b) => byCodeUnit(a.address, b.address))
        .map(toRoom);
    },
    async remove(address) {
      return purgeRoom(s, address);
    },
    async setMember(room, user, role, at) {
      requireRoom(room);
      const members = s.roomMembers.get(room) ?? new Map<string, RoomMember>();
      s.roomMembers.set(room, members);
      const existing = members.get(user);
      // A role change is not a re-join: keep the original joinedAt.
      members.set(user, { room, user, role, joinedAt: existing ? existing.joinedAt : at });
    },
    async removeMember(room, user) {
      // The voice flag goes with the membership, as the SQLite column does.
      s.voiceless.get(room)?.delete(user);
      return s.roomMembers.get(room)?.delete(user) ?? false;
    },
    async members(room) {
      const members = s.roomMembers.get(room);
      if (!members) return [];
      return [...members.values()].sort((a, b) => byCodeUnit(a.user, b.user)).map((m) => ({ ...m }));
    },
    async member(room, user) {
      const m = s.roomMembers.get(room)?.get(user);
      return m ? { ...m } : null;
    },
    async roomsOf(user) {
      const out: string[] = [];
      for (const [room, members] of s.roomMembers) if (members.has(user)) out.push(room);
      return out.sort(byCodeUnit);
    },
    async floorsOf(user) {
      const out: Array<{ room: string; createdSeq: number }> = [];
      for (const [room, members] of s.roomMembers) {
        const r = s.rooms.get(room);
        if (r && members.has(user)) out.push({ room, createdSeq: r.createdSeq });
      }
      return out.sort((a, b) => byCodeUnit(a.room, b.room));
    },
    async floorsOfRooms(addresses) {
      const out: Array<{ room: string; createdSeq: number }> = [];
      for (const room of new Set(addresses)) {
        const r = s.rooms.get(room);
        if (r) out.push({ room, createdSeq: r.createdSeq });
      }
      return out.sort((a, b) => byCodeUnit(a.room, b.room));
    },
    async membershipsOf(user) {
      const out: Array<{ room: string; role: RoomMember['role'] }> = [];
      for (const [room, members] of s.roomMembers) {
        const m = members.get(user);
        if (m) out.push({ room, role: m.role });
      }
      return out.sort((a, b) => byCodeUnit(a.room, b.room));
    },
    async getMany(addresses) {
      const out = [...new Set(addresses)].flatMap((a) => {
        const r = s.rooms.get(a);
        return r ? [toRoom(r)] : [];
      });
      return out.sort((a, b) => byCodeUnit(a.address, b.address));
    },
    async listOpen(domain, after, limit) {
      return [...s.rooms.values()]
        .filter((r) => !r.membersOnly && domainOf(r.address) === domain && r.address > after)
        .sort((a, b) => byCodeUnit(a.address, b.address))
        .slice(0, clampLimit(limit))
        .map(toRoom);
    },
    async addInvite(room, user, by, at) {
      requireRoom(room);
      const invited = s.invites.get(room) ?? new Map<string, Invite>();
      s.invites.set(room, invited);
      // Like the SQLite upsert: a repeated invitation replaces who invited and when.
      invited.set(user, { by, at });
    },
    async hasInvite(room, user) {
      return s.invites.get(room)?.has(user) ?? false;
    },
    async removeInvite(room, user) {
      s.invites.get(room)?.delete(user);
    },
    async invitesOf(user) {
      const out: Array<{ room: string; by: string; at: number }> = [];
      for (const [room, invited] of s.invites) {
        const i = invited.get(user);
        if (i) out.push({ room, by: i.by, at: i.at });
      }
      return out.sort((a, b) => a.at - b.at || byCodeUnit(a.room, b.room));
    },
    async ban(room, target, by, reason, at) {
      requireRoom(room);
      const banned = s.bans.get(room) ?? new Map<string, RoomBan>();
      s.bans.set(room, banned);
      banned.set(target, { room, target, by, reason, at });
    },
    async unban(room, target) {
      return s.bans.get(room)?.delete(target) ?? false;
    },
    async bans(room) {
      return [...(s.bans.get(room)?.values() ?? [])].sort((a, b) => byCodeUnit(a.target, b.target)).map((b) => ({ ...b }));
    },
    async isBanned(room, user) {
      const banned = s.bans.get(room);
      return banned !== undefined && (banned.has(user) || banned.has(domainOf(user)));
    },
    async setModerated(room, on) {
      requireRoom(room);
      if (on) s.moderated.add(room);
      else s.moderated.delete(room);
    },
    async moderated(room) {
      return s.moderated.has(room);
    },
    async setVoice(room, user, voice) {
      if (!s.roomMembers.get(room)?.has(user)) return;
      const muted = s.voiceless.get(room) ?? new Set<string>();
      s.voiceless.set(room, muted);
      if (voice) muted.delete(user);
      else muted.add(user);
    },
    async voiceless(room) {
      return [...(s.voiceless.get(room) ?? [])].sort(byCodeUnit);
    },
  };
}
