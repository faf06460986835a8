/** room.list (RoomService.list): a user's rooms and invitations, then one page of the open rooms of its domain. */
import type { Room, RoomRole } from '../core/types.js';
import { limitOf, type Ctx } from './context.js';

/** A room as room.list shows it to one user. */
export type ListedRoom = Room & { role: RoomRole | null; invitedBy: string | null };

/** What room.list shows `user` (RoomService.list has the rules); the caller holds one of its heavy reads. */
export async function listRooms(ctx: Ctx, user: string, after: string | null): Promise<{ rooms: ListedRoom[]; next: string | null }> {
  const domain = user.slice(user.indexOf('@') + 1);
  const page = limitOf(ctx.opts, 'roomListPage');
  const { rooms } = ctx.store;
  const [mine, invites] = await Promise.all([rooms.membershipsOf(user), rooms.invitesOf(user)]);
  const roleOf = new Map(mine.map((m) => [m.room, m.role]));
  // invitesOf is oldest first; the newest are kept.
  const invitedBy = new Map(invites.slice(Math.max(0, invites.length - page)).map((i) => [i.room, i.by]));
  const related = await rooms.getMany([...roleOf.keys(), ...invitedBy.keys()]);
  const out: ListedRoom[] = related.map((r) => ({ ...r, role: roleOf.get(r.address) ?? null, invitedBy: invitedBy.get(r.address) ?? null }));
  const open = await rooms.listOpen(ctx.directory.roomDomainOf(domain), after ?? '', page === Infinity ? Number.MAX_SAFE_INTEGER : page + 1);
  const more = open.length > page;
  const shown = more ? open.slice(0, page) : open;
  for (const r of shown) if (!roleOf.has(r.address) && !invitedBy.has(r.address)) out.push({ ...r, role: null, invitedBy: null });
  return { rooms: out, next: more ? shown[shown.length - 1]!.address : null };
}
