/** Contract: domains, accounts and tokens, including the removal cascades. */
import { describe, expect, it } from 'vitest';
import { account, credentials, dm, rosterItem, roomMessage } from './fixtures.js';
import type { Store } from '../../ports/store.js';

/** Registers the directory tests. */
export function directoryContract(store: () => Store): void {
  describe('domains', () => {
    it('adds, lists sorted, refuses duplicates and removes', async () => {
      const s = store();
      expect(await s.domains.list()).toEqual([]);
      await s.domains.add('b.test', 1);
      await s.domains.add('a.test', 2);
      await expect(s.domains.add('a.test', 3)).rejects.toMatchObject({ code: 'conflict' });
      expect(await s.domains.list()).toEqual(['a.test', 'b.test']);
      expect(await s.domains.remove('a.test')).toBe(true);
      expect(await s.domains.remove('a.test')).toBe(false);
      expect(await s.domains.list()).toEqual(['b.test']);
    });

    it('removal cascades to the accounts and rooms of the domain and its subdomains only', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.domains.add('b.test', 1);
      await s.accounts.create(account('alice@a.test'));
      await s.accounts.create(account('bob@a.test'));
      await s.accounts.create(account('zed@b.test'));
      await s.tokens.put('t-alice', { address: 'alice@a.test', createdAt: 1, expiresAt: 10 });
      await s.tokens.put('t-zed', { address: 'zed@b.test', createdAt: 1, expiresAt: 10 });
      await s.rosters.put([
        rosterItem('alice@a.test', 'zed@b.test'),
        rosterItem('zed@b.test', 'alice@a.test'),
        rosterItem('zed@b.test', 'bob@a.test'),
        rosterItem('zed@b.test', 'someone@remote.test'),
      ]);
      for (const address of ['r@rooms.a.test', 's@a.test', 't@rooms.b.test', 'u@xa.test', 'v@a.test.example']) {
        await s.rooms.create({ address, name: address, membersOnly: false, createdBy: 'zed@b.test', createdAt: 5 });
      }
      await s.rooms.setMember('t@rooms.b.test', 'alice@a.test', 'member', 6);
      await s.rooms.addInvite('t@rooms.b.test', 'bob@a.test', 'zed@b.test', 6);
      // zed (kept) is invited to a room that goes with the domain and to one that stays.
      await s.rooms.addInvite('r@rooms.a.test', 'zed@b.test', 'alice@a.test', 7);
      await s.rooms.addInvite('u@xa.test', 'zed@b.test', 'alice@a.test', 8);
      await s.sharedGroups.create({ name: 'staff', displayName: 'Staff' });
      await s.sharedGroups.addMember('staff', 'alice@a.test');
      await s.sharedGroups.addMember('staff', 'zed@b.test');
      const [toAlice] = await s.messages.append([dm('zed@b.test', 'alice@a.test', 'hi', { offlineFor: ['alice@a.test'] })]);
      await s.messages.append([roomMessage('alice@a.test', 't@rooms.b.test', 'yo', { offlineFor: ['zed@b.test'] })]);

      expect(await s.domains.remove('a.test')).toBe(true);

      expect(await s.domains.list()).toEqual(['b.test']);
      expect((await s.accounts.list()).map((a) => a.address)).toEqual(['zed@b.test']);
      expect(await s.tokens.get('t-alice')).toBeNull();
      expect(await s.tokens.get('t-zed')).not.toBeNull();
      expect(await s.rosters.list('alice@a.test')).toEqual([]);
      expect((await s.rosters.list('zed@b.test')).map((i) => i.contact)).toEqual(['someone@remote.test']);
      expect((await s.rooms.list()).map((r) => r.address)).toEqual(['t@rooms.b.test', 'u@xa.test', 'v@a.test.example']);
      expect((await s.rooms.members('t@rooms.b.test')).map((m) => m.user)).toEqual(['zed@b.test']);
      expect(await s.rooms.hasInvite('t@rooms.b.test', 'bob@a.test')).toBe(false);
      expect(await s.rooms.invitesOf('bob@a.test')).toEqual([]);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'zed@b.test')).toBe(false);
      expect(await s.rooms.invitesOf('zed@b.test')).toEqual([{ room: 'u@xa.test', by: 'alice@a.test', at: 8 }]);
      expect(await s.sharedGroups.members('staff')).toEqual(['zed@b.test']);
      expect(await s.messages.offline('alice@a.test', 0, 10)).toEqual([]);
      expect(await s.messages.offline('zed@b.test', 0, 10)).toHaveLength(1);
      // The log is history: it keeps what happened, even from removed users.
      expect(await s.messages.getById(toAlice!.record.id)).toEqual(toAlice!.record);
    });
  });

  describe('accounts', () => {
    it('creates and reads back an account exactly', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      const a = account('alice@a.test', { admin: true, createdAt: 42, lastSeen: 43, lastStatus: 'gone fishing' });
      await s.accounts.create(a);
      expect(await s.accounts.get('alice@a.test')).toEqual(a);
      expect(await s.accounts.get('nobody@a.test')).toBeNull();
    });

    it('stores the kind (person unless given) and lists it', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      const { kind: _person, ...noKind } = account('alice@a.test');
      await s.accounts.create(noKind);
      await s.accounts.create(account('echo@a.test', { kind: 'bot' }));
      expect((await s.accounts.get('alice@a.test'))?.kind).toBe('person');
      expect((await s.accounts.get('echo@a.test'))?.kind).toBe('bot');
      expect((await s.accounts.list('a.test')).map((a) => [a.address, a.kind])).toEqual([
        ['alice@a.test', 'person'],
        ['echo@a.test', 'bot'],
      ]);
    });

    it('refuses an existing address (conflict) and an unhosted domain (item-not-found)', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.accounts.create(account('alice@a.test'));
      await expect(s.accounts.create(account('alice@a.test'))).rejects.toMatchObject({ code: 'conflict' });
      await expect(s.accounts.create(account('alice@b.test'))).rejects.toMatchObject({ code: 'item-not-found' });
      await expect(s.accounts.create(account('no-domain'))).rejects.toMatchObject({ code: 'item-not-found' });
      // A subdomain is a different domain.
      await expect(s.accounts.create(account('x@sub.a.test'))).rejects.toMatchObject({ code: 'item-not-found' });
    });

    it('returns copies: mutating a result does not change the store', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.accounts.create(account('alice@a.test'));
      const got = await s.accounts.get('alice@a.test');
      got!.credentials['SCRAM-SHA-1'].salt = 'tampered';
      got!.admin = true;
      expect(await s.accounts.get('alice@a.test')).toEqual(account('alice@a.test'));
    });

    it('lists sorted with the admin flag, for all domains or one', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.domains.add('b.test', 1);
      await s.accounts.create(account('zoe@a.test', { admin: true, createdAt: 5, lastSeen: 9 }));
      await s.accounts.create(account('adam@a.test', { createdAt: 6 }));
      await s.accounts.create(account('bea@b.test', { createdAt: 7 }));
      expect(await s.accounts.list()).toEqual([
        { address: 'adam@a.test', admin: false, kind: 'person', disabled: false, createdAt: 6, lastSeen: null },
        { address: 'bea@b.test', admin: false, kind: 'person', disabled: false, createdAt: 7, lastSeen: null },
        { address: 'zoe@a.test', admin: true, kind: 'person', disabled: false, createdAt: 5, lastSeen: 9 },
      ]);
      expect((await s.accounts.list('a.test')).map((a) => a.address)).toEqual(['adam@a.test', 'zoe@a.test']);
      expect(await s.accounts.list('c.test')).toEqual([]);
    });

    it('sets credentials and last-seen; reports or ignores unknown addresses', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.accounts.create(account('alice@a.test'));
      expect(await s.accounts.setCredentials('alice@a.test', credentials('new'))).toBe(true);
      expect(await s.accounts.setCredentials('nobody@a.test', credentials('new'))).toBe(false);
      await s.accounts.setLastSeen('alice@a.test', 77, 'back soon');
      await s.accounts.setLastSeen('nobody@a.test', 77, null);
      const got = await s.accounts.get('alice@a.test');
      expect(got).toEqual(account('alice@a.test', { credentials: credentials('new'), lastSeen: 77, lastStatus: 'back soon' }));
      await s.accounts.setLastSeen('alice@a.test', 78, null);
      expect((await s.accounts.get('alice@a.test'))!.lastStatus).toBeNull();
      expect(await s.accounts.get('nobody@a.test')).toBeNull();
    });

    it('disables, enables and promotes accounts; reports unknown addresses', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      await s.accounts.create(account('alice@a.test'));
      await s.accounts.create(account('bob@a.test', { disabled: true }));
      expect((await s.accounts.get('bob@a.test'))!.disabled).toBe(true);
      expect(await s.accounts.setDisabled('alice@a.test', true)).toBe(true);
      expect(await s.accounts.get('alice@a.test')).toEqual(account('alice@a.test', { disabled: true }));
      expect((await s.accounts.list()).map((a) => [a.address, a.disabled])).toEqual([
        ['alice@a.test', true],
        ['bob@a.test', true],
      ]);
      expect(await s.accounts.setDisabled('alice@a.test', false)).toBe(true);
      expect((await s.accounts.get('alice@a.test'))!.disabled).toBe(false);
      expect(await s.accounts.setAdmin('alice@a.test', true)).toBe(true);
      expect((await s.accounts.list('a.test'))[0]).toMatchObject({ address: 'alice@a.test', admin: true, disabled: false });
      expect(await s.accounts.setAdmin('alice@a.test', false)).toBe(true);
      expect((await s.accounts.get('alice@a.test'))!.admin).toBe(false);
      expect(await s.accounts.setDisabled('nobody@a.test', true)).toBe(false);
      expect(await s.accounts.setAdmin('nobody@a.test', true)).toBe(false);
      expect(await s.accounts.get('nobody@a.test')).toBeNull();
    });

    it('removal cascades to tokens, rosters (both sides), offline queue, rooms, invitations and shared groups', async () => {
      const s = store();
      await s.domains.add('a.test', 1);
      for (const u of ['alice', 'bob', 'carol']) await s.accounts.create(account(`${u}@a.test`));
      await s.tokens.put('ta', { address: 'alice@a.test', createdAt: 1, expiresAt: 99 });
      await s.tokens.put('tb', { address: 'bob@a.test', createdAt: 1, expiresAt: 99 });
      await s.rosters.put([
        rosterItem('alice@a.test', 'bob@a.test'),
        rosterItem('bob@a.test', 'alice@a.test'),
        rosterItem('bob@a.test', 'carol@a.test'),
      ]);
      await s.rooms.create({ address: 'r@rooms.a.test', name: 'R', membersOnly: true, createdBy: 'bob@a.test', createdAt: 1 });
      await s.rooms.create({ address: 'q@rooms.a.test', name: 'Q', membersOnly: true, createdBy: 'alice@a.test', createdAt: 1 });
      await s.rooms.setMember('r@rooms.a.test', 'alice@a.test', 'admin', 2);
      await s.rooms.addInvite('r@rooms.a.test', 'alice@a.test', 'bob@a.test', 2);
      await s.rooms.addInvite('r@rooms.a.test', 'carol@a.test', 'bob@a.test', 2);
      await s.rooms.addInvite('q@rooms.a.test', 'alice@a.test', 'bob@a.test', 3);
      await s.rooms.addInvite('q@rooms.a.test', 'carol@a.test', 'bob@a.test', 3);
      await s.sharedGroups.create({ name: 'g', displayName: 'G' });
      await s.sharedGroups.addMember('g', 'alice@a.test');
      await s.sharedGroups.addMember('g', 'bob@a.test');
      await s.messages.append([dm('bob@a.test', 'alice@a.test', 'hi', { offlineFor: ['alice@a.test', 'carol@a.test'] })]);

      expect(await s.accounts.remove('alice@a.test')).toBe(true);
      expect(await s.accounts.remove('alice@a.test')).toBe(false);

      expect(await s.accounts.get('alice@a.test')).toBeNull();
      expect(await s.tokens.get('ta')).toBeNull();
      expect(await s.tokens.get('tb')).not.toBeNull();
      expect(await s.rosters.list('alice@a.test')).toEqual([]);
      expect((await s.rosters.list('bob@a.test')).map((i) => i.contact)).toEqual(['carol@a.test']);
      expect(await s.messages.offline('alice@a.test', 0, 10)).toEqual([]);
      expect(await s.messages.offline('carol@a.test', 0, 10)).toHaveLength(1);
      expect(await s.rooms.roomsOf('alice@a.test')).toEqual([]);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'alice@a.test')).toBe(false);
      expect(await s.rooms.hasInvite('q@rooms.a.test', 'alice@a.test')).toBe(false);
      expect(await s.rooms.invitesOf('alice@a.test')).toEqual([]);
      expect(await s.rooms.hasInvite('r@rooms.a.test', 'carol@a.test')).toBe(true);
      expect(await s.rooms.invitesOf('carol@a.test')).toEqual([
        { room: 'r@rooms.a.test', by: 'bob@a.test', at: 2 },
        { room: 'q@rooms.a.test', by: 'bob@a.test', at: 3 },
      ]);
      // Rooms the account created stay: they belong to the domain, not the person.
      expect(await s.rooms.get('q@rooms.a.test')).not.toBeNull();
      expect(await s.rooms.members('q@rooms.a.test')).toEqual([]);
      expect(await s.sharedGroups.members('g')).toEqual(['bob@a.test']);
      expect(await s.sharedGroups.groupsOf('alice@a.test')).toEqual([]);
    });
  });

  describe('tokens', () => {
    it('puts, gets, overwrites and revokes by hash', async () => {
      const s = store();
      const rec = { address: 'alice@a.test', createdAt: 1, expiresAt: 100 };
      await s.tokens.put('h1', rec);
      expect(await s.tokens.get('h1')).toEqual(rec);
      expect(await s.tokens.get('h2')).toBeNull();
      await s.tokens.put('h1', { ...rec, expiresAt: 200 });
      expect(await s.tokens.get('h1')).toEqual({ ...rec, expiresAt: 200 });
      await s.tokens.revoke('h1');
      await s.tokens.revoke('h1');
      expect(await s.tokens.get('h1')).toBeNull();
    });

    it('revokes all tokens of one address only', async () => {
      const s = store();
      await s.tokens.put('a1', { address: 'alice@a.test', createdAt: 1, expiresAt: 100 });
      await s.tokens.put('a2', { address: 'alice@a.test', createdAt: 1, expiresAt: 100 });
      await s.tokens.put('b1', { address: 'bob@a.test', createdAt: 1, expiresAt: 100 });
      await s.tokens.revokeAll('alice@a.test');
      expect(await s.tokens.get('a1')).toBeNull();
      expect(await s.tokens.get('a2')).toBeNull();
      expect(await s.tokens.get('b1')).not.toBeNull();
    });

    it('purges tokens expiring at or before now and counts them', async () => {
      const s = store();
      await s.tokens.put('old', { address: 'a@a.test', createdAt: 1, expiresAt: 50 });
      await s.tokens.put('edge', { address: 'a@a.test', createdAt: 1, expiresAt: 100 });
      await s.tokens.put('new', { address: 'a@a.test', createdAt: 1, expiresAt: 101 });
      expect(await s.tokens.purgeExpired(100)).toBe(2);
      expect(await s.tokens.purgeExpired(100)).toBe(0);
      expect(await s.tokens.get('new')).not.toBeNull();
      expect(await s.tokens.get('edge')).toBeNull();
    });
  });
}
