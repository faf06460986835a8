/** Contract: rosters and shared groups. */
import { describe, expect, it } from 'vitest';
import type { RosterItem } from '../../core/types.js';
import type { Store } from '../../ports/store.js';
import { rosterItem } from './fixtures.js';

/** Registers the roster and shared-group tests. */
export function socialContract(store: () => Store): void {
  describe('rosters', () => {
    it('puts several items, lists them sorted by contact and reads one back exactly', async () => {
      const s = store();
      const zed = rosterItem('alice@a.test', 'zed@a.test', { name: 'Zed', groups: ['Work', 'Friends'], subscription: 'both' });
      const bob = rosterItem('alice@a.test', 'bob@a.test', { subscription: 'to', pendingIn: true });
      const back = rosterItem('bob@a.test', 'alice@a.test', { subscription: 'from', pendingOut: true });
      await s.rosters.put([zed, bob, back]);
      expect(await s.rosters.list('alice@a.test')).toEqual([bob, zed]);
      expect(await s.rosters.get('bob@a.test', 'alice@a.test')).toEqual(back);
      expect(await s.rosters.get('bob@a.test', 'zed@a.test')).toBeNull();
      expect(await s.rosters.list('nobody@a.test')).toEqual([]);
    });

    it('upserts by (owner, contact)', async () => {
      const s = store();
      await s.rosters.put([rosterItem('alice@a.test', 'bob@a.test', { groups: ['A'] })]);
      const next = rosterItem('alice@a.test', 'bob@a.test', { name: 'Bobby', groups: [], subscription: 'both' });
      await s.rosters.put([next]);
      expect(await s.rosters.list('alice@a.test')).toEqual([next]);
    });

    it('writes nothing when one item of a put is invalid', async () => {
      const s = store();
      const bad = { ...rosterItem('alice@a.test', 'carol@a.test'), subscription: 'sometimes' } as unknown as RosterItem;
      await expect(s.rosters.put([rosterItem('alice@a.test', 'bob@a.test'), bad])).rejects.toMatchObject({ code: 'bad-request' });
      expect(await s.rosters.list('alice@a.test')).toEqual([]);
    });

    it('lists the watchers of a contact: owners whose item receives its presence', async () => {
      const s = store();
      await s.rosters.put([
        rosterItem('zed@a.test', 'thing@a.test', { subscription: 'both' }),
        rosterItem('alice@a.test', 'thing@a.test', { subscription: 'to' }),
        rosterItem('bob@a.test', 'thing@a.test', { subscription: 'none', pendingOut: true }),
        rosterItem('carol@a.test', 'thing@a.test', { subscription: 'from' }),
        rosterItem('alice@a.test', 'other@a.test', { subscription: 'to' }),
      ]);
      expect(await s.rosters.watchersOf('thing@a.test')).toEqual(['alice@a.test', 'zed@a.test']);
      expect(await s.rosters.watchersOf('nobody@a.test')).toEqual([]);
    });

    it('returns copies of groups', async () => {
      const s = store();
      await s.rosters.put([rosterItem('alice@a.test', 'bob@a.test', { groups: ['A'] })]);
      (await s.rosters.get('alice@a.test', 'bob@a.test'))!.groups.push('B');
      expect((await s.rosters.get('alice@a.test', 'bob@a.test'))!.groups).toEqual(['A']);
    });

    it('removes one item and reports whether it existed', async () => {
      const s = store();
      await s.rosters.put([rosterItem('alice@a.test', 'bob@a.test'), rosterItem('bob@a.test', 'alice@a.test')]);
      expect(await s.rosters.remove('alice@a.test', 'bob@a.test')).toBe(true);
      expect(await s.rosters.remove('alice@a.test', 'bob@a.test')).toBe(false);
      expect(await s.rosters.list('alice@a.test')).toEqual([]);
      expect(await s.rosters.list('bob@a.test')).toHaveLength(1);
    });
  });

  describe('shared groups', () => {
    it('creates, lists sorted, refuses duplicates and removes with memberships', async () => {
      const s = store();
      await s.sharedGroups.create({ name: 'sales', displayName: 'Sales' });
      await s.sharedGroups.create({ name: 'eng', displayName: 'Engineering' });
      await expect(s.sharedGroups.create({ name: 'eng', displayName: 'Again' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await s.sharedGroups.list()).toEqual([
        { name: 'eng', displayName: 'Engineering' },
        { name: 'sales', displayName: 'Sales' },
      ]);
      await s.sharedGroups.addMember('eng', 'alice@a.test');
      expect(await s.sharedGroups.remove('eng')).toBe(true);
      expect(await s.sharedGroups.remove('eng')).toBe(false);
      expect(await s.sharedGroups.groupsOf('alice@a.test')).toEqual([]);
      expect(await s.sharedGroups.members('eng')).toEqual([]);
      // A group re-created under the same name starts empty.
      await s.sharedGroups.create({ name: 'eng', displayName: 'Engineering' });
      expect(await s.sharedGroups.members('eng')).toEqual([]);
    });

    it('renames a group (its display name) and keeps its members; reports an unknown group', async () => {
      const s = store();
      await s.sharedGroups.create({ name: 'eng', displayName: 'Engineering' });
      await s.sharedGroups.addMember('eng', 'alice@a.test');
      expect(await s.sharedGroups.rename('eng', 'R&D')).toBe(true);
      expect(await s.sharedGroups.list()).toEqual([{ name: 'eng', displayName: 'R&D' }]);
      expect(await s.sharedGroups.groupsOf('alice@a.test')).toEqual([{ name: 'eng', displayName: 'R&D' }]);
      expect(await s.sharedGroups.members('eng')).toEqual(['alice@a.test']);
      expect(await s.sharedGroups.rename('nope', 'X')).toBe(false);
      expect(await s.sharedGroups.list()).toEqual([{ name: 'eng', displayName: 'R&D' }]);
    });

    it('adds members idempotently, lists them sorted and answers groupsOf', async () => {
      const s = store();
      await s.sharedGroups.create({ name: 'eng', displayName: 'Engineering' });
      await s.sharedGroups.create({ name: 'all', displayName: 'Everyone' });
      await s.sharedGroups.addMember('eng', 'zoe@a.test');
      await s.sharedGroups.addMember('eng', 'alice@a.test');
      await s.sharedGroups.addMember('eng', 'alice@a.test');
      await s.sharedGroups.addMember('all', 'alice@a.test');
      expect(await s.sharedGroups.members('eng')).toEqual(['alice@a.test', 'zoe@a.test']);
      expect(await s.sharedGroups.groupsOf('alice@a.test')).toEqual([
        { name: 'all', displayName: 'Everyone' },
        { name: 'eng', displayName: 'Engineering' },
      ]);
      expect(await s.sharedGroups.groupsOf('nobody@a.test')).toEqual([]);
      expect(await s.sharedGroups.members('missing')).toEqual([]);
    });

    it('refuses members of a missing group (item-not-found) and removes members', async () => {
      const s = store();
      await expect(s.sharedGroups.addMember('missing', 'alice@a.test')).rejects.toMatchObject({ code: 'item-not-found' });
      await s.sharedGroups.create({ name: 'eng', displayName: 'Engineering' });
      await s.sharedGroups.addMember('eng', 'alice@a.test');
      expect(await s.sharedGroups.removeMember('eng', 'alice@a.test')).toBe(true);
      expect(await s.sharedGroups.removeMember('eng', 'alice@a.test')).toBe(false);
      expect(await s.sharedGroups.removeMember('missing', 'alice@a.test')).toBe(false);
      expect(await s.sharedGroups.members('eng')).toEqual([]);
    });
  });
}
