/** Contract: rooms, memberships and invitations. */
import { describe, expect, it } from 'vitest';
import type { Room } from '../../core/types.js';
import type { Store } from '../../ports/store.js';

const room = (address: string, extra: Partial<Room> = {}): Room => ({
  address,
  name: `Room ${address}`,
  membersOnly: false,
  createdBy: 'alice@a.test',
  createdAt: 100,
  ...extra,
});

/** Registers the room tests. */
export function roomsContract(store: () => Store): void {
  describe('rooms', () => {
    it('creates a room with its creator as owner; refuses duplicates', async () => {
      const s = store();
      const r = room('r@rooms.a.test', { membersOnly: true, createdBy: 'bob@a.test', createdAt: 123 });
      await s.rooms.create(r);
      expect(await s.rooms.get('r@rooms.a.test')).toEqual(r);
      expect(await s.rooms.get('x@rooms.a.test')).toBeNull();
      expect(await s.rooms.members('r@rooms.a.test')).toEqual([
        { room: 'r@rooms.a.test', user: 'bob@a.test', role: 'owner', joinedAt: 123 },
      ]);
      await expect(s.rooms.create(room('r@rooms.a.test', { createdBy: 'eve@a.test' }))).rejects.toMatchObject({ code: 'conflict' });
      // The failed create must not have touched membership.
      expect(await s.rooms.member('r@rooms.a.test', 'eve@a.test')).toBeNull();
    });

    it('lists all rooms or those of a domain and its subdomains, sorted', async () => {
      const s = store();
      for (const a of ['b@rooms.a.test', 'a@a.test', 'c@rooms.b.test', 'd@xa.test', 'e@deep.rooms.a.test']) await s.rooms.create(room(a));
      expect((await s.rooms.list()).map((r) => r.address)).toEqual([
        'a@a.test',
        'b@rooms.a.test',
        'c@rooms.b.test',
        'd@xa.test',
        'e@deep.rooms.a.test',
      ]);
      expect((await s.rooms.list('a.test')).map((r) => r.address)).toEqual(['a@a.test', 'b@rooms.a.test', 'e@deep.rooms.a.test']);
      expect((await s.rooms.list('rooms.b.test')).map((r) => r.address)).toEqual(['c@rooms.b.test']);
      expect(await s.rooms.list('none.test')).toEqual([]);
    });

    it('sets members (upsert keeps joinedAt), reads and removes them', async () => {
      const s = store();
      await s.rooms.create(room('r@rooms.a.test'));
      await s.rooms.setMember('r@rooms.a.test', 'bob@a.test', 'member', 200);
      await s.rooms.setMember('r@rooms.a.test', 'bob@a.test', 'admin', 300);
      expect(await s.rooms.member('r@rooms.a.test', 'bob@a.test')).toEqual({
        room: 'r@rooms.a.test',
        user: 'bob@a.test',
        role: 'admin',
        joinedAt: 200,
      });
      expect((await s.rooms.members('r@rooms.a.test')).map((m) => [m.user, m.role])).toEqual([
        ['alice@a.test', 'owner'],
        ['bob@a.test', 'admin'],
      ]);
      expect(await s.rooms.member('r@rooms.a.test', 'carol@a.test')).toBeNull();
      expect(await s.rooms.removeMember('r@rooms.a.test', 'bob@a.test')).toBe(true);
      expect(await s.rooms.removeMember('r@rooms.a.test', 'bob@a.test')).toBe(false);
      expect(await s.rooms.members('missing@rooms.a.test')).toEqual([]);
    });

    it('refuses members and invitations for a missing room (item-not-found)', async () => {
      const s = store();
      await expect(s.rooms.setMember('missing@rooms.a.test', 'bob@a.test', 'member', 1)).rejects.toMatchObject({
        code: 'item-not-found',
      });
      await expect(s.rooms.addInvite('missing@rooms.a.test', 'bob@a.test', 'alice@a.test', 1)).rejects.toMatchObject({
        code: 'item-not-found',
      });
    });

    it('lists the rooms of a user, sorted', async () => {
      const s = store();
      await s.rooms.create(room('z@rooms.a.test'));
      await s.rooms.create(room('m@rooms.a.test', { createdBy: 'bob@a.test' }));
      await s.rooms.create(room('a@rooms.a.test', { createdBy: 'bob@a.test' }));
      await s.rooms.setMember('a@rooms.a.test', 'alice@a.test', 'member', 1);
      expect(await s.rooms.roomsOf('alice@a.test')).toEqual(['a@rooms.a.test', 'z@rooms.a.test']);
      expect(await s.rooms.roomsOf('nobody@a.test')).toEqual([]);
    });

    it("lists a user's memberships with roles, reads several rooms at once, and pages through open rooms", async () => {
      const s = store();
      await s.rooms.create(room('b@rooms.a.test'));
      await s.rooms.create(room('a@rooms.a.test', { createdBy: 'bob@a.test' }));
      await s.rooms.create(room('c@rooms.a.test', { membersOnly: true, createdBy: 'bob@a.test' }));
      await s.rooms.create(room('d@rooms.a.test', { createdBy: 'bob@a.test' }));
      await s.rooms.create(room('e@rooms.b.test', { createdBy: 'bob@a.test' }));
      await s.rooms.create(room('f@deep.rooms.a.test', { createdBy: 'bob@a.test' }));
      await s.rooms.setMember('a@rooms.a.test', 'alice@a.test', 'admin', 1);
      expect(await s.rooms.membershipsOf('alice@a.test')).toEqual([
        { room: 'a@rooms.a.test', role: 'admin' },
        { room: 'b@rooms.a.test', role: 'owner' },
      ]);
      expect(await s.rooms.membershipsOf('nobody@a.test')).toEqual([]);
      expect((await s.rooms.getMany(['d@rooms.a.test', 'missing@rooms.a.test', 'a@rooms.a.test', 'd@rooms.a.test'])).map((r) => r.address)).toEqual([
        'a@rooms.a.test',
        'd@rooms.a.test',
      ]);
      expect(await s.rooms.getMany([])).toEqual([]);
      expect(await s.rooms.getMany(['a@rooms.a.test'])).toEqual([room('a@rooms.a.test', { createdBy: 'bob@a.test' })]);
      // Open rooms of exactly that domain (not members-only c, not subdomain f, not b.test's e), by address.
      const open = async (after: string, limit: number): Promise<string[]> => (await s.rooms.listOpen('rooms.a.test', after, limit)).map((r) => r.address);
      expect(await open('', 10)).toEqual(['a@rooms.a.test', 'b@rooms.a.test', 'd@rooms.a.test']);
      expect(await open('', 2)).toEqual(['a@rooms.a.test', 'b@rooms.a.test']);
      expect(await open('b@rooms.a.test', 2)).toEqual(['d@rooms.a.test']);
      expect(await open('d@rooms.a.test', 2)).toEqual([]);
      expect(await open('', 0)).toEqual([]);
      expect(await s.rooms.listOpen('rooms.b.test', '', 5)).toEqual([room('e@rooms.b.test', { createdBy: 'bob@a.test' })]);
    });

    it('adds, checks and removes invitations', async () => {
      const s = store();
      await s.rooms.create(room('r@rooms.a.test', { membersOnly: true }));
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'bob@a.test')).toBe(false);
      await s.rooms.addInvite('r@rooms.a.test', 'bob@a.test', 'alice@a.test', 5);
      await s.rooms.addInvite('r@rooms.a.test', 'bob@a.test', 'alice@a.test', 6);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'bob@a.test')).toBe(true);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'carol@a.test')).toBe(false);
      await s.rooms.removeInvite('r@rooms.a.test', 'bob@a.test');
      await s.rooms.removeInvite('r@rooms.a.test', 'bob@a.test');
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'bob@a.test')).toBe(false);
    });

    it("lists a user's pending invitations by time (then room), with the latest inviter and time", async () => {
      const s = store();
      for (const a of ['a@rooms.a.test', 'b@rooms.a.test', 'c@rooms.a.test', 'd@rooms.a.test']) await s.rooms.create(room(a));
      expect(await s.rooms.invitesOf('bob@a.test')).toEqual([]);
      await s.rooms.addInvite('c@rooms.a.test', 'bob@a.test', 'alice@a.test', 30);
      await s.rooms.addInvite('a@rooms.a.test', 'bob@a.test', 'carol@a.test', 20);
      await s.rooms.addInvite('d@rooms.a.test', 'bob@a.test', 'alice@a.test', 10);
      await s.rooms.addInvite('b@rooms.a.test', 'bob@a.test', 'alice@a.test', 20);
      await s.rooms.addInvite('a@rooms.a.test', 'carol@a.test', 'alice@a.test', 5);
      expect(await s.rooms.invitesOf('bob@a.test')).toEqual([
        { room: 'd@rooms.a.test', by: 'alice@a.test', at: 10 },
        { room: 'a@rooms.a.test', by: 'carol@a.test', at: 20 },
        { room: 'b@rooms.a.test', by: 'alice@a.test', at: 20 },
        { room: 'c@rooms.a.test', by: 'alice@a.test', at: 30 },
      ]);
      // Inviting again replaces who invited and when; it does not add a second entry.
      await s.rooms.addInvite('d@rooms.a.test', 'bob@a.test', 'dave@a.test', 40);
      // Accepting or declining removes just that one.
      await s.rooms.removeInvite('a@rooms.a.test', 'bob@a.test');
      expect(await s.rooms.invitesOf('bob@a.test')).toEqual([
        { room: 'b@rooms.a.test', by: 'alice@a.test', at: 20 },
        { room: 'c@rooms.a.test', by: 'alice@a.test', at: 30 },
        { room: 'd@rooms.a.test', by: 'dave@a.test', at: 40 },
      ]);
      expect(await s.rooms.invitesOf('carol@a.test')).toEqual([{ room: 'a@rooms.a.test', by: 'alice@a.test', at: 5 }]);
    });

    it('removal deletes the room with its members and invitations', async () => {
      const s = store();
      await s.rooms.create(room('r@rooms.a.test'));
      await s.rooms.create(room('other@rooms.a.test'));
      await s.rooms.setMember('r@rooms.a.test', 'bob@a.test', 'member', 1);
      await s.rooms.addInvite('r@rooms.a.test', 'carol@a.test', 'alice@a.test', 1);
      await s.rooms.addInvite('other@rooms.a.test', 'carol@a.test', 'alice@a.test', 2);
      expect(await s.rooms.remove('r@rooms.a.test')).toBe(true);
      expect(await s.rooms.remove('r@rooms.a.test')).toBe(false);
      expect(await s.rooms.get('r@rooms.a.test')).toBeNull();
      expect(await s.rooms.roomsOf('bob@a.test')).toEqual([]);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'carol@a.test')).toBe(false);
      expect(await s.rooms.invitesOf('carol@a.test')).toEqual([{ room: 'other@rooms.a.test', by: 'alice@a.test', at: 2 }]);
      // Re-creating the address starts clean: no stale members or invitations.
      await s.rooms.create(room('r@rooms.a.test'));
      expect((await s.rooms.members('r@rooms.a.test')).map((m) => m.user)).toEqual(['alice@a.test']);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'carol@a.test')).toBe(false);
    });

    it('keeps bans of addresses and domains, sorted; a repeated ban replaces the old one; bans go with the room', async () => {
      const s = store();
      const r = 'r@rooms.a.test';
      await s.rooms.create(room(r));
      await expect(s.rooms.ban('x@rooms.a.test', 'eve@a.test', 'alice@a.test', null, 1)).rejects.toMatchObject({ code: 'item-not-found' });
      await s.rooms.ban(r, 'eve@a.test', 'alice@a.test', 'spam', 10);
      await s.rooms.ban(r, 'evil.test', 'alice@a.test', null, 11);
      await s.rooms.ban(r, 'eve@a.test', 'bob@a.test', 'again', 12);
      expect(await s.rooms.bans(r)).toEqual([
        { room: r, target: 'eve@a.test', by: 'bob@a.test', reason: 'again', at: 12 },
        { room: r, target: 'evil.test', by: 'alice@a.test', reason: null, at: 11 },
      ]);
      expect(await s.rooms.isBanned(r, 'eve@a.test')).toBe(true);
      expect(await s.rooms.isBanned(r, 'mallory@evil.test')).toBe(true);
      expect(await s.rooms.isBanned(r, 'bob@a.test')).toBe(false);
      expect(await s.rooms.unban(r, 'eve@a.test')).toBe(true);
      expect(await s.rooms.unban(r, 'eve@a.test')).toBe(false);
      expect(await s.rooms.isBanned(r, 'eve@a.test')).toBe(false);
      await s.rooms.remove(r);
      await s.rooms.create(room(r));
      expect(await s.rooms.bans(r)).toEqual([]);
    });

    it('keeps whether a room is moderated and which members have no voice; the flag goes with the membership', async () => {
      const s = store();
      const r = 'r@rooms.a.test';
      await s.rooms.create(room(r));
      expect(await s.rooms.moderated(r)).toBe(false);
      expect(await s.rooms.moderated('x@rooms.a.test')).toBe(false);
      await expect(s.rooms.setModerated('x@rooms.a.test', true)).rejects.toMatchObject({ code: 'item-not-found' });
      await s.rooms.setModerated(r, true);
      expect(await s.rooms.moderated(r)).toBe(true);
      await s.rooms.setMember(r, 'bob@a.test', 'member', 1);
      await s.rooms.setMember(r, 'carol@a.test', 'member', 1);
      await s.rooms.setVoice(r, 'carol@a.test', false);
      await s.rooms.setVoice(r, 'bob@a.test', false);
      await s.rooms.setVoice(r, 'dave@a.test', false); // not a member: nothing
      expect(await s.rooms.voiceless(r)).toEqual(['bob@a.test', 'carol@a.test']);
      await s.rooms.setVoice(r, 'bob@a.test', true);
      // A role change keeps the flag; leaving and joining again starts with voice.
      await s.rooms.setMember(r, 'carol@a.test', 'admin', 2);
      expect(await s.rooms.voiceless(r)).toEqual(['carol@a.test']);
      await s.rooms.removeMember(r, 'carol@a.test');
      await s.rooms.setMember(r, 'carol@a.test', 'member', 3);
      expect(await s.rooms.voiceless(r)).toEqual([]);
      await s.rooms.setModerated(r, false);
      expect(await s.rooms.moderated(r)).toBe(false);
    });
  });
}
