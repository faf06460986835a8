/** Contract of SettingsStore: live options per module and key, JSON values kept as given, listed in order. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';

/** Registers the settings tests. */
export function settingsContract(store: () => Store): void {
  describe('settings', () => {
    it('put stores a JSON value per module and key, get returns it, put again replaces it', async () => {
      const s = store();
      expect(await s.settings.get('naming', 'default')).toBeNull();
      const value = { localPattern: '[a-z]+\\.[a-z]+', blocked: ['x'], minLength: 3, nested: { a: [1, null, true] } };
      await s.settings.put({ module: 'naming', key: 'default', value, updatedAt: 1000, updatedBy: 'admin@a.test' });
      expect(await s.settings.get('naming', 'default')).toEqual({ module: 'naming', key: 'default', value, updatedAt: 1000, updatedBy: 'admin@a.test' });
      await s.settings.put({ module: 'naming', key: 'default', value: { minLength: 4 }, updatedAt: 2000, updatedBy: 'cli:root' });
      expect(await s.settings.get('naming', 'default')).toEqual({ module: 'naming', key: 'default', value: { minLength: 4 }, updatedAt: 2000, updatedBy: 'cli:root' });
    });

    it('keeps numbers, strings, booleans and null as values, and a change to a returned value stores nothing', async () => {
      const s = store();
      for (const [key, value] of [['n', 104857600], ['s', 'text'], ['b', false], ['z', null]] as const) {
        await s.settings.put({ module: 'files', key, value, updatedAt: 1, updatedBy: 'a@a.test' });
        expect((await s.settings.get('files', key))?.value).toEqual(value);
      }
      await s.settings.put({ module: 'files', key: 'o', value: { x: 1 }, updatedAt: 1, updatedBy: 'a@a.test' });
      const got = await s.settings.get('files', 'o');
      (got!.value as { x: number }).x = 2;
      expect((await s.settings.get('files', 'o'))?.value).toEqual({ x: 1 });
    });

    it('lists one module or all, sorted by module then key; remove forgets one key and says whether it was set', async () => {
      const s = store();
      await s.settings.put({ module: 'naming', key: 'domains', value: {}, updatedAt: 1, updatedBy: 'a@a.test' });
      await s.settings.put({ module: 'files', key: 'totalBytes', value: 5, updatedAt: 2, updatedBy: 'a@a.test' });
      await s.settings.put({ module: 'files', key: 'maxFileBytes', value: 7, updatedAt: 3, updatedBy: 'a@a.test' });
      await s.settings.put({ module: 'naming', key: 'default', value: {}, updatedAt: 4, updatedBy: 'a@a.test' });
      expect((await s.settings.list()).map((r) => `${r.module}.${r.key}`)).toEqual(['files.maxFileBytes', 'files.totalBytes', 'naming.default', 'naming.domains']);
      expect((await s.settings.list('files')).map((r) => [r.key, r.value])).toEqual([['maxFileBytes', 7], ['totalBytes', 5]]);
      expect(await s.settings.list('nobody')).toEqual([]);
      expect(await s.settings.remove('files', 'maxFileBytes')).toBe(true);
      expect(await s.settings.remove('files', 'maxFileBytes')).toBe(false);
      expect(await s.settings.get('files', 'maxFileBytes')).toBeNull();
      expect((await s.settings.list('files')).map((r) => r.key)).toEqual(['totalBytes']);
    });
  });
}
