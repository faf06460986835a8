/** Contract: block lists (XEP-0191) and per-user documents. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { account } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';
const C = 'carol@a.test';

async function seed(s: Store): Promise<void> {
  await s.domains.add('a.test', 1);
  for (const u of [A, B, C]) await s.accounts.create(account(u));
}

/** Registers the block-list and profile tests. */
export function profilesContract(store: () => Store): void {
  describe('blocks', () => {
    it('adds, lists sorted, ignores repeats, removes some or all', async () => {
      const s = store();
      await seed(s);
      await s.blocks.add(A, ['zed@b.test', B, 'b.test']);
      await s.blocks.add(A, [B]);
      expect(await s.blocks.list(A)).toEqual(['b.test', B, 'zed@b.test']);
      await s.blocks.remove(A, [B, 'nothing@a.test']);
      expect(await s.blocks.list(A)).toEqual(['b.test', 'zed@b.test']);
      await s.blocks.remove(A, null);
      expect(await s.blocks.list(A)).toEqual([]);
      expect(await s.blocks.list('nobody@a.test')).toEqual([]);
    });

    it('finds who blocks a user, by address or by domain', async () => {
      const s = store();
      await seed(s);
      await s.blocks.add(A, ['mallory@b.test']);
      await s.blocks.add(B, ['b.test']);
      await s.blocks.add(C, [A]);
      expect(await s.blocks.blockersOf('mallory@b.test')).toEqual([A, B]);
      expect(await s.blocks.blockersOf('eve@b.test')).toEqual([B]);
      expect(await s.blocks.blockersOf(A)).toEqual([C]);
      expect(await s.blocks.blockersOf(C)).toEqual([]);
    });

    it('forgets a removed account’s list', async () => {
      const s = store();
      await seed(s);
      await s.blocks.add(A, [B]);
      await s.accounts.remove(A);
      expect(await s.blocks.list(A)).toEqual([]);
      expect(await s.blocks.blockersOf(B)).toEqual([]);
    });
  });

  describe('profiles', () => {
    it('stores, replaces and deletes one document per user and kind', async () => {
      const s = store();
      await seed(s);
      expect(await s.profiles.get(A, 'vcard-temp')).toBeNull();
      await s.profiles.put(A, 'vcard-temp', '<vCard xmlns="vcard-temp"><FN>Alice</FN></vCard>', 10);
      await s.profiles.put(A, 'other', 'x', 10);
      await s.profiles.put(A, 'vcard-temp', '<vCard xmlns="vcard-temp"><FN>Alice A.</FN></vCard>', 11);
      expect(await s.profiles.get(A, 'vcard-temp')).toBe('<vCard xmlns="vcard-temp"><FN>Alice A.</FN></vCard>');
      expect(await s.profiles.get(B, 'vcard-temp')).toBeNull();
      await s.profiles.put(A, 'vcard-temp', null, 12);
      expect(await s.profiles.get(A, 'vcard-temp')).toBeNull();
      expect(await s.profiles.get(A, 'other')).toBe('x');
      await s.accounts.remove(A);
      expect(await s.profiles.get(A, 'other')).toBeNull();
    });
  });
}
