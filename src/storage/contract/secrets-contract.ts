/** Contract of SecretStore: the first value stored under a name is the one every caller gets. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';

/** Registers the secrets tests. */
export function secretsContract(store: () => Store): void {
  describe('secrets', () => {
    it('ensure stores the first value and returns it ever after; names are independent', async () => {
      const s = store();
      expect(await s.secrets.ensure('scram', 'first')).toBe('first');
      expect(await s.secrets.ensure('scram', 'second')).toBe('first');
      expect(await s.secrets.ensure('other', 'x')).toBe('x');
      expect(await s.secrets.ensure('scram', 'third')).toBe('first');
    });

    it('concurrent ensure calls all get the same secret', async () => {
      const s = store();
      const got = await Promise.all(['a', 'b', 'c', 'd'].map((v) => s.secrets.ensure('race', v)));
      expect(new Set(got).size).toBe(1);
      expect(['a', 'b', 'c', 'd']).toContain(got[0]);
    });
  });
}
