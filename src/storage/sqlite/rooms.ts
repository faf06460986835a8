/** Rooms, memberships and invitations in SQLite. */
import type { Room, RoomMember, RoomRole } from '../../core/types.js';
import { ParleyError } from '../../core/errors.js';
import type { RoomBan, RoomStore } from '../../ports/store.js';
import { clampLimit, domainOf } from '../rules.js';
import { bool, mapConstraints, type Db, type Transactor } from './db.js';

/** The invitation reads, exported so a test can check that each one is an index search without a sort. */
export const ROOM_QUERIES = {
  // room_invites_by_user_at (migration 2) yields the rows already ordered.
  invitesOf: 'SELECT room, invited_by AS "by", invited_at AS "at" FROM room_invites WHERE user = ? ORDER BY invited_at, room',
} as const;

/** The open-room page of room.list, exported so a test can check it is one index range without a sort. */
export const OPEN_ROOMS_QUERY =
  'SELECT address, name, members_only AS membersOnly, created_by AS createdBy, created_at AS createdAt FROM rooms WHERE domain = ? AND address > ? AND members_only = 0 ORDER BY address LIMIT ?';

interface RoomRow {
  address: string;
  name: string;
  membersOnly: number;
  createdBy: string;
  createdAt: number;
}

const toRoom = (r: RoomRow): Room => ({ ...r, membersOnly: bool(r.membersOnly) });

/** Creates the SQLite RoomStore. */
export function createSqliteRooms(db: Db, tx: Transactor): RoomStore {
  const cols = 'address, name, members_only AS membersOnly, created_by AS createdBy, created_at AS createdAt';
  // created_seq: the log's last seq at the insert (see migration 5); the room's history starts after it.
  const insert = db.prepare<[string, string, string, number, string, number]>(
    `INSERT INTO rooms (address, domain, name, members_only, created_by, created_at, created_seq)
     VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM log))`,
  );
  const get = db.prepare<[string], RoomRow>(`SELECT ${cols} FROM rooms WHERE address = ?`);
  const listAll = db.prepare<[], RoomRow>(`SELECT ${cols} FROM rooms ORDER BY address`);
  const listDomain = db.prepare<{ d: string }, RoomRow>(
    `SELECT ${cols} FROM rooms WHERE domain = :d OR substr(domain, -1 - length(:d)) = '.' || :d ORDER BY address`,
  );
  const remove = db.prepare<[string]>('DELETE FROM rooms WHERE address = ?');
  // A role change is not a re-join, so an existing member keeps its joined_at.
  const setMember = db.prepare<[string, string, RoomRole, number]>(
    `INSERT INTO room_members (room, user, role, joined_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (room, user) DO UPDATE SET role = excluded.role`,
  );
  const removeMember = db.prepare<[string, string]>('DELETE FROM room_members WHERE room = ? AND user = ?');
  const memberCols = 'room, user, role, joined_at AS joinedAt';
  const members = db.prepare<[string], RoomMember>(`SELECT ${memberCols} FROM room_members WHERE room = ? ORDER BY user`);
  const member = db.prepare<[string, string], RoomMember>(
    `SELECT ${memberCols} FROM room_members WHERE room = ? AND user = ?`,
  );
  const roomsOf = db.prepare<[string], string>('SELECT room FROM room_members WHERE user = ? ORDER BY room').pluck();
  const membershipsOf = db.prepare<[string], { room: string; role: RoomRole }>('SELECT room, role FROM room_members WHERE user = ? ORDER BY room');
  const floorsOf = db.prepare<[string], { room: string; createdSeq: number }>(
    'SELECT m.room, r.created_seq AS createdSeq FROM room_members m JOIN rooms r ON r.address = m.room WHERE m.user = ? ORDER BY m.room',
  );
  const floorsOfRooms = db.prepare<[string], { room: string; createdSeq: number }>(
    'SELECT address AS room, created_seq AS createdSeq FROM rooms WHERE address IN (SELECT value FROM json_each(?)) ORDER BY address',
  );
  const getMany = db.prepare<[string], RoomRow>(`SELECT ${cols} FROM rooms WHERE address IN (SELECT value FROM json_each(?)) ORDER BY address`);
  const listOpen = db.prepare<[string, string, number], RoomRow>(OPEN_ROOMS_QUERY);
  const addInvite = db.prepare<[string, string, string, number]>(
    `INSERT INTO room_invites (room, user, invited_by, invited_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (room, user) DO UPDATE SET invited_by = excluded.invited_by, invited_at = excluded.invited_at`,
  );
  const hasInvite = db.prepare<[string, string], number>('SELECT 1 FROM room_invites WHERE room = ? AND user = ?').pluck();
  const removeInvite = db.prepare<[string, string]>('DELETE FROM room_invites WHERE room = ? AND user = ?');
  const invitesOf = db.prepare<[string], { room: string; by: string; at: number }>(ROOM_QUERIES.invitesOf);
  const noRoom = (room: string) => ({ missing: `no room ${room}` });
  const ban = db.prepare<[string, string, string, string | null, number]>(
    `INSERT INTO room_bans (room, target, banned_by, reason, banned_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (room, target) DO UPDATE SET banned_by = excluded.banned_by, reason = excluded.reason, banned_at = excluded.banned_at`,
  );
  const unban = db.prepare<[string, string]>('DELETE FROM room_bans WHERE room = ? AND target = ?');
  const bans = db.prepare<[string], RoomBan>(
    'SELECT room, target, banned_by AS "by", reason, banned_at AS "at" FROM room_bans WHERE room = ? ORDER BY target',
  );
  const isBanned = db.prepare<[string, string, string], number>('SELECT 1 FROM room_bans WHERE room = ? AND target IN (?, ?)').pluck();
  const setModerated = db.prepare<[number, string]>('UPDATE rooms SET moderated = ? WHERE address = ?');
  const moderated = db.prepare<[string], number>('SELECT moderated FROM rooms WHERE address = ?').pluck();
  const setVoice = db.prepare<[number, string, string]>('UPDATE room_members SET voice = ? WHERE room = ? AND user = ?');
  const voiceless = db.prepare<[string], string>('SELECT user FROM room_members WHERE room = ? AND voice = 0 ORDER BY user').pluck();

  return {
    async create(r) {
      mapConstraints(
        () =>
          tx.write(() => {
            insert.run(r.address, domainOf(r.address), r.name, r.membersOnly ? 1 : 0, r.createdBy, r.createdAt);
            setMember.run(r.address, r.createdBy, 'owner', r.createdAt);
          }),
        { conflict: `room ${r.address} exists` },
      );
    },
    async get(address) {
      const r = get.get(address);
      return r ? toRoom(r) : null;
    },
    async list(domain) {
      return (domain === undefined ? listAll.all() : listDomain.all({ d: domain })).map(toRoom);
    },
    async remove(address) {
      return remove.run(address).changes > 0;
    },
    async setMember(room, user, role, at) {
      mapConstraints(() => setMember.run(room, user, role, at), noRoom(room));
    },
    async removeMember(room, user) {
      return removeMember.run(room, user).changes > 0;
    },
    async members(room) {
      return members.all(room);
    },
    async member(room, user) {
      return member.get(room, user) ?? null;
    },
    async roomsOf(user) {
      return roomsOf.all(user);
    },
    async membershipsOf(user) {
      return membershipsOf.all(user);
    },
    async floorsOf(user) {
      return floorsOf.all(user);
    },
    async floorsOfRooms(addresses) {
      return addresses.length === 0 ? [] : floorsOfRooms.all(JSON.stringify(addresses));
    },
    async getMany(addresses) {
      return addresses.length === 0 ? [] : getMany.all(JSON.stringify(addresses)).map(toRoom);
    },
    async listOpen(domain, after, limit) {
      const n = clampLimit(limit);
      return n === 0 ? [] : listOpen.all(domain, after, n).map(toRoom);
    },
    async addInvite(room, user, by, at) {
      mapConstraints(() => addInvite.run(room, user, by, at), noRoom(room));
    },
    async hasInvite(room, user) {
      return hasInvite.get(room, user) !== undefined;
    },
    async removeInvite(room, user) {
      removeInvite.run(room, user);
    },
    async invitesOf(user) {
      return invitesOf.all(user);
    },
    async ban(room, target, by, reason, at) {
      mapConstraints(() => ban.run(room, target, by, reason, at), noRoom(room));
    },
    async unban(room, target) {
      return unban.run(room, target).changes > 0;
    },
    async bans(room) {
      return bans.all(room);
    },
    async isBanned(room, user) {
      return isBanned.get(room, user, domainOf(user)) !== undefined;
    },
    async setModerated(room, on) {
      if (setModerated.run(on ? 1 : 0, room).changes === 0) throw new ParleyError('item-not-found', `no room ${room}`);
    },
    async moderated(room) {
      return moderated.get(room) === 1;
    },
    async setVoice(room, user, voice) {
      setVoice.run(voice ? 1 : 0, room, user);
    },
    async voiceless(room) {
      return voiceless.all(room);
    },
  };
}
